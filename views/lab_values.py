"""Lab values page: Tukey boxplots of lab values by group with Kruskal-Wallis and Dunn-Holm
(the paper's Figures 1 and 2). Box statistics come from DuckDB; points are capped."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from core import schema
from core.analyses import columns, lab_values
from core.analyses.common import POOL_CRS_34
from core.charts.dose import fit_width
from core.charts.groups import boxplot
from core.codegen import FLT, STORE, Call, Recipe
from ui import session
from ui.figures import compute, show_chart, show_table
from ui.format import fmt_p, p_text
from ui.guard import guard

PER_ROW = 3
MIN_N = 3


name_of = columns.label


def _preset(preset: tuple[str, ...]) -> None:
    st.session_state["lv_values"] = [c for c in preset
                                     if c in st.session_state.get("_lv_options", [])]


view = session.page("Lab values", min_n=MIN_N, needs="a boxplot with its test")
lln = session.endpoint_settings().fibrinogen_lln  # CTCAE lines at the session's LLN
df = view.patients

numeric = columns.value_columns(df)
groups = columns.group_columns(df)
st.session_state["_lv_options"] = numeric
if not numeric or not groups:
    st.warning("The patient table needs a numeric lab column and a grouping column (e.g. "
               "d_dimer_max and crs_grade).")
    st.stop()
if "lv_values" not in st.session_state:
    st.session_state["lv_values"] = [c for c in lab_values.FIGURE_1 if c in numeric] or numeric[:1]
st.session_state["lv_values"] = [c for c in st.session_state["lv_values"] if c in numeric]

c1, c2, c3 = st.columns([4, 2, 2])
values = c1.multiselect("Lab values", numeric, key="lv_values", format_func=name_of)
group = c2.selectbox("Group by", groups, key="lv_group", format_func=name_of,
                     index=groups.index("crs_grade") if "crs_grade" in groups else 0)
with c3:
    st.write("")
    b1, b2 = st.columns(2)
    b1.button("Figure 1", key="lv_fig1", on_click=_preset, args=(lab_values.FIGURE_1,),
              help="Fibrinogen, D-dimer, platelets, INR, PTT (coagulation)", width="stretch")
    b2.button("Figure 2", key="lv_fig2", on_click=_preset, args=(lab_values.FIGURE_2,),
              help="gGT, ALT, CHE, albumin (liver)", width="stretch")
o1, o2, o3 = st.columns([2, 2, 4])
pool = False
if group == "crs_grade":
    pool = o1.toggle("Pool CRS 3-4", key="lv_pool",
                     help="The paper calls grades 3 and 4 'high-grade CRS'.")
log = o2.toggle("Log axis for skewed values", value=True, key="lv_log",
                help="D-dimer, gGT, ALT, AST, ferritin, CRP, IL-6 (flagged in the schema).")
fib = schema.ANALYTES["fibrinogen"]
o3.caption(f"Dashed lines on fibrinogen: CTCAE v5 grade limits at 1.0 / 0.75 / 0.5 / 0.25 × "
           f"LLN, LLN = {fib.lln:g} {fib.unit} ({fib.source}). Boxes: Tukey (whiskers 1.5 IQR); "
           "test: Kruskal-Wallis (Mann-Whitney for two groups), Dunn post hoc with Holm.")

if not values:
    st.info("Choose one or more lab values above (or press Figure 1 / Figure 2).")
    st.stop()

pool_map = POOL_CRS_34 if pool else None
group_label = "CRS grade" if group == "crs_grade" else name_of(group)


def draw_panel(value: str) -> None:
    """One boxplot of ``value`` by the chosen group, its test, notes and Dunn table."""
    title = f"{name_of(value)} by {group_label}"
    recipe = Recipe.of(result=Call(lab_values.group_panel, STORE, FLT, value, group,
                                    pool=pool_map))
    with guard(title, scope="panel") as outcome:
        gp = compute(recipe, view)
    if outcome.failed:
        return
    chart = boxplot(gp.box, gp.points, value_label=name_of(value), group_label=group_label,
                    log_scale=log and columns.log_scale_default(value),
                    ref_lines=columns.reference_lines(value, lln), step=56, height=280, title=title)
    res = gp.comparison
    stat = [f"n = {gp.n}"]
    if res is not None and not math.isnan(res.pvalue):
        stat.insert(0, f"{res.test} {p_text(res.pvalue)}")
    if gp.sampled:
        stat.append(f"{len(gp.points)} of {gp.n} points drawn")
    show_chart(fit_width(chart), name=f"{value}-by-{group}", title=title, stat=" · ".join(stat),
               code=recipe)
    for n in gp.notes:
        st.caption(("⚠ " if n.level == "warning" else "") + n.text)
    if res is not None and len(res.posthoc):
        with st.expander("Dunn post hoc (Holm)"):
            ph = res.posthoc
            show_table(pd.DataFrame({
                "Groups": [f"{a} vs {b}" for a, b in zip(ph["group_a"], ph["group_b"])],
                "z": ph["z"].map(lambda v: f"{v:.2f}"), "p": ph["pvalue"].map(fmt_p),
                "p (Holm)": ph["pvalue_holm"].map(fmt_p)}),
                name=f"dunn-{value}-by-{group}", title=f"Dunn post hoc: {title}")


for start in range(0, len(values), PER_ROW):
    for col, value in zip(st.columns(PER_ROW), values[start:start + PER_ROW]):
        with col:
            draw_panel(value)
