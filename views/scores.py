"""Risk scores page: CAR-HEMATOTOX, EASIX and m-EASIX from the baseline labs by CRS and ICANS
grade (issue 14). Filter-aware: every panel is computed on the patients in view (box
statistics in DuckDB, points capped)."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from core.analyses import columns
from core.analyses import scores as sc
from core.analyses.common import POOL_CRS_34
from core.charts.dose import fit_width
from core.charts.scores import HEMATOTOX_LINE, score_boxplot
from core.codegen import FLT, STORE, Call, Recipe
from core.endpoints.scores import KORELL, PENNISI, REJESKI
from ui import session
from ui.figures import compute, show_chart, show_table
from ui.format import p_text
from ui.guard import guard

MIN_N = 3
GRADE_LABEL = {"crs_grade": "CRS grade", "icans_grade": "ICANS grade"}

view = session.page("Risk scores", min_n=MIN_N, needs="a score by grade")
df = view.patients
ld_day = session.endpoint_settings().window_lymphodepletion_day

present = [s for s in sc.SCORES if s in df.columns and df[s].notna().any()]
grades = [g for g in sc.GRADES if g in df.columns and df[g].notna().any()]
if not present:
    st.warning("No risk score could be computed: the lab table needs ANC, haemoglobin, "
               "platelets, CRP and ferritin (CAR-HEMATOTOX) or LDH, creatinine/CRP and "
               "platelets (EASIX, m-EASIX) on or before day 0.")
    st.stop()
if not grades:
    st.warning("The patient table needs crs_grade or icans_grade to compare the scores.")
    st.stop()

c1, c2 = st.columns([2, 6])
pool = c1.toggle("Pool CRS 3-4", key="rs_pool", help="The paper calls grades 3 and 4 "
                 "'high-grade CRS'.")
c2.caption(
    f"Baseline: the last value on or before the lymphodepletion day (day {ld_day:g}, set on "
    "the Endpoints page), else on or before day 0 (said per patient). CAR-HEMATOTOX 0-7, "
    f"high risk ≥ 2 ({REJESKI}). EASIX = LDH × creatinine / platelets ({KORELL}); m-EASIX = "
    f"LDH × CRP / platelets ({PENNISI}); both on a log2 axis. Boxes: Tukey; test: "
    "Kruskal-Wallis (Mann-Whitney for two groups), Dunn post hoc with Holm.")


def draw_panel(score: str, grade: str) -> None:
    """One boxplot of ``score`` by ``grade`` with its test and notes."""
    group_label = GRADE_LABEL[grade]
    title = f"{columns.label(score)} by {group_label}"
    recipe = Recipe.of(result=Call(sc.score_panel, STORE, FLT, score, grade,
                                    pool=POOL_CRS_34 if pool and grade == "crs_grade" else None))
    with guard(title, scope="panel") as outcome:
        gp = compute(recipe, view)
    if outcome.failed:
        return
    chart = score_boxplot(gp.box, gp.points, value_label=columns.label(score),
                          group_label=group_label, log2=score in sc.LOG2_SCORES,
                          ref_lines=[HEMATOTOX_LINE] if score == "car_hematotox" else None,
                          title=title)
    res = gp.comparison
    stat = [f"n = {gp.n}"]
    if res is not None and not math.isnan(res.pvalue):
        stat.insert(0, f"{res.test} {p_text(res.pvalue)}")
    if gp.sampled:
        stat.append(f"{len(gp.points)} of {gp.n} points drawn")
    show_chart(fit_width(chart), name=f"{score}-by-{grade}", title=title, stat=" · ".join(stat),
               code=recipe)
    for n in gp.notes:
        st.caption(("⚠ " if n.level == "warning" else "") + n.text)


def draw_risk_groups(grade: str) -> None:
    """CAR-HEMATOTOX low / high by ``grade`` with the contingency test."""
    title = f"CAR-HEMATOTOX risk group by {GRADE_LABEL[grade]}"
    recipe = Recipe.of(result=Call(sc.risk_groups, STORE, FLT, grade))
    with guard(title, scope="panel") as outcome:
        rg = compute(recipe, view)
    if outcome.failed:
        return
    t = rg.table
    shown = pd.DataFrame({GRADE_LABEL[grade]: t["grade"], "Low (0-1)": t["low"],
                          "High (≥ 2)": t["high"], "n": t["n"],
                          "High %": t["high_pct"].map(lambda v: f"{v:.0f}")})
    st.markdown(f"**{title}**")
    show_table(shown, name=f"hematotox-risk-by-{grade}", title=title, code=recipe)
    if rg.test is not None:
        st.caption(f"{'Fisher exact' if rg.test.test == 'fisher' else 'Chi-square'} test "
                   f"{p_text(rg.test.pvalue)} · n = {rg.test.n}"
                   + (f" · {rg.n_missing} without score or grade" if rg.n_missing else ""))


for grade in grades:
    st.subheader(GRADE_LABEL[grade])
    for col, score in zip(st.columns(len(present)), present):
        with col:
            draw_panel(score, grade)

if "car_hematotox_high" in df.columns and df["car_hematotox_high"].notna().any():
    st.subheader("CAR-HEMATOTOX risk groups")
    for col, grade in zip(st.columns(len(grades)), grades):
        with col:
            draw_risk_groups(grade)

if {"score_baseline_rule", "score_missing"} <= set(df.columns):
    with st.expander("Baselines used and components missing"):
        recipe = Recipe.of(result=Call(sc.baseline_summary, STORE, FLT))
        with guard("Baselines", scope="panel") as outcome:
            summary = compute(recipe, view)
        if not outcome.failed:
            show_table(summary.rename(columns={"what": "", "value": "Value",
                                               "n": "Patients"}),
                       name="risk-score-baselines", title="Risk score baselines", code=recipe)
            st.caption("A score is empty (not 0) when one of its components has no value on "
                       "or before day 0.")
