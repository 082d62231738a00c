"""core.stats.contingency_tests and fisher_exact (contingency) against R 4.2.

Reference values come from R 4.2.x (datasets package only) on the fixtures in
tests/fixtures/stats_groups/ (exported by make_fixtures.R there). The R call that produced each
number sits next to it. Tolerance: rel=1e-4 (4 significant digits) unless stated.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import CohortError, ColumnError, InsufficientDataError
from core.stats import contingency

FIX = Path(__file__).parent / "fixtures" / "stats_groups"
REL = 1e-4


@pytest.fixture(scope="module")
def mtcars() -> pd.DataFrame:
    return pd.read_csv(FIX / "mtcars.csv")



def _from_table(counts: np.ndarray, rows: list, cols: list) -> pd.DataFrame:
    """Expand a count matrix into one row per observation (columns a, b)."""
    records = [(rows[i], cols[j]) for i in range(counts.shape[0])
               for j in range(counts.shape[1]) for _ in range(int(counts[i, j]))]
    return pd.DataFrame(records, columns=["a", "b"])



# ------------------------------------------------------------------------------------------
# contingency
# ------------------------------------------------------------------------------------------

def test_chi2_2x2_yates_against_R(mtcars):
    # R 4.2: chisq.test(table(mtcars$am, mtcars$vs))
    # X-squared = 0.3475355054, df = 1, p-value = 0.555511547; min(expected) = 5.6875
    res = contingency(mtcars, "am", "vs")
    assert res.test == "chi2" and res.yates
    assert res.statistic == pytest.approx(0.3475355054, rel=REL)
    assert res.pvalue == pytest.approx(0.555511547, rel=REL)
    assert res.dof == 1
    assert res.expected.to_numpy().min() == pytest.approx(5.6875)
    # R: table(mtcars$am, mtcars$vs) -> rows am 0/1: 12 7 / 6 7
    assert res.table.to_numpy().tolist() == [[12, 7], [6, 7]]
    assert res.table.index.name == "am" and res.table.columns.name == "vs"
    assert any("all expected counts are at least 5" in m for m in res.messages)
    assert any("Yates" in m for m in res.messages)


def test_chi2_without_yates_differs(mtcars):
    # R: chisq.test(table(mtcars$vs, mtcars$am), correct = FALSE) -> X-squared = 0.9068825911
    # (shown to prove the 2x2 result above is the corrected one)
    res = contingency(mtcars, "am", "vs", test="chi2")
    assert res.statistic != pytest.approx(0.9068825911, rel=REL)


def test_fisher_2x2_against_R(mtcars):
    # R 4.2: fisher.test(table(mtcars$am, mtcars$vs))
    # p-value = 0.4726974416; odds ratio 1.956055399; 95% CI 0.3825341798 10.59160867
    res = contingency(mtcars, "am", "vs", test="fisher")
    assert res.test == "fisher" and math.isnan(res.statistic) and res.dof is None
    assert res.pvalue == pytest.approx(0.4726974416, rel=REL)
    assert res.odds_ratio == pytest.approx(1.956055399, rel=REL)
    assert res.or_ci_low == pytest.approx(0.3825341798, rel=REL)
    assert res.or_ci_high == pytest.approx(10.59160867, rel=REL)


def test_auto_picks_fisher_rxc_against_R(mtcars):
    # R 4.2: fisher.test(table(mtcars$am, mtcars$cyl)) -> p-value = 0.009104701681
    # chisq.test(table(mtcars$am, mtcars$cyl)): min(expected) = 2.84375
    res = contingency(mtcars, "am", "cyl")
    assert res.test == "fisher"
    assert res.pvalue == pytest.approx(0.009104701681, rel=REL)
    assert any("3 of 6 expected counts are below 5" in m for m in res.messages)
    assert math.isnan(res.odds_ratio)


@pytest.mark.parametrize("row, col, p_ref", [
    # R 4.2: fisher.test(table(mtcars$cyl, mtcars$gear)) -> p-value = 8.259715685e-05
    ("cyl", "gear", 8.259715685e-05),
    # R 4.2: fisher.test(table(mtcars$gear, mtcars$carb)) -> p-value = 0.2434463473  (3 x 6)
    ("gear", "carb", 0.2434463473),
])
def test_fisher_rxc_mtcars_against_R(mtcars, row, col, p_ref):
    res = contingency(mtcars, row, col, test="fisher")
    assert res.pvalue == pytest.approx(p_ref, rel=REL)
    assert not res.monte_carlo


def test_fisher_and_chi2_infert_against_R():
    # R 4.2: fisher.test(table(infert$education, infert$spontaneous)) -> p-value = 0.4394623484
    # chisq.test(table(infert$education, infert$spontaneous))
    #   -> X-squared = 3.626056702, df = 4, p-value = 0.4589716925 (warning: approximation)
    df = pd.read_csv(FIX / "infert.csv")
    fisher = contingency(df, "education", "spontaneous")
    assert fisher.test == "fisher" and fisher.n == 248
    assert fisher.pvalue == pytest.approx(0.4394623484, rel=REL)
    chi2 = contingency(df, "education", "spontaneous", test="chi2")
    assert chi2.statistic == pytest.approx(3.626056702, rel=REL)
    assert chi2.pvalue == pytest.approx(0.4589716925, rel=REL)
    assert chi2.dof == 4 and not chi2.yates
    assert any("may be incorrect" in m for m in chi2.messages)


@pytest.mark.parametrize("values, nrow, p_ref", [
    # R 4.2: set.seed(1); m <- matrix(rmultinom(1, 41, rep(1, 25))[, 1], 5); fisher.test(m)
    ([1, 1, 2, 3, 1, 3, 4, 2, 2, 0, 0, 0, 2, 1, 3, 1, 2, 5, 1, 2, 2, 0, 1, 0, 2], 5, 0.3202416),
    # R 4.2: (next draw) m <- matrix(rmultinom(1, 100, rep(1, 16))[, 1], 4); fisher.test(m)
    ([5, 5, 2, 6, 10, 5, 6, 7, 7, 5, 9, 8, 8, 3, 8, 6], 4, 0.8402427),
    # R 4.2: fisher.test(matrix(c(30, 25, 40, 45, 50, 40, 20, 30, 10, 12), 2)) -> 0.4045186
    ([30, 25, 40, 45, 50, 40, 20, 30, 10, 12], 2, 0.4045186),
])
def test_fisher_rxc_enumeration_against_R(values, nrow, p_ref):
    counts = np.array(values).reshape(-1, nrow).T  # R fills matrices by column
    df = _from_table(counts, list(range(counts.shape[0])), list(range(counts.shape[1])))
    res = contingency(df, "a", "b", test="fisher")
    assert res.pvalue == pytest.approx(p_ref, rel=1e-6 / p_ref + REL)
    assert not res.monte_carlo


def test_fisher_too_large_falls_back_to_monte_carlo():
    # R 4.2: fisher.test(m, workspace = 2e8) on this 5 x 5 table (n = 80) -> p-value = 0.7249748
    values = [2, 1, 1, 2, 3, 4, 3, 6, 2, 3, 3, 4, 2, 3, 5, 1, 6, 3, 5, 3, 3, 4, 6, 4, 1]
    counts = np.array(values).reshape(5, 5).T
    df = _from_table(counts, list("ABCDE"), list("vwxyz"))
    res = contingency(df, "a", "b", test="fisher")
    assert res.monte_carlo
    assert res.pvalue == pytest.approx(0.7249748, abs=0.01)  # MC SE ~ 0.0014
    assert any("simulated" in m for m in res.messages)


def test_chi2_rxc_against_R():
    # R 4.2: chisq.test(margin.table(HairEyeColor, c(1, 2)))
    # X-squared = 138.2898416, df = 9, p-value = 2.325286787e-25
    df = pd.read_csv(FIX / "haireyecolor.csv")
    res = contingency(df, "Hair", "Eye")
    assert res.test == "chi2" and not res.yates
    assert res.statistic == pytest.approx(138.2898416, rel=REL)
    assert res.pvalue == pytest.approx(2.325286787e-25, rel=REL)
    assert res.dof == 9 and res.n == 592
    assert res.table.shape == (4, 4) and res.expected.shape == (4, 4)
    assert res.table.to_numpy().sum() == 592


def test_contingency_missing_rows_counted(mtcars):
    df = mtcars[["am", "vs"]].astype("Float64")
    df.loc[0:3, "am"] = pd.NA
    df.loc[10, "vs"] = pd.NA
    res = contingency(df, "am", "vs")
    assert (res.n, res.n_dropped) == (27, 5)
    assert any("5 row(s)" in m for m in res.messages)


def test_contingency_single_level_and_errors(mtcars):
    df = pd.DataFrame({"a": [1, 1, 1, 1], "b": [0, 1, 0, 1]})
    with pytest.raises(InsufficientDataError, match="single level"):
        contingency(df, "a", "b")
    with pytest.raises(InsufficientDataError, match="No rows"):
        contingency(pd.DataFrame({"a": [None, 1], "b": [1, None]}), "a", "b")
    with pytest.raises(ValueError, match="Unknown test"):  # programmer error, not CohortError
        contingency(mtcars, "am", "vs", test="g")  # type: ignore[arg-type]
    with pytest.raises(ColumnError):
        contingency(mtcars, "am", "nope")


def test_errors_are_cohort_errors():
    """Pages catch CohortError: every user error here must be one."""
    for exc in (ColumnError, InsufficientDataError):
        assert issubclass(exc, CohortError)
