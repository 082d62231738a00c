"""Shared plumbing of core.stats: complete cases, column and option checks, solver budgets.

Every public statistic drops rows with a missing value in the columns it uses, counts them, and
reports ``n`` (used) and ``n_dropped`` in its result.

Iterative solvers (logistic ML and Firth fits, Cox Newton-Raphson) run under an explicit
:class:`SolverBudget`, never a library default: machines differ in CPU, OpenBLAS picks another
kernel, and a tolerance that one kernel reaches can sit below another's rounding floor. Each
solver call is checked for convergence and retried with a looser budget; what still fails is left
missing with a note that names it.

Errors
------
A :class:`~core.errors.CohortError` (``ColumnError``, ``InsufficientDataError``) is what the
user's data or choice of columns caused; its text says what to change. A bad argument that no
user can cause (an unknown option, a wrong type) is a programmer error: ``ValueError`` or
``TypeError`` (:func:`check_option`, :func:`check_order`).

Constants shared with core.analyses
-----------------------------------
``DEFAULT_SEED`` (every seeded draw of core: jitter, samples of displayed points),
``EPV_MIN`` (events per variable below which a model gets an "epv" note) and
:func:`python_value` (numpy scalars as Python values, whole floats as ints; implemented in
:mod:`core.filters`, the light module the store also uses) are imported from ``core.stats``.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.errors import ColumnError, InsufficientDataError
from core.filters import python_value as python_value  # re-exported: the one implementation
from core.notes import Note

#: Seed of every random draw in core (jitter, sampled points), so a figure is the same on
#: every run and in every session.
DEFAULT_SEED = 20240328
#: Events per variable below which a regression model gets an "epv" note (Peduzzi 1996).
EPV_MIN = 10


# ------------------------------------------------------------------------------ arguments

def check_option(what: str, value: object, allowed: Sequence[str]) -> None:
    """Raise ``ValueError`` naming the allowed values when ``value`` is not one of them.

    ``allowed`` is the tuple of a ``Literal`` type (``typing.get_args``), so the check and the
    annotation cannot disagree. An unknown option is a programmer error: the app offers only
    the allowed ones.
    """
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"Unknown {what} {value!r}; use one of: "
                         f"{', '.join(repr(a) for a in allowed)}.")


def check_order(order: object) -> None:
    """Raise ``TypeError`` unless ``order`` is None or a sequence of levels (not a string)."""
    if order is not None and (isinstance(order, str | bytes) or not isinstance(order, Iterable)):
        raise TypeError(f"order must be a list of group levels or None, not {order!r}.")


def check_time(name: str, value: object) -> None:
    """Raise ``TypeError`` or ``ValueError`` unless ``value`` is None or a finite time >= 0."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number of days or None, not {value!r}.")
    if not math.isfinite(float(value)) or float(value) < 0:
        raise ValueError(f"{name} must be a finite time >= 0, not {value!r}.")


def check_reference(reference: object) -> None:
    """Raise ``TypeError`` unless ``reference`` is None or a mapping column -> level."""
    if reference is not None and not isinstance(reference, dict):
        raise TypeError("reference must be a dict {column: reference level} or None, not "
                        f"{reference!r}.")


# ------------------------------------------------------------------------------ columns

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


# ------------------------------------------------------------------------------ levels

def sorted_levels(values: pd.Series) -> list[Any]:
    """Levels present in ``values``: category order for a categorical, else sorted."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        present = set(values.unique())
        return [c for c in values.cat.categories if c in present]
    levels = [v.item() if isinstance(v, np.generic) else v for v in pd.unique(values)]
    try:
        return sorted(levels)
    except TypeError:  # mixed types: sort by text
        return sorted(levels, key=str)


def dropped_note(n_dropped: int, columns: Sequence[str]) -> Note:
    """The "dropped" note: rows left out for a missing value in ``columns``."""
    names = " or ".join(f"'{c}'" for c in columns)
    return Note("info", "dropped", f"{n_dropped} row(s) with a missing {names} were left out.")


# ------------------------------------------------------------------------------ solvers

@dataclass(frozen=True)
class SolverBudget:
    """Limits of one attempt of an iterative solver.

    Attributes
    ----------
    max_iter : int
        Iterations allowed (Newton steps, or steps of a profile-limit search).
    tol : float
        Convergence tolerance on the gradient (score), or on the log-likelihood where the
        solver has only one tolerance.
    xtol : float
        Convergence tolerance on the parameter step (solvers that take one).
    max_halfstep : int
        Step-halvings allowed per iteration.
    """

    max_iter: int
    tol: float
    xtol: float = 0.0
    max_halfstep: int = 100


@contextmanager
def quiet_solver() -> Iterator[None]:
    """Silence a solver's warnings and floating-point complaints.

    Callers check convergence explicitly and turn failures into notes for the user, so the
    library's ConvergenceWarning (and overflow in exp() on the way to an infinite estimate) must
    not reach the user.
    """
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


# ------------------------------------------------------------------------------ algebra

_TOL = float(np.sqrt(np.finfo(float).eps))


def quadratic_form(u: np.ndarray, A: np.ndarray) -> float:
    """u' A^-1 u, or NaN when A is singular (numerically rank-deficient) or not finite."""
    if not (np.isfinite(A).all() and np.isfinite(u).all()):
        return float("nan")
    if A.size == 0 or np.linalg.matrix_rank(A) < A.shape[0]:
        return float("nan")
    try:
        value = float(u @ np.linalg.solve(A, u))
    except np.linalg.LinAlgError:
        return float("nan")
    return max(value, 0.0) if np.isfinite(value) and value >= -_TOL else float("nan")


def distinct_rows(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a 2-D array by hashing, column by column, in O(n) per column.

    Returns
    -------
    (ndarray, ndarray)
        The index of each distinct row's first occurrence (in order of the distinct rows,
        sorted by their integer code), and the distinct row of every row (an index into the
        first array). Equal to ``np.unique(M, axis=0)``'s grouping, without its O(n log n)
        sort of whole rows.
    """
    key = np.zeros(len(M), dtype=np.int64)
    for column in M.T:
        codes, levels = pd.factorize(column)
        key = pd.factorize(key * len(levels) + codes)[0]
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return first, np.ravel(inverse)
