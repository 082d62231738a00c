"""core.stats.groups against R 4.2.

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

from core import stats
from core.errors import CohortError, ColumnError, InsufficientDataError
from core.stats import (
    CompareResult, ContingencyResult, CorrelationResult, compare_groups, contingency, correlate,
    correlation_matrix_frame, dunn, holm, tukey_box,
)

FIX = Path(__file__).parent / "fixtures" / "stats_groups"
REL = 1e-4


@pytest.fixture(scope="module")
def airquality() -> pd.DataFrame:
    return pd.read_csv(FIX / "airquality.csv")


@pytest.fixture(scope="module")
def mtcars() -> pd.DataFrame:
    return pd.read_csv(FIX / "mtcars.csv")


def _from_table(counts: np.ndarray, rows: list, cols: list) -> pd.DataFrame:
    """Expand a count matrix into one row per observation (columns a, b)."""
    records = [(rows[i], cols[j]) for i in range(counts.shape[0])
               for j in range(counts.shape[1]) for _ in range(int(counts[i, j]))]
    return pd.DataFrame(records, columns=["a", "b"])


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
    with pytest.raises(Exception):
        res.pvalue = 0.5  # frozen


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


# ------------------------------------------------------------------------------------------
# correlations
# ------------------------------------------------------------------------------------------

def test_pearson_against_R(mtcars):
    # R 4.2: cor.test(~ mpg + wt, data = mtcars)
    # cor = -0.8676593765, p-value = 1.293958701e-10, 95% CI -0.9338264133 -0.7440871965
    res = correlate(mtcars, "mpg", "wt", method="pearson")
    assert res.method == "pearson"
    assert res.r == pytest.approx(-0.8676593765, rel=REL)
    assert res.pvalue == pytest.approx(1.293958701e-10, rel=REL)
    assert res.ci_low == pytest.approx(-0.9338264133, rel=REL)
    assert res.ci_high == pytest.approx(-0.7440871965, rel=REL)
    assert (res.n, res.n_dropped) == (32, 0)


def test_spearman_against_R(mtcars):
    # R 4.2: ct <- cor.test(~ mpg + wt, data = mtcars, method = "spearman", exact = FALSE)
    # rho = -0.8864220333, p-value = 1.487594858e-11
    # tanh(atanh(ct$estimate) + c(-1, 1) * qnorm(0.975) / sqrt(32 - 3))
    #   -> -0.9434920337 -0.7782896139
    res = correlate(mtcars, "mpg", "wt")
    assert res.method == "spearman"
    assert res.r == pytest.approx(-0.8864220333, rel=REL)
    assert res.pvalue == pytest.approx(1.487594858e-11, rel=REL)
    assert res.ci_low == pytest.approx(-0.9434920337, rel=REL)
    assert res.ci_high == pytest.approx(-0.7782896139, rel=REL)


def test_spearman_iris_against_R():
    # R 4.2: cor.test(~ Sepal.Length + Petal.Length, data = iris, method = "spearman",
    #                 exact = FALSE)
    # rho = 0.8818981264, p-value = 3.443087278e-50
    # tanh(atanh(rho) + c(-1, 1) * qnorm(0.975) / sqrt(150 - 3)) -> 0.8404162803 0.9131063672
    df = pd.read_csv(FIX / "iris.csv")
    res = correlate(df, "Sepal.Length", "Petal.Length", "spearman")
    assert res.r == pytest.approx(0.8818981264, rel=REL)
    assert res.pvalue == pytest.approx(3.443087278e-50, rel=REL)
    assert (res.ci_low, res.ci_high) == pytest.approx((0.8404162803, 0.9131063672), rel=REL)


def test_pearson_with_missing_against_R(airquality):
    # R 4.2: cor.test(~ Ozone + Day, data = airquality)   (37 rows with Ozone NA left out)
    # cor = -0.01322564655, p-value = 0.88794254367, 95% CI -0.19507188393 0.16949966579, df = 114
    res = correlate(airquality, "Ozone", "Day", "pearson")
    assert (res.n, res.n_dropped) == (116, 37)
    assert res.r == pytest.approx(-0.01322564655, rel=REL)
    assert res.pvalue == pytest.approx(0.88794254367, rel=REL)
    assert res.ci_low == pytest.approx(-0.19507188393, rel=REL)
    assert res.ci_high == pytest.approx(0.16949966579, rel=REL)
    assert any("37 row(s)" in m for m in res.messages)


def test_correlate_too_few_pairs():
    df = pd.DataFrame({"x": [1, 2, 3, 4, None], "y": [2, 1, 4, None, 5]})
    with pytest.raises(InsufficientDataError, match="3 usable, at least 4"):
        correlate(df, "x", "y")


def test_correlate_constant_column():
    df = pd.DataFrame({"x": [1, 2, 3, 4, 5], "y": [7, 7, 7, 7, 7]})
    with pytest.raises(InsufficientDataError, match="'y' has the same value"):
        correlate(df, "x", "y", "pearson")


def test_correlate_bad_method_and_text_column():
    df = pd.DataFrame({"x": [1, 2, 3, 4, 5], "y": ["a", "b", "c", "d", "e"]})
    # an unknown option is a programmer error (issue 10: ValueError, not a CohortError)
    with pytest.raises(ValueError, match="Unknown correlation method"):
        correlate(df, "x", "x", "kendall")  # type: ignore[arg-type]
    with pytest.raises(ColumnError, match="must be numeric"):
        correlate(df, "x", "y")


def test_perfect_correlation_ci_is_degenerate():
    df = pd.DataFrame({"x": [1, 2, 3, 4, 5], "y": [2, 4, 6, 8, 10]})
    res = correlate(df, "x", "y", "pearson")
    assert res.r == pytest.approx(1.0)
    assert res.ci_low == pytest.approx(1.0) and res.ci_high == pytest.approx(1.0)


def test_correlation_matrix_frame(mtcars):
    # R 4.2: cor(mtcars[, c("mpg", "wt", "hp")], method = "spearman")["mpg", "hp"]
    #   -> -0.8946646457
    df = mtcars[["mpg", "wt", "hp"]].copy()
    df.loc[0:2, "hp"] = np.nan
    df["const"] = 1.0
    frame = correlation_matrix_frame(df, ["mpg", "wt", "hp", "const"])
    assert list(frame.columns) == ["x", "y", "r", "pvalue", "n"]
    assert len(frame) == 16
    pair = frame[(frame.x == "mpg") & (frame.y == "wt")].iloc[0]
    assert pair.r == pytest.approx(-0.8864220333, rel=REL) and pair.n == 32
    hp = frame[(frame.x == "hp") & (frame.y == "mpg")].iloc[0]
    assert hp.n == 29  # pairwise complete
    diag = frame[frame.x == frame.y]
    assert (diag.r == 1.0).all() and diag.set_index("x").loc["hp", "n"] == 29
    const = frame[(frame.x == "const") & (frame.y == "mpg")].iloc[0]
    assert math.isnan(const.r) and const.n == 32
    full = correlation_matrix_frame(mtcars, ["mpg", "hp"])
    assert full.iloc[1].r == pytest.approx(-0.8946646457, rel=REL)
    with pytest.raises(ColumnError):
        correlation_matrix_frame(mtcars, ["mpg"])


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
