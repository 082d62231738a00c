"""core.analyses.time_course: SQL band vs pandas, alignment, sampling, bins, doses, CTCAE lines.

The chart builders are tested in test_charts_time_course.py, core.endpoints.apply_to_cohort in
test_endpoints_apply_to_cohort.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import demo, ingest
from core.analyses import time_course as tc
from core.errors import ColumnError, InsufficientDataError
from core.filters import CohortFilter
from core.store import CohortStore

# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def demo_cohort() -> ingest.Cohort:
    return ingest.load_demo()


@pytest.fixture(scope="module")
def demo_store(demo_cohort) -> CohortStore:  # noqa: ANN001
    return CohortStore(demo_cohort)


@pytest.fixture(scope="module")
def big() -> tuple[ingest.Cohort, CohortStore]:
    g = demo.generate(n=2000)
    c = ingest.load_frames(g.patients, g.labs, g.treatments, source="generate(2000)")
    return c, CohortStore(c)


def pandas_band(cohort: ingest.Cohort, analyte: str, *, align: str, group: str | None,
                x_range: tuple[float, float], flt: pd.Series | None = None) -> pd.DataFrame:
    """The band computed independently in pandas: per-patient mean per bin, then median and
    quartiles (linear interpolation) across patients."""
    p = cohort.patients if flt is None else cohort.patients[flt]
    p = p.assign(grp=p[group].astype("string").fillna("missing") if group else "all",
                 t0=0.0 if align == "infusion" else p["tocilizumab_first_day"])
    lab = cohort.labs[cohort.labs["analyte"] == analyte].dropna(subset=["value", "day"])
    m = lab.merge(p[["patient_id", "grp", "t0"]], on="patient_id").dropna(subset=["t0"])
    m["x"] = m["day"] - m["t0"]
    m = m[(m["x"] >= x_range[0]) & (m["x"] <= x_range[1])]
    x = m["x"].to_numpy(float)
    m["bin"] = np.where(x < 14, np.floor(x), 14 + 7 * np.floor((x - 14) / 7))
    per = m.groupby(["grp", "patient_id", "bin"])["value"].mean().reset_index()
    g = per.groupby(["grp", "bin"])["value"]
    out = pd.DataFrame({"median": g.median(), "q1": g.quantile(0.25), "q3": g.quantile(0.75),
                        "n": g.size()}).reset_index()
    out["group"] = [tc.group_label(group, r) for r in out["grp"]]
    return out.drop(columns="grp").sort_values(["group", "bin"]).reset_index(drop=True)


def check_band(sql: pd.DataFrame, ref: pd.DataFrame) -> None:
    s = sql.assign(group=sql["group"].astype(str)).sort_values(["group", "bin"]) \
        .reset_index(drop=True)
    assert len(s) == len(ref) > 0
    assert list(s["group"]) == list(ref["group"])
    np.testing.assert_allclose(s["bin"], ref["bin"])
    np.testing.assert_array_equal(s["n"], ref["n"])
    for c in ("median", "q1", "q3"):
        np.testing.assert_allclose(s[c], ref[c], rtol=1e-12, atol=1e-9)


# ------------------------------------------------------------------ band SQL == pandas

@pytest.mark.parametrize("align,group", [("infusion", "tocilizumab"), ("tocilizumab", None),
                                         ("infusion", "crs_grade")])
def test_band_sql_equals_pandas_on_demo(demo_cohort, demo_store, align, group):  # noqa: ANN001
    for analyte in ("fibrinogen", "d_dimer"):
        sql = tc.band(demo_store, None, analyte, align=align, group=group, x_range=(-7, 60))
        check_band(sql, pandas_band(demo_cohort, analyte, align=align, group=group,
                                    x_range=(-7, 60)))


def test_band_sql_equals_pandas_on_2000_patients_with_filter(big):  # noqa: ANN001
    cohort, store = big
    flt = CohortFilter().where("crs_grade", [1, 2])
    mask = cohort.patients["crs_grade"].isin([1, 2])
    for align, group in (("infusion", "tocilizumab"), ("tocilizumab", "crs_grade")):
        sql = tc.band(store, flt, "fibrinogen", align=align, group=group, x_range=(-7, 90))
        check_band(sql, pandas_band(cohort, "fibrinogen", align=align, group=group,
                                    x_range=(-7, 90), flt=mask))
    assert tc.band(store, None, "fibrinogen", group=None)["n"].max() == 2000


def test_band_x_is_bin_centre_and_groups_ordered(demo_store):  # noqa: ANN001
    b = tc.band(demo_store, None, "fibrinogen", group="tocilizumab", x_range=(-7, 60))
    assert list(b["group"].cat.categories) == ["Tocilizumab given: no",
                                                "Tocilizumab given: yes"]
    row = b[(b["bin"] == 14)].iloc[0]
    assert row["x"] == 17
    assert set(b.loc[b["bin"] < 14, "x"]) == set(b.loc[b["bin"] < 14, "bin"])
    # 41 patients: 12 without, 29 with tocilizumab, all measured daily before day 14
    assert set(b.loc[b["bin"].between(0, 13), "n"].groupby(
        b["group"].astype(str)).max()) == {12, 29}


# ------------------------------------------------------------------ alignment by hand

def test_alignment_to_first_tocilizumab_dose_by_hand(demo_store):  # noqa: ANN001
    # DEMO-002: tocilizumab on days 3 and 4 -> x = day - 3
    rows, dropped = tc.curves(demo_store, None, "fibrinogen", ["DEMO-002", "DEMO-003"],
                              align="tocilizumab", group=None, x_range=(-30, 200))
    assert dropped == []
    p2 = rows[rows["patient_id"] == "DEMO-002"].set_index("x")["value"]
    assert p2[-8.0] == 396.0          # day -5
    assert p2[0.0] == 483.0           # day 3, first dose
    assert p2[3.0] == 186.0           # day 6, onset of hypofibrinogenemia
    assert p2.idxmin() == 6.0 and p2.min() == 185.0   # nadir day 9
    # DEMO-003: tocilizumab on days 4 and 5 -> doses at x = 0 and 1
    dz = tc.doses(demo_store, None, rows, align="tocilizumab", x_range=(-30, 200))
    d3 = dz[dz["patient_id"] == "DEMO-003"]
    assert list(d3["x"]) == [0.0, 1.0] and set(d3["kind"]) == {"Tocilizumab"}
    d2 = dz[dz["patient_id"] == "DEMO-002"]
    assert list(d2["x"]) == [0.0, 1.0] and list(d2["value"]) == [483.0, 353.0]   # on the curve
    # infusion alignment leaves the days as they are
    rows0, _ = tc.curves(demo_store, None, "fibrinogen", ["DEMO-002"], group=None,
                         x_range=(-30, 200))
    assert rows0.set_index("x")["value"][3.0] == 483.0


def test_patients_without_tocilizumab_left_out_and_counted(demo_store):  # noqa: ANN001
    c = tc.counts(demo_store, None, "fibrinogen", "tocilizumab", (-7, 60))
    assert c == {"with_values": 41, "unaligned": 12, "in_range": 29}
    res = tc.time_course(demo_store, None, "fibrinogen", align="tocilizumab")
    assert res.n_unaligned == 12 and res.n_in_range == 29
    assert "DEMO-001" not in set(res.curves["patient_id"])       # no tocilizumab
    assert res.curves["x"].between(-7, 60).all()


# ------------------------------------------------------------------ sample, cap, bins

def test_sample_is_seeded_nested_and_capped(big):  # noqa: ANN001
    _, store = big
    a = tc.sample_patients(store, None, "fibrinogen", size=30)
    assert len(a) == 30 and a == tc.sample_patients(store, None, "fibrinogen", size=30)
    assert tc.sample_patients(store, None, "fibrinogen", size=60)[:30] == a
    assert tc.sample_patients(store, None, "fibrinogen", size=30, seed=1) != a
    res = tc.time_course(store, None, "fibrinogen", sample=10_000)
    assert res.n_curves <= tc.MAX_SAMPLE and res.sampled
    assert len(res.curves) <= tc.MAX_CURVE_ROWS
    assert len(res.band) < 100 and len(res.doses) < tc.MAX_CURVE_ROWS
    again = tc.time_course(store, None, "fibrinogen", sample=10_000)
    pd.testing.assert_frame_equal(res.curves, again.curves)
    with pytest.raises(ColumnError):
        tc.sample_patients(store, None, "fibrinogen", size=0)


def test_row_cap_drops_whole_curves_from_the_end(demo_store):  # noqa: ANN001
    ids = tc.sample_patients(demo_store, None, "fibrinogen", size=10)
    full, _ = tc.curves(demo_store, None, "fibrinogen", ids)
    per = full.groupby("patient_id").size()
    cap = int(per[ids[0]] + per[ids[1]] + 1)
    rows, dropped = tc.curves(demo_store, None, "fibrinogen", ids, max_rows=cap)
    assert list(dict.fromkeys(rows["patient_id"])) == ids[:2]
    assert dropped == ids[2:] and len(rows) <= cap
    res = tc.time_course(demo_store, None, "fibrinogen", sample=10, max_rows=cap)
    assert res.dropped == tuple(ids[2:]) and any("not drawn" in m for m in res.messages)


def test_picked_patients_replace_the_sample(demo_store):  # noqa: ANN001
    res = tc.time_course(demo_store, None, "fibrinogen", patients=["DEMO-005", "NOPE"])
    assert set(res.curves["patient_id"]) == {"DEMO-005"} and not res.sampled
    assert any("NOPE" in m for m in res.messages)


def test_bins():
    x = [-6.5, -0.1, 0, 13.99, 14, 20.99, 21, 59.5]
    np.testing.assert_array_equal(tc.bin_start(x), [-7, -1, 0, 13, 14, 14, 21, 56])
    np.testing.assert_array_equal(tc.bin_x([-7, 0, 13, 14, 21, 56]), [-7, 0, 13, 17, 24, 59])
    np.testing.assert_array_equal(tc.bin_start([3, 10, 12], daily_until=7, width=5), [3, 7, 12])
    assert tc.describe_bins() == "daily to day 13, then 7-day bins (14-20, 21-27, ...)"


def test_errors_say_what_to_do(demo_store):  # noqa: ANN001
    with pytest.raises(InsufficientDataError, match="No patient in view has"):
        tc.time_course(demo_store, None, "nonexistent")
    with pytest.raises(InsufficientDataError, match="Widen the day range"):
        tc.time_course(demo_store, None, "fibrinogen", x_range=(500, 600))
    with pytest.raises(ColumnError, match="empty"):
        tc.time_course(demo_store, None, "fibrinogen", x_range=(5, 5))
    with pytest.raises(ColumnError, match="No column"):
        tc.band(demo_store, None, "fibrinogen", group="nope")
    assert tc.analytes(demo_store, None)[:3] == ["fibrinogen", "d_dimer", "platelets"]


def test_ctcae_lines():
    lines = tc.ctcae_lines(180)
    assert list(lines["value"]) == [180, 135, 90, 45]
    assert list(lines["label"]) == ["G1 < 180", "G2 < 135", "G3 < 90", "G4 < 45"]


# ------------------------------------------------------------------ per-store tables (issue 13)

def test_filter_changes_reuse_the_store_tables_with_categorical_keys(big):  # noqa: ANN001
    """The per-store tables (each patient's bin means, each patient's analytes) are computed
    once and serve every filter: each filter's band and counts equal pandas on its patients,
    also when the labs' keys are Categorical (as the ingest delivers them at scale)."""
    import dataclasses

    cohort, _ = big
    store = CohortStore(dataclasses.replace(cohort, labs=cohort.labs.astype(
        {"patient_id": "category", "analyte": "category", "unit": "category"})))
    lab = cohort.labs[cohort.labs["analyte"] == "fibrinogen"].dropna(subset=["value", "day"])
    for grades in ([0], [1, 2], [3, 4], [1, 2]):
        flt = CohortFilter().where("crs_grade", grades)
        mask = cohort.patients["crs_grade"].isin(grades)
        sql = tc.band(store, flt, "fibrinogen", align="infusion", group="tocilizumab",
                      x_range=(-7, 60))
        check_band(sql, pandas_band(cohort, "fibrinogen", align="infusion", group="tocilizumab",
                                    x_range=(-7, 60), flt=mask))
        ids = set(cohort.patients.loc[mask, "patient_id"])
        with_values = set(lab["patient_id"]) & ids
        in_range = set(lab.loc[lab["day"].between(-7, 60), "patient_id"]) & ids
        assert tc.counts(store, flt, "fibrinogen", "infusion", (-7, 60)) == {
            "with_values": len(with_values), "unaligned": 0, "in_range": len(in_range)}
        assert tc.patient_options(store, flt, "fibrinogen") == sorted(with_values)
        assert set(tc.sample_patients(store, flt, "fibrinogen", size=10**6)) == in_range
