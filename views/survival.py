"""Survival page: Kaplan-Meier curves by group with numbers at risk, log-rank test, medians,
and a Cox model with the proportional-hazards check (the paper's Figure S1: PFS by
hypofibrinogenemia)."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from core.analyses import columns, competing, indicators, survival, time_varying
from core.charts.models import cif_figure, forest, km_figure
from core.codegen import PATIENTS, Call, Recipe
from core.notes import of_kind
from core.schema import label as col_label
from ui import session
from ui.figures import compute, show_chart, show_table
from ui.format import fmt_days, fmt_num, fmt_p, p_text, show_notes
from ui.guard import guard
from ui.widgets import threshold_picker

HYPOFIB, HYPOFIB3, NONE, THRESHOLD = "__hypofib__", "__hypofib3__", "__none__", "__threshold__"
OPS = (">=", ">", "<=", "<")
STEPS = [None, 30, 60, 90, 180, 365]


view = session.page("Survival")
df = view.patients

pairs = survival.endpoints(df)
if not pairs:
    st.warning("Survival needs a time and an event column, e.g. pfs_days with pfs_event "
               "(0 = censored, 1 = progression or death) or os_days with os_event. Add them "
               "to the patient table.")
    st.stop()

# ------------------------------------------------------------------ settings
c1, c2, c3 = st.columns([1, 2, 1])
endpoint = c1.selectbox("Endpoint", pairs, key="sv_endpoint",
                        format_func=lambda e: f"{e.label} ({e.time}, {e.event})")
has_hypofib = columns.has_values(df, "hypofibrinogenemia_grade")
group_columns = survival.group_options(df)
numeric = columns.threshold_columns(df)
group_choices = ([HYPOFIB, HYPOFIB3] if has_hypofib else []) + [NONE] + group_columns \
    + ([THRESHOLD] if numeric else [])
names = {HYPOFIB: "Hypofibrinogenemia yes/no (any grade)",
         HYPOFIB3: "Hypofibrinogenemia grade ≥ 3 yes/no", NONE: "— none (one curve) —",
         THRESHOLD: "A threshold on a number…"}
choice = c2.selectbox("Group by", group_choices, key="sv_group",
                      format_func=lambda c: names.get(c) or (
                          f"{col_label(c)} ({c})" if col_label(c) != c else c))
if choice == HYPOFIB:
    group: indicators.Predictor | None = indicators.HYPOFIB_GROUP
elif choice == HYPOFIB3:
    group = indicators.HYPOFIB_SEVERE
elif choice == NONE:
    group = None
elif choice == THRESHOLD:
    group = threshold_picker(df, numeric, key="sv", ops=OPS)
else:
    group = choice
step = c3.selectbox("At-risk table every", STEPS, key="sv_step",
                    format_func=lambda s: "auto" if s is None else f"{s} days")
l1, l2 = st.columns([1, 3])
use_landmark = l1.toggle("Landmark analysis", key="sv_landmark_on",
                         help="Only patients still followed at the landmark day L; time "
                              "counts from it. A grouping that happens after infusion "
                              "(hypofibrinogenemia, tocilizumab, steroids) becomes the status "
                              "at L (e.g. hypofibrinogenemia on or before day L), which avoids "
                              "immortal-time bias.")
landmark = None
if use_landmark:
    landmark = float(l2.number_input("Landmark (days after infusion)", min_value=0.0,
                                     value=30.0, step=1.0, key="sv_landmark"))

km_code = Recipe.of(result=Call(survival.survival_analysis, PATIENTS, endpoint.time,
                                endpoint.event, group, landmark, None, (), step))
with guard("Survival"):
    res = compute(km_code, view)

# ------------------------------------------------------------------ Kaplan-Meier
km = res.km
show_notes(res.notes)
group_name = f" by {res.group}" if res.group else ""
title = f"{endpoint.label}{group_name}" + (f" (landmark day {landmark:g})" if landmark else "")
st.subheader(title)
stat = [f"n = {km.n}", f"{km.events} events"]
if km.logrank is not None and not math.isnan(km.logrank.pvalue):
    stat.insert(0, f"Log-rank {p_text(km.logrank.pvalue)}"
                   + (f" (χ² = {km.logrank.statistic:.2f}, df = {km.logrank.df})"))
if km.n_dropped:
    stat.append(f"{km.n_dropped} left out for missing values")
time_label = "Days after landmark" if landmark else "Days after CAR-T infusion"
show_chart(km_figure(km, res.times, time_label=time_label),
           name=f"km-{endpoint.label.lower()}", title=title, stat=" · ".join(stat),
           code=km_code)
st.caption("Kaplan-Meier estimate with 95% CI (log-log); ticks mark censored patients; the "
           "table gives the numbers still at risk.")

med = km.medians
show_table(pd.DataFrame({
    "Group": med["group"], "n": med["n"], "Events": med["events"],
    "Median, days (95% CI)": [f"{fmt_days(m)} ({fmt_days(lo)}–{fmt_days(hi)})"
                              for m, lo, hi in med[["median", "ci_low", "ci_high"]]
                              .itertuples(index=False)]}),
    name=f"median-{endpoint.label.lower()}", title=f"Median {endpoint.label}{group_name}",
    code=km_code)
st.caption("NR: not reached (the curve or its confidence limit stays above 50%).")

if len(km.pairwise):
    st.markdown("**Pairwise log-rank tests** (Holm-adjusted)")
    pw = km.pairwise
    show_table(pd.DataFrame({"Group A": pw["group_a"], "Group B": pw["group_b"],
                             "χ²": pw["statistic"].map(lambda v: f"{v:.2f}"),
                             "p": pw["pvalue"].map(fmt_p),
                             "p (Holm)": pw["pvalue_holm"].map(fmt_p)}),
               name=f"pairwise-logrank-{endpoint.label.lower()}",
               title=f"Pairwise log-rank tests, {endpoint.label}{group_name}", code=km_code)

with st.expander("Survival estimates at the at-risk times"):
    ar = res.at_risk
    show_table(pd.DataFrame({
        "Group": ar["group"], "Day": ar["time"].map(lambda v: f"{v:g}"),
        "At risk": ar["at_risk"],
        "Survival": [("–" if pd.isna(v) else f"{v:.0%}") for v in ar["survival"]],
        "95% CI": [("–" if pd.isna(lo) else f"{lo:.0%}–{hi:.0%}")
                   for lo, hi in ar[["ci_low", "ci_high"]].itertuples(index=False)]}),
        name=f"survival-at-times-{endpoint.label.lower()}",
        title=f"{endpoint.label} estimates at the at-risk times", code=km_code)

# ------------------------------------------------------------------ Cox model


@st.fragment
def cox_section() -> None:
    """The Cox model of the chosen covariates with its PH check and forest plot (a fragment:
    choosing covariates reruns this panel only)."""
    st.subheader("Cox model")
    cov_options: list = []
    if isinstance(group, indicators.OutcomeSpec):
        cov_options.append(group.name)
    cov_options += [c for c in indicators.predictor_options(df)
                    if c not in (endpoint.time, endpoint.event) and c not in cov_options]
    default_cov = [res.group] if res.group in cov_options else []
    chosen = st.multiselect("Covariates", cov_options, default=default_cov, key="sv_covariates",
                            help="Entered together; hazard ratios per unit of a numeric covariate "
                                 "and versus the reference level of a categorical one.")
    if not chosen:
        st.caption("Choose covariates to fit a Cox proportional-hazards model.")
        return
    covariates = tuple(group if isinstance(group, indicators.OutcomeSpec) and c == group.name else c
                       for c in chosen)
    cox_code = Recipe.of(result=Call(survival.survival_analysis, PATIENTS, endpoint.time,
                                     endpoint.event, group, landmark, None, covariates, step))
    with guard("Cox model", scope="panel") as outcome:
        cres = compute(cox_code, view)
    if outcome.failed:
        return
    show_notes(of_kind(cres.notes, "cox", "ph"))
    if cres.cox is None:
        return
    cx = cres.cox
    left, right = st.columns([1, 1])
    with left:
        show_table(pd.DataFrame({
            "Term": cx.table["term"],
            "HR (95% CI)": [f"{fmt_num(h)} ({fmt_num(lo)}–{fmt_num(hi)})" for h, lo, hi in
                            cx.table[["hazard_ratio", "ci_low", "ci_high"]]
                            .itertuples(index=False)],
            "p": cx.table["pvalue"].map(fmt_p)}),
            name=f"cox-{endpoint.label.lower()}", title=f"Cox model, {endpoint.label}",
            code=cox_code)
        st.caption(f"Efron ties; Wald 95% CI and p · n = {cx.n}, {cx.events} events"
                   + (f", {cx.n_dropped} left out for missing values" if cx.n_dropped else "")
                   + f" · concordance {cx.concordance:.2f}")
        ph = cx.ph_test
        st.markdown("**Proportional-hazards check** (Schoenfeld residuals, `cox.zph`)")
        show_table(pd.DataFrame({
            "Term": ph["term"], "χ²": ph["chisq"].map(lambda v: f"{v:.2f}"), "df": ph["df"],
            "p": ph["pvalue"].map(fmt_p),
            "Note": ["PH doubtful (p < 0.05)" if p < 0.05 else "" for p in ph["pvalue"]]}),
            name=f"cox-ph-{endpoint.label.lower()}", title=f"PH test, {endpoint.label}",
            code=cox_code)
    with right:
        show_chart(forest(cx.table, estimate="hazard_ratio"),
                   name=f"cox-forest-{endpoint.label.lower()}",
                   title=f"Hazard ratios, {endpoint.label}",
                   stat=f"Cox (Efron) · Wald 95% CI · n = {cx.n} · events = {cx.events}",
                   code=cox_code)


cox_section()

# ------------------------------------------------------------------ time-varying exposure


@st.fragment
def time_varying_section(exposures: list) -> None:
    """Time-varying Cox of one exposure (a fragment: its selectbox reruns this panel only)."""
    st.subheader("Exposure as it happens (time-varying Cox)")
    st.caption("Each patient counts as unexposed until the day the exposure started and as "
               "exposed from then on, so nobody is credited with the time before it (no "
               "immortal-time bias).")
    exposure = st.selectbox("Exposure", exposures, key="sv_tv_exposure",
                            format_func=lambda e: indicators.name_of(e))
    tv_code = Recipe.of(result=Call(time_varying.time_varying_cox, PATIENTS, endpoint.time,
                                    endpoint.event, exposure))
    with guard("Time-varying Cox model", scope="panel"):
        tv = compute(tv_code, view)
        show_notes(tv.notes)
        if tv.cox is not None:
            tcx = tv.cox
            show_table(pd.DataFrame({
                "Term": tcx.table["term"] + f" (from {tv.exposure_day})",
                "HR (95% CI)": [f"{fmt_num(h)} ({fmt_num(lo)}–{fmt_num(hi)})" for h, lo, hi in
                                tcx.table[["hazard_ratio", "ci_low", "ci_high"]]
                                .itertuples(index=False)],
                "p": tcx.table["pvalue"].map(fmt_p)}),
                name=f"cox-time-varying-{endpoint.label.lower()}",
                title=f"Time-varying Cox model, {endpoint.label}", code=tv_code)
            ph_global = tcx.ph_test.set_index("term")["pvalue"].get("GLOBAL", float("nan"))
            st.caption(f"Start-stop rows (Efron ties; Wald 95% CI and p) · n = {tcx.n} "
                       f"patients in {len(tv.table)} rows, {tcx.events} events"
                       + ("" if pd.isna(ph_global)
                          else f" · PH test (cox.zph) {p_text(ph_global)}"))


exposures = [e for e in ([indicators.HYPOFIB_GROUP] if has_hypofib else [])
             + ["tocilizumab", "corticosteroids"]
             if e in df.columns or isinstance(e, indicators.OutcomeSpec)]
exposures = [e for e in exposures if survival.exposure_day(df, e)]
if exposures:
    time_varying_section(exposures)

# ------------------------------------------------------------------ competing risks


@st.fragment
def competing_section(questions: list) -> None:
    """Cumulative incidence with competing risks (a fragment: its own question and grouping
    rerun this panel only)."""
    st.subheader("Cumulative incidence with competing risks")
    q1, q2 = st.columns([2, 2])
    question = q1.selectbox("Question", questions, key="sv_cr_question",
                            format_func=lambda q: competing.COMPETING_QUESTIONS[q][0])
    cr_choices = [NONE] + [c for c in group_columns if c != "hypofibrinogenemia_grade"]
    preferred = "tocilizumab_doses" if question == "toci_to_onset" else "tocilizumab"
    default_cr = cr_choices.index(preferred) if preferred in cr_choices else 0
    cr_group = q2.selectbox("Group by", cr_choices, index=default_cr,
                            key=f"sv_cr_group_{question}",
                            format_func=lambda c: names.get(c) or (
                                f"{col_label(c)} ({c})" if col_label(c) != c else c))
    cr_code = Recipe.of(result=Call(competing.competing_analysis, PATIENTS, question,
                                    None if cr_group == NONE else cr_group, None, step))
    with guard("Cumulative incidence", scope="panel"):
        cr = compute(cr_code, view)
        show_notes(cr.notes)
        cif = cr.cif
        cr_title = cr.title + (f" by {cr.group}" if cr.group else "")
        cr_stat = [f"n = {cif.n}", f"{cif.events} {cr.event_label}",
                   f"{cif.competing} {cr.competing_label}"]
        if cif.gray is not None and not math.isnan(cif.gray.pvalue):
            cr_stat.insert(0, f"Gray's test {p_text(cif.gray.pvalue)} "
                              f"(χ² = {cif.gray.statistic:.2f}, df = {cif.gray.df})")
        show_chart(cif_figure(cif, cr.times, time_label="Days"),
                   name=f"cif-{question}", title=cr_title, stat=" · ".join(cr_stat),
                   code=cr_code)
        st.caption(f"Cumulative incidence of {cr.event_label} (Aalen-Johansen) with 95% CI "
                   f"(log-log), {cr.competing_label} as the competing event, which 1 − Kaplan-"
                   "Meier would wrongly treat as censoring; the table gives the numbers still "
                   "at risk. Gray's test compares the curves (R cmprsk::cuminc).")
        ca = cr.at_risk
        show_table(pd.DataFrame({
            "Group": ca["group"], "Day": ca["time"].map(lambda v: f"{v:g}"),
            "At risk": ca["at_risk"],
            "Cumulative incidence": [("–" if pd.isna(v) else f"{v:.0%}") for v in ca["cif"]],
            "95% CI": [("–" if pd.isna(lo) else f"{lo:.0%}–{hi:.0%}")
                       for lo, hi in ca[["ci_low", "ci_high"]].itertuples(index=False)]}),
            name=f"cif-at-times-{question}", title=f"{cr.title}: estimates at the at-risk times",
            code=cr_code)


questions = competing.competing_questions(df)
if questions:
    competing_section(questions)
