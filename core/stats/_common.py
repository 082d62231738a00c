"""Shared plumbing of core.stats: complete-case selection and column checks.

Every public statistic drops rows with a missing value in the columns it uses, counts them, and
reports ``n`` (used) and ``n_dropped`` in its result.
"""

from __future__ import annotations

from collections.abc import Sequence

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
