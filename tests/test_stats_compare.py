"""core.stats.compare (compare_groups, Dunn, Holm, tukey_box) against R 4.2.

Reference values come from R 4.2.x (datasets package only) on the fixtures in
tests/fixtures/stats_groups/ (exported by make_fixtures.R there). The R call that produced each
number sits next to it. Tolerance: rel=1e-4 (4 significant digits) unless stated.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import stats
from core.errors import ColumnError, InsufficientDataError
from core.stats import (
    CompareResult,
    ContingencyResult,
    CorrelationResult,
    compare_groups,
    holm,
    tukey_box,
)

FIX = Path(__file__).parent / "fixtures" / "stats_groups"
REL = 1e-4


@pytest.fixture(scope="module")
def airquality() -> pd.DataFrame:
    return pd.read_csv(FIX / "airquality.csv")



def test_public_api_reexported():
    assert stats.compare_groups is compare_groups
    assert stats.CompareResult is CompareResult
    assert stats.CorrelationResult is CorrelationResult
    assert stats.ContingencyResult is ContingencyResult


# ------------------------------------------------------------------------------------------
# Kruskal-Wallis, Dunn, summary
# ------------------------------------------------------------------------------------------

def test_kruskal_against_R(airquality):
    # R 4.2: kruskal.test(Ozone ~ Month, data = airquality)
    # Kruskal-Wallis chi-squared = 29.26657631, df = 4, p-value = 6.900714119e-06
    # nrow(na.omit(airquality[, c("Ozone", "Month")])) -> 116 (37 rows with Ozone NA)
    res = compare_groups(airquality, "Ozone", "Month")
    assert res.test == "Kruskal-Wallis"
    assert res.statistic == pytest.approx(29.26657631, rel=REL)
    assert res.pvalue == pytest.approx(6.900714119e-06, rel=REL)
    assert res.df == 4
    assert (res.n, res.n_dropped) == (116, 37)
    assert any("37 row(s)" in m for m in res.messages)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.pvalue = 0.5  # type: ignore[misc]  # frozen


def test_summary_against_R_quantile_type7(airquality):
    # R: d <- na.omit(airquality[, c("Ozone", "Month")])
    # t(sapply(split(d$Ozone, d$Month), function(x) c(n = length(x),
    #   quantile(x, c(.25, .5, .75), type = 7), min = min(x), max = max(x), mean = mean(x))))
    #    n   25% 50%   75% min max        mean
    # 5 26 11.00  18 31.50   1 115 23.61538462
    # 6  9 20.00  23 37.00  12  71 29.44444444
    # 7 26 36.25  60 79.75   7 135 59.11538462
    # 8 26 28.75  52 82.50   9 168 59.96153846
    # 9 29 16.00  23 36.00   7  96 31.44827586
    expected = pd.DataFrame({
        "group": [5, 6, 7, 8, 9], "n": [26, 9, 26, 26, 29],
        "median": [18, 23, 60, 52, 23.0], "q1": [11, 20, 36.25, 28.75, 16],
        "q3": [31.5, 37, 79.75, 82.5, 36], "min": [1, 12, 7, 9, 7.0],
        "max": [115, 71, 135, 168, 96.0],
        "mean": [23.61538462, 29.44444444, 59.11538462, 59.96153846, 31.44827586]})
    summary = compare_groups(airquality, "Ozone", "Month").summary
    assert list(summary.columns) == ["group", "n", "median", "q1", "q3", "min", "max", "mean"]
    pd.testing.assert_frame_equal(summary, expected, check_dtype=False, rtol=REL)


def test_dunn_holm_against_R(airquality):
    # R 4.2 (base R; same as dunn.test(d$Ozone, d$Month, method = "holm")):
    # d <- na.omit(airquality[, c("Ozone", "Month")])
    # r <- rank(d$Ozone); N <- nrow(d); g <- d$Month
    # tt <- table(d$Ozone); C <- sum(tt^3 - tt) / (12 * (N - 1))
    # mr <- tapply(r, g, mean); ni <- tapply(r, g, length); pr <- combn(names(mr), 2)
    # z <- apply(pr, 2, function(q) (mr[q[1]] - mr[q[2]]) /
    #        sqrt((N * (N + 1) / 12 - C) * (1 / ni[q[1]] + 1 / ni[q[2]])))
    # pv <- 2 * pnorm(-abs(z)); p.adjust(pv, "holm")
    ref = [  # a, b, z, p, holm
        (5, 6, -0.92515861627, 3.548834064e-01, 1.0),
        (5, 7, -4.41947064061, 9.894296150e-06, 0.0000989429615),
        (5, 8, -4.13281342221, 3.583496143e-05, 0.0003225146529),
        (5, 9, -1.32120228252, 1.864339255e-01, 0.7457357018512),
        (6, 7, -2.24420803239, 2.481901947e-02, 0.1489141168225),
        (6, 8, -2.03863548729, 4.148642073e-02, 0.2074321036252),
        (6, 9, 0.00253855527, 9.979745281e-01, 1.0),
        (7, 8, 0.28665721841, 7.743747981e-01, 1.0),
        (7, 9, 3.21719912428, 1.294487216e-03, 0.0103558977316),
        (8, 9, 2.92282777778, 3.468683161e-03, 0.0242807821280),
    ]
    post = compare_groups(airquality, "Ozone", "Month").posthoc
    assert list(post.columns) == ["group_a", "group_b", "z", "pvalue", "pvalue_holm"]
    assert len(post) == len(ref)
    for row, (a, b, z, p, p_holm) in zip(post.itertuples(), ref):
        assert (row.group_a, row.group_b) == (a, b)
        assert row.z == pytest.approx(z, rel=REL)
        assert row.pvalue == pytest.approx(p, rel=REL)
        assert row.pvalue_holm == pytest.approx(p_holm, rel=REL)


def test_dunn_agrees_with_scikit_posthocs(airquality):
    import scikit_posthocs as sp
    d = airquality.dropna(subset=["Ozone"])
    theirs = sp.posthoc_dunn(d, val_col="Ozone", group_col="Month", p_adjust="holm")
    ours = compare_groups(airquality, "Ozone", "Month").posthoc
    for row in ours.itertuples():
        assert row.pvalue_holm == pytest.approx(theirs.loc[row.group_a, row.group_b], rel=1e-9)


def test_holm_against_R_p_adjust():
    # R 4.2: p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") -> 0.03 0.06 0.06 0.02
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([]).size == 0


def test_holm_skips_missing_pvalues_as_R():
    # R 4.2: p.adjust(c(0.01, NA, 0.04, 0.03), "holm") -> 0.03 NA 0.06 0.06 (NA not counted)
    out = holm([0.01, float("nan"), 0.04, 0.03])
    assert np.isnan(out[1])
    assert out[[0, 2, 3]] == pytest.approx([0.03, 0.06, 0.06])
    assert np.isnan(holm([float("nan")])).all()


@pytest.mark.parametrize("p", [
    [0.01, 0.04, 0.03, 0.005],
    [0.2, 0.2, 0.01, 0.5, 0.9],           # ties
    [1e-12, 0.5, 0.5, 0.049, 0.051, 1.0],  # clipping at 1
    [0.3],
])
def test_holm_equals_statsmodels_multipletests(p):
    # the formula is statsmodels' multipletests(method="holm"), written out in
    # core.stats.multiplicity because statsmodels 0.15 runs gc.collect() on every Holm call
    from statsmodels.stats.multitest import multipletests

    assert holm(p) == pytest.approx(multipletests(p, method="holm")[1], rel=1e-15, abs=0)


def test_order_sets_groups_and_posthoc_direction(airquality):
    res = compare_groups(airquality, "Ozone", "Month", order=[9, 8, 7, 6, 5])
    assert list(res.summary["group"]) == [9, 8, 7, 6, 5]
    assert res.statistic == pytest.approx(29.26657631, rel=REL)
    first = res.posthoc.iloc[0]
    # (9 vs 8) is minus (8 vs 9) of the R table above: z = -2.92282777778
    assert (first.group_a, first.group_b) == (9, 8)
    assert first.z == pytest.approx(-2.92282777778, rel=REL)


def test_order_matches_text_labels_and_reports_extra_and_absent(airquality):
    res = compare_groups(airquality, "Ozone", "Month", order=["7", "5", "12"])
    assert list(res.groups) == [7, 5, 6, 8, 9]
    text = " ".join(res.messages)
    assert "No data for group(s) 12" in text
    assert "added at the end: 6, 8, 9" in text


def test_categorical_group_uses_category_order():
    df = pd.DataFrame({"v": [1.0, 2, 3, 4, 5, 6, 7, 8, 9],
                       "g": pd.Categorical(list("hhhmmmlll"), categories=["l", "m", "h", "x"])})
    res = compare_groups(df, "v", "g")
    assert list(res.summary["group"]) == ["l", "m", "h"]  # unused category 'x' left out


# ------------------------------------------------------------------------------------------
# Mann-Whitney
# ------------------------------------------------------------------------------------------

def test_mann_whitney_with_ties_against_R():
    # R 4.2: wilcox.test(len ~ supp, data = ToothGrowth)
    # W = 575.5, p-value = 0.06449067213 (normal approximation, continuity corrected: ties)
    df = pd.read_csv(FIX / "toothgrowth.csv")
    res = compare_groups(df, "len", "supp")
    assert res.test == "Mann-Whitney U"
    assert res.statistic == pytest.approx(575.5, rel=REL)
    assert res.pvalue == pytest.approx(0.06449067213, rel=REL)
    assert res.exact is False and res.df is None
    assert res.posthoc.empty
    assert any("normal approximation" in m for m in res.messages)


def test_mann_whitney_exact_against_R():
    # R 4.2: wilcox.test(rate ~ state, data = Puromycin)   (12 treated, 11 untreated, no ties)
    # W = 88, p-value = 0.1895866954 (exact)
    df = pd.read_csv(FIX / "puromycin.csv")
    res = compare_groups(df, "rate", "state")
    assert res.statistic == pytest.approx(88, rel=REL)
    assert res.pvalue == pytest.approx(0.1895866954, rel=REL)
    assert res.exact is True


def test_mann_whitney_exact_swiss_against_R():
    # R 4.2: wilcox.test(Agriculture ~ Catholic > 50, data = swiss)   (29 vs 18, no ties)
    # W = 136, p-value = 0.005587950557 (exact)
    df = pd.read_csv(FIX / "swiss.csv")
    df["catholic_majority"] = df["Catholic"] > 50
    res = compare_groups(df, "Agriculture", "catholic_majority")
    assert res.statistic == pytest.approx(136, rel=REL)
    assert res.pvalue == pytest.approx(0.005587950557, rel=REL)
    assert res.exact


def test_mann_whitney_first_group_is_x():
    # R 4.2: wilcox.test(c(1, 2, 3), c(4, 5, 6, 7)) -> W = 0, p-value = 0.05714285714
    #    wilcox.test(c(4, 5, 6, 7), c(1, 2, 3)) -> W = 12
    df = pd.DataFrame({"v": [1, 2, 3, 4, 5, 6, 7], "g": ["a"] * 3 + ["b"] * 4})
    assert compare_groups(df, "v", "g").statistic == 0
    assert compare_groups(df, "v", "g").pvalue == pytest.approx(0.05714285714, rel=REL)
    assert compare_groups(df, "v", "g", order=["b", "a"]).statistic == 12


# ------------------------------------------------------------------------------------------
# compare_groups edge cases
# ------------------------------------------------------------------------------------------

def test_group_of_one_runs_with_warning():
    # R 4.2: kruskal.test(list(c(1, 2, 3), c(4, 5, 6), 10))
    # Kruskal-Wallis chi-squared = 5.14285714286, df = 2, p-value = 0.07642628699
    df = pd.DataFrame({"v": [1, 2, 3, 4, 5, 6, 10], "g": [0, 0, 0, 1, 1, 1, 2]})
    res = compare_groups(df, "v", "g")
    assert res.statistic == pytest.approx(5.14285714286, rel=REL)
    assert res.pvalue == pytest.approx(0.07642628699, rel=REL)
    assert any("single observation" in m and "2" in m for m in res.messages)
    assert res.summary.loc[2, "n"] == 1


def test_all_values_equal_gives_nan_and_message():
    df = pd.DataFrame({"v": [5.0] * 6, "g": [1, 1, 2, 2, 3, 3]})
    res = compare_groups(df, "v", "g")
    assert math.isnan(res.pvalue) and math.isnan(res.statistic)
    assert res.posthoc.empty
    assert list(res.summary["median"]) == [5.0, 5.0, 5.0]
    assert any("are equal" in m for m in res.messages)


def test_single_group_raises():
    df = pd.DataFrame({"v": [1.0, 2, 3, 4], "g": [1, 1, 1, None]})
    with pytest.raises(InsufficientDataError, match="at least two groups"):
        compare_groups(df, "v", "g")


def test_all_values_missing_raises():
    df = pd.DataFrame({"v": [None, None, None], "g": [1, 2, 3]})
    with pytest.raises(InsufficientDataError, match="3 rows had a missing value"):
        compare_groups(df, "v", "g")


def test_non_numeric_value_raises_column_error():
    df = pd.DataFrame({"v": ["high", "low", "3"], "g": [1, 2, 2]})
    with pytest.raises(ColumnError, match="must be numeric"):
        compare_groups(df, "v", "g")


def test_unknown_column_raises_column_error(airquality):
    with pytest.raises(ColumnError, match="not in the data"):
        compare_groups(airquality, "Fibrinogen", "Month")
    with pytest.raises(ColumnError):
        compare_groups(airquality, "Ozone", "Ozone")


def test_missing_rows_counted_in_value_and_group():
    df = pd.DataFrame({"v": [1, 2, None, 4, 5, 6, 7], "g": ["a", "a", "a", None, "b", "b", "b"]})
    res = compare_groups(df, "v", "g")
    assert (res.n, res.n_dropped) == (5, 2)


def test_numeric_text_values_are_accepted():
    df = pd.DataFrame({"v": ["1", "2", "3", "4.5", "5", "6"], "g": [1, 1, 1, 2, 2, 2]})
    assert compare_groups(df, "v", "g").summary["median"].tolist() == [2.0, 5.0]


# ------------------------------------------------------------------------------------------
# tukey_box
# ------------------------------------------------------------------------------------------

def test_tukey_box_against_R(airquality):
    # R: d <- na.omit(airquality[, c("Ozone", "Month")])
    # t(sapply(split(d$Ozone, d$Month), function(x) { q <- quantile(x, c(.25, .75)); i <- diff(q)
    #   ok <- x >= q[1] - 1.5 * i & x <= q[2] + 1.5 * i
    #   c(lo = min(x[ok]), hi = max(x[ok]), nout = sum(!ok)) }))
    #   lo  hi nout
    # 5  1  45    1
    # 6 12  39    1
    # 7  7 135    0
    # 8  9 122    1
    # 9  7  47    4
    box = tukey_box(airquality, "Ozone", "Month")
    assert list(box.columns) == ["group", "n", "q1", "median", "q3", "whisker_low",
                                 "whisker_high", "n_outliers"]
    assert box["whisker_low"].tolist() == [1, 12, 7, 9, 7]
    assert box["whisker_high"].tolist() == [45, 39, 135, 122, 47]
    assert box["n_outliers"].tolist() == [1, 1, 0, 1, 4]
    assert box["q1"].tolist() == [11, 20, 36.25, 28.75, 16]
    assert box["n"].sum() == 116


def test_tukey_box_order_and_single_value():
    df = pd.DataFrame({"v": [3.0, 1, 2, 100, 7], "g": ["b", "a", "a", "a", "c"]})
    box = tukey_box(df, "v", "g", order=["c", "b", "a"])
    assert box["group"].tolist() == ["c", "b", "a"]
    single = box.iloc[0][["n", "q1", "median", "q3", "whisker_low", "whisker_high",
                          "n_outliers"]].tolist()
    assert single == [1, 7, 7, 7, 7, 7, 0]
    a = box.iloc[2]  # values 1, 2, 100: q1 1.5, q3 51, fence 127.5 -> no outlier
    assert (a["whisker_high"], a["n_outliers"]) == (100, 0)
