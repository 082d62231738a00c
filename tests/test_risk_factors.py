"""core.analyses.risk_factors: the risk-factor analysis on the synthetic demo cohort (the
paper's Table S3) and its edge cases.

The statistics underneath (core.stats.logistic) are validated against R in
test_stats_regression.py. The demo's own numbers are this code's output, kept as
regression pins (``..._regression_pin``), each with an independent check beside it (Firth's
penalised likelihood maximised here with scipy.optimize, its profile-likelihood limit by root
finding).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize
from scipy import stats as sps

from core.analyses import indicators, risk_factors
from core.analyses.indicators import HYPOFIB_ANY, HYPOFIB_SEVERE


@pytest.fixture(scope="module")
def paper_model(demo):  # noqa: ANN001, ANN201
    return risk_factors.risk_factor_analysis(demo, HYPOFIB_ANY,
                                             list(indicators.PAPER_PREDICTORS), compare=True)


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
    assert toci["pvalue"] < 1e-5
    assert (res.model.n, res.model.n_dropped, res.model.events) == (41, 0, 27)


def test_paper_model_tocilizumab_regression_pin(paper_model):
    """The demo's numbers as this code gives them (Firth, profile-likelihood CI): a
    change is a finding. Independent check: :func:`test_firth_by_scipy_optimize`."""
    toci = paper_model.model.table.set_index("term").loc["tocilizumab"]
    assert toci["odds_ratio"] == pytest.approx(346.2, rel=1e-3)
    assert toci["ci_low"] == pytest.approx(17.42, rel=1e-3)


def _design(df: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, list[str]]:
    """[1, X] with numbers as they are and text treatment-coded against the first level in
    sorted order (written here with pandas, not with the app's design_matrix)."""
    parts, names = [np.ones(len(df))], ["(Intercept)"]
    for c in columns:
        s = df[c]
        if pd.api.types.is_numeric_dtype(s):
            parts.append(s.to_numpy(float))
            names.append(c)
            continue
        levels = sorted(s.astype(str).unique())
        for level in levels[1:]:
            parts.append((s.astype(str) == level).to_numpy(float))
            names.append(f"{c}: {level} vs {levels[0]}")
    return np.column_stack(parts), names


def _penalised_loglik(beta: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    """Firth's penalised log-likelihood l(b) + log|X'WX| / 2 of a logistic model."""
    eta = X @ beta
    p = 1 / (1 + np.exp(-eta))
    loglik = float(np.sum(y * eta - np.logaddexp(0, eta)))
    _, logdet = np.linalg.slogdet(X.T @ (X * (p * (1 - p))[:, None]))
    return loglik + 0.5 * logdet


def test_firth_by_scipy_optimize(demo):
    """The paper model's tocilizumab odds ratio maximised with scipy.optimize on a design
    made with pandas, and the lower profile-likelihood limit: the value of the coefficient
    where twice the drop of the maximised penalised log-likelihood is chi2(1) 0.95."""
    cols = ["tocilizumab", "age", "bulky", "CD28 costimulation", "d_dimer_max", "che_min",
            "lymphodepletion", "cci"]
    df = demo.assign(**{"CD28 costimulation": (demo["costimulation"] == "CD28").astype(float)})
    df = df.assign(y=(df["hypofibrinogenemia_grade"] >= 1).astype(float))
    df = df.dropna(subset=["y", *cols])
    X, names = _design(df, cols)
    y = df["y"].to_numpy()
    j = names.index("tocilizumab")

    def fit(fixed: float | None = None) -> tuple[np.ndarray, float]:
        free = [k for k in range(X.shape[1]) if fixed is None or k != j]

        def beta_of(b: np.ndarray) -> np.ndarray:
            full = np.zeros(X.shape[1])
            full[free] = b
            if fixed is not None:
                full[j] = fixed
            return full

        with np.errstate(all="ignore"):  # exp() overflows on the way out, harmlessly
            res = optimize.minimize(lambda b: -_penalised_loglik(beta_of(b), X, y),
                                    np.zeros(len(free)), method="BFGS",
                                    options={"gtol": 1e-9, "maxiter": 10_000})
        return beta_of(res.x), -float(res.fun)

    beta, top = fit()
    assert np.exp(beta[j]) == pytest.approx(346.2, rel=2e-3)
    limit = sps.chi2.ppf(0.95, 1) / 2
    low = optimize.brentq(lambda b: top - fit(b)[1] - limit, 0.0, beta[j], xtol=1e-8)
    assert np.exp(low) == pytest.approx(17.42, rel=2e-3)


def test_univariable_screen_has_a_row_per_default_predictor(paper_model):
    uni = paper_model.univariable
    assert list(dict.fromkeys(uni["predictor"])) == list(indicators.PAPER_PREDICTORS)
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
    assert paper_model.model_predictors == indicators.PAPER_PREDICTORS


def test_firth_vs_ml_comparison_shows_the_separated_ml_estimate(paper_model):
    cmp = paper_model.comparison.set_index("term")
    assert list(cmp.index) == list(paper_model.model.table["term"].iloc[1:])
    assert cmp.loc["tocilizumab", "or_ml"] > 1e3           # where ML stopped: meaningless
    assert cmp.loc["tocilizumab", "or_firth"] == pytest.approx(346.2, rel=1e-3)


def test_explicit_ml_keeps_ml_and_says_the_estimate_is_meaningless(demo):
    res = risk_factors.risk_factor_analysis(demo, HYPOFIB_ANY, ["tocilizumab", "age"], method="ml")
    assert res.model.method == "ml"
    text = res.notes_of("separation")[0].text
    assert "tocilizumab" in text and "ordinary ML" in text


def test_no_separation_no_warning(demo):
    res = risk_factors.risk_factor_analysis(demo, HYPOFIB_ANY, ["age", "d_dimer_max"])
    assert not res.separation and not res.notes_of("separation")
    assert res.model.method == "ml" and res.model.ci_method == "Wald"
    assert len(res.notes_of("epv")) == 1      # 14 non-events / 2 terms = 7 < 10


def test_severe_outcome(demo):
    res = risk_factors.risk_factor_analysis(demo, HYPOFIB_SEVERE, ["tocilizumab", "crs_grade"])
    assert res.events == 11
    assert res.model is not None and res.model.events == 11


# ------------------------------------------------------------------- risk factors: edges

def test_constant_predictor_is_reported_not_raised(demo):
    df = demo.assign(const=1)
    res = risk_factors.risk_factor_analysis(df, HYPOFIB_ANY, ["age", "const"])
    row = res.univariable.set_index("predictor").loc["const"]
    assert np.isnan(row["odds_ratio"]) and "same value" in row["note"]
    assert any("const" in n.text for n in res.notes_of("dropped"))
    assert res.model_predictors == ("age",) and res.model is not None


def test_collinear_pair_drops_one_and_names_it(demo):
    df = demo.assign(age_months=demo["age"] * 12)
    res = risk_factors.risk_factor_analysis(df, HYPOFIB_ANY, ["age", "age_months", "bulky"])
    dropped = res.notes_of("dropped")
    assert len(dropped) == 1 and "age_months" in dropped[0].text
    assert "collinear with 'age'" in dropped[0].text and "bulky" not in dropped[0].text
    assert res.model_predictors == ("age", "bulky") and res.model is not None
    assert set(res.univariable["predictor"]) == {"age", "age_months", "bulky"}


def test_no_events_gives_an_error_note(demo):
    untreated = demo[demo["tocilizumab"] == 0]
    res = risk_factors.risk_factor_analysis(untreated, HYPOFIB_ANY, ["age", "bulky"])
    assert res.model is None and res.events == 0
    (note,) = res.notes_of("no_events")
    assert note.level == "error" and "Widen the filter" in note.text
    assert res.univariable.empty


def test_all_missing_outcome_and_predictor(demo):
    df = demo.assign(hypofibrinogenemia_grade=pd.array([None] * len(demo), dtype="Int64"))
    res = risk_factors.risk_factor_analysis(df, HYPOFIB_ANY, ["age"])
    assert res.notes_of("no_data") and res.model is None
    res = risk_factors.risk_factor_analysis(demo.assign(empty=np.nan), HYPOFIB_ANY,
                                        ["age", "empty"])
    assert res.model_predictors == ("age",)
    assert "No patient has values" in res.univariable.set_index("predictor").loc["empty",
                                                                                   "note"]


def test_fewer_patients_than_parameters(demo):
    few = demo.sort_values("patient_id").iloc[[0, 1, 2, 3, 5, 6]]
    res = risk_factors.risk_factor_analysis(few, HYPOFIB_ANY, list(indicators.PAPER_PREDICTORS))
    assert res.model is None
    assert any("fewer predictors" in n.text for n in res.notes if n.level == "error")


def test_predictor_that_defines_the_outcome_or_is_unknown(demo):
    res = risk_factors.risk_factor_analysis(demo, HYPOFIB_ANY,
                                        ["hypofibrinogenemia_grade", "nope", "age"])
    texts = " ".join(n.text for n in res.notes_of("dropped"))
    assert "defines the outcome" in texts and "'nope' is not in the data" in texts
    assert res.predictors == ("age",)


def test_no_predictors(demo):
    res = risk_factors.risk_factor_analysis(demo, HYPOFIB_ANY, [])
    assert res.notes_of("no_predictors") and res.model is None


def test_missing_values_are_counted(demo):
    df = demo.copy()
    df.loc[df.index[:3], "d_dimer_max"] = np.nan
    res = risk_factors.risk_factor_analysis(df, HYPOFIB_ANY, ["age", "d_dimer_max"])
    assert (res.model.n, res.model.n_dropped) == (38, 3)
    assert "d_dimer_max" in res.notes_of("missing")[0].text
    assert res.missing.set_index("variable").loc["d_dimer_max", "n_missing"] == 3


# --------------------------------------------------------------------- issue 11: honest model

def _paper_counts() -> pd.DataFrame:
    """Hypofibrinogenemia in 27/29 treated and 0/12 untreated patients (the paper's counts)."""
    return pd.DataFrame({"tocilizumab": [1] * 29 + [0] * 12,
                         "hypofibrinogenemia_grade": [2] * 27 + [0] * 2 + [0] * 12})


def test_the_papers_or_cannot_come_from_glm_on_its_counts():
    # R 4.2: d <- data.frame(toci = rep(1:0, c(29, 12)), y = rep(c(1, 0, 0), c(27, 2, 12)))
    #        f <- glm(y ~ toci, binomial, d)  # converged = TRUE after 18 iterations, no warning
    #        coef 22.16876, SE 3104.416, Wald p 0.9943023, exp(coef) 4.243941e9
    d = _paper_counts()
    ml = risk_factors.risk_factor_analysis(d, HYPOFIB_ANY, ["tocilizumab"], method="ml")
    toci = ml.model.table.set_index("term").loc["tocilizumab"]
    assert ml.separation and toci["odds_ratio"] > 1e9 and toci["pvalue"] > 0.99
    text = ml.notes_of("separation")[0].text
    assert "27/29 patients with tocilizumab = 1 had the outcome vs 0/12" in text
    assert "infinite" in text and "cannot come from glm()" in text and "486" in text
    assert "what that looks like" not in text
    # Firth on a 2x2 table: (27.5 / 2.5) / (0.5 / 12.5) = 275
    auto = risk_factors.risk_factor_analysis(d, HYPOFIB_ANY, ["tocilizumab"])
    assert auto.model.table.set_index("term").loc["tocilizumab", "odds_ratio"] == \
        pytest.approx(275.0, rel=1e-6)


@pytest.mark.parametrize(("events", "non_events", "expected"), [
    (27, 14, ["tocilizumab"]),                          # 14 // 10 = 1 term
    (5, 3, ["tocilizumab"]),                            # at least 1
    (30, 25, ["tocilizumab", "age"]),                   # 2 terms
    (40, 40, ["tocilizumab", "age", "cci", "bulky"]),   # 4 terms
])
def test_default_predictors_follow_the_events(events, non_events, expected):  # noqa: ANN001
    n = events + non_events
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"hypofibrinogenemia_grade": [1] * events + [0] * non_events,
                       "tocilizumab": rng.integers(0, 2, n), "age": rng.normal(65, 9, n),
                       "cci": rng.integers(0, 5, n), "bulky": rng.integers(0, 2, n),
                       "d_dimer_max": rng.lognormal(1, 1, n)})
    assert indicators.allowed_terms(df, HYPOFIB_ANY) == max(1, min(events, non_events) // 10)
    assert indicators.default_predictors(df, HYPOFIB_ANY) == expected


def test_a_categorical_predictor_counts_its_levels(demo):
    # lymphodepletion has 2+ levels; with a budget of 6 terms and the priority order
    # tocilizumab, age, cci, bulky, CD28 costimulation, lymphodepletion (k - 1 terms) ...
    df = pd.concat([demo] * 4, ignore_index=True)      # 108 events, 56 non-events: 5 terms
    assert indicators.allowed_terms(df, HYPOFIB_ANY) == 5
    chosen = indicators.default_predictors(df, HYPOFIB_ANY)
    assert chosen == ["tocilizumab", "age", "cci", "bulky", "CD28 costimulation"]


def test_default_model_on_the_demo_has_no_epv_warning(demo):
    res = risk_factors.risk_factor_analysis(demo, HYPOFIB_ANY,
                                            indicators.default_predictors(demo))
    assert res.model_predictors == ("tocilizumab",) and not res.notes_of("epv")
    assert res.model.epv == 14


@pytest.mark.parametrize(("column", "late"), [
    ("fibrinogen_nadir", True), ("d_dimer_max", True), ("che_min", True),
    ("hypofibrinogenemia_onset_day", True), ("dic_score_max", True), ("iec_hs", True),
    ("icans_grade", True), ("age", False), ("fibrinogen_baseline", False), ("cci", False),
    ("crs_grade", False), ("tocilizumab", False),
])
def test_post_exposure_columns(column, late):  # noqa: ANN001
    assert indicators.post_exposure(column) is late


def test_post_exposure_and_confounding_notes(demo):
    res = risk_factors.risk_factor_analysis(demo, HYPOFIB_ANY,
                                            ["tocilizumab", "d_dimer_max", "age"])
    post = res.notes_of("post_exposure")
    assert len(post) == 1 and post[0].level == "warning"
    assert "'d_dimer_max'" in post[0].text and "'age'" not in post[0].text
    conf = res.notes_of("confounding")
    assert len(conf) == 1 and "CRS grade" in conf[0].text
    adjusted = risk_factors.risk_factor_analysis(demo, HYPOFIB_ANY, ["tocilizumab", "crs_grade"])
    assert not adjusted.notes_of("confounding") and not adjusted.notes_of("post_exposure")
    assert adjusted.model_predictors == ("tocilizumab", "crs_grade")
    clean = risk_factors.risk_factor_analysis(demo, HYPOFIB_ANY, ["age", "cci"])
    assert not clean.notes_of("post_exposure") and not clean.notes_of("confounding")
