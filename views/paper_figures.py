"""Paper figures page: Figures 1A-F, 2A-D and 3A-D of Perl et al. (Haematologica 2024) redrawn
on the loaded cohort, each with the paper's statistic next to this cohort's, and a table that
judges every finding by this cohort's 95% CI against the paper's value."""

from __future__ import annotations

import math

import altair as alt
import pandas as pd
import streamlit as st

from core.analyses import columns, correlations, lab_values, tocilizumab
from core.analyses import paper_figures as paper
from core.analyses.common import POOL_CRS_34
from core.charts.dose import fit_width, grade_by_doses, split_boxplot
from core.charts.groups import boxplot, scatter
from core.codegen import FLT, PATIENTS, STORE, Call, Recipe
from ui import session
from ui.figures import compute, show_chart, show_table
from ui.format import p_text
from ui.guard import guard

PER_ROW = 3
MIN_N = 4
VERDICT = {"consistent": "✓ consistent", "stronger": "↑ stronger", "weaker": "↓ weaker",
           "opposite": "✗ opposite", "inconclusive": "? inconclusive",
           "not testable": "– not testable"}
FIGURES = {
    "Figure 1 · Coagulation by CRS grade": ("1A", "1B", "1C", "1D", "1E", "1F"),
    "Figure 2 · Liver by CRS grade": ("2A", "2B", "2C", "2D"),
    "Figure 3 · Tocilizumab": ("3A", "3B", "3C", "3D"),
}


def verdict_text(row: pd.Series) -> str:
    """E.g. "↑ stronger (95% CI -0.89 to -0.67 excludes r = -0.44, farther from 0)"."""
    text = VERDICT[row["verdict"]]
    if row["scale"] == "direction":
        text += " (direction only)"
    return text


def cohort_text(row: pd.Series) -> str:
    if row["verdict"] == "not testable" and math.isnan(row["computed_p"]):
        return f"This cohort: not testable ({row['note']})"
    parts = []
    if not math.isnan(row["computed_r"]):
        parts.append(f"r = {row['computed_r']:.2f}")
    parts.append(p_text(row["computed_p"]))
    parts.append(f"n = {row['n']}")
    return f"This cohort: {', '.join(parts)} · {verdict_text(row)}: {row['reason']}"


def panel_call(fid: str) -> Call:
    """The core call behind the chart of one paper panel."""
    f = paper.BY_ID[fid]
    if fid == "3A":
        return Call(tocilizumab.tocilizumab_box_panel, DF, pool=POOL_CRS_34)
    if fid == "3D":
        return Call(tocilizumab.grade_by_doses, DF)
    if f.kind == "correlate":
        if fid in tocilizumab.DOSE_PANELS:
            return Call(tocilizumab.dose_panel, DF, fid)
        return Call(correlations.correlation_panel, DF, *f.columns)
    value, group = f.columns
    return Call(lab_values.group_panel, STORE, FLT, value, group)


def figure(fid: str, title: str) -> tuple[alt.TopLevelMixin, str]:
    """The chart of one paper panel on this cohort, and a note on its test ("" if none)."""
    f = paper.BY_ID[fid]
    result = compute(Recipe.of(panel=panel_call(fid)), view)
    if fid == "3A":
        tb = result
        return split_boxplot(tb.box, tb.points, value_label=columns.label("fibrinogen_nadir"),
                             group_label="CRS grade", height=240, step=70,
                             ref_lines=columns.reference_lines("fibrinogen_nadir", lln),
                             title=title), " · test: CRS 1-2, tocilizumab vs none (Mann-Whitney)"
    if fid == "3D":
        return grade_by_doses(result.counts, height=240, title=title), ""
    if f.kind == "correlate":
        cp = result.panel if fid in tocilizumab.DOSE_PANELS else result
        x, y = f.columns
        return scatter(cp.points, x, y, x_label=columns.label(x), y_label=columns.label(y),
                       title=title, height=240), ""
    value, group = f.columns
    gp = result
    return boxplot(gp.box, gp.points, value_label=columns.label(value), group_label="CRS grade",
                   log_scale=columns.log_scale_default(value),
                   ref_lines=columns.reference_lines(value, lln), height=240, step=44,
                   title=title), ""


def draw(fid: str, row: pd.Series) -> None:
    """One panel with the paper's statistic and this cohort's under it."""
    f = paper.BY_ID[fid]
    title = f"{fid}. {f.description}"
    stat = f"Paper: {f.paper_text} · {cohort_text(row)}"
    with guard(title, scope="panel") as outcome:
        chart, test_note = figure(fid, title)
    if outcome.failed:
        st.caption(stat)
        return
    show_chart(fit_width(chart), name=f"paper-fig{fid.lower()}", title=title,
               stat=stat + test_note,
               code=Recipe.of(panel=panel_call(fid), findings=FINDINGS))


