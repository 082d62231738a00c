"""Correlation of two numeric columns (the paper's scatter plots) and correlation matrices.

* :func:`correlate`: Spearman or Pearson with a 95% CI, validated against R's ``cor.test``.
* :func:`correlation_matrix_frame`: every pair of a list of columns, as a tidy frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import pandas as pd
from scipy import stats as sps

from core.errors import ColumnError, InsufficientDataError
from core.notes import Note, WithNotes
from core.stats._common import (
    check_option,
    dropped_note,
    numeric,
    require_columns,
)

CorrelationMethod = Literal["spearman", "pearson"]
CORRELATION_METHODS: tuple[str, ...] = get_args(CorrelationMethod)
MIN_PAIRS = 4  # the Fisher z CI needs n - 3 > 0
_Z975 = float(sps.norm.ppf(0.975))
#: how the 95% CI was computed, per method (the ``ci_method`` field and the pages' labels)
CI_METHODS: dict[str, str] = {
    "pearson": "Fisher z, SE 1/√(n−3) (as R cor.test)",
    "spearman": "Fisher z, SE 1/√(n−3) (approximate for Spearman: R gives no CI; "
                "Bonett-Wright's SE would be slightly wider)",
}


@dataclass(frozen=True)
class CorrelationResult(WithNotes):
    """Result of :func:`correlate`.

    Attributes
    ----------
    method : str
        ``"spearman"`` or ``"pearson"``.
    r : float
        The correlation coefficient (Spearman's rho or Pearson's r).
    pvalue : float
        Two-sided p-value (Spearman: t approximation, R ``exact=FALSE``).
    ci_low, ci_high : float
        95% confidence interval by Fisher's z transform.
    n, n_dropped : int
        Pairs used; rows left out for a missing x or y.
    ci_method : str
        How the CI was computed (:data:`CI_METHODS`): R cor.test's interval for Pearson,
        an approximation for Spearman; pages print it next to the CI.
    notes : tuple of Note
        By kind: ``"dropped"`` (info: rows left out for a missing value), ``"method"`` (info:
        how the Spearman p-value and CI were computed).
    messages : tuple of str
        The texts of ``notes`` (for display).
    """

    method: str
    r: float
    pvalue: float
    ci_low: float
    ci_high: float
    n: int
    n_dropped: int
    notes: tuple[Note, ...] = field(default_factory=tuple)
    ci_method: str = ""



def _fisher_ci(r: float, n: int) -> tuple[float, float]:
    if abs(r) >= 1.0:
        return float(r), float(r)
    z = math.atanh(r)
    half = _Z975 / math.sqrt(n - 3)
    return math.tanh(z - half), math.tanh(z + half)


def _pairs(df: pd.DataFrame, x: str, y: str) -> tuple[pd.DataFrame, int]:
    """Complete (x, y) pairs as columns ``x, y``; raise when too few or constant."""
    require_columns(df, [x, y])
    xs, ys = numeric(df[x], x), numeric(df[y], y)
    # complete pairs with numpy (as complete_cases on the two float columns, without the
    # frame copies: the correlation matrix calls this once per pair)
    xa, ya = xs.to_numpy(), ys.to_numpy()
    both = ~(np.isnan(xa) | np.isnan(ya))
    kept = pd.DataFrame({"x": xa[both], "y": ya[both]}, index=xs.index[both])
    n_dropped = int(len(xa) - len(kept))
    n = len(kept)
    if n < MIN_PAIRS:
        raise InsufficientDataError(
            f"Too few complete pairs of '{x}' and '{y}' for a correlation: {n} usable, at least "
            f"{MIN_PAIRS} needed (for the confidence interval). Relax the filter or choose "
            "other columns.")
    for name, col in ((x, kept["x"]), (y, kept["y"])):
        if len(np.unique(col.to_numpy())) == 1:
            raise InsufficientDataError(
                f"'{name}' has the same value ({col.iloc[0]:g}) in all {n} pairs; a correlation "
                "needs values that vary. Choose another column or widen the filter.")
    return kept, n_dropped


def correlate(df: pd.DataFrame, x: str, y: str,
              method: CorrelationMethod = "spearman") -> CorrelationResult:
    """Correlation of two numeric columns with a 95% confidence interval.

    Parameters
    ----------
    df : DataFrame
        The cohort.
    x, y : str
        Numeric columns.
    method : {"spearman", "pearson"}
        Rank correlation (default) or Pearson's r.

    Returns
    -------
    CorrelationResult
        ``method, r, pvalue, ci_low, ci_high, n, n_dropped, notes, ci_method``.

    Raises
    ------
    ValueError
        Unknown ``method``.
    ColumnError
        A missing column, or text in a column.
    InsufficientDataError
        Fewer than 4 complete pairs, or a column with the same value in every pair.

    Notes
    -----
    Validated against R 4.2 ``cor.test``. Pearson: r, t-test p and the Fisher z CI equal
    ``cor.test(x, y)``. Spearman: rho and p equal ``cor.test(x, y, method = "spearman",
    exact = FALSE)`` (t approximation with n - 2 df, valid with ties); R gives no CI for
    Spearman, so the CI is the Fisher z interval ``tanh(atanh(rho) +/- 1.96 / sqrt(n - 3))``
    (an approximation; Bonett-Wright's SE would be slightly wider).
    """
    check_option("correlation method", method, CORRELATION_METHODS)
    kept, n_dropped = _pairs(df, x, y)
    notes: list[Note] = []
    if n_dropped:
        notes.append(dropped_note(n_dropped, [x, y]))
    if method == "spearman":
        res = sps.spearmanr(kept["x"], kept["y"])
        notes.append(Note("info", "method", "Spearman p-value by t approximation (R cor.test "
                                            "exact = FALSE); CI by Fisher's z transform with "
                                            "SE 1/√(n−3), an approximation for Spearman."))
    else:
        res = sps.pearsonr(kept["x"], kept["y"])
    r = float(res.statistic)
    lo, hi = _fisher_ci(r, len(kept))
    return CorrelationResult(method, r, float(res.pvalue), lo, hi, len(kept), n_dropped,
                             tuple(notes), CI_METHODS[method])


def correlation_matrix_frame(df: pd.DataFrame, columns: Sequence[str],
                             method: CorrelationMethod = "spearman") -> pd.DataFrame:
    """Pairwise correlations of ``columns`` as a tidy frame (for a heatmap).

    Parameters
    ----------
    df : DataFrame
        The cohort.
    columns : sequence of str
        Numeric columns (at least two).
    method : {"spearman", "pearson"}
        As in :func:`correlate`.

    Returns
    -------
    DataFrame
        One row per ordered pair (the full square, diagonal included), in ``columns`` order;
        columns ``x, y, r, pvalue, n``: ``n`` is the pairwise complete count of that pair; ``r``
        and ``pvalue`` are NaN where a pair has fewer than 4 complete rows or a constant column;
        the diagonal has r = 1 and p = 0.

    Raises
    ------
    ValueError
        Unknown ``method``.
    ColumnError
        Fewer than two columns, a missing column, or text in a column.

    Notes
    -----
    Each pair is computed by :func:`correlate` (validated against R ``cor.test``); equals R
    ``cor(df[columns], method = ..., use = "pairwise.complete.obs")`` for r.
    """
    check_option("correlation method", method, CORRELATION_METHODS)
    columns = list(dict.fromkeys(columns))
    if len(columns) < 2:
        raise ColumnError("Choose at least two numeric columns for a correlation matrix.")
    require_columns(df, columns)
    # each column converted (and checked) once, not once per pair; the same floats
    num = pd.DataFrame({c: numeric(df[c], c) for c in columns}, index=df.index)
    known = num.notna().to_numpy()
    rows = []
    for i, a in enumerate(columns):
        for j, b in enumerate(columns):
            n_pair = int((known[:, i] & known[:, j]).sum())
            if a == b:
                rows.append({"x": a, "y": b, "r": 1.0, "pvalue": 0.0, "n": n_pair})
                continue
            try:
                res = correlate(num, a, b, method)
                rows.append({"x": a, "y": b, "r": res.r, "pvalue": res.pvalue, "n": res.n})
            except InsufficientDataError:
                rows.append({"x": a, "y": b, "r": math.nan, "pvalue": math.nan, "n": n_pair})
    return pd.DataFrame(rows, columns=["x", "y", "r", "pvalue", "n"])
