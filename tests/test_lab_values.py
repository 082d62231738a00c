"""core.analyses.lab_values: SQL box statistics equal tukey_box, capped points keep every
outlier, group order and pooling, the comparison is compare_groups, one group and bad columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import demo, ingest
from core.analyses import lab_values
from core.analyses.common import POOL_CRS_34
from core.errors import ColumnError, InsufficientDataError
from core.filters import CohortFilter
from core.stats import compare_groups, tukey_box
from core.store import CohortStore

VALUES = ("fibrinogen_nadir", "d_dimer_max", "platelets_min", "ggt_max", "albumin_min",
          "dic_score_max")


@pytest.fixture(scope="module")
def cohort() -> ingest.Cohort:
    return ingest.load_demo()


@pytest.fixture(scope="module")
def store(cohort) -> CohortStore:  # noqa: ANN001
    s = CohortStore(cohort)
    yield s
    s.close()


@pytest.fixture(scope="module")
def big() -> tuple[pd.DataFrame, CohortStore]:
    d = demo.generate(n=5000)
    c = ingest.load_frames(d.patients, d.labs, d.treatments)
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
    _same(lab_values.box_stats(store, None, value, group), tukey_box(cohort.patients, value, group))


@pytest.mark.parametrize("value", ["fibrinogen_nadir", "d_dimer_max", "alt_max", "che_min"])
@pytest.mark.parametrize("group", ["crs_grade", "tocilizumab_doses", "disease"])
def test_sql_box_stats_equal_tukey_box_on_5000(big, value, group):  # noqa: ANN001
    df, s = big
    box = lab_values.box_stats(s, None, value, group)
    _same(box, tukey_box(df, value, group))
    assert box["n"].sum() == df[value].notna().sum()


def test_filter_is_applied_in_sql(cohort, store):  # noqa: ANN001
    flt = CohortFilter().where("crs_grade", [1, 2]).where("product", ["axi-cel", "tisa-cel"])
    sub = store.patients(flt)
    _same(lab_values.box_stats(store, flt, "d_dimer_max", "crs_grade"),
          tukey_box(sub, "d_dimer_max", "crs_grade"))


def test_points_capped_and_every_outlier_kept(big):  # noqa: ANN001
    df, s = big
    gp = lab_values.group_panel(s, None, "d_dimer_max", "crs_grade", max_points=300)
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
    again = lab_values.sample_points(s, None, "d_dimer_max", "crs_grade", max_points=300)
    assert list(again["patient_id"]) == list(gp.points["patient_id"])
    other = lab_values.sample_points(s, None, "d_dimer_max", "crs_grade", max_points=300, seed=1)
    assert list(other["patient_id"]) != list(gp.points["patient_id"])


def test_small_cohort_returns_every_point(cohort, store):  # noqa: ANN001
    gp = lab_values.group_panel(store, None, "fibrinogen_nadir", "crs_grade")
    assert len(gp.points) == gp.n == 41 and not gp.sampled
    assert set(gp.points["patient_id"]) == set(cohort.patients["patient_id"])


def test_comparison_is_compare_groups(cohort, store):  # noqa: ANN001
    gp = lab_values.group_panel(store, None, "d_dimer_max", "crs_grade")
    ref = compare_groups(cohort.patients, "d_dimer_max", "crs_grade")
    assert gp.comparison.test == "Kruskal-Wallis"
    assert gp.comparison.pvalue == pytest.approx(ref.pvalue, rel=1e-12)
    pd.testing.assert_frame_equal(gp.comparison.posthoc, ref.posthoc)


def test_group_order_and_pooling(cohort, store):  # noqa: ANN001
    box = lab_values.box_stats(store, None, "d_dimer_max", "crs_grade")
    assert list(box["group"]) == [0, 1, 2, 3, 4]
    box = lab_values.box_stats(store, None, "d_dimer_max", "crs_grade", order=[4, 2])
    assert list(box["group"]) == [4, 2, 0, 1, 3]
    gp = lab_values.group_panel(store, None, "d_dimer_max", "crs_grade", pool=POOL_CRS_34)
    assert list(gp.box["group"]) == ["0", "1", "2", "3-4"]
    assert list(gp.box["n"]) == [3, 13, 20, 5]
    p = cohort.patients
    pooled = p.assign(g=p["crs_grade"].map(lambda v: "3-4" if v >= 3 else str(v)))
    _same(gp.box, tukey_box(pooled, "d_dimer_max", "g"))
    assert gp.comparison.pvalue == pytest.approx(
        compare_groups(pooled, "d_dimer_max", "g").pvalue, rel=1e-12)


def test_one_group_left_gives_a_message_not_a_test(store):  # noqa: ANN001
    gp = lab_values.group_panel(store, CohortFilter().where("crs_grade", [2]), "d_dimer_max",
                            "crs_grade")
    assert gp.comparison is None and len(gp.box) == 1
    assert any("Only one group" in m for m in gp.messages)


def test_bad_columns_and_empty_selection(store):  # noqa: ANN001
    with pytest.raises(ColumnError):
        lab_values.group_panel(store, None, "no_such", "crs_grade")
    with pytest.raises(ColumnError):
        lab_values.group_panel(store, None, "product", "crs_grade")  # text value
    with pytest.raises(InsufficientDataError):
        lab_values.group_panel(store, CohortFilter().where("crs_grade", [9]), "d_dimer_max",
                           "crs_grade")


def test_identifier_with_quote_is_quoted():
    p = pd.DataFrame({"patient_id": ["a", "b", "c", "d"], 'we"ird': [1.0, 2.0, 3.0, 10.0],
                      "grp": ["x", "x", "y", "y"]})
    s = CohortStore(ingest.load_frames(p))
    _same(lab_values.box_stats(s, None, 'we"ird', "grp"), tukey_box(p, 'we"ird', "grp"))
    s.close()
