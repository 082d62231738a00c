"""core.stats.correlation (correlate, correlation_matrix_frame) against R 4.2.

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

from core.errors import ColumnError, InsufficientDataError
from core.stats import correlate, correlation_matrix_frame

FIX = Path(__file__).parent / "fixtures" / "stats_groups"
REL = 1e-4


@pytest.fixture(scope="module")
def airquality() -> pd.DataFrame:
    return pd.read_csv(FIX / "airquality.csv")



@pytest.fixture(scope="module")
def mtcars() -> pd.DataFrame:
    return pd.read_csv(FIX / "mtcars.csv")



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


def test_ci_method_is_labelled():
    # the Spearman CI is Fisher's z with SE 1/sqrt(n-3): an approximation, and labelled so
    from core.stats.correlation import CI_METHODS
    df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6], "y": [2.0, 1, 4, 3, 6, 5]})
    s, p = correlate(df, "x", "y", "spearman"), correlate(df, "x", "y", "pearson")
    assert s.ci_method == CI_METHODS["spearman"] and "approximate" in s.ci_method
    assert "Fisher z" in s.ci_method and "Fisher z" in p.ci_method
    assert "cor.test" in p.ci_method and "approximate" not in p.ci_method
    half = 1.959963984540054 / math.sqrt(6 - 3)
    assert s.ci_low == pytest.approx(math.tanh(math.atanh(s.r) - half), rel=1e-12)
