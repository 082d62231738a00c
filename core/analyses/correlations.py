"""Correlations page: scatter data with Pearson and Spearman of two numeric columns (the
paper's Figure 1C), and a correlation matrix with n per pair.

Results are raw numbers; rounding and wording belong to the page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import get_args

import pandas as pd

from core import stats as gstats
from core.analyses.common import DEFAULT_MAX_POINTS
from core.errors import ColumnError, InsufficientDataError
from core.stats import DEFAULT_SEED, CorrelationMethod, CorrelationResult

__all__ = [
    "METHODS",
    "CorrelationPanel",
    "check_method",
    "correlation_matrix",
    "correlation_panel",
]

#: the correlation methods, in the order pages offer them
METHODS: tuple[str, ...] = get_args(CorrelationMethod)


def check_method(method: str) -> None:
    """Raise ValueError unless ``method`` is one of :data:`METHODS`."""
    if method not in METHODS:
        raise ValueError(f"Unknown correlation method {method!r}; use one of {METHODS}.")


@dataclass(frozen=True)
class CorrelationPanel:
    """Scatter data and both correlation coefficients of two numeric columns.

    Attributes
    ----------
    x, y : str
        The columns.
    color : str or None
        The colour column.
    points : DataFrame
        The complete pairs to draw (columns ``patient_id`` if present, ``x``, ``y``,
        ``color``; under the original names), a seeded sample when there are more than
        ``max_points``.
    pearson, spearman : CorrelationResult
        On all complete pairs.
    n : int
        Complete pairs.
    sampled : bool
        True when ``points`` is a sample.
    """

    x: str
    y: str
    color: str | None
    points: pd.DataFrame
    pearson: CorrelationResult
    spearman: CorrelationResult
    n: int
    sampled: bool

    def result(self, method: CorrelationMethod) -> CorrelationResult:
        """The result of ``method`` (``"spearman"`` or ``"pearson"``; ValueError otherwise)."""
        check_method(method)
        return self.pearson if method == "pearson" else self.spearman


def correlation_panel(df: pd.DataFrame, x: str, y: str, *, color: str | None = None,
                      max_points: int = DEFAULT_MAX_POINTS,
                      seed: int = DEFAULT_SEED) -> CorrelationPanel:
    """Scatter data plus Pearson and Spearman correlations (the paper's Figures 1C, 3B, 3C).

    Parameters
    ----------
    df : DataFrame
        The filtered cohort (one row per patient); may hold derived columns
        (:func:`core.analyses.tocilizumab.with_durations`).
    x, y : str
        Numeric columns.
    color : str, optional
        Grouping column for the point colour.
    max_points : int
        Points drawn at most (a seeded sample beyond); the statistics use every pair.
    seed : int
        Seed of that sample.

    Returns
    -------
    CorrelationPanel
        ``points`` (columns ``patient_id``, ``x``, ``y``, ``color`` when present), ``pearson``,
        ``spearman``, ``n``, ``sampled``.

    Raises
    ------
    ColumnError, InsufficientDataError
        As :func:`core.stats.groups.correlate` (fewer than 4 pairs, a constant column), or
        ``x == y``.
    """
    if x == y:
        raise ColumnError("Choose two different columns for a correlation.")
    spearman = gstats.correlate(df, x, y, "spearman")
    pearson = gstats.correlate(df, x, y, "pearson")
    keep = [c for c in dict.fromkeys(["patient_id", x, y, color]) if c and c in df.columns]
    data = df.loc[df[x].notna() & df[y].notna(), keep]
    sampled = len(data) > max_points
    if sampled:
        data = data.sample(n=max_points, random_state=seed).sort_index()
    return CorrelationPanel(x, y, color, data.reset_index(drop=True), pearson, spearman,
                            spearman.n, sampled)


def correlation_matrix(df: pd.DataFrame, columns: Sequence[str],
                       method: CorrelationMethod = "spearman") -> pd.DataFrame:
    """Pairwise correlations of ``columns``.

    Returns
    -------
    DataFrame
        Columns ``x, y, r, pvalue, n``: the rows of
        :func:`core.stats.groups.correlation_matrix_frame` (the full square in ``columns``
        order, diagonal r = 1 and p = 0, NaN where a pair cannot be correlated).

    Raises
    ------
    ValueError
        ``method`` is not one of :data:`METHODS`.
    ColumnError
        Fewer than two columns, a missing column, or text in a column.

    Notes
    -----
    Each unordered pair is computed once by :func:`core.stats.correlate` and mirrored: Pearson
    and Spearman are symmetric, and so are their floating-point results (the same products
    and sums in the same order), so the frame equals ``correlation_matrix_frame``'s, which
    computes both orders (half the work at 100k patients).
    """
    check_method(method)
    cols = list(dict.fromkeys(columns))
    if len(cols) < 2 or any(c not in df.columns for c in cols):
        return gstats.correlation_matrix_frame(df, cols, method)  # its errors
    num = pd.DataFrame({c: gstats.numeric(df[c], c) for c in cols}, index=df.index)
    known = num.notna().to_numpy()
    cells: dict[tuple[int, int], tuple[float, float, int]] = {}
    rows = []
    for i, a in enumerate(cols):
        for j, b in enumerate(cols):
            n_pair = int((known[:, i] & known[:, j]).sum())
            if i == j:
                cell = (1.0, 0.0, n_pair)
            elif (j, i) in cells:
                cell = cells[(j, i)]
            else:
                try:
                    res = gstats.correlate(num, a, b, method)
                    cell = (res.r, res.pvalue, res.n)
                except InsufficientDataError:
                    cell = (math.nan, math.nan, n_pair)
            cells[(i, j)] = cell
            rows.append({"x": a, "y": b, "r": cell[0], "pvalue": cell[1], "n": cell[2]})
    return pd.DataFrame(rows, columns=["x", "y", "r", "pvalue", "n"])
