"""Group comparisons, correlations and contingency tables (the paper's Figures 1-3).

* :func:`compare_groups`: Kruskal-Wallis (or Mann-Whitney U for two groups) with Dunn's
  post-hoc test, Holm-adjusted, and a per-group summary.
* :func:`correlate` and :func:`correlation_matrix_frame`: Spearman or Pearson with a 95% CI.
* :func:`contingency`: chi-square (Yates on 2x2, as R) or Fisher's exact test, also r x c.
* :func:`tukey_box`: the box statistics that chart builders draw.

Every function drops rows with a missing value in the columns it uses and counts them. Results
are raw floats: rounding and formatting belong to the page. Each function's Notes name the R
function it was validated against (``tests/test_stats_groups.py`` holds the R code and values).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats as sps
from scipy.special import gammaln

from core.errors import ColumnError, InsufficientDataError
from core.stats._common import complete_cases, numeric, require_columns

CorrelationMethod = Literal["spearman", "pearson"]
ContingencyTest = Literal["auto", "chi2", "fisher"]

_Z975 = float(sps.norm.ppf(0.975))
#: R's fisher.test counts tables whose probability is <= the observed one times (1 + 1e-7).
_FISHER_REL_TOL = 1e-7
#: Work limit of the exact r x c enumeration (path extensions); above it, Monte Carlo.
_FISHER_MAX_WORK = 10_000_000
_FISHER_MC_RESAMPLES = 100_000


# --------------------------------------------------------------------------------------------
# result objects
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CompareResult:
    """Result of :func:`compare_groups`.

    Attributes
    ----------
    test : ``"Kruskal-Wallis"`` or ``"Mann-Whitney U"``.
    statistic : Kruskal-Wallis H (chi-squared) or Mann-Whitney W (R's ``W``: the rank sum of the
        first group minus n1(n1+1)/2). NaN when all values are equal.
    pvalue : two-sided p-value; NaN when all values are equal (see ``messages``).
    df : degrees of freedom of the Kruskal-Wallis chi-square (groups - 1); None for Mann-Whitney.
    n : observations used; n_dropped : rows left out for a missing value or group.
    summary : one row per group in display order; columns ``group, n, median, q1, q3, min, max,
        mean`` (quantiles of R's default type 7).
    posthoc : Dunn's test for every pair (3 or more groups; empty otherwise); columns
        ``group_a, group_b, z, pvalue, pvalue_holm``.
    groups : the group labels in display order.
    exact : True when the Mann-Whitney p-value is exact (no ties, both groups < 50).
    messages : warnings for the user.
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
    messages: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class CorrelationResult:
    """Result of :func:`correlate`.

    Attributes
    ----------
    method : ``"spearman"`` or ``"pearson"``.
    r : the correlation coefficient (Spearman's rho or Pearson's r).
    pvalue : two-sided p-value (Spearman: t approximation, R ``exact=FALSE``).
    ci_low, ci_high : 95% confidence interval by Fisher's z transform.
    n : pairs used; n_dropped : rows left out for a missing x or y.
    messages : notes for the user.
    """

    method: str
    r: float
    pvalue: float
    ci_low: float
    ci_high: float
    n: int
    n_dropped: int
    messages: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ContingencyResult:
    """Result of :func:`contingency`.

    Attributes
    ----------
    test : ``"chi2"`` (Pearson's chi-square; with Yates' correction on a 2x2 table) or
        ``"fisher"`` (Fisher's exact test).
    statistic : the chi-square statistic; NaN for Fisher (an exact test has none).
    pvalue : two-sided p-value.
    dof : degrees of freedom of the chi-square; None for Fisher.
    table : observed counts, rows = levels of ``row`` (index), columns = levels of ``col``.
    expected : expected counts under independence, same shape and labels as ``table``.
    n : observations used; n_dropped : rows left out for a missing row or column value.
    yates : True when Yates' continuity correction was applied.
    odds_ratio, or_ci_low, or_ci_high : for Fisher on a 2x2 table the conditional maximum
        likelihood odds ratio and its exact 95% CI (as R's ``fisher.test``); NaN otherwise.
    monte_carlo : True when a large r x c Fisher p-value was simulated instead of enumerated.
    messages : which test was used and why, and warnings.
    """

    test: str
    statistic: float
    pvalue: float
    dof: int | None
    table: pd.DataFrame
    expected: pd.DataFrame
    n: int = 0
    n_dropped: int = 0
    yates: bool = False
    odds_ratio: float = math.nan
    or_ci_low: float = math.nan
    or_ci_high: float = math.nan
    monte_carlo: bool = False
    messages: tuple[str, ...] = field(default_factory=tuple)


# --------------------------------------------------------------------------------------------
# group helpers
# --------------------------------------------------------------------------------------------

def _sorted_levels(values: pd.Series) -> list[Any]:
    """Levels present in ``values``: category order for a categorical, else sorted."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        present = set(values.unique())
        return [c for c in values.cat.categories if c in present]
    levels = [v.item() if isinstance(v, np.generic) else v for v in pd.unique(values)]
    try:
        return sorted(levels)
    except TypeError:  # mixed types: sort by text
        return sorted(levels, key=str)


def _group_order(values: pd.Series, order: Sequence[Any] | None) -> tuple[list[Any], list[str]]:
    """Display order of the groups present in ``values`` and messages about ``order``.

    Levels named in ``order`` come first, in that order; present levels that ``order`` does not
    name follow in sorted order. A level is matched exactly or by its text (``"1"`` matches 1).
    """
    present = _sorted_levels(values)
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
    messages = []
    if absent:
        messages.append(f"No data for group(s) {', '.join(absent)}; they are not shown.")
    if rest:
        messages.append("Group(s) not in the given order were added at the end: "
                        f"{', '.join(map(str, rest))}.")
    return listed + rest, messages


def _grouped_values(df: pd.DataFrame, value: str, group: str,
                    order: Sequence[Any] | None) -> tuple[list[Any], list[np.ndarray], int,
                                                          list[str]]:
    """Complete cases split by group: (levels, arrays, n_dropped, messages)."""
    require_columns(df, [value, group])
    if value == group:
        raise ColumnError(f"Value and group are the same column ('{value}'); choose two columns.")
    vals = numeric(df[value], value)
    data = pd.DataFrame({"value": vals, "group": df[group]})
    kept, n_dropped = complete_cases(data, ["value", "group"])
    levels, messages = _group_order(kept["group"], order)
    arrays = [kept.loc[kept["group"] == level, "value"].to_numpy(dtype=float)
              for level in levels]
    return levels, arrays, n_dropped, messages


# --------------------------------------------------------------------------------------------
# compare_groups
# --------------------------------------------------------------------------------------------

def _summary(levels: list[Any], arrays: list[np.ndarray]) -> pd.DataFrame:
    rows = []
    for level, x in zip(levels, arrays):
        q1, median, q3 = np.quantile(x, [0.25, 0.5, 0.75])  # numpy "linear" = R type 7
        rows.append({"group": level, "n": int(len(x)), "median": float(median),
                     "q1": float(q1), "q3": float(q3), "min": float(x.min()),
                     "max": float(x.max()), "mean": float(x.mean())})
    return pd.DataFrame(rows, columns=["group", "n", "median", "q1", "q3", "min", "max", "mean"])


def _empty_posthoc() -> pd.DataFrame:
    return pd.DataFrame({"group_a": pd.Series(dtype=object), "group_b": pd.Series(dtype=object),
                         "z": pd.Series(dtype=float), "pvalue": pd.Series(dtype=float),
                         "pvalue_holm": pd.Series(dtype=float)})


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of ``pvalues`` (R: ``p.adjust(p, "holm")``)."""
    p = np.asarray(pvalues, dtype=float)
    m = len(p)
    if m == 0:
        return p
    idx = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[idx])
    out = np.empty(m)
    out[idx] = np.minimum(stepped, 1.0)
    return out


