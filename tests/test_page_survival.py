"""The Survival page through AppTest: PFS by hypofibrinogenemia on the demo cohort (the paper's
Figure S1), group/endpoint/landmark switches, the Cox model and edge cases."""

from __future__ import annotations

from conftest import assert_clean, widget

PAGE = "views/survival.py"


def stat_line(at) -> str:  # noqa: ANN001
    return next(c.value for c in at.caption if "events" in c.value and "n = " in c.value
                and c.value[0] in "Ln")


def frames(at) -> list:  # noqa: ANN001
    return [d.value for d in at.dataframe]


def test_renders_pfs_by_hypofibrinogenemia(app_test):
    at = app_test(PAGE)
    assert_clean(at)
    assert at.title[0].value == "Survival"
    assert any("synthetic demo cohort" in c.value for c in at.caption)
    # p and chi-square: a log-rank test written out by hand, tests/test_survival.py
    assert stat_line(at).startswith("Log-rank p = 0.35 (χ² = 0.89, df = 1) · n = 41 · 22 events")
    assert at.subheader[0].value == "PFS by Hypofibrinogenemia"
    medians = next(f for f in frames(at) if "Median, days (95% CI)" in f.columns)
    assert list(medians["Group"]) == ["Hypofibrinogenemia: no", "Hypofibrinogenemia: yes"]
    assert list(medians["n"]) == [14, 27]
    assert medians["Median, days (95% CI)"].iloc[0].startswith("NR")
    # default Cox model: the grouping as covariate, with its PH check
    assert widget(at, "sv_covariates").value == ["Hypofibrinogenemia"]
    cox = next(f for f in frames(at) if "HR (95% CI)" in f.columns)
    assert list(cox["Term"]) == ["Hypofibrinogenemia"]
    ph = next(f for f in frames(at) if "χ²" in f.columns and "Term" in f.columns)
    assert list(ph["Term"]) == ["Hypofibrinogenemia", "GLOBAL"]
    # KM + risk table, Cox forest, cumulative incidence + risk table
    assert len(at.get("vega_lite_chart")) == 3


def test_sidebar_filter_reruns_and_changes_n(app_test):
    at = app_test(PAGE)
    widget(at, "flt_crs_grade").set_value([1, 2]).run()
    assert_clean(at)
    assert " · n = 33 · " in stat_line(at)


def test_group_by_crs_grade_gives_pairwise_holm_table(app_test):
    at = app_test(PAGE)
    widget(at, "sv_group").set_value("crs_grade").run()
    assert_clean(at)
    assert "df = 4" in stat_line(at)
    pw = next(f for f in frames(at) if "p (Holm)" in f.columns)
    assert len(pw) == 10
    widget(at, "sv_group").set_value("__none__").run()
    assert_clean(at)
    assert stat_line(at).startswith("n = 41 · 22 events")      # one curve: no test


def test_endpoint_landmark_and_step(app_test):
    at = app_test(PAGE)
    widget(at, "sv_endpoint").set_value(widget(at, "sv_endpoint").options[1]).run()
    assert_clean(at)
    assert at.subheader[0].value == "OS by Hypofibrinogenemia"
    widget(at, "sv_landmark_on").set_value(True).run()
    widget(at, "sv_landmark").set_value(90.0).run()
    assert_clean(at)
    assert " · n = 41 · " not in stat_line(at)
    assert any("Landmark analysis at 90" in i.value for i in at.info)
    widget(at, "sv_step").set_value(180).run()
    assert_clean(at)
    times = next(f for f in frames(at) if "At risk" in f.columns)["Day"].unique()
    assert list(times)[:3] == ["0", "180", "360"]


def test_threshold_group_and_cox_covariates(app_test):
    at = app_test(PAGE)
    widget(at, "sv_group").set_value("__threshold__").run()
    widget(at, "sv_num_col").set_value("age").run()
    widget(at, "sv_threshold_age").set_value(70.0).run()
    assert_clean(at)
    assert at.subheader[0].value == "PFS by age ≥ 70"
    widget(at, "sv_covariates").set_value(["age ≥ 70", "tocilizumab"]).run()
    assert_clean(at)
    cox = next(f for f in frames(at) if "HR (95% CI)" in f.columns)
    assert list(cox["Term"]) == ["age ≥ 70", "tocilizumab"]


def test_edge_cases_show_messages_not_exceptions(app_test):
    at = app_test(PAGE)
    # CRS grade 0: three patients, none with hypofibrinogenemia -> one group, Cox impossible
    widget(at, "flt_crs_grade").set_value([0]).run()
    assert not at.exception
    assert any("Only one group" in i.value for i in at.info)
    assert any("Cox model could not be fitted" in w.value for w in at.warning)
    assert_clean(at)
    # a landmark after everyone's follow-up
    widget(at, "flt_crs_grade").set_value([]).run()
    widget(at, "sv_landmark_on").set_value(True).run()
    widget(at, "sv_landmark").set_value(5000.0).run()
    assert not at.exception
    # nobody left at the landmark: too few data, so information with what to do
    assert any("Choose an earlier landmark" in i.value for i in at.info)
    assert_clean(at)


def test_immortal_time_warning_and_landmark_by_status(app_test):
    at = app_test(PAGE)
    assert any("immortal-time bias" in w.value for w in at.warning)
    widget(at, "sv_landmark_on").set_value(True).run()
    widget(at, "sv_landmark").set_value(14.0).run()
    assert_clean(at)
    assert not any("immortal-time bias" in w.value for w in at.warning)
    assert any("Landmark analysis by status at day 14" in i.value for i in at.info)
    medians = next(f for f in frames(at) if "Median, days (95% CI)" in f.columns)
    assert list(medians["Group"]) == ["Hypofibrinogenemia by day 14: no",
                                      "Hypofibrinogenemia by day 14: yes"]


def test_time_varying_cox_and_cumulative_incidence_sections(app_test):
    at = app_test(PAGE)
    assert_clean(at)
    subheaders = [s.value for s in at.subheader]
    assert "Exposure as it happens (time-varying Cox)" in subheaders
    assert "Cumulative incidence with competing risks" in subheaders
    tv = next(f for f in frames(at) if "HR (95% CI)" in f.columns
              and f["Term"].str.contains("from hypofibrinogenemia_onset_day").any())
    assert len(tv) == 1
    assert any(c.value.startswith("Start-stop rows") and "n = 41 patients" in c.value
               for c in at.caption)
    # time to hypofibrinogenemia onset by tocilizumab, death competing: Gray's test
    assert widget(at, "sv_cr_group_hypofib_onset").value == "tocilizumab"
    assert any(c.value.startswith("Gray's test p < 0.001 (χ² = ") for c in at.caption)
    cif = next(f for f in frames(at) if "Cumulative incidence" in f.columns)
    assert set(cif["Group"]) == {"Tocilizumab given: no", "Tocilizumab given: yes"}
    widget(at, "sv_cr_question").set_value("toci_to_onset").run()
    assert_clean(at)
    assert widget(at, "sv_cr_group_toci_to_onset").value == "tocilizumab_doses"
    assert any("Among patients given tocilizumab" in i.value for i in at.info)
    widget(at, "sv_cr_question").set_value("fibrinogen_recovery").run()
    widget(at, "sv_cr_group_fibrinogen_recovery").set_value("__none__").run()
    assert_clean(at)
    assert any("Among patients with hypofibrinogenemia" in i.value for i in at.info)
