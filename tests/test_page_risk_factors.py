"""The Risk factors page through AppTest: the default model the events allow and the paper's
model on the demo cohort, the separation, events-per-variable, post-exposure and confounding
warnings, filter/method/outcome changes and edge cases."""

from __future__ import annotations

from conftest import assert_clean, widget

PAGE = "views/risk_factors.py"


def metric(at, label: str) -> str:  # noqa: ANN001
    return next(str(m.value) for m in at.metric if m.label == label)


def warnings(at) -> str:  # noqa: ANN001
    return " ".join(w.value for w in at.warning)


def frames(at) -> list:  # noqa: ANN001
    return [d.value for d in at.dataframe]


def test_renders_the_default_model_with_the_separation_warning(app_test):
    at = app_test(PAGE)
    assert_clean(at)
    assert at.title[0].value == "Risk factors"
    assert any("synthetic demo cohort" in c.value for c in at.caption)
    # 14 non-events allow one term: tocilizumab alone, and the page says so
    assert widget(at, "rf_predictors").value == ["tocilizumab"]
    assert any("allow about **1** model term" in c.value for c in at.caption)
    sep = next(w.value for w in at.warning if w.value.startswith("Separation"))
    assert "tocilizumab" in sep and "Firth" in sep
    # the paper's OR = 486 is not "what separation looks like": glm cannot give it
    assert "infinite" in sep and "cannot come from glm()" in sep and "486" in sep
    assert "what that looks like" not in sep
    assert "events per variable" not in warnings(at)          # 14 per term
    assert any("confounding by indication" in i.value for i in at.info)
    assert metric(at, "Patients used") == "41"
    assert metric(at, "Events") == "27"
    multi = next(f for f in frames(at) if "OR (profile-likelihood 95% CI)" in f.columns)
    toci = multi.set_index("Term").loc["tocilizumab"]
    # Firth on 27/29 vs 0/12: (27.5/2.5) / (0.5/12.5) = 275 (tests/test_risk_factors.py)
    assert toci["OR (profile-likelihood 95% CI)"].startswith("275 (24.5")
    assert toci["p"] == "< 0.001"
    assert len(at.get("vega_lite_chart")) == 2      # two forest plots


def test_the_papers_model_is_one_click_away(app_test):
    at = app_test(PAGE)
    widget(at, "rf_paper_model").click().run()
    assert_clean(at)
    assert len(widget(at, "rf_predictors").value) == 8
    assert "events per variable" in warnings(at)
    post = next(w.value for w in at.warning if "measured after the exposure" in w.value)
    assert "'d_dimer_max'" in post and "'che_min'" in post
    multi = next(f for f in frames(at) if "OR (profile-likelihood 95% CI)" in f.columns)
    toci = multi.set_index("Term").loc["tocilizumab"]
    # a regression pin; Firth by scipy.optimize beside it (tests/test_risk_factors.py)
    assert toci["OR (profile-likelihood 95% CI)"].startswith("346 (17.4")
    uni = next(f for f in frames(at) if "Method" in f.columns)
    assert len(uni) == 8
    assert uni.set_index("Term").loc["tocilizumab", "Method"] == "Firth (separation)"
    assert uni.set_index("Term").loc["age", "Method"] == "ML"
    widget(at, "rf_default_model").click().run()
    assert widget(at, "rf_predictors").value == ["tocilizumab"]


def test_adjust_for_crs_grade(app_test):
    at = app_test(PAGE)
    widget(at, "rf_adjust_crs").check().run()
    assert_clean(at)
    multi = next(f for f in frames(at) if "OR (profile-likelihood 95% CI)" in f.columns)
    assert list(multi["Term"]) == ["tocilizumab", "crs_grade"]
    assert not any("confounding by indication" in i.value for i in at.info)
    assert "events per variable" in warnings(at)                # 14 / 2 = 7


def test_sidebar_filter_reruns_and_changes_n(app_test):
    at = app_test(PAGE)
    widget(at, "flt_crs_grade").set_value([1, 2]).run()
    assert_clean(at)
    assert metric(at, "Patients used") == "33"
    assert any(c.value.startswith("CRS 1-2 · n = 33") for c in at.caption)


def test_switching_method_and_comparison(app_test):
    at = app_test(PAGE)
    widget(at, "rf_method").set_value("ml").run()
    assert_clean(at)
    assert "You chose ordinary ML" in warnings(at)
    assert any("OR (Wald 95% CI)" in f.columns for f in frames(at))
    widget(at, "rf_method").set_value("firth").run()
    assert_clean(at)
    assert any("OR (profile-likelihood 95% CI)" in f.columns for f in frames(at))
    widget(at, "rf_compare").set_value(True).run()
    assert_clean(at)
    cmp = next(f for f in frames(at) if "ML OR (Wald 95% CI)" in f.columns)
    assert "Firth OR (profile 95% CI)" in cmp.columns and len(cmp) == 1
    assert any("cannot come from glm()" in c.value for c in at.caption)


def test_switching_outcome(app_test):
    at = app_test(PAGE)
    widget(at, "rf_outcome_kind").set_value("severe").run()
    assert_clean(at)
    assert metric(at, "Events") == "11"
    widget(at, "rf_outcome_kind").set_value("binary").run()
    widget(at, "rf_binary").set_value("corticosteroids").run()
    assert_clean(at)
    assert metric(at, "Events") == "14"
    widget(at, "rf_outcome_kind").set_value("threshold").run()
    widget(at, "rf_num_col").set_value("crs_grade").run()
    widget(at, "rf_threshold_crs_grade").set_value(3.0).run()
    assert_clean(at)
    assert metric(at, "Events") == "5"
    assert any("crs_grade ≥ 3" in c.value for c in at.caption)


def test_no_events_shows_a_message_not_an_exception(app_test):
    at = app_test(PAGE)
    widget(at, "flt_crs_grade").set_value([0]).run()
    assert not at.exception
    # too few data is a warning that says what to do, not an error box
    assert_clean(at)
    assert "No patient has the outcome" in warnings(at) and "Widen the filter" in warnings(at)


def test_predictor_edge_cases_show_messages(app_test):
    at = app_test(PAGE)
    widget(at, "rf_predictors").set_value([]).run()
    assert not at.exception
    assert "at least one predictor" in warnings(at)
    # costimulation is fixed by the product (axi-cel, brexu-cel: CD28): collinear
    widget(at, "rf_predictors").set_value(["age", "product", "CD28 costimulation"]).run()
    assert not at.exception
    assert "'CD28 costimulation' is collinear with 'product'" in warnings(at)
    assert metric(at, "Patients used") == "41"          # the model ran without it
    # fewer patients than parameters
    widget(at, "flt_crs_grade").set_value([3, 4]).run()
    widget(at, "rf_predictors").set_value(list(widget(at, "rf_predictors").options[:8])).run()
    assert not at.exception
    assert "only 5 usable patients. Use fewer predictors" in warnings(at)
    assert_clean(at)
    assert "'tocilizumab' was left out" in warnings(at)     # constant: all 5 treated
