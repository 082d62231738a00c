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
        "Hypofibrinogenemia in 27 of 41 patients with fibrinogen measured (66%); 11 grade ≥ 3; "
        "onset a median of 6 (2–27) days after the first tocilizumab dose; recovery median "
        "day 44 (9–181) among the resolved, 6 of 27 never recovered; Kaplan-Meier median day "
        "of recovery 52 (95% CI 38–82); IEC-HS 4 (laboratory screen); DIC score ≥ 5 in 15 "
        "· n = 41")
    m = metrics(at)
    assert m["Hypofibrinogenemia"] == "27 (66%)" and m["Grade ≥ 3"] == "11 (27%)"
    assert m["Onset, days after 1st tocilizumab"] == "6 (2–27)"
    assert m["Recovery among the resolved, median day (range)"] == "44 (9–181)"
    assert m["Recovery, Kaplan-Meier median day"] == "52 (95% CI 38–82)"
    assert m["IEC-HS (laboratory screen)"] == "4"
    assert m["DIC score ≥ 5"] == "15" and m["DIC maximum on < 4 components"] == "0"
    assert m["Fibrinogen measured"] == "41 of 41"
    captions = " ".join(c.value for c in at.caption)
    assert "Incidences divide by the 41 patients in whom fibrinogen was measured" in captions
    assert "laboratory screen only" in captions
    assert any("runs high after CAR-T" in i.value and "lymphodepletion" in i.value
               for i in at.info)
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
    assert summary(at).startswith("Hypofibrinogenemia in 20 of 41 patients with fibrinogen "
                                  "measured (49%); 7 grade ≥ 3")
    assert any("differ from the derived ones" in w.value for w in at.warning)
    # the new setting reaches the other pages: the time course draws the new grade lines
    at.switch_page("views/time_course.py").run()
    assert_clean(at)
    assert any("LLN 150 mg/dL" in c.value for c in at.caption)
    at.switch_page(PAGE).run()
    assert widget(at, "ep_fibrinogen_lln").value == 150
    widget(at, "ep_reset").click().run()
    assert_clean(at)
    assert summary(at).startswith("Hypofibrinogenemia in 27 of 41 patients")
    assert widget(at, "ep_fibrinogen_lln").value == 200


def test_invalid_setting_is_not_applied(app_test):
    at = app_test(PAGE)
    widget(at, "ep_dic_inr_moderate").set_value(2.0).run()      # above the strong cut-off
    assert not at.exception
    assert any("Not applied" in e.value and "swap" in e.value for e in at.error)
    assert summary(at).startswith("Hypofibrinogenemia in 27 of 41 patients")


def test_sidebar_filter_reruns(app_test):
    at = app_test(PAGE)
    widget(at, "flt_crs_grade").set_value([1, 2]).run()
    assert_clean(at)
    assert summary(at).startswith("Hypofibrinogenemia in 23 of 33 patients")
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


UP_PATIENTS = b"""patient_id,crs_grade,hypofibrinogenemia_grade,fibrinogen_nadir
P1,2,1,
P2,1,,
P3,0,0,250
"""
UP_LABS = b"""patient_id,day,analyte,value,unit
P1,0,fibrinogen,300,mg/dL
P1,5,fibrinogen,90,mg/dL
P1,9,fibrinogen,210,mg/dL
P1,12,fibrinogen,230,mg/dL
P2,0,fibrinogen,280,mg/dL
P2,4,fibrinogen,180,mg/dL
"""


def test_uploaded_grade_wins_until_the_user_picks_derived(app_test):
    # P1: uploaded grade 1 (adjudicated), derived 3 (nadir 90 < 100); P2: blank -> derived 1
    at = app_test(PAGE)
    upload(at, "p.csv", UP_PATIENTS)
    upload(at, "l.csv", UP_LABS, slot=1)
    assert_clean(at)
    assert any("differ from the derived ones" in w.value for w in at.warning)
    dis = next(d.value for d in at.dataframe if "uploaded" in d.value.columns)
    assert dis[["patient_id", "column"]].values.tolist() == [["P1", "hypofibrinogenemia_grade"]]
    # the uploaded 1 wins: P1 and P2 grade >= 1, none grade >= 3; P3 has no fibrinogen lab
    # but an uploaded grade 0 (the centre measured it): 2 of 3
    assert summary(at).startswith("Hypofibrinogenemia in 2 of 3 patients with fibrinogen "
                                  "measured (67%); 0 grade ≥ 3")
    choice = widget(at, "ep_derived_wins")
    assert choice.options == ["fibrinogen_nadir", "hypofibrinogenemia_grade"]
    choice.set_value(["hypofibrinogenemia_grade"]).run()
    assert_clean(at)
    assert summary(at).startswith("Hypofibrinogenemia in 2 of 3 patients with fibrinogen "
                                  "measured (67%); 1 grade ≥ 3")


def test_iec_hs_is_tied_to_crs_timing_when_the_upload_has_it(app_test):
    patients = b"""patient_id,crs_grade,crs_onset_day,crs_resolution_day
P,2,1,4
"""
    lab = b"""patient_id,day,analyte,value,unit
P,0,fibrinogen,300,mg/dL
P,5,fibrinogen,150,mg/dL
P,12,fibrinogen,250,mg/dL
P,14,fibrinogen,260,mg/dL
P,6,ferritin,1000,ng/mL
P,8,alt,300,U/L
"""
    at = app_test(PAGE)
    upload(at, "p.csv", patients)
    upload(at, "l.csv", lab, slot=1)
    assert_clean(at)
    # fibrinogen < LLN day 5, ferritin > 2 x ULN day 6, ALT > 5 x ULN day 8, after CRS resolved
    # on day 4: IEC-HS, tied to CRS timing
    assert metrics(at)["IEC-HS (CRS timing)"] == "1"
    assert any(c.value.startswith("IEC-HS (Hines 2023): CRS timing") for c in at.caption)
