"""core.panels: SQL box statistics equal tukey_box, capped points keep every outlier, group
order and pooling, correlation and tocilizumab panels, derived durations worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core import demo, loading, panels
from core.errors import ColumnError, InsufficientDataError
from core.filters import CohortFilter
from core.stats.groups import compare_groups, correlate, tukey_box
from core.store import CohortStore

VALUES = ("fibrinogen_nadir", "d_dimer_max", "platelets_min", "ggt_max", "albumin_min",
          "dic_score_max")


@pytest.fixture(scope="module")
def cohort() -> loading.Cohort:
    return loading.load_demo()


@pytest.fixture(scope="module")
def store(cohort) -> CohortStore:  # noqa: ANN001
    s = CohortStore(cohort)
    yield s
    s.close()


@pytest.fixture(scope="module")
def big() -> tuple[pd.DataFrame, CohortStore]:
    d = demo.generate(n=5000)
    c = loading.load_frames(d.patients, d.labs, d.treatments)
    s = CohortStore(c)
    yield c.patients, s
    s.close()


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a["group"]) == list(b["group"])
    assert list(a["n"]) == list(b["n"]) and list(a["n_outliers"]) == list(b["n_outliers"])
    for c in ("q1", "median", "q3", "whisker_low", "whisker_high"):
        np.testing.assert_allclose(a[c].to_numpy(float), b[c].to_numpy(float), rtol=1e-12,
                                   atol=1e-12, err_msg=c)


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("group", ["crs_grade", "product"])
def test_sql_box_stats_equal_tukey_box_on_demo(cohort, store, value, group):  # noqa: ANN001
    _same(panels.box_stats(store, None, value, group), tukey_box(cohort.patients, value, group))


@pytest.mark.parametrize("value", ["fibrinogen_nadir", "d_dimer_max", "alt_max", "che_min"])
@pytest.mark.parametrize("group", ["crs_grade", "tocilizumab_doses", "disease"])
def test_sql_box_stats_equal_tukey_box_on_5000(big, value, group):  # noqa: ANN001
    df, s = big
    box = panels.box_stats(s, None, value, group)
    _same(box, tukey_box(df, value, group))
    assert box["n"].sum() == df[value].notna().sum()


def test_filter_is_applied_in_sql(cohort, store):  # noqa: ANN001
    flt = CohortFilter().where("crs_grade", [1, 2]).where("product", ["axi-cel", "tisa-cel"])
    sub = store.patients(flt)
    _same(panels.box_stats(store, flt, "d_dimer_max", "crs_grade"),
          tukey_box(sub, "d_dimer_max", "crs_grade"))


def test_points_capped_and_every_outlier_kept(big):  # noqa: ANN001
    df, s = big
    gp = panels.group_panel(s, None, "d_dimer_max", "crs_grade", max_points=300)
    n_out = int(gp.box["n_outliers"].sum())
    assert 0 < n_out < 300
    assert len(gp.points) == 300 and gp.sampled
    assert int(gp.points["outlier"].sum()) == n_out
    # the outliers are exactly the values outside each group's fence
    fences = gp.box.set_index("group")
    out = gp.points[gp.points["outlier"]]
    for g, v in zip(out["group"], out["value"]):
        q1, q3 = fences.loc[g, "q1"], fences.loc[g, "q3"]
        assert v < q1 - 1.5 * (q3 - q1) or v > q3 + 1.5 * (q3 - q1)
    # seeded: the same sample on every call, a different one with another seed
    again = panels.sample_points(s, None, "d_dimer_max", "crs_grade", max_points=300)
    assert list(again["patient_id"]) == list(gp.points["patient_id"])
    other = panels.sample_points(s, None, "d_dimer_max", "crs_grade", max_points=300, seed=1)
    assert list(other["patient_id"]) != list(gp.points["patient_id"])


def test_small_cohort_returns_every_point(cohort, store):  # noqa: ANN001
    gp = panels.group_panel(store, None, "fibrinogen_nadir", "crs_grade")
    assert len(gp.points) == gp.n == 41 and not gp.sampled
    assert set(gp.points["patient_id"]) == set(cohort.patients["patient_id"])


def test_comparison_is_compare_groups(cohort, store):  # noqa: ANN001
    gp = panels.group_panel(store, None, "d_dimer_max", "crs_grade")
    ref = compare_groups(cohort.patients, "d_dimer_max", "crs_grade")
    assert gp.comparison.test == "Kruskal-Wallis"
    assert gp.comparison.pvalue == pytest.approx(ref.pvalue, rel=1e-12)
    pd.testing.assert_frame_equal(gp.comparison.posthoc, ref.posthoc)


def test_group_order_and_pooling(cohort, store):  # noqa: ANN001
    box = panels.box_stats(store, None, "d_dimer_max", "crs_grade")
    assert list(box["group"]) == [0, 1, 2, 3, 4]
    box = panels.box_stats(store, None, "d_dimer_max", "crs_grade", order=[4, 2])
    assert list(box["group"]) == [4, 2, 0, 1, 3]
    gp = panels.group_panel(store, None, "d_dimer_max", "crs_grade", pool=panels.POOL_CRS_34)
    assert list(gp.box["group"]) == ["0", "1", "2", "3-4"]
    assert list(gp.box["n"]) == [3, 13, 20, 5]
    p = cohort.patients
    pooled = p.assign(g=p["crs_grade"].map(lambda v: "3-4" if v >= 3 else str(v)))
    _same(gp.box, tukey_box(pooled, "d_dimer_max", "g"))
    assert gp.comparison.pvalue == pytest.approx(
        compare_groups(pooled, "d_dimer_max", "g").pvalue, rel=1e-12)


def test_one_group_left_gives_a_message_not_a_test(store):  # noqa: ANN001
    gp = panels.group_panel(store, CohortFilter().where("crs_grade", [2]), "d_dimer_max",
                            "crs_grade")
    assert gp.comparison is None and len(gp.box) == 1
    assert any("Only one group" in m for m in gp.messages)


def test_bad_columns_and_empty_selection(store):  # noqa: ANN001
    with pytest.raises(ColumnError):
        panels.group_panel(store, None, "no_such", "crs_grade")
    with pytest.raises(ColumnError):
        panels.group_panel(store, None, "product", "crs_grade")  # text value
    with pytest.raises(InsufficientDataError):
        panels.group_panel(store, CohortFilter().where("crs_grade", [9]), "d_dimer_max",
                           "crs_grade")


def test_identifier_with_quote_is_quoted():
    p = pd.DataFrame({"patient_id": ["a", "b", "c", "d"], 'we"ird': [1.0, 2.0, 3.0, 10.0],
                      "grp": ["x", "x", "y", "y"]})
    s = CohortStore(loading.load_frames(p))
    _same(panels.box_stats(s, None, 'we"ird', "grp"), tukey_box(p, 'we"ird', "grp"))
    s.close()


def test_correlation_panel(cohort):  # noqa: ANN001
    p = cohort.patients
    cp = panels.correlation_panel(p, "fibrinogen_nadir", "d_dimer_max", color="crs_grade")
    assert cp.spearman.r == pytest.approx(correlate(p, "fibrinogen_nadir", "d_dimer_max").r)
    assert cp.pearson.method == "pearson" and cp.n == 41 and not cp.sampled
    assert set(cp.points.columns) == {"patient_id", "fibrinogen_nadir", "d_dimer_max",
                                      "crs_grade"}
    small = panels.correlation_panel(p, "fibrinogen_nadir", "d_dimer_max", max_points=10)
    assert len(small.points) == 10 and small.sampled and small.n == 41
    with pytest.raises(InsufficientDataError):
        panels.correlation_panel(p.head(3), "fibrinogen_nadir", "d_dimer_max")


def test_durations_worked_out_by_hand(cohort):  # noqa: ANN001
    d = panels.with_durations(cohort.patients).set_index("patient_id")
    # DEMO-002: onset day 6, nadir day 9, recovered on day 14
    assert d.loc["DEMO-002", panels.RECOVERY_FROM_NADIR] == 14 - 9
    assert d.loc["DEMO-002", panels.HYPOFIB_DURATION] == 14 - 6
    # DEMO-006: onset 6, nadir 14, recovery 30
    assert d.loc["DEMO-006", panels.RECOVERY_FROM_NADIR] == 30 - 14
    assert d.loc["DEMO-006", panels.HYPOFIB_DURATION] == 30 - 6
    # DEMO-008: onset 4, nadir 6, recovery 9
    assert d.loc["DEMO-008", panels.RECOVERY_FROM_NADIR] == 3
    assert d.loc["DEMO-008", panels.HYPOFIB_DURATION] == 5
    # DEMO-003 never recovered (day 130 is its last lab): censored, left out
    assert d.loc["DEMO-003", "fibrinogen_recovered"] == 0
    assert math.isnan(d.loc["DEMO-003", panels.RECOVERY_FROM_NADIR])
    # DEMO-001 had no hypofibrinogenemia
    assert math.isnan(d.loc["DEMO-001", panels.HYPOFIB_DURATION])
    assert d[panels.RECOVERY_FROM_NADIR].notna().sum() == 21   # 27 - 6 not recovered


def test_dose_panels_use_the_paper_subsets(cohort):  # noqa: ANN001
    p = cohort.patients
    assert panels.dose_panel(p, "3B").result.n == 41
    assert panels.dose_panel(p, "3B", treated_only=True).result.n == 29
    assert panels.dose_panel(p, "3C").result.n == 21
    assert panels.dose_panel(p, "S3A").result.n == 41
    assert panels.dose_panel(p, "S3B").result.n == 21
    s3c = panels.dose_panel(p, "S3C", method="pearson")
    assert s3c.result.n == 29 and s3c.result.method == "pearson"


def test_tocilizumab_box_crs12_and_grade_by_doses(cohort):  # noqa: ANN001
    p = cohort.patients
    tb = panels.tocilizumab_box_panel(p, pool=panels.POOL_CRS_34)
    assert tb.n == 41 and set(tb.box["tocilizumab"]) == {"yes", "no"}
    assert tb.box["n"].sum() == 41 and len(tb.points) == 41
    assert tb.box.loc[tb.box["tocilizumab"] == "no", "n"].sum() == 12
    crs = panels.crs12_tocilizumab(p)
    assert crs.n == 33 and crs.nadir.test == "Mann-Whitney U" and crs.nadir.pvalue < 0.001
    assert crs.hypofibrinogenemia.test == "fisher"
    assert crs.hypofibrinogenemia.table.loc[1, 0] == 0       # no hypofib. without toci
    gd = panels.grade_by_doses(p)
    assert gd.n == 41 and gd.comparison.pvalue < 0.001
    assert gd.counts.groupby("doses")["share"].sum().round(12).eq(1).all()
    assert list(gd.summary["doses"]) == [0, 1, 2, 3, 4]


def test_reference_lines_and_log_defaults():
    lines = panels.reference_lines("fibrinogen_nadir")
    assert [v for v, _ in lines] == [200, 150, 100, 50]
    assert panels.reference_lines("d_dimer_max") == []
    assert [v for v, _ in panels.reference_lines("fibrinogen_nadir", lln=180)] == \
        [180, 135, 90, 45]
    assert panels.log_scale_default("d_dimer_max") and panels.log_scale_default("ferritin_max")
    assert not panels.log_scale_default("fibrinogen_nadir")
    assert not panels.log_scale_default("age")
