"""Risk factors page: univariable screen and multivariable logistic model for a binary outcome
(the paper's Table S3), with separation and events-per-variable guards."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.analyses import columns, indicators, risk_factors
from core.charts.models import forest
from core.codegen import PATIENTS, Call, Recipe
from core.schema import label as col_label
from ui import session
from ui.figures import compute, show_chart, show_code, show_table
from ui.format import fmt_ci, fmt_p, show_notes
from ui.guard import guard
from ui.widgets import threshold_picker

METHODS = {"auto": "Auto (Firth if separated)", "ml": "Ordinary ML", "firth": "Firth"}
CI_KIND = {"Wald": "Wald 95% CI", "profile likelihood": "profile-likelihood 95% CI"}
KIND_ANY, KIND_SEVERE, KIND_BINARY, KIND_THRESHOLD = "any", "severe", "binary", "threshold"


view = session.page("Risk factors")
df = view.patients

# ------------------------------------------------------------------ outcome
st.subheader("Outcome")
has_hypofib = columns.has_values(df, "hypofibrinogenemia_grade")
binary = columns.zero_one_columns(df)
numeric = columns.threshold_columns(df)
kinds = ([KIND_ANY, KIND_SEVERE] if has_hypofib else []) \
    + ([KIND_BINARY] if binary else []) + ([KIND_THRESHOLD] if numeric else [])
if not kinds:
    st.warning("The data hold no 0/1 or numeric column to use as an outcome. Upload a patient "
               "table with e.g. hypofibrinogenemia_grade.")
    st.stop()
kind = st.radio("Outcome", kinds, horizontal=True, key="rf_outcome_kind", format_func={
    KIND_ANY: "Hypofibrinogenemia, any grade", KIND_SEVERE: "Hypofibrinogenemia grade ≥ 3",
    KIND_BINARY: "A 0/1 column", KIND_THRESHOLD: "A threshold on a number"}.get)
if kind == KIND_ANY:
    spec = indicators.HYPOFIB_ANY
elif kind == KIND_SEVERE:
    spec = indicators.HYPOFIB_SEVERE
elif kind == KIND_BINARY:
    column = st.selectbox("0/1 column (1 = outcome)", binary, key="rf_binary",
                          format_func=lambda c: f"{col_label(c)} ({c})" if col_label(c) != c
                          else c)
    spec = indicators.OutcomeSpec(column)
else:
    spec = threshold_picker(df, numeric, key="rf", default="hypofibrinogenemia_grade")
st.caption((f"Outcome: **{spec.label}** — defined as `{spec.description}`" if spec.label
            else f"Outcome: `{spec.description}`") + "; patients with a missing value are "
           "left out.")

# ------------------------------------------------------------------ model settings
options = indicators.predictor_options(df, spec)
defaults = indicators.default_predictors(df, spec)
allowed = indicators.allowed_terms(df, spec)
paper_model = [p for p in indicators.PAPER_PREDICTORS if p in options]


def _use_paper_model() -> None:
    st.session_state["rf_predictors"] = paper_model


def _use_defaults() -> None:
    st.session_state["rf_predictors"] = defaults


if "rf_predictors" not in st.session_state:
    st.session_state["rf_predictors"] = defaults
st.session_state["rf_predictors"] = [p for p in st.session_state["rf_predictors"]
                                     if p in options]
predictors = st.multiselect(
    "Predictors", options, key="rf_predictors",
    help=f"Default: as many model terms as the events allow (about one per "
         f"{indicators.EVENTS_PER_PREDICTOR} patients in the smaller outcome group: "
         f"{allowed} here), taken in the order "
         f"{', '.join(indicators.PREDICTOR_PRIORITY)}. 'CD28 costimulation' is costimulation "
         "== CD28.")
b1, b2, _ = st.columns([2, 2, 3])
b1.button("Paper's model (Table S3)", key="rf_paper_model", on_click=_use_paper_model,
          disabled=not paper_model, width="stretch",
          help="The paper's 8 predictors: far more than its 14 non-events support.")
b2.button("What the events allow", key="rf_default_model", on_click=_use_defaults,
          width="stretch")
st.caption(f"The events allow about **{allowed}** model term{'s' if allowed != 1 else ''} "
           f"(min(events, non-events) / {indicators.EVENTS_PER_PREDICTOR}); the default "
           "predictors stay within that. More terms give biased, unstable odds ratios.")
has_crs = columns.has_values(df, indicators.CRS_CONFOUNDER)
adjust = st.checkbox(
    "Adjust for CRS grade", key="rf_adjust_crs", disabled=not has_crs,
    help="Tocilizumab is given because of CRS, and CRS itself lowers fibrinogen: CRS grade "
         "(0-4, one term) is a confounder of the tocilizumab effect."
         + ("" if has_crs else " No CRS grade in the data."))
if adjust and has_crs and indicators.CRS_CONFOUNDER not in predictors:
    predictors = [*predictors, indicators.CRS_CONFOUNDER]
c1, c2 = st.columns([2, 1])
method = c1.radio("Method", list(METHODS), horizontal=True, key="rf_method",
                  format_func=METHODS.get,
                  help="Auto fits ordinary maximum likelihood and switches to Firth's penalised "
                       "likelihood when the data separate.")
compare = c2.toggle("Compare Firth with ordinary ML", key="rf_compare")

recipe = Recipe.of(result=Call(risk_factors.risk_factor_analysis, PATIENTS, spec,
                               tuple(predictors), method, compare))
with guard("Risk factors"):
    res = compute(recipe, view)

show_notes(res.notes)
events_pct = f" ({res.events / res.n_outcome_known:.0%})" if res.n_outcome_known else ""
st.markdown(f"**{res.events} of {res.n_outcome_known}** patients with a known outcome have "
            f"{spec.name.lower()}{events_pct}"
            + (f"; {res.n_total - res.n_outcome_known} with the outcome missing."
               if res.n_total > res.n_outcome_known else "."))
show_code(recipe, key="rf-code")
if not len(res.univariable):
    st.stop()

# ------------------------------------------------------------------ multivariable model
model = res.model
st.subheader("Multivariable model")
if model is not None:
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Patients used", model.n)
    m2.metric("Dropped (missing values)", model.n_dropped)
    m3.metric("Events", model.events)
    m4.metric("Events per variable", f"{model.epv:.1f}")
    method_text = ("Firth's penalised likelihood" if model.method == "firth"
                   else "ordinary maximum likelihood")
    ci = CI_KIND[model.ci_method]
    table = model.table.iloc[1:]
    stat = (f"{method_text} · odds ratio with {ci} · n = {model.n} · events = {model.events}"
            + (" · separation" if model.separation else ""))
    left, right = st.columns([4, 3])
    with left:
        shown = pd.DataFrame({
            "Term": table["term"],
            f"OR ({ci})": [fmt_ci(*r) for r in table[["odds_ratio", "ci_low", "ci_high"]]
                            .itertuples(index=False)],
            "p": table["pvalue"].map(fmt_p)})
        show_table(shown, name="risk-factors-multivariable",
                   title=f"Multivariable logistic regression: {spec.name}", code=recipe)
        p_kind = "penalised likelihood-ratio p" if model.method == "firth" else "Wald p"
        st.caption(f"{method_text}; {ci}; {p_kind}. ORs are per unit of a numeric predictor "
                   "and versus the reference level of a categorical one.")
    with right:
        show_chart(forest(model.table), name="risk-factors-forest",
                   title=f"Odds ratios for {spec.name} (multivariable)", stat=stat,
                   code=recipe)

# ------------------------------------------------------------------ univariable screen
st.subheader("Univariable screen")
uni = res.univariable
shown = pd.DataFrame({
    "Term": uni["term"],
    "OR (95% CI)": [fmt_ci(*r) for r in uni[["odds_ratio", "ci_low", "ci_high"]]
                    .itertuples(index=False)],
    "p": uni["pvalue"].map(fmt_p),
    "n": uni["n"].map(lambda v: "–" if pd.isna(v) else f"{int(v)}"),
    "Method": [{"firth": "Firth", "ml": "ML"}.get(m, "–")
               + (" (separation)" if sep else "") for m, sep in zip(uni["method"],
                                                                  uni["separation"])],
    "Note": uni["note"]})
if not (uni["note"] != "").any():
    shown = shown.drop(columns="Note")
left, right = st.columns([4, 3])
with left:
    show_table(shown, name="risk-factors-univariable",
               title=f"Univariable logistic regressions: {spec.name}", code=recipe)
    st.caption("One model per predictor. ML rows: Wald CI and p; Firth rows (separated "
               "predictors with method auto, or all with Firth): profile-likelihood CI and "
               "penalised likelihood-ratio p.")
with right:
    ok = uni[uni["odds_ratio"].notna()]
    if len(ok):
        show_chart(forest(ok), name="risk-factors-univariable-forest",
                   title=f"Odds ratios for {spec.name} (univariable)",
                   stat=f"one model per predictor · n = {int(ok['n'].max())}", code=recipe)

# ------------------------------------------------------------------ ML vs Firth
if compare and res.comparison is not None:
    st.subheader("Firth versus ordinary maximum likelihood")
    cmp = res.comparison
    show_table(pd.DataFrame({
        "Term": cmp["term"],
        "ML OR (Wald 95% CI)": [fmt_ci(*r) for r in cmp[["or_ml", "ci_low_ml", "ci_high_ml"]]
                                .itertuples(index=False)],
        "ML p": cmp["pvalue_ml"].map(fmt_p),
        "Firth OR (profile 95% CI)": [fmt_ci(*r) for r in cmp[["or_firth", "ci_low_firth",
                                                               "ci_high_firth"]]
                                      .itertuples(index=False)],
        "Firth p": cmp["pvalue_firth"].map(fmt_p)}),
        name="risk-factors-ml-vs-firth", title=f"ML vs Firth: {spec.name}", code=recipe)
    st.caption("Under separation the ML odds ratios are where the optimiser stopped, not "
               "estimates (the true ML value is infinite); Firth's are finite. "
               + risk_factors.PAPER_OR_NOTE)
