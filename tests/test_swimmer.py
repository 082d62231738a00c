"""Swimmer plot (issue 14): the tidy frames on hand-built patients (every mark's day and grade
written out below), lane order and cap, the chart, and the page through AppTest on the demo and
on uploads with and without CRS days.

Hand-built cohort (days after infusion):

====  ======  =====  ======  =====  ====  =====================  ===============================
id    os      os_e   pfs     pfs_e  CRS   CRS onset-resolution   other
====  ======  =====  ======  =====  ====  =====================  ===============================
P1    100     0      100     0      2     1-4                    doses day 2-8; 2 hypofib eps
P2    50      1      30      1      3     2-(none: to 50)        ICANS 2 on 5-9
P3    20      1      20      1      0     -                      PFS event = the death
P4    -       -      -       -      -     -                      toci day 4; ep. 3-(12, censored)
P5    40      1      40      1      2     -                      pfs_cause 2: death, no progr.
P6    60      1      60      1      1     -                      pfs_cause 1: progr. and death
====  ======  =====  ======  =====  ====  =====================  ===============================
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import assert_clean, upload, widget
from core.analyses import swimmer as sw
from core.charts.swimmer import lane_labels, lane_step, swimmer_chart
from core.errors import ColumnError

PAGE = "views/swimmer.py"
NA = np.nan


def patients() -> pd.DataFrame:
    return pd.DataFrame({
        "patient_id": ["P1", "P2", "P3", "P4", "P5", "P6"],
        "os_days": [100, 50, 20, NA, 40, 60], "os_event": [0, 1, 1, NA, 1, 1],
        "pfs_days": [100, 30, 20, NA, 40, 60], "pfs_event": [0, 1, 1, NA, 1, 1],
        "pfs_cause": [NA, NA, NA, NA, 2, 1],
        "crs_grade": [2, 3, 0, NA, 2, 1], "icans_grade": [0, 2, 0, NA, 0, 0],
        "crs_onset_day": [1, 2, NA, NA, NA, NA], "crs_resolution_day": [4, NA, NA, NA, NA, NA],
        "icans_onset_day": [NA, 5, NA, NA, NA, NA],
        "icans_resolution_day": [NA, 9, NA, NA, NA, NA],
    })


def treatments() -> pd.DataFrame:
    # trade names and abbreviations as a centre writes them; aspirin is not a swimmer drug
    return pd.DataFrame({
        "patient_id": ["P1"] * 7 + ["P4", "P9"],
        "day": [2, 3, 3, 5, 6, 7, 8, 4, 1],
        "drug": ["RoActemra", "Dexa", "Kineret", "Kryo", "Haemocomplettan", "fresh frozen plasma",
                 "aspirin", "tocilizumab", "tocilizumab"],
        "dose": [800, 10, 100, 2, 1, NA, 100, 560, 700],
        "unit": ["mg", "mg", "mg", "g", "g", None, "mg", "mg", "mg"],
    })


def episodes() -> pd.DataFrame:
    return pd.DataFrame({
        "patient_id": ["P1", "P1", "P4"], "episode": [1, 2, 1], "onset_day": [5, 20, 3],
        "nadir": [120, 180, 90], "nadir_day": [6, 21, 4], "grade": [2, 1, 3],
        "recovery_day": [9, NA, NA], "recovered": [1, 0, 0], "last_day": [30, 30, 12]})


def full() -> sw.Swimmer:
    return sw.swimmer(patients(), treatments(), episodes())


# --------------------------------------------------------------------------------------------
# the tidy frames
# --------------------------------------------------------------------------------------------

def test_lanes_by_follow_up_longest_first_and_missing_last():
    lanes = full().lanes
    # 100 > 60 > 50 > 40 > 20; P4 has no OS/PFS time: last, its lane ends at its last mark
    assert list(lanes["patient_id"]) == ["P1", "P6", "P2", "P5", "P3", "P4"]
    assert list(lanes["lane"]) == [0, 1, 2, 3, 4, 5]
    p4 = lanes.set_index("patient_id").loc["P4"]
    assert p4["follow_up"] == 12 and p4["follow_up_source"] == "last event"  # episode to 12
    assert list(lanes["status"]) == ["alive at last contact", "died", "died", "died", "died",
                                     "unknown"]


def test_lanes_by_crs_grade_ties_by_follow_up_then_id():
    order = sw.swimmer(patients(), sort_by="crs_grade").lanes["patient_id"]
    # CRS 3 (P2); CRS 2: P1 (100 d) before P5 (40 d); CRS 1 (P6); CRS 0 (P3); missing (P4)
    assert list(order) == ["P2", "P1", "P5", "P6", "P3", "P4"]
    same = pd.DataFrame({"patient_id": ["B", "A", "C"], "os_days": [10, 10, 10],
                         "score": [1.0, 1.0, 2.0]})
    assert list(sw.select_lanes(same, "score")["patient_id"]) == ["C", "A", "B"]


def test_first_n_equals_a_full_sort_with_many_ties_and_gaps():
    # reference: Python's sorted() over (key desc, follow-up desc, ID), missing last
    rng = np.random.default_rng(3)
    n = 3000
    grade = rng.integers(0, 5, n).astype(float)
    grade[rng.random(n) < 0.1] = np.nan
    fu = rng.integers(0, 30, n).astype(float)          # many ties
    fu[rng.random(n) < 0.2] = np.nan
    p = pd.DataFrame({"patient_id": [f"Q{i:04d}" for i in rng.permutation(n)],
                      "os_days": fu, "crs_grade": grade})

    def rank(i: int, col: str) -> tuple:
        v, f = p.at[i, col], p.at[i, "os_days"]
        return (np.isnan(v), -v if not np.isnan(v) else 0, np.isnan(f),
                -f if not np.isnan(f) else 0, p.at[i, "patient_id"])

    for col, key in (("crs_grade", "crs_grade"), ("os_days", "follow_up")):
        for k in (1, 7, 50, 700, 2999):
            want = [p.at[i, "patient_id"] for i in sorted(range(n), key=lambda i: rank(i, col))]
            got = list(sw.select_lanes(p, key, max_lanes=k)["patient_id"])
            assert got == want[:k], (col, k)


def test_a_score_column_sorts_when_present():
    p = patients().assign(car_hematotox=[1, 5, 3, NA, 0, 2])
    assert "car_hematotox" in sw.sort_options(p)
    assert "car_hematotox" not in sw.sort_options(patients())
    order = sw.swimmer(p, sort_by="car_hematotox").lanes["patient_id"]
    assert list(order) == ["P2", "P3", "P6", "P1", "P5", "P4"]
    with pytest.raises(ColumnError, match="easix"):
        sw.swimmer(patients(), sort_by="easix")


def test_symptom_periods_with_grade_and_unresolved_to_lane_end():
    per = full().periods
    crs = per[per["kind"] == "CRS"].set_index("patient_id")
    assert set(crs.index) == {"P1", "P2"}
    assert tuple(crs.loc["P1", ["start", "end", "grade", "resolved"]]) == (1, 4, 2, True)
    # P2's CRS has no resolution day: "not resolved", to the end of follow-up (os_days 50)
    assert tuple(crs.loc["P2", ["start", "end", "grade", "resolved"]]) == (2, 50, 3, False)
    icans = per[per["kind"] == "ICANS"]
    assert icans[["patient_id", "start", "end", "grade"]].values.tolist() == [["P2", 5, 9, 2]]


def test_hypofibrinogenemia_episodes_with_grade():
    hypo = full().periods.query("kind == 'Hypofibrinogenemia'")
    got = hypo[["patient_id", "episode", "start", "end", "grade", "resolved"]].values.tolist()
    # P1: episode 1 on 5-9 (G2), episode 2 from 20, not recovered: to the last fibrinogen
    # day 30; P4: from 3 to 12 (censored), G3
    assert sorted(got) == [["P1", 1, 5, 9, 2, True], ["P1", 2, 20, 30, 1, False],
                           ["P4", 1, 3, 12, 3, False]]


def test_doses_by_kind_with_aliases_and_unknown_drugs_left_out():
    ev = full().events
    doses = ev[ev["patient_id"] == "P1"][["kind", "day", "drug", "dose", "unit"]]
    assert doses.values.tolist()[:3] == [["Tocilizumab", 2, "tocilizumab", 800, "mg"],
                                         ["Corticosteroid", 3, "dexamethasone", 10, "mg"],
                                         ["Anakinra", 3, "anakinra", 100, "mg"]]
    assert list(doses["kind"]) == ["Tocilizumab", "Corticosteroid", "Anakinra",
                                   "Cryoprecipitate", "Fibrinogen concentrate", "FFP"]
    assert list(doses["day"]) == [2, 3, 3, 5, 6, 7]               # aspirin (day 8) left out
    assert np.isnan(doses["dose"].iloc[-1]) and doses["unit"].iloc[-1] == ""   # FFP: no dose
    assert "P9" not in set(ev["patient_id"])                      # not in view: no lane
    p4 = ev[ev["patient_id"] == "P4"]
    assert p4[["kind", "day", "lane"]].values.tolist() == [["Tocilizumab", 4, 5]]


def test_progression_and_death():
    ev = full().events
    out = ev[ev["kind"].isin(["Progression", "Death"])]
    got = sorted(out[["patient_id", "kind", "day"]].values.tolist())
    # P2 progressed on 30, died on 50; P3's PFS event is its death (same day): no progression;
    # P5 pfs_cause 2 (death without progression); P6 pfs_cause 1: progression and death
    assert got == [["P2", "Death", 50], ["P2", "Progression", 30], ["P3", "Death", 20],
                   ["P5", "Death", 40], ["P6", "Death", 60], ["P6", "Progression", 60]]


def test_categorical_key_columns_give_the_same_frames():
    tx = treatments().astype({"patient_id": "category", "drug": "category",
                              "unit": "category"})
    pat = patients().astype({"patient_id": "category"})
    a, b = full(), sw.swimmer(pat, tx, episodes())
    pd.testing.assert_frame_equal(a.events, b.events)
    pd.testing.assert_frame_equal(a.periods, b.periods)
    pd.testing.assert_frame_equal(a.lanes, b.lanes)


def test_cap_first_n_and_seeded_sample():
    first = sw.swimmer(patients(), treatments(), episodes(), max_lanes=3)
    assert list(first.lanes["patient_id"]) == ["P1", "P6", "P2"]
    assert first.n_total == 6 and first.n_shown == 3
    assert first.shown == "3 of 6 patients: the first 3 by follow-up, longest first"
    assert set(first.events["patient_id"]) <= {"P1", "P6", "P2"}
    assert [n.kind for n in first.notes].count("capped") == 1
    runs = [sw.swimmer(patients(), max_lanes=3, sample="random", seed=s).lanes["patient_id"]
            for s in (7, 7, 8, 9, 10)]
    order = ["P1", "P6", "P2", "P5", "P3", "P4"]
    for r in runs:
        assert len(r) == 3 and list(r) == sorted(r, key=order.index)  # kept in lane order
    assert list(runs[0]) == list(runs[1])                              # seeded: repeatable
    assert len({tuple(r) for r in runs}) > 1                           # and a real sample
    assert "a random sample (seed 7)" in sw.swimmer(patients(), max_lanes=3, sample="random",
                                                    seed=7).shown


def test_missing_columns_are_named_and_the_rest_is_drawn():
    p = patients().drop(columns=["crs_onset_day", "crs_resolution_day", "icans_onset_day",
                                 "icans_resolution_day"])
    s = sw.swimmer(p)                     # no treatments, no episodes, no hypofib columns
    assert s.n_shown == 6 and not len(s.periods)
    assert any("crs_onset_day" in m for m in s.missing)
    assert any("icans_onset_day" in m for m in s.missing)
    assert "doses (no treatment table)" in s.missing
    assert any("hypofibrinogenemia" in m for m in s.missing)
    assert [n.kind for n in s.notes if n.kind == "missing"] == ["missing"]
    assert len(s.events.query("kind == 'Death'")) == 4                 # P2, P3, P5, P6


def test_hypofibrinogenemia_from_the_patient_table_without_episodes():
    p = patients().assign(hypofibrinogenemia_onset_day=[6, NA, NA, NA, NA, NA],
                          fibrinogen_recovery_day=[15, NA, NA, NA, NA, NA],
                          hypofibrinogenemia_grade=[3, 0, 0, NA, NA, NA],
                          fibrinogen_recovered=[1, NA, NA, NA, NA, NA])
    s = sw.swimmer(p)
    hypo = s.periods.query("kind == 'Hypofibrinogenemia'")
    assert hypo[["patient_id", "start", "end", "grade", "resolved"]].values.tolist() == [
        ["P1", 6, 15, 3, True]]
    assert any(n.kind == "episodes_fallback" for n in s.notes)


def test_many_patients_build_without_a_loop_and_keep_the_cap():
    # 20,000 patients (a column operation each step; not timed: benchmarks time things)
    n = 20_000
    rng = np.random.default_rng(1)
    ids = [f"X{i:05d}" for i in range(n)]
    p = pd.DataFrame({"patient_id": ids, "os_days": rng.integers(1, 1000, n).astype(float),
                      "os_event": rng.integers(0, 2, n), "crs_grade": rng.integers(0, 5, n)})
    tx = pd.DataFrame({"patient_id": np.repeat(ids, 3), "day": np.tile([1.0, 2.0, 3.0], n),
                       "drug": np.tile(["tocilizumab", "dexamethasone", "anakinra"], n)})
    s = sw.swimmer(p, tx.astype({"patient_id": "category", "drug": "category"}),
                   max_lanes=sw.MAX_LANES)
    assert s.n_total == n and s.n_shown == sw.MAX_LANES
    assert len(s.events) == 3 * sw.MAX_LANES + int((p.set_index("patient_id").loc[
        list(s.lanes["patient_id"]), "os_event"] == 1).sum())
    assert s.lanes["follow_up"].is_monotonic_decreasing


def test_swimmer_of_a_store_matches_the_whole_cohort_derivation():
    # the page reads the lanes' rows from the store and derives only their episodes; per-patient
    # endpoints: the same episodes as the derivation over all 41 demo patients
    from core import ingest
    from core.endpoints import EndpointSettings, apply_to_cohort
    from core.filters import CohortFilter
    from core.store import CohortStore

    d = apply_to_cohort(ingest.load_demo(), EndpointSettings())
    store = CohortStore(d.cohort)
    try:
        p = store.patients(CohortFilter())
        for kw in ({}, {"max_lanes": 12, "sample": "random"}, {"sort_by": "crs_grade"}):
            a = sw.swimmer_of(p, store, EndpointSettings(), **kw)
            b = sw.swimmer(p, d.cohort.treatments, d.endpoints.episodes, **kw)
            for x, y in ((a.lanes, b.lanes), (a.periods, b.periods), (a.events, b.events)):
                pd.testing.assert_frame_equal(x, y)
        assert len(b.periods) > 0 and {"Tocilizumab", "Corticosteroid", "Anakinra",
                                        "Fibrinogen concentrate"} <= set(b.events["kind"])
    finally:
        store.close()


# --------------------------------------------------------------------------------------------
# the chart
# --------------------------------------------------------------------------------------------

def test_chart_layers_order_and_scales():
    s = full()
    spec = swimmer_chart(s, title="Swimmer", time_scale="symlog").to_dict()
    layers = spec["layer"]
    assert [ly["mark"]["type"] for ly in layers] == ["rule", "bar", "text", "point"]
    labels = lane_labels(s.lanes)
    assert labels[0] == "P1 · CRS 2 · ICANS 0" and labels[-1] == "P4"
    assert layers[0]["encoding"]["y"]["sort"] == labels            # lane order, top first
    assert layers[0]["encoding"]["x"]["scale"]["type"] == "symlog"
    assert layers[3]["encoding"]["shape"]["scale"]["domain"] == [
        "Tocilizumab", "Corticosteroid", "Anakinra", "Fibrinogen concentrate",
        "Cryoprecipitate", "FFP", "Progression", "Death"]
    assert spec["height"] == 6 * 20 and lane_step(6) == 20
    assert lane_step(200) == 7
    lin = swimmer_chart(s, x_max=30).to_dict()
    assert lin["layer"][0]["encoding"]["x"]["scale"]["domain"] == [0.0, 30.0]


def test_chart_without_periods_or_events_builds():
    p = pd.DataFrame({"patient_id": ["A", "B"], "crs_grade": [1, 2]})
    spec = swimmer_chart(sw.swimmer(p)).to_dict()
    assert [ly["mark"]["type"] for ly in spec["layer"]] == ["rule"]


def test_chart_renders_to_png_and_svg():
    from core.export import FigureSpec
    from core.export.rendering import render

    spec = FigureSpec(chart=swimmer_chart(full(), title="Swimmer", time_scale="symlog"),
                      title="Swimmer", caption="hand-built · n = 6", stat=full().shown,
                      name="swimmer", synthetic=False)
    png = render(spec, "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    svg = render(spec, "svg").decode()
    for text in ("P2 · CRS 3 · ICANS 2", "Days after CAR-T infusion", "Hypofibrinogenemia",
                 "Fibrinogen concentrate", "G3"):
        assert text in svg


# --------------------------------------------------------------------------------------------
# the page
# --------------------------------------------------------------------------------------------

def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def test_page_on_the_demo(app_test):
    at = app_test(PAGE)
    assert_clean(at)
    assert at.title[0].value == "Swimmer plot"
    captions = [c.value for c in at.caption]
    assert "All 41 patients, by follow-up, longest first" in captions
    # the demo has no CRS/ICANS days: said, and the rest is drawn
    assert any("Not in the data" in c and "crs_onset_day" in c for c in captions)
    assert len(at.get("vega_lite_chart")) == 1
    # the CAR-HEMATOTOX score (derived on the demo) sorts the lanes
    assert "CAR-HEMATOTOX score" in widget(at, "sw_sort").options     # labels
    widget(at, "sw_sort").set_value("car_hematotox").run()
    assert_clean(at)
    assert "All 41 patients, by CAR-HEMATOTOX score, highest first" in [
        c.value for c in at.caption]
    widget(at, "sw_sort").set_value("crs_grade").run()
    widget(at, "sw_lanes").set_value(10).run()
    widget(at, "sw_sample").set_value("random").run()
    assert_clean(at)
    assert any(c.value.startswith("10 of 41 patients: a random sample (seed ")
               for c in at.caption)


def test_page_shows_the_code_that_recomputes_it(app_test):
    at = app_test(PAGE)
    code = "\n".join(c.value for c in at.code)
    assert "from core.analyses.swimmer import swimmer_of" in code
    assert "swimmer_of(patients, store, settings, sort_by='follow_up', max_lanes=50" in code


def test_page_figure_goes_into_the_report(app_test):
    at = app_test(PAGE)
    widget(at, "fig-swimmer-add").click().run()
    assert_clean(at)
    at.switch_page("views/report.py").run()
    assert_clean(at)
    assert [t.value for t in at.text_input] == ["CAR-T cohort report", "Swimmer plot"]
    assert len(at.get("vega_lite_chart")) == 1                    # its preview


def test_page_follows_the_sidebar_filter(app_test):
    at = app_test(PAGE)
    widget(at, "flt_crs_grade").set_value([3, 4]).run()
    assert_clean(at)
    assert any(c.value.startswith("All 5 patients") for c in at.caption)


def test_page_on_an_upload_without_crs_days(app_test):
    at = app_test(PAGE)
    p = patients().drop(columns=["crs_onset_day", "crs_resolution_day", "icans_onset_day",
                                 "icans_resolution_day"])
    upload(at, "patients.csv", _csv(p))
    assert_clean(at)
    captions = [c.value for c in at.caption]
    assert "All 6 patients, by follow-up, longest first" in captions
    assert any("crs_onset_day" in c and "doses (no treatment table)" in c for c in captions)
    assert len(at.get("vega_lite_chart")) == 1


def test_page_on_an_upload_with_crs_days_and_treatments(app_test):
    at = app_test(PAGE)
    upload(at, "patients.csv", _csv(patients()))
    upload(at, "treatments.csv", _csv(treatments().query("patient_id != 'P9'")), slot=2)
    assert_clean(at)
    tables = [d.value for d in at.dataframe]
    periods = next(t for t in tables if "kind" in t and "start" in t)
    crs = periods[periods["kind"] == "CRS"]
    assert sorted(crs[["patient_id", "start", "end"]].values.tolist()) == [["P1", 1, 4],
                                                                         ["P2", 2, 50]]
    events = next(t for t in tables if "drug" in t)
    assert {"Tocilizumab", "Corticosteroid", "Anakinra", "Cryoprecipitate",
            "Fibrinogen concentrate", "FFP", "Progression", "Death"} <= set(events["kind"])
