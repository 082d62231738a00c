"""The Time course page through AppTest: per-patient fibrinogen curves with the group band on
the demo (the paper's Figure S2), filter reruns, analyte/alignment/layout switches, the
patient picker and an upload without labs."""

from __future__ import annotations

from pathlib import Path

from conftest import assert_clean, upload, widget

PAGE = "views/time_course.py"
PATIENTS_ONLY = (Path(__file__).parent / "fixtures" / "uploads" / "german_cp1252.csv")


def stat_line(at) -> str:  # noqa: ANN001
    return next(c.value for c in at.caption if "patients with" in c.value)


def test_renders_fibrinogen_with_band_on_demo(app_test):
    at = app_test(PAGE)
    assert_clean(at)
    assert at.title[0].value == "Time course"
    assert any("synthetic demo cohort" in c.value for c in at.caption)
    s = stat_line(at)
    assert s.startswith("41 patients with Fibrinogen · curves: 30 of 41 (seeded random sample)")
    assert "bins daily to day 13, then 7-day bins" in s
    assert "LLN 200 mg/dL" in s
    assert len(at.get("vega_lite_chart")) == 1
    assert widget(at, "tc_group").value == "tocilizumab"
    assert widget(at, "tc_range").value == (-7, 60)


def test_sidebar_filter_reruns(app_test):
    at = app_test(PAGE)
    widget(at, "flt_crs_grade").set_value([1, 2]).run()
    assert_clean(at)
    assert stat_line(at).startswith("33 patients with Fibrinogen · curves: 30 of 33")


def test_analyte_alignment_and_small_multiples(app_test):
    at = app_test(PAGE)
    widget(at, "tc_analyte").set_value("d_dimer").run()
    assert_clean(at)
    assert stat_line(at).startswith("41 patients with D-dimer")
    assert widget(at, "tc_log_d_dimer").value is True            # skewed: log by default
    assert "LLN" not in stat_line(at)
    widget(at, "tc_analyte").set_value("fibrinogen").run()
    widget(at, "tc_align").set_value("tocilizumab").run()
    assert_clean(at)
    assert "12 without tocilizumab left out" in stat_line(at)
    assert "curves: 29 of 29" in stat_line(at)
    widget(at, "tc_layout").set_value("multiples").run()
    assert_clean(at)
    assert len(at.get("vega_lite_chart")) == 1
    widget(at, "tc_sample").set_value(5).run()
    assert_clean(at)
    assert "curves: 5 of 29 (seeded random sample)" in stat_line(at)


def test_patient_picker_and_resample(app_test):
    at = app_test(PAGE)
    widget(at, "tc_patients").set_value(["DEMO-002", "DEMO-003"]).run()
    assert_clean(at)
    assert "curves: 2 of 41 ·" in stat_line(at)
    widget(at, "tc_patients").set_value([]).run()
    widget(at, "tc_resample").click().run()
    assert_clean(at)
    assert "curves: 30 of 41 (seeded random sample)" in stat_line(at)


def test_upload_without_labs_shows_a_note(app_test):
    at = app_test(PAGE)
    upload(at, "p.csv", PATIENTS_ONLY.read_bytes())
    assert not at.exception
    assert not at.error
    assert any("no lab table" in i.value for i in at.info)