def dunn(levels: Sequence[Any], arrays: Sequence[np.ndarray]) -> pd.DataFrame:
    """Dunn's (1964) pairwise test on joint ranks, tie-corrected, two-sided, Holm-adjusted.

    Returns
    -------
    DataFrame with columns ``group_a, group_b, z, pvalue, pvalue_holm``: one row per pair in
    display order; ``z = (mean rank a - mean rank b) / SE`` with
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


def compare_groups(df: pd.DataFrame, value: str, group: str, *,
                   order: Sequence[Any] | None = None) -> CompareResult:
    """Compare a numeric column across groups (the paper's boxplots by CRS grade).

    Parameters
    ----------
    df : the cohort, one row per patient.
    value : numeric column, e.g. ``"fibrinogen_nadir"``.
    group : grouping column, e.g. ``"crs_grade"``.
    order : display order of the groups; default: category order, else sorted. Present
        groups not listed are appended (with a message); listed groups without data are
        reported in ``messages``. For two groups the first one is R's ``x``.

    Returns
    -------
    CompareResult
        ``test`` ("Kruskal-Wallis" for 3 or more groups, "Mann-Whitney U" for two),
        ``statistic``, ``pvalue``, ``df`` (KW only), ``n``, ``n_dropped``,
        ``summary`` (columns ``group, n, median, q1, q3, min, max, mean``),
        ``posthoc`` (columns ``group_a, group_b, z, pvalue, pvalue_holm``; empty for two
        groups), ``groups``, ``exact``, ``messages``.

    Raises
    ------
    ColumnError
        A column is missing or ``value`` holds text.
    InsufficientDataError
        No complete rows, or fewer than two groups with data.

    Notes
    -----
    Validated against R 4.2: ``kruskal.test`` (tie-corrected H), ``wilcox.test`` defaults
    (exact p when both groups have < 50 values and there are no ties, else the normal
    approximation with continuity and tie correction), Dunn's test by the base R formula
    (= ``dunn.test``, two-sided, Holm), ``quantile(type = 7)``.

    A group with a single observation is allowed (with a warning). When every value is the
    same the test is undefined: the result carries ``statistic = pvalue = NaN``, an empty
    ``posthoc`` and a message, so the summary and plot can still be shown.
    """
    levels, arrays, n_dropped, messages = _grouped_values(df, value, group, order)
    n = int(sum(len(a) for a in arrays))
    if n == 0:
        raise InsufficientDataError(
            f"No rows with both '{value}' and '{group}' present ({n_dropped} rows had a missing "
            "value). Choose columns with data or relax the filter.")
    if n_dropped:
        messages.append(f"{n_dropped} row(s) with a missing '{value}' or '{group}' were left out.")
    if len(levels) < 2:
        raise InsufficientDataError(
            f"Only one group of '{group}' has data ({levels[0]!s}, n = {n}); a comparison needs "
            "at least two groups. Choose another grouping or relax the filter.")
    singles = [str(level) for level, a in zip(levels, arrays) if len(a) == 1]
    if singles:
        messages.append(f"Group(s) {', '.join(singles)} have a single observation; the test "
                        "runs but says little about them.")
    summary = _summary(levels, arrays)
    all_values = np.concatenate(arrays)
    two = len(levels) == 2
    test = "Mann-Whitney U" if two else "Kruskal-Wallis"
    dof = None if two else len(levels) - 1
    if np.all(all_values == all_values[0]):
        messages.append(f"All {n} values of '{value}' are equal ({all_values[0]:g}); the "
                        f"{test} test is undefined, so no p-value is given.")
        return CompareResult(test, math.nan, math.nan, dof, n, n_dropped, summary,
                             _empty_posthoc(), tuple(levels), False, tuple(messages))
    if two:
        statistic, pvalue, exact = _mann_whitney(arrays[0], arrays[1])
        if not exact:
            why = "ties" if len(np.unique(all_values)) < n else "a group of 50 or more"
            messages.append(f"Mann-Whitney p-value by normal approximation with continuity "
                            f"correction ({why}), as R's wilcox.test.")
        return CompareResult(test, statistic, pvalue, None, n, n_dropped, summary,
                             _empty_posthoc(), tuple(levels), exact, tuple(messages))
    res = sps.kruskal(*arrays)
    return CompareResult(test, float(res.statistic), float(res.pvalue), dof, n, n_dropped,
                         summary, dunn(levels, arrays), tuple(levels), False, tuple(messages))


# --------------------------------------------------------------------------------------------
# tukey_box
# --------------------------------------------------------------------------------------------

TUKEY_BOX_COLUMNS = ("group", "n", "q1", "median", "q3", "whisker_low", "whisker_high",
                     "n_outliers")


def tukey_box(df: pd.DataFrame, value: str, group: str, *,
              order: Sequence[Any] | None = None) -> pd.DataFrame:
    """Tukey box statistics per group, the frame chart builders draw boxes from.

    Parameters
    ----------
    df, value, group : as in :func:`compare_groups` (rows with a missing value are left out).
    order : display order of the groups (default: category order, else sorted).

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
    levels, arrays, _, _ = _grouped_values(df, value, group, order)
    rows = []
    for level, x in zip(levels, arrays):
        q1, median, q3 = np.quantile(x, [0.25, 0.5, 0.75])
        iqr = q3 - q1
        inside = (x >= q1 - 1.5 * iqr) & (x <= q3 + 1.5 * iqr)
        rows.append({"group": level, "n": int(len(x)), "q1": float(q1),
                     "median": float(median), "q3": float(q3),
                     "whisker_low": float(x[inside].min()), "whisker_high": float(x[inside].max()),
                     "n_outliers": int((~inside).sum())})
    return pd.DataFrame(rows, columns=list(TUKEY_BOX_COLUMNS))


# --------------------------------------------------------------------------------------------
# correlate
# --------------------------------------------------------------------------------------------

def _fisher_ci(r: float, n: int) -> tuple[float, float]:
    if abs(r) >= 1.0:
        return float(r), float(r)
    z = math.atanh(r)
    half = _Z975 / math.sqrt(n - 3)
    return math.tanh(z - half), math.tanh(z + half)


def correlate(df: pd.DataFrame, x: str, y: str,
              method: CorrelationMethod = "spearman") -> CorrelationResult:
    """Correlation of two numeric columns with a 95% confidence interval.

    Parameters
    ----------
    df : the cohort.
    x, y : numeric columns.
    method : ``"spearman"`` (rank, default) or ``"pearson"``.

    Returns
    -------
    CorrelationResult
        ``method, r, pvalue, ci_low, ci_high, n, n_dropped, messages``.

    Raises
    ------
    ColumnError
        Unknown method, a missing column, or text in a column.
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
    if method not in ("spearman", "pearson"):
        raise ColumnError(f"Unknown correlation method '{method}'; use 'spearman' or 'pearson'.")
    require_columns(df, [x, y])
    data = pd.DataFrame({"x": numeric(df[x], x), "y": numeric(df[y], y)})
    kept, n_dropped = complete_cases(data, ["x", "y"])
    n = len(kept)
    messages: list[str] = []
    if n_dropped:
        messages.append(f"{n_dropped} row(s) with a missing '{x}' or '{y}' were left out.")
    if n < 4:
        raise InsufficientDataError(
            f"Too few complete pairs of '{x}' and '{y}' for a correlation: {n} usable, at least "
            "4 needed (for the confidence interval). Relax the filter or choose other columns.")
    for name, col in ((x, kept["x"]), (y, kept["y"])):
        if col.nunique() == 1:
            raise InsufficientDataError(
                f"'{name}' has the same value ({col.iloc[0]:g}) in all {n} pairs; a correlation "
                "needs values that vary. Choose another column or widen the filter.")
    if method == "spearman":
        res = sps.spearmanr(kept["x"], kept["y"])
        messages.append("Spearman p-value by t approximation (R cor.test exact = FALSE); CI by "
                        "Fisher's z transform.")
    else:
        res = sps.pearsonr(kept["x"], kept["y"])
    r = float(res.statistic)
    lo, hi = _fisher_ci(r, n)
    return CorrelationResult(method, r, float(res.pvalue), lo, hi, n, n_dropped, tuple(messages))


def correlation_matrix_frame(df: pd.DataFrame, columns: Sequence[str],
                             method: CorrelationMethod = "spearman") -> pd.DataFrame:
    """Pairwise correlations of ``columns`` as a tidy frame (for a heatmap).

    Parameters
    ----------
    df : the cohort.
    columns : numeric columns (at least two).
    method : ``"spearman"`` or ``"pearson"``.

    Returns
    -------
    DataFrame
        One row per ordered pair (the full square, diagonal included), in ``columns`` order;
        columns ``x, y, r, pvalue, n``: ``n`` is the pairwise complete count of that pair; ``r``
        and ``pvalue`` are NaN where a pair has fewer than 4 complete rows or a constant column;
        the diagonal has r = 1 and p = 0.

    Notes
    -----
    Each pair is computed by :func:`correlate` (validated against R ``cor.test``); equals R
    ``cor(df[columns], method = ..., use = "pairwise.complete.obs")`` for r.
    """
    columns = list(dict.fromkeys(columns))
    if len(columns) < 2:
        raise ColumnError("Choose at least two numeric columns for a correlation matrix.")
    require_columns(df, columns)
    for c in columns:
        numeric(df[c], c)
    rows = []
    for a in columns:
        for b in columns:
            n_pair = int(df[list(dict.fromkeys([a, b]))].notna().all(axis=1).sum())
            if a == b:
                rows.append({"x": a, "y": b, "r": 1.0, "pvalue": 0.0, "n": n_pair})
                continue
            try:
                res = correlate(df, a, b, method)
                rows.append({"x": a, "y": b, "r": res.r, "pvalue": res.pvalue, "n": res.n})
            except InsufficientDataError:
                rows.append({"x": a, "y": b, "r": math.nan, "pvalue": math.nan, "n": n_pair})
    return pd.DataFrame(rows, columns=["x", "y", "r", "pvalue", "n"])


# --------------------------------------------------------------------------------------------
# contingency
# --------------------------------------------------------------------------------------------

def _log_factorials(n: int) -> np.ndarray:
    return gammaln(np.arange(n + 1) + 1.0)


def _fisher_2x2_pvalue(table: np.ndarray) -> float:
    """R ``fisher.test`` two-sided p on a 2x2 table: sum of P(x) <= P(obs) (1 + 1e-7)."""
    (a, b), (c, d) = table
    m, n, k = a + c, b + d, a + b
    support = np.arange(max(0, k - n), min(k, m) + 1)
    logp = sps.hypergeom.logpmf(support, m + n, m, k)
    obs = sps.hypergeom.logpmf(a, m + n, m, k)
    p = np.exp(logp - logp.max())
    return float(min(1.0, p[p <= np.exp(obs - logp.max()) * (1 + _FISHER_REL_TOL)].sum()
                     / p.sum()))


def _even_fill(total: int, caps: Sequence[int], lf: np.ndarray) -> float:
    """Min of sum(log n_i!) with sum n_i = total, 0 <= n_i <= caps (water filling)."""
    heap = [(0, i) for i, cap in enumerate(caps) if cap > 0]
    heapq.heapify(heap)
    fill = [0] * len(caps)
    for _ in range(total):
        count, i = heapq.heappop(heap)
        fill[i] = count + 1
        if fill[i] < caps[i]:
            heapq.heappush(heap, (fill[i], i))
    return float(sum(lf[v] for v in fill))


def _lagrange_fill(rows: Sequence[int], cols: Sequence[int], lf: np.ndarray) -> float:
    """Lower bound of min sum(log n_ij!) over tables with margins ``rows`` x ``cols``.

    Lagrangian relaxation of the row sums with multipliers u_i = log(r_i + 1/2) (near the
    optimum of the continuous problem, n_ij ~ r_i c_j / N): for any u,
    ``min sum log n_ij! >= sum_j min_{col j} sum_i (log n_ij! - u_i n_ij) + sum_i u_i r_i``,
    and each column's minimum is found exactly by greedy filling (the terms are convex).
    """
    u = [math.log(r + 0.5) for r in rows]
    bound = sum(ui * r for ui, r in zip(u, rows))
    for c in cols:
        fill = [0] * len(rows)
        heap = [(math.log(1) - u[i], i) for i, r in enumerate(rows) if r > 0]
        heapq.heapify(heap)
        for _ in range(c):
            _, i = heapq.heappop(heap)
            fill[i] += 1
            if fill[i] < rows[i]:
                heapq.heappush(heap, (math.log(fill[i] + 1) - u[i], i))
        bound += sum(lf[v] - u[i] * v for i, v in enumerate(fill))
    return bound


def _concentrated_fill(total: int, caps: Sequence[int], lf: np.ndarray) -> float:
    """Max of sum(log n_i!) with sum n_i = total, 0 <= n_i <= caps: fill the largest first
    (that vector majorises every feasible one and sum(log n!) is Schur-convex)."""
    out, left = 0.0, total
    for cap in sorted(caps, reverse=True):
        take = min(cap, left)
        out += lf[take]
        left -= take
    return out


def _compositions_array(total: int, caps: Sequence[int]) -> np.ndarray:
    """All vectors n with sum n = total and 0 <= n_i <= caps_i, as a 2-D int array."""
    caps = [int(c) for c in caps]
    tail_cap = np.cumsum(caps[::-1])[::-1].tolist() + [0]  # capacity of rows i.. onwards
    partial = np.zeros((1, 0), dtype=np.int64)
    left = np.array([total], dtype=np.int64)
    for i, cap in enumerate(caps):
        values = np.arange(cap + 1, dtype=np.int64)
        new_left = left[:, None] - values[None, :]
        ok = (new_left >= 0) & (new_left <= tail_cap[i + 1])
        pi, vi = np.nonzero(ok)
        partial = np.column_stack([partial[pi], values[vi]])
        left = new_left[pi, vi]
    return partial


def _merge(weights: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge paths of equal weight (to 1e-9), summing their counts."""
    keys, first, inverse = np.unique(np.round(weights, 9), return_index=True,
                                     return_inverse=True)
    return weights[first], np.bincount(inverse.ravel(), weights=counts, minlength=len(keys))


def _fisher_rxc_pvalue(table: np.ndarray, max_work: int = _FISHER_MAX_WORK) -> float | None:
    """Exact Fisher p-value of an r x c table by a network enumeration; None if too large.

    Tables with the observed margins are built column by column; nodes are the remaining row
    sums (sorted, since rows are exchangeable) and paths of equal probability are merged. A
    node whose every completion is at most as likely as the observed table adds its whole mass
    in closed form; one whose every completion is more likely is dropped (bounds below). With
    two columns left, the completions of a node are enumerated once, sorted, and every path
    reaching the node is resolved by a binary search. The p-value sums P(table) <= P(observed)
    (1 + 1e-7), as R's ``fisher.test``.
    """
    t = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if t.shape[0] > t.shape[1]:
        t = t.T
    if min(t.shape) < 2:
        return 1.0
    rows = tuple(int(v) for v in t.sum(axis=1))
    cols = sorted((int(v) for v in t.sum(axis=0)), reverse=True)
    total = sum(rows)
    lf = _log_factorials(total)
    const = float(sum(lf[r] for r in rows) + sum(lf[c] for c in cols) - lf[total])
    threshold = -float(sum(lf[v] for v in t.ravel())) + math.log1p(_FISHER_REL_TOL)
    n_cols = len(cols)

    def bounds(j: int, r: tuple[int, ...]) -> tuple[float, float, float]:
        """(upper bound of completion weight, lower bound, log of total completion mass)."""
        rest = cols[j:]
        upper = -max(sum(_even_fill(c, r, lf) for c in rest),
                     sum(_even_fill(ri, rest, lf) for ri in r), _lagrange_fill(r, rest, lf))
        lower = -min(sum(_concentrated_fill(c, r, lf) for c in rest),
                     sum(_concentrated_fill(ri, rest, lf) for ri in r))
        log_mass = float(lf[sum(r)] - sum(lf[v] for v in r) - sum(lf[c] for c in rest))
        return upper, lower, log_mass

    pvalue = 0.0
    work = 0
    stage: dict[tuple[int, ...], list[tuple[np.ndarray, np.ndarray]]] = {
        tuple(sorted(rows)): [(np.zeros(1), np.ones(1))]}
    for j in range(n_cols - 1):
        nxt: dict[tuple[int, ...], list[tuple[np.ndarray, np.ndarray]]] = {}
        for r, parts in stage.items():
            weights, counts = _merge(np.concatenate([p[0] for p in parts]),
                                     np.concatenate([p[1] for p in parts]))
            upper, lower, log_mass = bounds(j, r)
            add = weights + upper <= threshold
            pvalue += float(np.sum(counts[add] * np.exp(weights[add] + log_mass + const)))
            keep = ~add & (weights + lower <= threshold)
            if not keep.any():
                continue
            weights, counts = weights[keep], counts[keep]
            comps = _compositions_array(cols[j], r)
            work += len(comps) * len(weights)
            if work > max_work:
                return None
            steps = -lf[comps].sum(axis=1)
            if j == n_cols - 2:  # the last column is forced: resolve by binary search
                ends = steps - lf[np.asarray(r) - comps].sum(axis=1)
                ends.sort()
                mass = np.cumsum(np.exp(ends - ends[-1]))
                idx = np.searchsorted(ends, threshold - weights, side="right")
                hit = idx > 0
                pvalue += float(np.sum(counts[hit] * mass[idx[hit] - 1]
                                       * np.exp(weights[hit] + ends[-1] + const)))
                continue
            children = np.sort(np.asarray(r) - comps, axis=1)
            keys, inverse = np.unique(children, axis=0, return_inverse=True)
            inverse = inverse.ravel()
            for k, key in enumerate(keys):
                child_steps = steps[inverse == k]
                nxt.setdefault(tuple(int(v) for v in key), []).append(
                    ((weights[None, :] + child_steps[:, None]).ravel(),
                     np.tile(counts, len(child_steps))))
        stage = nxt
    return min(1.0, pvalue)


def _crosstab(df: pd.DataFrame, row: str, col: str) -> tuple[pd.DataFrame, int, int]:
    require_columns(df, [row, col])
    if row == col:
        raise ColumnError(f"Row and column are the same ('{row}'); choose two columns.")
    kept, n_dropped = complete_cases(df, [row, col])
    if kept.empty:
        raise InsufficientDataError(f"No rows with both '{row}' and '{col}' present; choose "
                                    "columns with data or relax the filter.")
    row_levels = _sorted_levels(kept[row])
    col_levels = _sorted_levels(kept[col])
    table = pd.crosstab(kept[row], kept[col]).reindex(index=row_levels, columns=col_levels,
                                                      fill_value=0)
    table.index.name, table.columns.name = row, col
    return table.astype(int), len(kept), n_dropped


def contingency(df: pd.DataFrame, row: str, col: str,
                test: ContingencyTest = "auto") -> ContingencyResult:
    """Test the association of two categorical columns.

    Parameters
    ----------
    df : the cohort.
    row, col : categorical (or 0/1, grade) columns; levels in category order, else sorted.
    test : ``"auto"`` (Fisher when any expected count is < 5, else chi-square), ``"chi2"`` or
        ``"fisher"``.

    Returns
    -------
    ContingencyResult
        ``test, statistic, pvalue, dof, table, expected, n, n_dropped, yates, odds_ratio,
        or_ci_low, or_ci_high, monte_carlo, messages``. ``table`` and ``expected`` are
        DataFrames indexed by the ``row`` levels with the ``col`` levels as columns.

    Raises
    ------
    ColumnError
        A column is missing, or an unknown ``test``.
    InsufficientDataError
        No complete rows, or fewer than two levels in ``row`` or ``col``.

    Notes
    -----
    Validated against R 4.2: ``chisq.test(table(row, col))`` (Yates' correction
    ``min(0.5, |O - E|)`` on 2x2, as R's default) and ``fisher.test(table(row, col))`` for 2x2
    (p, conditional MLE odds ratio and CI) and r x c tables. For r x c, scipy's
    ``fisher_exact`` only simulates, so the exact p is enumerated here (network algorithm with
    R's relative tolerance 1e-7); if the table is too large to enumerate, the p-value is
    simulated with 100,000 random tables (seeded) and ``monte_carlo`` is True, like R's
    ``simulate.p.value = TRUE``.
    """
    if test not in ("auto", "chi2", "fisher"):
        raise ColumnError(f"Unknown test '{test}'; use 'auto', 'chi2' or 'fisher'.")
    table, n, n_dropped = _crosstab(df, row, col)
    messages: list[str] = []
    if n_dropped:
        messages.append(f"{n_dropped} row(s) with a missing '{row}' or '{col}' were left out.")
    for name, levels in ((row, table.index), (col, table.columns)):
        if len(levels) < 2:
            raise InsufficientDataError(
                f"'{name}' has a single level ({levels[0]!s}) in the {n} complete rows; a "
                "contingency test needs at least two levels in each column.")
    observed = table.to_numpy()
    expected_arr = sps.contingency.expected_freq(observed)
    expected = pd.DataFrame(expected_arr, index=table.index, columns=table.columns)
    n_small = int((expected_arr < 5).sum())
    smallest = float(expected_arr.min())
    chosen = test
    if test == "auto":
        chosen = "fisher" if n_small else "chi2"
        if n_small:
            messages.append(f"Fisher's exact test was used because {n_small} of "
                            f"{expected_arr.size} expected counts are below 5 (smallest "
                            f"{smallest:.2f}).")
        else:
            messages.append("Chi-square test was used because all expected counts are at "
                            f"least 5 (smallest {smallest:.2f}).")
    else:
        messages.append(f"{'Fisher' if test == 'fisher' else 'Chi-square'} test as requested.")
    if chosen == "chi2":
        return _chi2(table, expected, n, n_dropped, n_small, messages)
    return _fisher(table, expected, n, n_dropped, messages)


def _chi2(table: pd.DataFrame, expected: pd.DataFrame, n: int, n_dropped: int, n_small: int,
          messages: list[str]) -> ContingencyResult:
    observed = table.to_numpy()
    res = sps.chi2_contingency(observed, correction=True)
    yates = int(res.dof) == 1
    if yates:
        messages.append("Yates' continuity correction was applied (2x2 table), as R's "
                        "chisq.test.")
    if n_small:
        messages.append(f"{n_small} expected count(s) are below 5: the chi-square approximation "
                        "may be incorrect; consider Fisher's exact test.")
    return ContingencyResult("chi2", float(res.statistic), float(res.pvalue), int(res.dof),
                             table, expected, n, n_dropped, yates, messages=tuple(messages))


def _fisher(table: pd.DataFrame, expected: pd.DataFrame, n: int, n_dropped: int,
            messages: list[str]) -> ContingencyResult:
    observed = table.to_numpy().astype(np.int64)
    odds = lo = hi = math.nan
    monte_carlo = False
    if observed.shape == (2, 2):
        pvalue = _fisher_2x2_pvalue(observed)
        ratio = sps.contingency.odds_ratio(observed, kind="conditional")
        ci = ratio.confidence_interval(0.95)
        odds, lo, hi = float(ratio.statistic), float(ci.low), float(ci.high)
    else:
        exact_p = _fisher_rxc_pvalue(observed)
        if exact_p is None:
            monte_carlo = True
            res = sps.fisher_exact(observed, method=sps.MonteCarloMethod(
                n_resamples=_FISHER_MC_RESAMPLES, rng=np.random.default_rng(20240101)))
            pvalue = float(res.pvalue)
            messages.append(f"The table is too large for exact enumeration: the p-value was "
                            f"simulated from {_FISHER_MC_RESAMPLES:,} random tables with the "
                            "same margins.")
        else:
            pvalue = exact_p
    return ContingencyResult("fisher", math.nan, pvalue, None, table, expected, n, n_dropped,
                             False, odds, lo, hi, monte_carlo, tuple(messages))
