"""Tocilizumab page: the dose-response of hypofibrinogenemia (the paper's Figure 3 and S3) on
the loaded cohort, each panel with its statistic."""

from __future__ import annotations

import math

import streamlit as st

from core.analyses import columns, tocilizumab
from core.analyses.common import POOL_CRS_34
from core.charts.dose import fit_width, grade_by_doses, split_boxplot
from core.charts.groups import scatter
from core.codegen import PATIENTS, Call, Recipe
from ui import session
from ui.figures import compute, show_chart, show_code
from ui.format import p_text
from ui.guard import guard

METHODS = {"spearman": "Spearman", "pearson": "Pearson"}
MIN_N = 4
NEEDED = ("tocilizumab", "fibrinogen_nadir")


view = session.page("Tocilizumab", min_n=MIN_N, needs="each dose-response panel")
lln = session.endpoint_settings().fibrinogen_lln  # CTCAE lines at the session's LLN
DF = Call(columns.only, PATIENTS, tocilizumab.DOSE_COLUMNS)  # the panels' input, in code
df = columns.only(view.patients, tocilizumab.DOSE_COLUMNS)
missing = [c for c in NEEDED if c not in df.columns or not df[c].notna().any()]
if missing:
    st.warning(f"This page needs values in the column(s) {', '.join(missing)} (plus "
               "tocilizumab_doses, tocilizumab_cum_mg, hypofibrinogenemia_grade for the dose "
               "panels); no patient in view has one.")
    st.stop()

c1, c2, c3 = st.columns([2, 2, 3])
method = c1.radio("Correlation", list(METHODS), key="tz_method", format_func=METHODS.get,
                  horizontal=True, help="Spearman (the default) suits counts, grades and skewed "
                  "durations; both are in each panel's tooltip line.")
pool = c2.toggle("Pool CRS 3-4 in 3A", value=True, key="tz_pool")
treated_only = c3.toggle("3B and S3A: tocilizumab-treated only", key="tz_treated",
                         help="The paper's r = -0.44 with P = 0.004 implies all 41 patients "
                              "(untreated counted as 0 mg); switch on to leave them out.")


def dose_chart(panel_id: str) -> None:
    spec = tocilizumab.DOSE_PANELS[panel_id]
    title = f"{panel_id}. {spec.title}"
    recipe = Recipe.of(result=Call(tocilizumab.dose_panel, DF, panel_id, method=method,
                                   treated_only=treated_only))
    with guard(title, scope="panel") as outcome:
        dp = compute(recipe, view)
    if outcome.failed:
        return
    res, other = dp.result, (dp.panel.pearson if method == "spearman" else dp.panel.spearman)
    stat = (f"{METHODS[res.method]} r = {res.r:.2f} (95% CI {res.ci_low:.2f} to "
            f"{res.ci_high:.2f}), {p_text(res.pvalue)} · n = {res.n} · "
            f"{METHODS[other.method]} r = {other.r:.2f}, {p_text(other.pvalue)}")
    chart = scatter(dp.panel.points, spec.x, spec.y, x_label=columns.label(spec.x),
                    y_label=columns.label(spec.y), title=title, height=280)
    show_chart(fit_width(chart), name=f"fig{panel_id.lower()}", title=title, stat=stat,
               code=recipe)
    note = spec.note
    if treated_only and spec.subset == "all":
        note = "Tocilizumab-treated patients only (switch above)."
    st.caption(note + (f" {dp.n_eligible - res.n} without both values left out."
                       if dp.n_eligible > res.n else "") + f" 95% CI: {res.ci_method}.")


