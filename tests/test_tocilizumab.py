"""core.analyses.tocilizumab: derived durations worked out by hand, the paper's patient subsets
of each dose panel, Figure 3A boxes, the CRS 1-2 comparison and Figure 3D."""

from __future__ import annotations

import math

import pytest

from core import ingest
from core.analyses import tocilizumab
from core.analyses.columns import HYPOFIB_DURATION, RECOVERY_FROM_NADIR
from core.analyses.common import POOL_CRS_34


@pytest.fixture(scope="module")
def cohort() -> ingest.Cohort:
    return ingest.load_demo()


def test_durations_worked_out_by_hand(cohort):  # noqa: ANN001
    d = tocilizumab.with_durations(cohort.patients).set_index("patient_id")
    # DEMO-002: onset day 6, nadir day 9, recovered on day 14
    assert d.loc["DEMO-002", RECOVERY_FROM_NADIR] == 14 - 9
    assert d.loc["DEMO-002", HYPOFIB_DURATION] == 14 - 6
    # DEMO-006: onset 6, nadir 14, recovery 30
    assert d.loc["DEMO-006", RECOVERY_FROM_NADIR] == 30 - 14
    assert d.loc["DEMO-006", HYPOFIB_DURATION] == 30 - 6
    # DEMO-008: onset 4, nadir 6, recovery 9
    assert d.loc["DEMO-008", RECOVERY_FROM_NADIR] == 3
    assert d.loc["DEMO-008", HYPOFIB_DURATION] == 5
    # DEMO-003 never recovered (day 130 is its last lab): censored, left out
    assert d.loc["DEMO-003", "fibrinogen_recovered"] == 0
    assert math.isnan(d.loc["DEMO-003", RECOVERY_FROM_NADIR])
    # DEMO-001 had no hypofibrinogenemia
    assert math.isnan(d.loc["DEMO-001", HYPOFIB_DURATION])
    assert d[RECOVERY_FROM_NADIR].notna().sum() == 21   # 27 - 6 not recovered


def test_dose_panels_use_the_paper_subsets(cohort):  # noqa: ANN001
    p = cohort.patients
    assert tocilizumab.dose_panel(p, "3B").result.n == 41
    assert tocilizumab.dose_panel(p, "3B", treated_only=True).result.n == 29
    assert tocilizumab.dose_panel(p, "3C").result.n == 21
    assert tocilizumab.dose_panel(p, "S3A").result.n == 41
    assert tocilizumab.dose_panel(p, "S3B").result.n == 21
    s3c = tocilizumab.dose_panel(p, "S3C", method="pearson")
    assert s3c.result.n == 29 and s3c.result.method == "pearson"


def test_tocilizumab_box_crs12_and_grade_by_doses(cohort):  # noqa: ANN001
    p = cohort.patients
    tb = tocilizumab.tocilizumab_box_panel(p, pool=POOL_CRS_34)
    assert tb.n == 41 and set(tb.box["tocilizumab"]) == {"yes", "no"}
    assert tb.box["n"].sum() == 41 and len(tb.points) == 41
    assert tb.box.loc[tb.box["tocilizumab"] == "no", "n"].sum() == 12
    crs = tocilizumab.crs12_tocilizumab(p)
    assert crs.n == 33 and crs.nadir.test == "Mann-Whitney U" and crs.nadir.pvalue < 0.001
    assert crs.hypofibrinogenemia.test == "fisher"
    assert crs.hypofibrinogenemia.table.loc[1, 0] == 0       # no hypofib. without toci
    gd = tocilizumab.grade_by_doses(p)
    assert gd.n == 41 and gd.comparison.pvalue < 0.001
    assert gd.counts.groupby("doses")["share"].sum().round(12).eq(1).all()
    assert list(gd.summary["doses"]) == [0, 1, 2, 3, 4]


def test_crs12_counts_are_the_papers(cohort):  # noqa: ANN001
    """The CRS 1-2 line of the Tocilizumab page ("23/24 vs 0/9", test_page_tocilizumab.py):
    hypofibrinogenemia in CRS 1 5/13 and CRS 2 18/20, all of it in treated patients (the
    paper, ../shared/DESIGN.md), so 23 treated with it; 24 treated and 9 untreated in CRS 1-2
    are counted here with pandas."""
    p = cohort.patients
    crs12 = p[p["crs_grade"].isin([1, 2])]
    treated = crs12["tocilizumab"] == 1
    assert (int(treated.sum()), int((~treated).sum())) == (24, 9)
    hyp = tocilizumab.crs12_tocilizumab(p).hypofibrinogenemia.table
    assert (hyp.loc[1, 1], hyp[1].sum(), hyp.loc[1, 0], hyp[0].sum()) == (5 + 18, 24, 0, 9)


def test_tocilizumab_box_without_pooling_keeps_each_grade(cohort):  # noqa: ANN001
    tb = tocilizumab.tocilizumab_box_panel(cohort.patients)
    assert sorted(set(tb.box["group"])) == [0, 1, 2, 3, 4]
    assert tb.box["n"].sum() == 41


def test_bad_arguments_are_value_errors(cohort):  # noqa: ANN001
    p = cohort.patients
    with pytest.raises(ValueError, match="dose panel"):
        tocilizumab.dose_panel(p, "3Z")
    with pytest.raises(ValueError, match="method"):
        tocilizumab.dose_panel(p, "3B", method="kendall")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="subset"):
        tocilizumab.subset(p, "untreated")  # type: ignore[arg-type]
