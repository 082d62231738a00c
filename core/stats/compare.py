"""Compare a numeric column across groups (the paper's box plots by CRS grade).

* :func:`compare_groups`: Kruskal-Wallis (or Mann-Whitney U for two groups) with Dunn's
  post-hoc test, Holm-adjusted, and a per-group summary.
* :func:`dunn`: Dunn's pairwise test on joint ranks.
* :func:`tukey_box`: the box statistics that chart builders draw.

Rows with a missing value or group are left out and counted. Results are raw floats: rounding
and formatting belong to the page. ``tests/test_stats_groups.py`` holds the R code and values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from core.errors import ColumnError, InsufficientDataError
from core.notes import Note, WithNotes
from core.stats._common import (
    check_order,
    complete_cases,
    dropped_note,
    numeric,
    require_columns,
    sorted_levels,
)
from core.stats.multiplicity import holm

KRUSKAL = "Kruskal-Wallis"
MANN_WHITNEY = "Mann-Whitney U"
POSTHOC_COLUMNS = ("group_a", "group_b", "z", "pvalue", "pvalue_holm")
SUMMARY_COLUMNS = ("group", "n", "median", "q1", "q3", "min", "max", "mean")
TUKEY_BOX_COLUMNS = ("group", "n", "q1", "median", "q3", "whisker_low", "whisker_high",
                     "n_outliers")


@dataclass(frozen=True)
class CompareResult(WithNotes):
    """Result of :func:`compare_groups`.

    Attributes
    ----------
    test : str
        ``"Kruskal-Wallis"`` or ``"Mann-Whitney U"``.
    statistic : float
        Kruskal-Wallis H (chi-squared) or Mann-Whitney W (R's ``W``: the rank sum of the first
        group minus n1(n1+1)/2). NaN when all values are equal.
    pvalue : float
        Two-sided p-value; NaN when all values are equal (see ``notes``).
    df : int or None
        Degrees of freedom of the Kruskal-Wallis chi-square (groups - 1); None for
        Mann-Whitney.
    n, n_dropped : int
        Observations used; rows left out for a missing value or group.
    summary : DataFrame
        One row per group in display order; columns ``group, n, median, q1, q3, min, max,
        mean`` (quantiles of R's default type 7).
    posthoc : DataFrame
        Dunn's test for every pair (3 or more groups; empty otherwise); columns
        ``group_a, group_b, z, pvalue, pvalue_holm``.
    groups : tuple
        The group labels in display order.
    exact : bool
        True when the Mann-Whitney p-value is exact (no ties, both groups < 50).
    notes : tuple of Note
        For the user, by kind: ``"groups"`` (info: a level of ``order`` without data, or
        levels appended to ``order``), ``"dropped"`` (info: rows left out for a missing value),
        ``"small_sample"`` (warning: a group with a single observation), ``"constant"``
        (warning: all values equal, no test), ``"method"`` (info: Mann-Whitney p by normal
        approximation, and why).
    messages : tuple of str
        The texts of ``notes`` (for display).
    """

    test: str
    statistic: float
    pvalue: float
    df: int | None
    n: int
    n_dropped: int
    summary: pd.DataFrame
    posthoc: pd.DataFrame
    groups: tuple[Any, ...] = ()
    exact: bool = False
    notes: tuple[Note, ...] = field(default_factory=tuple)



# ------------------------------------------------------------------------------ groups

def group_order(values: pd.Series, order: Sequence[Any] | None) -> tuple[list[Any], list[Note]]:
    """Display order of the groups present in ``values`` and "groups" notes about ``order``.

    Levels named in ``order`` come first, in that order; present levels that ``order`` does not
    name follow in sorted order. A level is matched exactly or by its text (``"1"`` matches 1).
    """
    present = sorted_levels(values)
    if order is None:
        return present, []
    by_text = {str(level): level for level in present}
    listed: list[Any] = []
    absent: list[str] = []
    for level in order:
        match = level if level in present else by_text.get(str(level))
        if match is None:
            absent.append(str(level))
        elif match not in listed:
            listed.append(match)
    rest = [level for level in present if level not in listed]
    notes = []
    if absent:
        notes.append(Note("info", "groups",
                          f"No data for group(s) {', '.join(absent)}; they are not shown."))
    if rest:
        notes.append(Note("info", "groups", "Group(s) not in the given order were added at the "
                                            f"end: {', '.join(map(str, rest))}."))
    return listed + rest, notes


def grouped_values(df: pd.DataFrame, value: str, group: str, order: Sequence[Any] | None
                   ) -> tuple[list[Any], list[np.ndarray], int, list[Note]]:
    """Complete cases split by group: (levels, arrays, n_dropped, notes about the order)."""
    check_order(order)
    require_columns(df, [value, group])
    if value == group:
        raise ColumnError(f"Value and group are the same column ('{value}'); choose two columns.")
    vals = numeric(df[value], value)
    data = pd.DataFrame({"value": vals, "group": df[group]})
    kept, n_dropped = complete_cases(data, ["value", "group"])
    levels, notes = group_order(kept["group"], order)
    arrays = [kept.loc[kept["group"] == level, "value"].to_numpy(dtype=float)
              for level in levels]
    return levels, arrays, n_dropped, notes


# ------------------------------------------------------------------------------ pieces

def _summary(levels: Sequence[Any], arrays: Sequence[np.ndarray]) -> pd.DataFrame:
    rows = []
    for level, x in zip(levels, arrays, strict=True):
        q1, median, q3 = np.quantile(x, [0.25, 0.5, 0.75])  # numpy "linear" = R type 7
        rows.append({"group": level, "n": len(x), "median": float(median),
                     "q1": float(q1), "q3": float(q3), "min": float(x.min()),
                     "max": float(x.max()), "mean": float(x.mean())})
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def _empty_posthoc() -> pd.DataFrame:
    return pd.DataFrame({"group_a": pd.Series(dtype=object), "group_b": pd.Series(dtype=object),
                         "z": pd.Series(dtype=float), "pvalue": pd.Series(dtype=float),
                         "pvalue_holm": pd.Series(dtype=float)})


def dunn(levels: Sequence[Any], arrays: Sequence[np.ndarray]) -> pd.DataFrame:
    """Dunn's (1964) pairwise test on joint ranks, tie-corrected, two-sided, Holm-adjusted.

    Parameters
    ----------
    levels : sequence
        Group labels in display order.
    arrays : sequence of numpy.ndarray
        The values of each group, in the order of ``levels``.

    Returns
    -------
    DataFrame
        Columns ``group_a, group_b, z, pvalue, pvalue_holm``: one row per pair in display
        order; ``z = (mean rank a - mean rank b) / SE`` with
        ``SE^2 = (N(N+1)/12 - sum(t^3 - t) / (12(N - 1))) (1/n_a + 1/n_b)``.

    Notes
    -----
    Same as R ``dunn.test(x, g, method = "holm")`` and scikit-posthocs ``posthoc_dunn``;
    validated with the base R formula in the tests.
    """
    values = np.concatenate(arrays)
    n_total = len(values)
    ranks = sps.rankdata(values)
    _, ties = np.unique(values, return_counts=True)
    tie_term = float(np.sum(ties.astype(float) ** 3 - ties)) / (12.0 * (n_total - 1))
    variance = n_total * (n_total + 1) / 12.0 - tie_term
    bounds = np.cumsum([0] + [len(a) for a in arrays])
    mean_rank = [ranks[bounds[i]:bounds[i + 1]].mean() for i in range(len(arrays))]
    rows = []
    for i in range(len(levels)):
        for j in range(i + 1, len(levels)):
            se = math.sqrt(variance * (1.0 / len(arrays[i]) + 1.0 / len(arrays[j])))
            z = (mean_rank[i] - mean_rank[j]) / se
            rows.append({"group_a": levels[i], "group_b": levels[j], "z": float(z),
                         "pvalue": float(2.0 * sps.norm.sf(abs(z)))})
    if not rows:
        return _empty_posthoc()
    out = pd.DataFrame(rows)
    out["pvalue_holm"] = holm(out["pvalue"].to_numpy())
    return out


def _mann_whitney(x: np.ndarray, y: np.ndarray) -> tuple[float, float, bool]:
    """R ``wilcox.test(x, y)``: (W, p, exact). Exact when both n < 50 and no ties."""
    ties = len(np.unique(np.concatenate([x, y]))) < len(x) + len(y)
    exact = len(x) < 50 and len(y) < 50 and not ties
    res = sps.mannwhitneyu(x, y, alternative="two-sided", use_continuity=True,
                           method="exact" if exact else "asymptotic")
    return float(res.statistic), float(min(res.pvalue, 1.0)), exact


# ------------------------------------------------------------------------------ steps

def _require_two_groups(levels: Sequence[Any], n: int, n_dropped: int, value: str,
                        group: str) -> None:
    """Raise InsufficientDataError when no row, or only one group, has data."""
    if n == 0:
        raise InsufficientDataError(
            f"No rows with both '{value}' and '{group}' present ({n_dropped} rows had a missing "
            "value). Choose columns with data or relax the filter.")
    if len(levels) < 2:
        raise InsufficientDataError(
            f"Only one group of '{group}' has data ({levels[0]!s}, n = {n}); a comparison needs "
            "at least two groups. Choose another grouping or relax the filter.")


def _single_observation_notes(levels: Sequence[Any], arrays: Sequence[np.ndarray]) -> list[Note]:
    singles = [str(level) for level, a in zip(levels, arrays, strict=True) if len(a) == 1]
    if not singles:
        return []
    return [Note("warning", "small_sample", f"Group(s) {', '.join(singles)} have a single "
                                            "observation; the test runs but says little about "
                                            "them.")]


def _two_groups(arrays: Sequence[np.ndarray], n: int) -> tuple[float, float, bool, list[Note]]:
    """Mann-Whitney U: (W, p, exact, notes)."""
    statistic, pvalue, exact = _mann_whitney(arrays[0], arrays[1])
    if exact:
        return statistic, pvalue, exact, []
    why = "ties" if len(np.unique(np.concatenate(arrays))) < n else "a group of 50 or more"
    return statistic, pvalue, exact, [Note(
        "info", "method", f"Mann-Whitney p-value by normal approximation with continuity "
                          f"correction ({why}), as R's wilcox.test.")]


def compare_groups(df: pd.DataFrame, value: str, group: str, *,
                   order: Sequence[Any] | None = None) -> CompareResult:
    """Compare a numeric column across groups (the paper's boxplots by CRS grade).

    Parameters
    ----------
    df : DataFrame
        The cohort, one row per patient.
    value : str
        Numeric column, e.g. ``"fibrinogen_nadir"``.
    group : str
        Grouping column, e.g. ``"crs_grade"``.
    order : sequence, optional
        Display order of the groups; default: category order, else sorted. Present groups not
        listed are appended (with a note); listed groups without data are reported in
        ``notes``. For two groups the first one is R's ``x``.

    Returns
    -------
    CompareResult
        ``test`` ("Kruskal-Wallis" for 3 or more groups, "Mann-Whitney U" for two),
        ``statistic``, ``pvalue``, ``df`` (KW only), ``n``, ``n_dropped``,
        ``summary`` (columns ``group, n, median, q1, q3, min, max, mean``),
        ``posthoc`` (columns ``group_a, group_b, z, pvalue, pvalue_holm``; empty for two
        groups), ``groups``, ``exact``, ``notes``.

    Raises
    ------
    ColumnError
        A column is missing or ``value`` holds text.
    InsufficientDataError
        No complete rows, or fewer than two groups with data.
    TypeError
        ``order`` is a string or not a sequence.

    Notes
    -----
    Validated against R 4.2: ``kruskal.test`` (tie-corrected H), ``wilcox.test`` defaults
    (exact p when both groups have < 50 values and there are no ties, else the normal
    approximation with continuity and tie correction), Dunn's test by the base R formula
    (= ``dunn.test``, two-sided, Holm), ``quantile(type = 7)``.

    A group with a single observation is allowed (with a warning). When every value is the
    same the test is undefined: the result carries ``statistic = pvalue = NaN``, an empty
    ``posthoc`` and a note, so the summary and plot can still be shown.
    """
    levels, arrays, n_dropped, notes = grouped_values(df, value, group, order)
    n = int(sum(len(a) for a in arrays))
    _require_two_groups(levels, n, n_dropped, value, group)
    if n_dropped:
        notes.append(dropped_note(n_dropped, [value, group]))
    notes += _single_observation_notes(levels, arrays)
    summary = _summary(levels, arrays)
    all_values = np.concatenate(arrays)
    two = len(levels) == 2
    test = MANN_WHITNEY if two else KRUSKAL
    dof = None if two else len(levels) - 1
    if np.all(all_values == all_values[0]):
        notes.append(Note("warning", "constant",
                          f"All {n} values of '{value}' are equal ({all_values[0]:g}); the "
                          f"{test} test is undefined, so no p-value is given."))
        return CompareResult(test, math.nan, math.nan, dof, n, n_dropped, summary,
                             _empty_posthoc(), tuple(levels), False, tuple(notes))
    if two:
        statistic, pvalue, exact, method_notes = _two_groups(arrays, n)
        return CompareResult(test, statistic, pvalue, None, n, n_dropped, summary,
                             _empty_posthoc(), tuple(levels), exact,
                             tuple(notes + method_notes))
    res = sps.kruskal(*arrays)
    return CompareResult(test, float(res.statistic), float(res.pvalue), dof, n, n_dropped,
                         summary, dunn(levels, arrays), tuple(levels), False, tuple(notes))


# ------------------------------------------------------------------------------ tukey_box

def tukey_box(df: pd.DataFrame, value: str, group: str, *,
              order: Sequence[Any] | None = None) -> pd.DataFrame:
    """Tukey box statistics per group, the frame chart builders draw boxes from.

    Parameters
    ----------
    df, value, group
        As in :func:`compare_groups` (rows with a missing value are left out).
    order : sequence, optional
        Display order of the groups (default: category order, else sorted).

    Returns
    -------
    DataFrame
        One row per group with data, in display order; columns ``group, n, q1, median, q3,
        whisker_low, whisker_high, n_outliers``: quartiles by linear interpolation (R type 7,
        DuckDB ``quantile_cont``); whiskers are the most extreme values within
        ``[q1 - 1.5 IQR, q3 + 1.5 IQR]``; ``n_outliers`` counts values outside that fence.

    Notes
    -----
    Same as ggplot2's ``stat_boxplot`` (type 7 quartiles); R's ``boxplot`` uses Tukey's
    hinges (``fivenum``), which can differ slightly for small even n. Validated with base R
    ``quantile(type = 7)`` and the fence rule in the tests.
    """
    levels, arrays, _, _ = grouped_values(df, value, group, order)
    rows = []
    for level, x in zip(levels, arrays, strict=True):
        q1, median, q3 = np.quantile(x, [0.25, 0.5, 0.75])
        iqr = q3 - q1
        inside = (x >= q1 - 1.5 * iqr) & (x <= q3 + 1.5 * iqr)
        rows.append({"group": level, "n": len(x), "q1": float(q1),
                     "median": float(median), "q3": float(q3),
                     "whisker_low": float(x[inside].min()), "whisker_high": float(x[inside].max()),
                     "n_outliers": int((~inside).sum())})
    return pd.DataFrame(rows, columns=list(TUKEY_BOX_COLUMNS))