def crs12_line(crs: tocilizumab.Crs12Comparison) -> str:
    """The paper's CRS 1-2 sentence on this cohort: nadir and hypofibrinogenemia by arm."""
    s = crs.nadir.summary.set_index("group")
    if not {0, 1} <= set(s.index):
        return ("**CRS 1-2, tocilizumab vs none:** needs CRS 1-2 patients both with and "
                "without tocilizumab (coded 1 and 0) in view.")
    line = (f"**CRS 1-2, tocilizumab vs none:** nadir median {s.loc[1, 'median']:.0f} vs "
            f"{s.loc[0, 'median']:.0f} mg/dL (n = {s.loc[1, 'n']} vs {s.loc[0, 'n']}), "
            f"{crs.nadir.test} {p_text(crs.nadir.pvalue)}")
    hyp = crs.hypofibrinogenemia
    if hyp is not None and 1 in hyp.table.index and set(hyp.table.columns) >= {0, 1}:
        t = hyp.table
        line += (f"; hypofibrinogenemia {t.loc[1, 1]}/{t[1].sum()} vs {t.loc[1, 0]}/"
                 f"{t[0].sum()}, {'Fisher' if hyp.test == 'fisher' else 'χ²'} "
                 f"{p_text(hyp.pvalue)}")
    return line + ". Paper: P < 0.001."


def figure_3a() -> None:
    """Figure 3A: nadir by CRS grade in each arm, and the CRS 1-2 comparison under it."""
    title = "3A. Fibrinogen nadir by CRS grade and tocilizumab"
    recipe = Recipe.of(result=Call(tocilizumab.tocilizumab_box_panel, DF,
                                   pool=POOL_CRS_34 if pool else None))
    with guard(title, scope="panel"):
        tb = compute(recipe, view)
        stat = [f"{name}: across CRS {r.test} {p_text(r.pvalue)} (n = {r.n})"
                for arm, name in (("yes", "tocilizumab"), ("no", "no tocilizumab"))
                if (r := tb.by_arm.get(arm)) is not None and not math.isnan(r.pvalue)]
        show_chart(fit_width(split_boxplot(tb.box, tb.points, value_label=columns.label(
            "fibrinogen_nadir"), group_label="CRS grade",
            ref_lines=columns.reference_lines("fibrinogen_nadir", lln), height=280, title=title)),
            name="fig3a", title=title, stat=" · ".join(stat + [f"n = {tb.n}"]), code=recipe)
        for n in tb.notes:
            st.caption(f"⚠ {n.text}")
    with guard("CRS 1-2, tocilizumab vs none", scope="panel"):
        crs12 = Recipe.of(result=Call(tocilizumab.crs12_tocilizumab, DF))
        crs = compute(crs12, view)
        st.markdown(crs12_line(crs))
        show_code(crs12, key="tz-crs12-code")
        for n in crs.notes:
            st.caption(f"⚠ CRS 1-2, tocilizumab vs none: {n.text}")


def figure_3d() -> None:
    """Figure 3D: hypofibrinogenemia grade by number of doses, Kruskal-Wallis."""
    title = "3D. Hypofibrinogenemia grade by number of tocilizumab doses"
    recipe = Recipe.of(result=Call(tocilizumab.grade_by_doses, DF))
    with guard(title, scope="panel"):
        gd = compute(recipe, view)
        mean = gd.summary
        means = ", ".join(f"{int(d)}: {m:.1f}" for d, m in zip(mean["doses"], mean["mean_grade"]))
        show_chart(fit_width(grade_by_doses(gd.counts, title=title, height=280)), name="fig3d",
                   title=title, stat=f"{gd.comparison.test} {p_text(gd.comparison.pvalue)} · "
                   f"n = {gd.n} · mean grade by doses {means}", code=recipe)
        for n in gd.notes:
            st.caption(f"⚠ Doses: {n.text}")


# ------------------------------------------------------------------ Figure 3
st.subheader("Figure 3")
left, right = st.columns(2)
with left:
    figure_3a()
with right:
    dose_chart("3B")
left, right = st.columns(2)
with left:
    dose_chart("3C")
with right:
    figure_3d()

# ------------------------------------------------------------------ Figure S3
st.subheader("Figure S3")
cols = st.columns(3)
for col, pid in zip(cols, ("S3A", "S3B", "S3C")):
    with col:
        dose_chart(pid)
st.caption("Recovery: the first of the consecutive values ≥ LLN that end the last episode "
           "(sustained; a value soon after fibrinogen concentrate, cryoprecipitate or FFP does "
           "not count alone; settings on the Endpoints page). Patients who had not recovered by "
           "their last lab (censored) are left out of 3C and S3B, as the paper's n = 21 implies.")
