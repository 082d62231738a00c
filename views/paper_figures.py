"""Paper figures page: Figures 1A-F, 2A-D and 3A-D of Perl et al. (Haematologica 2024) redrawn
on the loaded cohort, each with the paper's statistic next to this cohort's, and a table that
says for every finding whether the cohort reproduces it."""

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
from ui import session
from ui.figures import show_chart, show_table
from ui.format import p_text
from ui.guard import guard

PER_ROW = 3
MIN_N = 4
AGREES = {True: "✓ agrees", False: "✗ differs", None: "– not computed"}
FIGURES = {
    "Figure 1 · Coagulation by CRS grade": ("1A", "1B", "1C", "1D", "1E", "1F"),
    "Figure 2 · Liver by CRS grade": ("2A", "2B", "2C", "2D"),
    "Figure 3 · Tocilizumab": ("3A", "3B", "3C", "3D"),
}


def cohort_text(row: pd.Series) -> str:
    if row["agrees"] is None and row["note"]:
        return f"This cohort: not computed ({row['note']})"
    parts = []
    if not math.isnan(row["computed_r"]):
        parts.append(f"r = {row['computed_r']:.2f}")
    parts.append(p_text(row["computed_p"]))
    parts.append(f"n = {row['n']}")
    return f"This cohort: {', '.join(parts)} · {AGREES[row['agrees']]}"


def figure(fid: str, title: str) -> tuple[alt.TopLevelMixin, str]:
    """The chart of one paper panel on this cohort, and a note on its test ("" if none)."""
    f = paper.BY_ID[fid]
    if fid == "3A":
        tb = session.memo(tocilizumab.tocilizumab_box_panel, df, pool=POOL_CRS_34)
        return split_boxplot(tb.box, tb.points, value_label=columns.label("fibrinogen_nadir"),
                             group_label="CRS grade", height=240, step=70,
                             ref_lines=columns.reference_lines("fibrinogen_nadir"),
                             title=title), " · test: CRS 1-2, tocilizumab vs none (Mann-Whitney)"
    if fid == "3D":
        gd = session.memo(tocilizumab.grade_by_doses, df)
        return grade_by_doses(gd.counts, height=240, title=title), ""
    if f.kind == "correlate":
        if fid in tocilizumab.DOSE_PANELS:
            cp = session.memo(tocilizumab.dose_panel, df, fid).panel
        else:
            cp = session.memo(correlations.correlation_panel, df, *f.columns)
        x, y = f.columns
        return scatter(cp.points, x, y, x_label=columns.label(x), y_label=columns.label(y),
                       title=title, height=240), ""
    value, group = f.columns
    gp = session.memo(lab_values.group_panel, view.store, view.filter, value, group)
    return boxplot(gp.box, gp.points, value_label=columns.label(value), group_label="CRS grade",
                   log_scale=columns.log_scale_default(value),
                   ref_lines=columns.reference_lines(value), height=240, step=44,
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
               stat=stat + test_note)


view = session.page("Paper figures", min_n=0)
st.markdown("Perl et al., *Tocilizumab administration in cytokine release syndrome is "
            "associated with hypofibrinogenemia after CAR T-cell therapy*, Haematologica 2024, "
            "redrawn on this cohort. Under each panel: the paper's statistic and this cohort's. "
            "**Agrees** = same direction and p on the same side of 0.05 (for the paper's "
            "non-significant 2B and 2C: p > 0.05; where the paper printed no p: direction).")
if view.n < MIN_N:
    st.info(f"{view.n} patient(s) in view: the figures need at least {MIN_N}. Widen the "
            "filter in the sidebar.")
    st.stop()
df = columns.only(view.patients, paper.COLUMNS)
table = session.memo(paper.reproduce, df).set_index("finding", drop=False)

n_agree = int((table["agrees"] == True).sum())  # noqa: E712 - object column with None
n_known = int(table["agrees"].notna().sum())
st.metric("Findings reproduced", f"{n_agree} of {n_known}",
          help="Computed findings that agree with the paper (direction and side of 0.05).")

for heading, ids in FIGURES.items():
    st.subheader(heading)
    for start in range(0, len(ids), PER_ROW):
        cols = st.columns(PER_ROW)
        for col, fid in zip(cols, ids[start:start + PER_ROW]):
            with col:
                draw(fid, table.loc[fid])  # type: ignore[arg-type]  # one row: a Series

st.subheader("All findings")
show_table(pd.DataFrame({
    "Finding": table["finding"], "Description": table["description"], "Test": table["test"],
    "Paper": table["paper"],
    "This cohort": [("" if math.isnan(r) else f"r = {r:.2f}, ") + p_text(p)
                    if not math.isnan(p) else "–"
                    for r, p in zip(table["computed_r"], table["computed_p"])],
    "n": table["n"], "Direction": table["direction"].map(
        lambda v: "–" if pd.isna(v) else "up" if v > 0 else "down" if v < 0 else "flat"),
    "Agrees": table["agrees"].map(AGREES.get), "Note": table["note"]}),
    name="paper-findings", title="Paper findings reproduced on this cohort")
st.caption("Correlations: Spearman (the paper used Pearson or Spearman 'depending on the "
           "data'). 1C: nadir fibrinogen vs maximum D-dimer. 3C/S3B: recovered patients only; "
           "S3C: treated patients only; 3B/S3A: all patients (as the paper's r, p and n imply). "
           "Group comparisons: Kruskal-Wallis over CRS grades 0-4; direction = Spearman of the "
           "value against the grade (3A: treated minus untreated median).")
