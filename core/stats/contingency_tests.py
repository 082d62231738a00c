"""Association of two categorical columns: chi-square or Fisher's exact test (also r x c).

:func:`contingency` chooses the test as a statistician would ("auto": Fisher when an expected
count is below 5), applies Yates' correction on 2x2 tables as R does, and reports the
conditional odds ratio of a 2x2 Fisher test. The exact r x c enumeration is in
:mod:`core.stats.fisher_exact`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import pandas as pd
from scipy import stats as sps

from core.errors import ColumnError, InsufficientDataError
from core.notes import Note, WithNotes
from core.stats._common import (
    check_option,
    complete_cases,
    dropped_note,
    require_columns,
    sorted_levels,
)
from core.stats.fisher_exact import fisher_2x2_pvalue, fisher_rxc_pvalue

ContingencyTest = Literal["auto", "chi2", "fisher"]
CONTINGENCY_TESTS: tuple[str, ...] = get_args(ContingencyTest)
#: An expected count below this makes "auto" choose Fisher (and chi2 warn).
MIN_EXPECTED = 5
FISHER_MC_RESAMPLES = 100_000
#: Seed of the Monte Carlo Fisher p-value (fixed, so a large table gives the same p each run).
FISHER_MC_SEED = 20240101


@dataclass(frozen=True)
class ContingencyResult(WithNotes):
    """Result of :func:`contingency`.

    Attributes
    ----------
    test : str
        ``"chi2"`` (Pearson's chi-square; with Yates' correction on a 2x2 table) or
        ``"fisher"`` (Fisher's exact test).
    statistic : float
        The chi-square statistic; NaN for Fisher (an exact test has none).
    pvalue : float
        Two-sided p-value.
    dof : int or None
        Degrees of freedom of the chi-square; None for Fisher.
    table : DataFrame
        Observed counts, rows = levels of ``row`` (index), columns = levels of ``col``.
    expected : DataFrame
        Expected counts under independence, same shape and labels as ``table``.
    n, n_dropped : int
        Observations used; rows left out for a missing row or column value.
    yates : bool
        True when Yates' continuity correction was applied.
    odds_ratio, or_ci_low, or_ci_high : float
        For Fisher on a 2x2 table the conditional maximum likelihood odds ratio and its exact
        95% CI (as R's ``fisher.test``); NaN otherwise.
    monte_carlo : bool
        True when a large r x c Fisher p-value was simulated instead of enumerated.
    notes : tuple of Note
        By kind: ``"dropped"`` (info: rows left out for a missing value), ``"method"`` (info:
        which test was used and why; Yates' correction; a simulated p-value),
        ``"small_sample"`` (warning: chi-square with expected counts below 5).
    messages : tuple of str
        The texts of ``notes`` (for display).
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
    notes: tuple[Note, ...] = field(default_factory=tuple)



def _crosstab(df: pd.DataFrame, row: str, col: str) -> tuple[pd.DataFrame, int, int]:
    """Counts of the complete rows, levels in category order (else sorted), n, n_dropped."""
    require_columns(df, [row, col])
    if row == col:
        raise ColumnError(f"Row and column are the same ('{row}'); choose two columns.")
    kept, n_dropped = complete_cases(df, [row, col])
    if kept.empty:
        raise InsufficientDataError(f"No rows with both '{row}' and '{col}' present; choose "
                                    "columns with data or relax the filter.")
    row_levels = sorted_levels(kept[row])
    col_levels = sorted_levels(kept[col])
    table = pd.crosstab(kept[row], kept[col]).reindex(index=row_levels, columns=col_levels,
                                                      fill_value=0)
    table.index.name, table.columns.name = row, col
    return table.astype(int), len(kept), n_dropped


def _require_two_levels(table: pd.DataFrame, row: str, col: str, n: int) -> None:
    for name, levels in ((row, table.index), (col, table.columns)):
        if len(levels) < 2:
            raise InsufficientDataError(
                f"'{name}' has a single level ({levels[0]!s}) in the {n} complete rows; a "
                "contingency test needs at least two levels in each column.")


def _choose_test(test: str, expected: np.ndarray) -> tuple[str, Note]:
    """The test to run and the "method" note that says why."""
    n_small = int((expected < MIN_EXPECTED).sum())
    smallest = float(expected.min())
    if test == "auto":
        if n_small:
            return "fisher", Note("info", "method", f"Fisher's exact test was used because "
                                                    f"{n_small} of {expected.size} expected "
                                                    f"counts are below 5 (smallest "
                                                    f"{smallest:.2f}).")
        return "chi2", Note("info", "method", "Chi-square test was used because all expected "
                                              f"counts are at least 5 (smallest {smallest:.2f}).")
    return test, Note("info", "method",
                      f"{'Fisher' if test == 'fisher' else 'Chi-square'} test as requested.")


def contingency(df: pd.DataFrame, row: str, col: str,
                test: ContingencyTest = "auto") -> ContingencyResult:
    """Test the association of two categorical columns.

    Parameters
    ----------
    df : DataFrame
        The cohort.
    row, col : str
        Categorical (or 0/1, grade) columns; levels in category order, else sorted.
    test : {"auto", "chi2", "fisher"}
        ``"auto"`` (Fisher when any expected count is < 5, else chi-square), ``"chi2"`` or
        ``"fisher"``.

    Returns
    -------
    ContingencyResult
        ``test, statistic, pvalue, dof, table, expected, n, n_dropped, yates, odds_ratio,
        or_ci_low, or_ci_high, monte_carlo, notes``. ``table`` and ``expected`` are
        DataFrames indexed by the ``row`` levels with the ``col`` levels as columns.

    Raises
    ------
    ValueError
        Unknown ``test``.
    ColumnError
        A column is missing, or ``row`` and ``col`` are the same column.
    InsufficientDataError
        No complete rows, or fewer than two levels in ``row`` or ``col``.

    Notes
    -----
    Validated against R 4.2: ``chisq.test(table(row, col))`` (Yates' correction
    ``min(0.5, |O - E|)`` on 2x2, as R's default) and ``fisher.test(table(row, col))`` for 2x2
    (p, conditional MLE odds ratio and CI) and r x c tables. For r x c, scipy's
    ``fisher_exact`` only simulates, so the exact p is enumerated
    (:func:`core.stats.fisher_exact.fisher_rxc_pvalue`, R's relative tolerance 1e-7); if the
    table is too large to enumerate, the p-value is simulated with 100,000 random tables
    (seeded) and ``monte_carlo`` is True, like R's ``simulate.p.value = TRUE``.
    """
    check_option("test", test, CONTINGENCY_TESTS)
    table, n, n_dropped = _crosstab(df, row, col)
    notes: list[Note] = []
    if n_dropped:
        notes.append(dropped_note(n_dropped, [row, col]))
    _require_two_levels(table, row, col, n)
    expected_arr = sps.contingency.expected_freq(table.to_numpy())
    expected = pd.DataFrame(expected_arr, index=table.index, columns=table.columns)
    chosen, why = _choose_test(test, expected_arr)
    notes.append(why)
    if chosen == "chi2":
        return _chi2(table, expected, n, n_dropped, int((expected_arr < MIN_EXPECTED).sum()),
                     notes)
    return _fisher(table, expected, n, n_dropped, notes)


def _chi2(table: pd.DataFrame, expected: pd.DataFrame, n: int, n_dropped: int, n_small: int,
          notes: list[Note]) -> ContingencyResult:
    res = sps.chi2_contingency(table.to_numpy(), correction=True)
    yates = int(res.dof) == 1
    if yates:
        notes.append(Note("info", "method", "Yates' continuity correction was applied (2x2 "
                                            "table), as R's chisq.test."))
    if n_small:
        notes.append(Note("warning", "small_sample",
                          f"{n_small} expected count(s) are below 5: the chi-square "
                          "approximation may be incorrect; consider Fisher's exact test."))
    return ContingencyResult("chi2", float(res.statistic), float(res.pvalue), int(res.dof),
                             table, expected, n, n_dropped, yates, notes=tuple(notes))


def _fisher(table: pd.DataFrame, expected: pd.DataFrame, n: int, n_dropped: int,
            notes: list[Note]) -> ContingencyResult:
    observed = table.to_numpy().astype(np.int64)
    if observed.shape == (2, 2):
        ratio = sps.contingency.odds_ratio(observed, kind="conditional")
        ci = ratio.confidence_interval(0.95)
        return ContingencyResult("fisher", math.nan, fisher_2x2_pvalue(observed), None, table,
                                 expected, n, n_dropped, False, float(ratio.statistic),
                                 float(ci.low), float(ci.high), False, tuple(notes))
    exact_p = fisher_rxc_pvalue(observed)
    if exact_p is not None:
        return ContingencyResult("fisher", math.nan, exact_p, None, table, expected, n,
                                 n_dropped, notes=tuple(notes))
    res = sps.fisher_exact(observed, method=sps.MonteCarloMethod(
        n_resamples=FISHER_MC_RESAMPLES, rng=np.random.default_rng(FISHER_MC_SEED)))
    notes.append(Note("info", "method", f"The table is too large for exact enumeration: the "
                                        f"p-value was simulated from {FISHER_MC_RESAMPLES:,} "
                                        "random tables with the same margins."))
    return ContingencyResult("fisher", math.nan, float(res.pvalue), None, table, expected, n,
                             n_dropped, monte_carlo=True, notes=tuple(notes))