view = session.page("Paper figures", min_n=0)
lln = session.endpoint_settings().fibrinogen_lln  # CTCAE lines at the session's LLN
st.markdown("Perl et al., *Tocilizumab administration in cytokine release syndrome is "
            "associated with hypofibrinogenemia after CAR T-cell therapy*, Haematologica 2024, "
            "redrawn on this cohort. Under each panel: the paper's statistic and this cohort's, "
            "judged by **this cohort's 95% CI against the paper's value** — not by p on the "
            "same side of 0.05, which any cohort with a CRS gradient has.")
with st.expander("How findings are judged"):
    st.markdown(
        "- **Correlations** (1C, 3B, 3C, S3A-C; the paper printed r): **consistent** when the "
        "CI of this cohort's Spearman r contains the paper's r; **stronger** / **weaker** when "
        "it excludes it, farther from / closer to 0; **opposite** when the CI lies entirely on "
        "the other side of 0.\n"
        "- **Group comparisons** (1A-B, 1D-F, 2A-D, 3A, 3D; the paper printed only a p-value "
        "or a direction, no effect size): judged on **direction only**. The effect is the "
        "Spearman rho of the value against CRS grade (3D: against the number of doses; 3A: "
        "the Hodges-Lehmann shift of the nadir, treated − untreated, CRS 1-2). Consistent when "
        "its CI lies on the paper's side of 0, opposite when on the other side, "
        "**inconclusive** when it includes 0. For the paper's non-significant 2B and 2C: "
        "consistent when the CI includes 0, stronger when it excludes it in the paper's "
        "direction.\n"
        "- **Not testable**: too few patients for a 95% CI, or a missing column.\n"
        "- CIs: Spearman by Fisher's z with SE 1/√(n−3), an approximation (R gives none); "
        "the Hodges-Lehmann CI is R's wilcox.test interval (exact without ties; with ties "
        "a normal approximation).")
if view.n < MIN_N:
    st.info(f"{view.n} patient(s) in view: the figures need at least {MIN_N}. Widen the "
            "filter in the sidebar.")
    st.stop()
DF = Call(columns.only, PATIENTS, paper.COLUMNS)  # the panels' input, in code
FINDINGS = Call(paper.reproduce, DF)  # every finding's statistic and verdict
findings = Recipe.of(findings=FINDINGS)
table = compute(findings, view).set_index("finding", drop=False)

if view.synthetic:
    st.info("This is the synthetic demo cohort, generated to match the paper's counts and "
            "correlations: that it agrees with the paper shows only that the generator works, "
            "not that the findings reproduce. No count of reproduced findings is shown for it; "
            "upload your own cohort to test them.")
else:
    counts = table["verdict"].value_counts()
    st.caption("Verdicts on this cohort: " + " · ".join(
        f"{VERDICT[v]} {int(counts[v])}" for v in paper.VERDICTS if v in counts.index)
        + ". Judged one by one; they are not independent (many share patients and columns).")

for heading, ids in FIGURES.items():
    st.subheader(heading)
    for start in range(0, len(ids), PER_ROW):
        cols = st.columns(PER_ROW)
        for col, fid in zip(cols, ids[start:start + PER_ROW]):
            with col:
                draw(fid, table.loc[fid])  # one row: a Series

st.subheader("All findings")
show_table(pd.DataFrame({
    "Finding": table["finding"], "Description": table["description"], "Test": table["test"],
    "Paper": table["paper"],
    "This cohort": [("" if math.isnan(r) else f"r = {r:.2f}, ") + p_text(p)
                    if not math.isnan(p) else "–"
                    for r, p in zip(table["computed_r"], table["computed_p"])],
    "n": table["n"],
    "Effect judged": table["effect_label"].replace("", "–"),
    "Estimate (95% CI)": [
        "–" if math.isnan(e) else f"{paper.fmt_effect(e)}" + (
            "" if math.isnan(lo) else f" ({paper.fmt_effect(lo)} to {paper.fmt_effect(hi)})")
        for e, lo, hi in zip(table["effect"], table["ci_low"], table["ci_high"])],
    "Verdict": [verdict_text(r) for _, r in table.iterrows()],
    "Why": table["reason"], "Note": table["note"]}),
    name="paper-findings", title="Paper findings judged on this cohort", code=findings)
st.caption("Correlations: Spearman (the paper used Pearson or Spearman 'depending on the "
           "data'); CI by Fisher's z with SE 1/√(n−3), approximate for Spearman. 1C: nadir "
           "fibrinogen vs maximum D-dimer. 3C/S3B: recovered patients only; S3C: treated "
           "patients only; 3B/S3A: all patients (as the paper's r, p and n imply). Group "
           "comparisons: Kruskal-Wallis over CRS grades 0-4; their effect is the Spearman rho "
           "of the value against the grade (direction only: the paper printed no effect "
           "size).")
