"""Charts of the Cohort page: grade distributions and incidence by group."""

from __future__ import annotations

import altair as alt
import pandas as pd

from core.analyses.cohort import Incidence


def grade_distribution(counts: pd.DataFrame, *, title: str = "") -> alt.Chart:
    """Bars of patients per grade.

    Parameters
    ----------
    counts : DataFrame (grade, n, percent) — one row per grade, 0-4.
    """
    base = alt.Chart(counts, title=title).encode(
        x=alt.X("grade:O", title="Grade", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("n:Q", title="Patients"),
        tooltip=["grade", "n", alt.Tooltip("percent:Q", format=".0f", title="%")])
    bars = base.mark_bar(color="#0f766e")
    text = base.mark_text(dy=-6).encode(text="n:Q")
    return (bars + text).properties(height=220)


def incidence_chart(inc: Incidence, *, group_label: str = "") -> alt.Chart:
    """Proportion with an event per group, Wilson 95% CI, "k/n" above each bar."""
    data = inc.table.assign(label=lambda d: d["events"].astype(str) + "/" + d["n"].astype(str))
    base = alt.Chart(data).encode(x=alt.X("group:N", title=group_label or inc.group, sort=None,
                                          axis=alt.Axis(labelAngle=0)))
    bars = base.mark_bar(color="#0f766e", opacity=0.85).encode(
        y=alt.Y("proportion:Q", title=inc.event_label, axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1])),
        tooltip=["group", "n", "events", alt.Tooltip("proportion:Q", format=".0%"),
                 alt.Tooltip("ci_low:Q", format=".0%"), alt.Tooltip("ci_high:Q", format=".0%")])
    ci = base.mark_rule(color="#333").encode(y="ci_low:Q", y2="ci_high:Q")
    text = base.mark_text(dy=-8, baseline="bottom").encode(y="ci_high:Q", text="label:N")
    return (bars + ci + text).properties(height=240)

