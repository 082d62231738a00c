"""core.analyses.correlations: the scatter panel is correlate() on every pair with a capped,
seeded sample of points; the matrix; the values the Correlations and Tocilizumab pages print,
recomputed with scipy directly."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from core import ingest
from core.analyses import correlations
from core.errors import InsufficientDataError
from core.stats import correlate


@pytest.fixture(scope="module")
def cohort() -> ingest.Cohort:
    return ingest.load_demo()


def test_correlation_panel(cohort):  # noqa: ANN001
    p = cohort.patients
    cp = correlations.correlation_panel(p, "fibrinogen_nadir", "d_dimer_max", color="crs_grade")
    assert cp.spearman.r == pytest.approx(correlate(p, "fibrinogen_nadir", "d_dimer_max").r)
    assert cp.pearson.method == "pearson" and cp.n == 41 and not cp.sampled
    assert set(cp.points.columns) == {"patient_id", "fibrinogen_nadir", "d_dimer_max",
                                      "crs_grade"}
    small = correlations.correlation_panel(p, "fibrinogen_nadir", "d_dimer_max", max_points=10)
    assert len(small.points) == 10 and small.sampled and small.n == 41
    with pytest.raises(InsufficientDataError):
        correlations.correlation_panel(p.head(3), "fibrinogen_nadir", "d_dimer_max")


def test_values_the_pages_print_are_scipys(cohort):  # noqa: ANN001
    """The r, CI and n that tests/test_page_correlations.py, test_page_tocilizumab.py and
    test_page_paper_figures.py read off the pages, from scipy directly and Fisher's z by
    hand (an independent source for those page assertions)."""
    p = cohort.patients

    def both(x: str, y: str):  # noqa: ANN202
        d = p[[x, y]].dropna().astype(float)
        return sps.spearmanr(d[x], d[y]), sps.pearsonr(d[x], d[y]), len(d)

    s, r, n = both("fibrinogen_nadir", "d_dimer_max")               # Figure 1C
    half = 1.959963984540054 / math.sqrt(n - 3)
    lo = math.tanh(math.atanh(s.statistic) - half)
    hi = math.tanh(math.atanh(s.statistic) + half)
    assert (f"{s.statistic:.2f}", f"{lo:.2f}", f"{hi:.2f}", n) == ("-0.54", "-0.73", "-0.28", 41)
    assert s.pvalue < 0.001 and f"{r.statistic:.2f}" == "-0.37"
    cp = correlations.correlation_panel(p, "fibrinogen_nadir", "d_dimer_max")
    assert cp.spearman.r == pytest.approx(s.statistic, rel=1e-12)
    assert (cp.spearman.ci_low, cp.spearman.ci_high) == pytest.approx((lo, hi), rel=1e-12)
    assert cp.pearson.r == pytest.approx(r.statistic, rel=1e-12)
    assert "approximate" in cp.spearman.ci_method and "Fisher z" in cp.pearson.ci_method
    s, r, n = both("tocilizumab_cum_mg", "fibrinogen_nadir")       # Figure 3B, all patients
    assert (f"{s.statistic:.2f}", f"{r.statistic:.2f}", n) == ("-0.81", "-0.79", 41)
    assert s.pvalue < 0.001


def test_matrix_and_methods(cohort):  # noqa: ANN001
    p = cohort.patients
    cols = ("fibrinogen_nadir", "d_dimer_max", "age")
    mat = correlations.correlation_matrix(p, cols, "pearson").set_index(["x", "y"])
    d = p[["fibrinogen_nadir", "age"]].dropna().astype(float)
    assert mat.loc[("fibrinogen_nadir", "age"), "r"] == pytest.approx(
        np.corrcoef(d["fibrinogen_nadir"], d["age"])[0, 1], rel=1e-10)
    with pytest.raises(ValueError, match="method"):
        correlations.correlation_matrix(p, cols, "kendall")  # type: ignore[arg-type]
    cp = correlations.correlation_panel(p, "fibrinogen_nadir", "d_dimer_max")
    with pytest.raises(ValueError):
        cp.result("spearmen")  # type: ignore[arg-type]
