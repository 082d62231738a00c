"""core.outcomes: outcome definitions, the risk-factor analysis and the survival analysis on the
synthetic demo cohort (the paper's Table S3 and Figure S1), and their edge cases.

The statistics underneath (core.stats.logistic / kaplan_meier / cox) are validated against R in
test_stats_regression.py and test_stats_survival.py; here the reference numbers are the demo
cohort's, computed once with this code, so that a change in the data or the model is noticed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import loading, outcomes
from core.errors import ColumnError, InsufficientDataError
from core.filters import CohortFilter
from core.outcomes import HYPOFIB_ANY, HYPOFIB_SEVERE, OutcomeSpec
from core.store import CohortStore


@pytest.fixture(scope="module")
def demo() -> pd.DataFrame:
    """The demo patients as a page sees them (through the DuckDB store)."""
    store = CohortStore(loading.load_demo())
    try:
        yield store.patients(CohortFilter())
    finally:
        store.close()


@pytest.fixture(scope="module")
def paper_model(demo):  # noqa: ANN001, ANN201
    return outcomes.risk_factor_analysis(demo, HYPOFIB_ANY, outcomes.default_predictors(demo),
                                         compare=True)


# ------------------------------------------------------------------------------ OutcomeSpec

def test_threshold_outcomes_keep_missing_values_missing():
    df = pd.DataFrame({"g": pd.array([0, 1, 2, 3, 4, None], dtype="Int64")})
    any_grade = OutcomeSpec("g", ">=", 1).values(df)
    severe = OutcomeSpec("g", ">=", 3).values(df)
    assert any_grade.iloc[:5].tolist() == [0, 1, 1, 1, 1]
    assert severe.iloc[:5].tolist() == [0, 0, 0, 1, 1]
    assert np.isnan(any_grade.iloc[5]) and np.isnan(severe.iloc[5])
    assert OutcomeSpec("g", "<", 2).values(df).iloc[:5].tolist() == [1, 1, 0, 0, 0]
    assert OutcomeSpec("g", "==", 3).values(df).iloc[:5].tolist() == [0, 0, 0, 1, 0]


def test_binary_and_text_outcomes():
    df = pd.DataFrame({"b": [0, 1, None, 1], "c": ["CD28", "4-1BB", None, "CD28"]})
    assert OutcomeSpec("b").values(df).tolist()[:2] == [0, 1]
    assert np.isnan(OutcomeSpec("b").values(df).iloc[2])
    cd28 = OutcomeSpec("c", "==", "CD28", "CD28 costimulation").values(df)
    assert cd28.name == "CD28 costimulation"
    assert cd28.iloc[[0, 1, 3]].tolist() == [1, 0, 1] and np.isnan(cd28.iloc[2])
    assert OutcomeSpec("c", "!=", "CD28").values(df).iloc[[0, 1]].tolist() == [0, 1]


def test_outcome_labels_and_descriptions():
    assert HYPOFIB_ANY.description == "hypofibrinogenemia_grade ≥ 1"
    assert HYPOFIB_SEVERE.name == "Hypofibrinogenemia grade ≥ 3"
    assert OutcomeSpec("x", ">", 2.5).name == "x > 2.5"
    assert OutcomeSpec("tocilizumab").name == "tocilizumab"


def test_bad_outcome_definitions_say_what_to_do():
    df = pd.DataFrame({"g": [0, 1, 2], "t": ["a", "b", "c"]})
    with pytest.raises(ColumnError, match="threshold"):
        OutcomeSpec("g").values(df)
    with pytest.raises(ColumnError, match="numeric"):
        OutcomeSpec("t", ">=", 1).values(df)
    with pytest.raises(ColumnError, match="not in the data"):
        OutcomeSpec("nope", ">=", 1).values(df)
    with pytest.raises(ColumnError):
        OutcomeSpec("g", ">=")
    with pytest.raises(ColumnError):
        OutcomeSpec("t", ">=", "a")


# ------------------------------------------------------------------------- column choices

def test_column_choices_on_the_demo(demo):
    assert outcomes.default_predictors(demo) == list(outcomes.DEFAULT_PREDICTORS)
    assert {"tocilizumab", "bulky", "iec_hs", "pfs_event"} <= set(outcomes.binary_columns(demo))
    assert "hypofibrinogenemia_grade" in outcomes.numeric_columns(demo)
    opts = outcomes.predictor_options(demo, HYPOFIB_ANY)
    assert opts[:8] == list(outcomes.DEFAULT_PREDICTORS)
    assert "hypofibrinogenemia_grade" not in opts and "patient_id" not in opts
    assert [(e.time, e.event, e.label) for e in outcomes.endpoints(demo)] == [
        ("pfs_days", "pfs_event", "PFS"), ("os_days", "os_event", "OS")]
    groups = outcomes.group_options(demo)
    assert {"crs_grade", "tocilizumab", "product"} <= set(groups)
    assert "pfs_event" not in groups and "age" not in groups


def test_risk_times():
    assert outcomes.risk_times(926) == tuple(range(0, 901, 90))
    assert outcomes.risk_times(100)[:3] == (0, 14, 28)
    assert outcomes.risk_times(400, step=180) == (0, 180, 360)
    assert outcomes.risk_times(0) == (0,)


# --------------------------------------------------------------------- risk factors: demo

def test_demo_tocilizumab_separates_hypofibrinogenemia(demo):
    y = HYPOFIB_ANY.values(demo)
    tab = pd.crosstab(demo["tocilizumab"].astype(int), y.astype(int))
    assert tab.loc[1, 1] == 27 and tab.loc[1].sum() == 29
    assert tab.loc[0, 1] == 0 and tab.loc[0].sum() == 12


def test_paper_model_uses_firth_and_names_tocilizumab(paper_model):
    res = paper_model
    assert res.separation
    assert res.separating[0] == "tocilizumab"
    assert res.model.method == "firth" and res.model.ci_method == "profile likelihood"
    sep = res.notes_of("separation")
    assert len(sep) == 1 and sep[0].level == "warning"
    assert "tocilizumab" in sep[0].text and "Firth" in sep[0].text
    assert "27/29" in sep[0].text and "0/12" in sep[0].text
    toci = res.model.table.set_index("term").loc["tocilizumab"]
    assert np.isfinite(toci["odds_ratio"]) and toci["odds_ratio"] > 10
    # the demo's numbers, computed once (Firth, profile-likelihood CI): a change is a finding
    assert toci["odds_ratio"] == pytest.approx(346.2, rel=1e-3)
    assert toci["ci_low"] == pytest.approx(17.42, rel=1e-3)
    assert toci["pvalue"] < 1e-5
    assert (res.model.n, res.model.n_dropped, res.model.events) == (41, 0, 27)


def test_univariable_screen_has_a_row_per_default_predictor(paper_model):
    uni = paper_model.univariable
    assert list(dict.fromkeys(uni["predictor"])) == list(outcomes.DEFAULT_PREDICTORS)
    assert uni["odds_ratio"].notna().all() and (uni["note"] == "").all()
    toci = uni.set_index("predictor").loc["tocilizumab"]
    assert toci["method"] == "firth" and bool(toci["separation"])
    assert toci["odds_ratio"] == pytest.approx(275.0, rel=1e-3)   # (2*27+1)(2*12+1)/((2*2+1)*1)
    age = uni.set_index("predictor").loc["age"]
    assert age["method"] == "ml" and age["ci_method"] == "Wald" and not age["separation"]
    assert uni.set_index("predictor").loc["lymphodepletion", "term"] == \
        "lymphodepletion: Flu/Cy vs Benda"


def test_epv_warning_and_model_predictors(paper_model):
    epv = paper_model.notes_of("epv")
    assert len(epv) == 1 and "events per variable" in epv[0].text
    assert paper_model.model.epv == pytest.approx(14 / 8)
    assert paper_model.model_predictors == outcomes.DEFAULT_PREDICTORS


def test_firth_vs_ml_comparison_shows_the_separated_ml_estimate(paper_model):
    cmp = paper_model.comparison.set_index("term")
    assert list(cmp.index) == list(paper_model.model.table["term"].iloc[1:])
    assert cmp.loc["tocilizumab", "or_ml"] > 1e3           # where ML stopped: meaningless
    assert cmp.loc["tocilizumab", "or_firth"] == pytest.approx(346.2, rel=1e-3)


def test_explicit_ml_keeps_ml_and_says_the_estimate_is_meaningless(demo):
    res = outcomes.risk_factor_analysis(demo, HYPOFIB_ANY, ["tocilizumab", "age"], method="ml")
    assert res.model.method == "ml"
    text = res.notes_of("separation")[0].text
    assert "tocilizumab" in text and "ordinary ML" in text


def test_no_separation_no_warning(demo):
    res = outcomes.risk_factor_analysis(demo, HYPOFIB_ANY, ["age", "d_dimer_max"])
    assert not res.separation and not res.notes_of("separation")
    assert res.model.method == "ml" and res.model.ci_method == "Wald"
    assert len(res.notes_of("epv")) == 1      # 14 non-events / 2 terms = 7 < 10


def test_severe_outcome(demo):
    res = outcomes.risk_factor_analysis(demo, HYPOFIB_SEVERE, ["tocilizumab", "crs_grade"])
    assert res.events == 11
    assert res.model is not None and res.model.events == 11


# ------------------------------------------------------------------- risk factors: edges

def test_constant_predictor_is_reported_not_raised(demo):
    df = demo.assign(const=1)
    res = outcomes.risk_factor_analysis(df, HYPOFIB_ANY, ["age", "const"])
    row = res.univariable.set_index("predictor").loc["const"]
    assert np.isnan(row["odds_ratio"]) and "same value" in row["note"]
    assert any("const" in n.text for n in res.notes_of("dropped"))
    assert res.model_predictors == ("age",) and res.model is not None


def test_collinear_pair_drops_one_and_names_it(demo):
    df = demo.assign(age_months=demo["age"] * 12)
    res = outcomes.risk_factor_analysis(df, HYPOFIB_ANY, ["age", "age_months", "bulky"])
    dropped = res.notes_of("dropped")
    assert len(dropped) == 1 and "age_months" in dropped[0].text
    assert "collinear with 'age'" in dropped[0].text and "bulky" not in dropped[0].text
    assert res.model_predictors == ("age", "bulky") and res.model is not None
    assert set(res.univariable["predictor"]) == {"age", "age_months", "bulky"}


def test_no_events_gives_an_error_note(demo):
    untreated = demo[demo["tocilizumab"] == 0]
    res = outcomes.risk_factor_analysis(untreated, HYPOFIB_ANY, ["age", "bulky"])
    assert res.model is None and res.events == 0
    (note,) = res.notes_of("no_events")
    assert note.level == "error" and "Widen the filter" in note.text
    assert res.univariable.empty


def test_all_missing_outcome_and_predictor(demo):
    df = demo.assign(hypofibrinogenemia_grade=pd.array([None] * len(demo), dtype="Int64"))
    res = outcomes.risk_factor_analysis(df, HYPOFIB_ANY, ["age"])
    assert res.notes_of("no_data") and res.model is None
    res = outcomes.risk_factor_analysis(demo.assign(empty=np.nan), HYPOFIB_ANY,
                                        ["age", "empty"])
    assert res.model_predictors == ("age",)
    assert "No patient has values" in res.univariable.set_index("predictor").loc["empty",
                                                                                   "note"]


def test_fewer_patients_than_parameters(demo):
    few = demo.sort_values("patient_id").iloc[[0, 1, 2, 3, 5, 6]]
    res = outcomes.risk_factor_analysis(few, HYPOFIB_ANY, list(outcomes.DEFAULT_PREDICTORS))
    assert res.model is None
    assert any("fewer predictors" in n.text for n in res.notes if n.level == "error")


def test_predictor_that_defines_the_outcome_or_is_unknown(demo):
    res = outcomes.risk_factor_analysis(demo, HYPOFIB_ANY,
                                        ["hypofibrinogenemia_grade", "nope", "age"])
    texts = " ".join(n.text for n in res.notes_of("dropped"))
    assert "defines the outcome" in texts and "'nope' is not in the data" in texts
    assert res.predictors == ("age",)


def test_no_predictors(demo):
    res = outcomes.risk_factor_analysis(demo, HYPOFIB_ANY, [])
    assert res.notes_of("no_predictors") and res.model is None


def test_missing_values_are_counted(demo):
    df = demo.copy()
    df.loc[df.index[:3], "d_dimer_max"] = np.nan
    res = outcomes.risk_factor_analysis(df, HYPOFIB_ANY, ["age", "d_dimer_max"])
    assert (res.model.n, res.model.n_dropped) == (38, 3)
    assert "d_dimer_max" in res.notes_of("missing")[0].text
    assert res.missing.set_index("variable").loc["d_dimer_max", "n_missing"] == 3


# ------------------------------------------------------------------------------ survival

def test_pfs_by_hypofibrinogenemia_as_in_figure_s1(demo):
    res = outcomes.survival_analysis(demo)   # defaults: PFS, hypofibrinogenemia yes/no
    assert res.endpoint.label == "PFS" and res.group == "Hypofibrinogenemia"
    assert res.km.groups == ["Hypofibrinogenemia: no", "Hypofibrinogenemia: yes"]
    assert res.km.n == 41 and res.km.events == 22
    assert res.logrank_p > 0.05                         # the paper: p = 0.4
    assert round(res.logrank_p, 3) == 0.345             # the demo's value, computed once
    assert res.times == tuple(float(t) for t in range(0, 901, 90))
    first = res.at_risk[res.at_risk["time"] == 0].set_index("group")["at_risk"]
    assert first.to_dict() == {"Hypofibrinogenemia: no": 14, "Hypofibrinogenemia: yes": 27}
    assert res.cox is None


def test_landmark_reduces_n_and_shifts_time(demo):
    full = outcomes.survival_analysis(demo)
    lm = outcomes.survival_analysis(demo, landmark=90)
    assert lm.km.n < full.km.n
    assert lm.km.n == int((demo["pfs_days"] >= 90).sum())
    assert lm.notes_of("landmark")
    assert lm.km.curves["time"].max() == demo["pfs_days"].max() - 90
    with pytest.raises(InsufficientDataError):
        outcomes.survival_analysis(demo, landmark=10_000)
    with pytest.raises(ColumnError):
        outcomes.survival_analysis(demo, landmark=-1)


def test_group_by_column_none_and_os(demo):
    crs = outcomes.survival_analysis(demo, group_spec="crs_grade")
    assert crs.km.groups == [f"crs_grade = {g}" for g in range(5)]
    assert len(crs.km.pairwise) == 10 and crs.km.pairwise["pvalue_holm"].notna().any()
    one = outcomes.survival_analysis(demo, "os_days", "os_event", group_spec=None, step=180)
    assert one.km.logrank is None and one.endpoint.label == "OS"
    assert one.times == (0.0, 180.0, 360.0, 540.0, 720.0, 900.0)


def test_cox_with_the_derived_group_and_a_column(demo):
    res = outcomes.survival_analysis(demo, covariates=[outcomes.HYPOFIB_GROUP, "age"])
    assert list(res.cox.table["term"]) == ["Hypofibrinogenemia", "age"]
    assert res.cox.n == 41 and res.cox.events == 22
    assert list(res.cox.ph_test["term"]) == ["Hypofibrinogenemia", "age", "GLOBAL"]
    hr = res.cox.table.set_index("term").loc["Hypofibrinogenemia", "hazard_ratio"]
    assert 0.5 < hr < 5


def test_cox_that_cannot_be_fitted_is_a_note(demo):
    res = outcomes.survival_analysis(demo.assign(const=1), covariates=["const"])
    assert res.cox is None and res.km.n == 41
    (note,) = res.notes_of("cox")
    assert note.level == "error" and "const" in note.text


def test_ph_violation_is_noted():
    rng = np.random.default_rng(1)
    n = 200
    x = np.r_[np.zeros(n // 2), np.ones(n // 2)]
    # crossing hazards: group 1 dies early or survives long
    t = np.where(x == 1, np.where(rng.random(n) < 0.5, rng.exponential(10, n),
                                  rng.exponential(400, n)), rng.exponential(80, n))
    df = pd.DataFrame({"t_days": t, "t_event": 1, "x": x})
    res = outcomes.survival_analysis(df, "t_days", "t_event", group_spec="x",
                                     covariates=["x"])
    ph = res.notes_of("ph")
    assert ph and "x" in ph[0].text


# ------------------------------------------------------------------------- figure builders

def test_outcome_figures_fit_the_page_and_keep_long_labels(demo):
    from core.charts.models import LABEL_LIMIT, forest, km_figure

    res = outcomes.survival_analysis(demo)
    spec = km_figure(res.km, res.times, time_label="Days").to_dict()
    assert spec["autosize"] == {"type": "fit-x", "contains": "padding"}
    plot, table = spec["vconcat"]
    colors = [layer["encoding"]["color"] for layer in plot["layer"]]
    assert all(c["scale"] == {"scheme": "tableau10"} for c in colors)
    assert all(c["legend"]["labelLimit"] == LABEL_LIMIT for c in colors)
    assert table["encoding"]["y"]["axis"]["labelLimit"] == LABEL_LIMIT
    assert table["encoding"]["y"]["axis"]["offset"] == 16       # the builder's own settings kept
    model = outcomes.risk_factor_analysis(demo, HYPOFIB_ANY, ["age", "bulky", "cci"]).model
    f3 = forest(model.table).to_dict()
    f1 = forest(model.table.iloc[:2]).to_dict()
    assert f3["height"] > f1["height"]
    assert f3["layer"][1]["encoding"]["y"]["axis"]["labelOverlap"] is False
