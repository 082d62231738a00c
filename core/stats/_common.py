"""Shared plumbing of core.stats: complete-case selection, column checks and solver budgets.

Every public statistic drops rows with a missing value in the columns it uses, counts them, and
reports ``n`` (used) and ``n_dropped`` in its result.

Iterative solvers (logistic ML and Firth fits, Cox Newton-Raphson) run under an explicit
:class:`SolverBudget`, never a library default: machines differ in CPU, OpenBLAS picks another
kernel, and a tolerance that one kernel reaches can sit below another's rounding floor. Each
solver call is checked for convergence and retried with a looser budget; what still fails is left
missing with a message that names it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import ColumnError, InsufficientDataError


def require_columns(df: pd.DataFrame, columns: Sequence[str]) -> None:
    """Raise :class:`ColumnError` naming every column of ``columns`` missing from ``df``."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ColumnError(f"Column(s) not in the data: {', '.join(missing)}. "
                          f"Choose from: {', '.join(map(str, df.columns))}.")


def complete_cases(df: pd.DataFrame, columns: Sequence[str]) -> tuple[pd.DataFrame, int]:
    """Rows of ``df[columns]`` with no missing value, and how many rows were left out."""
    require_columns(df, columns)
    sub = df.loc[:, list(dict.fromkeys(columns))]
    kept = sub.dropna()
    return kept, int(len(sub) - len(kept))


def numeric(series: pd.Series, name: str) -> pd.Series:
    """``series`` as float; raise :class:`ColumnError` if it holds text that is not a number."""
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return series.astype(float)
    converted = pd.to_numeric(series, errors="coerce")
    bad = series[converted.isna() & series.notna()]
    if len(bad):
        raise ColumnError(f"Column '{name}' must be numeric; it holds text such as "
                          f"'{bad.iloc[0]}'. Choose a numeric column or fix the values.")
    return converted.astype(float)


def need(n: int, minimum: int, what: str) -> None:
    """Raise :class:`InsufficientDataError` when ``n < minimum``."""
    if n < minimum:
        raise InsufficientDataError(f"Too few observations for {what}: {n} usable, "
                                    f"at least {minimum} needed.")


def require_finite(values: np.ndarray, name: str) -> None:
    """Raise :class:`ColumnError` when a numeric column holds infinite values."""
    bad = ~np.isfinite(values)
    if bad.any():
        raise ColumnError(f"Column '{name}' holds {int(bad.sum())} infinite value(s) (such as "
                          "'inf' in the file). Fix or remove them, or leave the cells empty.")


@dataclass(frozen=True)
class SolverBudget:
    """Limits of one attempt of an iterative solver.

    Attributes
    ----------
    max_iter : iterations allowed (Newton steps, or steps of a profile-limit search).
    tol : convergence tolerance on the gradient (score), or on the log-likelihood where the
        solver has only one tolerance.
    xtol : convergence tolerance on the parameter step (solvers that take one).
    max_halfstep : step-halvings allowed per iteration.
    """

    max_iter: int
    tol: float
    xtol: float = 0.0
    max_halfstep: int = 100


@contextmanager
def quiet_solver() -> Iterator[None]:
    """Silence a solver's warnings and floating-point complaints.

    Callers check convergence explicitly and turn failures into messages for the user, so the
    library's ConvergenceWarning (and overflow in exp() on the way to an infinite estimate) must
    not reach the user.
    """
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield
