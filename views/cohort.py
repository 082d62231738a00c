"""Cohort page: Table 1 of the filtered cohort, CRS/ICANS grades, hypofibrinogenemia by CRS."""

from __future__ import annotations

import streamlit as st

from core.analyses import cohort, columns
from core.analyses.indicators import OutcomeSpec
from core.charts import cohort as charts
from core.codegen import PATIENTS, Call, Recipe, Ref
from ui import session
from ui.figures import compute, show_chart, show_table
from ui.guard import guard

view = session.page("Cohort")
if view.synthetic:
    st.info("You are looking at the **synthetic demo cohort** (41 invented patients that mirror "
            "the published study). Upload your own cohort in the sidebar.", icon=":material/info:")

df = view.patients
options = [None, *cohort.strata_options(df)]
default = options.index("tocilizumab") if "tocilizumab" in options else 0
left, right = st.columns([1, 2])
by = left.selectbox("Stratify Table 1 by", options, index=default,
                    format_func=lambda c: "— none —" if c is None else c)
extra_options = [c for c in df.columns if c not in {"patient_id", by}]
extra = right.multiselect("Add rows", extra_options, placeholder="More variables…")

table_one = Recipe.of(result=Call(cohort.table_one, PATIENTS, by, tuple(extra)))
with guard("Table 1"):
    result = compute(table_one, view)
st.subheader("Table 1. Patients' characteristics")
show_table(cohort.format_table_one(result), name="table-1", title="Table 1", code=table_one)
st.caption(cohort.note(result))
for n in result.notes:
    st.caption(f"⚠ {n.text}")

st.subheader("Toxicity grades")
c1, c2 = st.columns(2)
for col, column, name in ((c1, "crs_grade", "CRS"), (c2, "icans_grade", "ICANS")):
    with col:
        grades = Recipe.of(counts=Call(cohort.grade_counts, PATIENTS[column]))
        counts = compute(grades, view) if column in df else None
        if counts is None or not counts["n"].sum():
            st.caption(f"No {name} grades (0-4) in this cohort.")
            continue
        missing = int(df[column].isna().sum())
        show_chart(session.memo(charts.grade_distribution, counts,
                                title=f"{name} grade (ASTCT)"),
                   name=f"{name.lower()}-grades", title=f"{name} grade distribution",
                   stat=f"n = {int(counts['n'].sum())} with a recorded grade"
                        + (f" · {missing} unknown" if missing else ""), code=grades)

st.subheader("Hypofibrinogenemia by CRS grade")
if not columns.has_values(df, "hypofibrinogenemia_grade", "crs_grade"):
    st.caption("Needs patients with both a hypofibrinogenemia_grade and a crs_grade (or lab "
               "series to derive the grade): none in view.")
    st.stop()


@st.fragment
def hypofibrinogenemia_by_crs() -> None:
    """The panel with its own widgets: changing them reruns this panel only."""
    pool = st.toggle("Pool CRS grades 3-4 (as in the paper)", value=True)
    threshold = st.radio("Count", [1, 3], horizontal=True,
                         format_func=lambda g: "any grade" if g == 1 else "grade ≥ 3")
    label = "Hypofibrinogenemia" + (" grade ≥ 3" if threshold == 3 else "")
    recipe = Recipe.of(
        event=Call(OutcomeSpec("hypofibrinogenemia_grade", ">=", threshold).values, PATIENTS),
        result=Call(cohort.incidence_by, PATIENTS, Ref("event"), "crs_grade", label,
                    bins={"3-4": [3, 4]} if pool else None))
    with guard(f"{label} by CRS grade"):
        inc = compute(recipe, view)
    stat = f"{inc.events}/{inc.n} patients; bars: Wilson 95% CI"
    if inc.n_dropped:
        stat += f" · {inc.n_dropped} without a grade left out"
    show_chart(session.memo(charts.incidence_chart, inc, group_label="CRS grade"),
               name="hypofibrinogenemia-by-crs", title=f"{label} by CRS grade", stat=stat,
               code=recipe)
    show_table(inc.table, name="hypofibrinogenemia-by-crs", title=f"{label} by CRS grade")


hypofibrinogenemia_by_crs()
