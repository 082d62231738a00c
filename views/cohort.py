"""Cohort page: Table 1 of the filtered cohort, CRS/ICANS grades, hypofibrinogenemia by CRS."""

from __future__ import annotations

import streamlit as st

from core import table1
from core.charts import cohort as charts
from core.errors import CohortError
from ui import session
from ui.figures import show_chart, show_table

view = session.page("Cohort")
if view.synthetic:
    st.info("You are looking at the **synthetic demo cohort** (41 invented patients that mirror "
            "the published study). Upload your own cohort in the sidebar.", icon="ℹ️")

df = view.patients
strata_options = [None] + [c for c in df.columns if c != "patient_id"
                           and 2 <= df[c].nunique() <= 8]
default = strata_options.index("tocilizumab") if "tocilizumab" in strata_options else 0
left, right = st.columns([1, 2])
by = left.selectbox("Stratify Table 1 by", strata_options, index=default,
                    format_func=lambda c: "— none —" if c is None else c)
extra_options = [c for c in df.columns if c not in {"patient_id", by}]
extra = right.multiselect("Add rows", extra_options, placeholder="More variables…")

try:
    result = session.memo(table1.table_one, df, by, tuple(extra))
except CohortError as exc:
    session.show_error(exc, "Table 1")
    st.stop()
st.subheader("Table 1. Patients' characteristics")
show_table(table1.format_table_one(result), name="table-1", title="Table 1")
note = ("Percentages of grade and subtype rows refer to their parent row, as in the paper. ")
if by:
    note += ("Tests: Kruskal-Wallis (Mann-Whitney U for two groups) for numbers; chi-square, "
             "or Fisher's exact test when an expected count is below 5, for categories.")
st.caption(note)
for m in result.messages:
    st.caption(f"⚠ {m}")

st.subheader("Toxicity grades")
c1, c2 = st.columns(2)
for col, column, name in ((c1, "crs_grade", "CRS"), (c2, "icans_grade", "ICANS")):
    with col:
        if column in df and df[column].notna().any():
            counts = table1.grade_counts(df[column])
            show_chart(charts.grade_distribution(counts, title=f"{name} grade (ASTCT)"),
                       name=f"{name.lower()}-grades", title=f"{name} grade distribution",
                       stat=f"n = {int(counts['n'].sum())} with a recorded grade")
        else:
            st.caption(f"No {name} grades in this cohort.")

st.subheader("Hypofibrinogenemia by CRS grade")
if {"hypofibrinogenemia_grade", "crs_grade"} <= set(df.columns):
    pool = st.toggle("Pool CRS grades 3-4 (as in the paper)", value=True)
    threshold = st.radio("Count", [1, 3], horizontal=True,
                         format_func=lambda g: "any grade" if g == 1 else "grade ≥ 3")
    event = df["hypofibrinogenemia_grade"].ge(threshold).where(
        df["hypofibrinogenemia_grade"].notna())
    label = "Hypofibrinogenemia" + (" grade ≥ 3" if threshold == 3 else "")
    inc = table1.incidence_by(df, event, "crs_grade", label,
                              bins={"3-4": [3, 4]} if pool else None)
    total = int(inc.table["events"].sum())
    show_chart(charts.incidence_chart(inc, group_label="CRS grade"),
               name="hypofibrinogenemia-by-crs", title=f"{label} by CRS grade",
               stat=f"{total}/{int(inc.table['n'].sum())} patients; bars: Wilson 95% CI")
    show_table(inc.table, name="hypofibrinogenemia-by-crs", title=f"{label} by CRS grade")
else:
    st.caption("Needs the columns hypofibrinogenemia_grade and crs_grade (or lab series to "
               "derive them).")
