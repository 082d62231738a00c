"""The Endpoints page through AppTest: settings with defaults and sources, the summary on the
demo (onset a median of 6 (2-27) days after tocilizumab, recovery day 44, 6 of 27 never
recovered), re-derivation when a setting changes, reset, and an upload without labs."""

from __future__ import annotations

from pathlib import Path

from conftest import assert_clean, upload, widget

PAGE = "views/endpoints.py"
PATIENTS_ONLY = (Path(__file__).parent / "fixtures" / "uploads" / "german_cp1252.csv")


def summary(at) -> str:  # noqa: ANN001
    return next(c.value for c in at.caption if c.value.startswith(("Hypofibrinogenemia in",
                                                                   "No patient")))


def metrics(at) -> dict[str, str]:  # noqa: ANN001
    return {m.label: m.value for m in at.main.metric}


def test_demo_summary_and_no_disagreement(app_test):
    at = app_test(PAGE)
    assert_clean(at)
    assert at.title[0].value == "Endpoints"
    assert summary(at) == (
        "Hypofibrinogenemia in 27 of 41 (66%); 11 grade ≥ 3; onset a median of 6 (2–27) days "
        "after the first tocilizumab dose; recovery median day 44 (9–181), 6 of 27 never "
        "recovered; IEC-HS 4; DIC score ≥ 5 in 15 · n = 41")
    m = metrics(at)
    assert m["Hypofibrinogenemia"] == "27 (66%)" and m["Grade ≥ 3"] == "11 (27%)"
    assert m["Onset, days after 1st tocilizumab"] == "6 (2–27)"
    assert m["Recovery, median day (range)"] == "44 (9–181)"
    assert m["IEC-HS"] == "4" and m["DIC score ≥ 5"] == "15"
    assert any("No disagreement" in s.value for s in at.success)
    assert any("Every lab and treatment row was used" in s.value for s in at.success)
    lln = widget(at, "ep_fibrinogen_lln")
    assert lln.value == 200 and "Default 200" in lln.help and "Clauss" in lln.help
    assert "Taylor" in widget(at, "ep_dic_platelets_mild").help
    frames = [d.value for d in at.dataframe]
    assert any(list(f.columns) == ["setting", "value", "default", "source", "changed"]
               for f in frames)
    per_patient = next(f for f in frames if "hypofibrinogenemia_grade" in f.columns)
    assert len(per_patient) == 41


def test_changing_the_lln_rederives_and_reset_restores(app_test):
    at = app_test(PAGE)
    widget(at, "ep_fibrinogen_lln").set_value(150.0).run()
    assert_clean(at)
    assert summary(at).startswith("Hypofibrinogenemia in 20 of 41 (49%); 7 grade ≥ 3")
    assert any("differ from the derived ones" in w.value for w in at.warning)
    # the new setting reaches the other pages: the time course draws the new grade lines
    at.switch_page("views/time_course.py").run()
    assert_clean(at)
    assert any("LLN 150 mg/dL" in c.value for c in at.caption)
    at.switch_page(PAGE).run()
    assert widget(at, "ep_fibrinogen_lln").value == 150
    widget(at, "ep_reset").click().run()
    assert_clean(at)
    assert summary(at).startswith("Hypofibrinogenemia in 27 of 41")
    assert widget(at, "ep_fibrinogen_lln").value == 200


def test_invalid_setting_is_not_applied(app_test):
    at = app_test(PAGE)
    widget(at, "ep_dic_inr_moderate").set_value(2.0).run()      # above the strong cut-off
    assert not at.exception
    assert any("Not applied" in e.value and "swap" in e.value for e in at.error)
    assert summary(at).startswith("Hypofibrinogenemia in 27 of 41")


def test_sidebar_filter_reruns(app_test):
    at = app_test(PAGE)
    widget(at, "flt_crs_grade").set_value([1, 2]).run()
    assert_clean(at)
    assert summary(at).startswith("Hypofibrinogenemia in 23 of 33")
    per_patient = next(d.value for d in at.dataframe
                       if "hypofibrinogenemia_grade" in d.value.columns)
    assert len(per_patient) == 33


def test_window_and_baseline_mode(app_test):
    at = app_test(PAGE)
    widget(at, "ep_window_end").set_value(14.0).run()
    assert_clean(at)
    assert "never recovered" in summary(at)
    widget(at, "ep_abnormal_baseline").set_value("lln").run()
    assert_clean(at)


def test_upload_without_labs_shows_a_note(app_test):
    at = app_test(PAGE)
    upload(at, "p.csv", PATIENTS_ONLY.read_bytes())
    assert not at.exception
    assert not at.error
    assert any("no lab or treatment table" in i.value for i in at.info)


def test_a_settings_change_keeps_the_sidebar_filter(app_test):
    at = app_test(PAGE)
    widget(at, "flt_crs_grade").set_value([1, 2]).run()
    assert summary(at).endswith("n = 33")
    widget(at, "ep_fibrinogen_lln").set_value(150.0).run()
    assert_clean(at)
    assert widget(at, "flt_crs_grade").value == [1, 2]
    assert summary(at).endswith("n = 33")
