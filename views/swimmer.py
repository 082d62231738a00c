"""Swimmer plot page: one lane per patient in view (follow-up, CRS / ICANS /
hypofibrinogenemia periods with grade, doses, progression, death), capped for large cohorts."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.analyses import swimmer
from core.charts.swimmer import swimmer_chart
from core.codegen import PATIENTS, SETTINGS, STORE, Call, Recipe
from ui import session
from ui.figures import show_chart, show_table
from ui.guard import guard

SAMPLE_LABELS = {"first": "First N by the sort key", "random": "Random sample (seeded)"}
TIME_LABELS = {"symlog": "Compressed (first weeks wide)", "linear": "Linear"}
WINDOWS = {"all": "Whole follow-up", "30": "Days 0-30", "100": "Days 0-100",
           "365": "First year"}
TITLE = "Swimmer plot"

view = session.page(TITLE)
options = swimmer.sort_options(view.patients)

c1, c2, c3, c4, c5 = st.columns([2, 1, 2, 2, 2])
sort_by = c1.selectbox("Sort lanes by", options, key="sw_sort", format_func=swimmer.sort_label,
                       help="Highest first; ties by follow-up, then patient ID.")
max_lanes = int(c2.number_input("Lanes (N)", min_value=5, max_value=swimmer.MAX_LANES,
                                value=swimmer.DEFAULT_MAX_LANES, step=5, key="sw_lanes",
                                help=f"At most {swimmer.MAX_LANES} lanes."))
sample = c3.radio("When more patients than N", list(SAMPLE_LABELS), key="sw_sample",
                  format_func=SAMPLE_LABELS.get,
                  help="A seeded random sample is the same on every rerun, kept in sort order.")
time_scale = c4.radio("Time axis", list(TIME_LABELS), key="sw_time",
                      format_func=TIME_LABELS.get, horizontal=True)
window: str = c5.selectbox("Days shown", list(WINDOWS), key="sw_window",
                           format_func=lambda w: WINDOWS[w]) or "all"

# Show code prints swimmer_of, which reads the lanes' labs from the store and derives their
# episodes (what a notebook has). The page already holds the session's derived episodes, so it
# skips that scan of the lab table (~1 s at 10 million rows): the same frames
# (tests/test_swimmer.py::test_swimmer_of_a_store_matches_the_whole_cohort_derivation).
recipe = Recipe.of(result=Call(swimmer.swimmer_of, PATIENTS, STORE, SETTINGS, sort_by=sort_by,
                               max_lanes=max_lanes, sample=sample))


def episodes_of(ids: tuple[str, ...]) -> pd.DataFrame | None:
    """The session's derived hypofibrinogenemia episodes of ``ids`` (None: nothing derived)."""
    derived = session.derived()
    if derived is None or derived.endpoints is None:
        return None
    ep = derived.endpoints.episodes
    return ep[ep["patient_id"].isin(ids)].reset_index(drop=True)  # IDs are text


with guard(TITLE, scope="panel") as outcome:
    lanes = session.memo(swimmer.select_lanes, view.patients, sort_by, max_lanes=max_lanes,
                         sample=sample)
    ids = tuple(lanes["patient_id"])
    tx = session.memo(swimmer.lane_treatments, view.store, ids)
    sw = session.memo(swimmer.swimmer, view.patients, tx, episodes_of(ids), sort_by=sort_by,
                      max_lanes=max_lanes, sample=sample)
if not outcome.failed:
    x_max = None if window == "all" else float(window)
    chart = swimmer_chart(sw, title=TITLE, x_max=x_max, time_scale=time_scale)
    stat = sw.shown + (f" · days up to {window}" if x_max is not None else "")
    show_chart(chart, name="swimmer", title=TITLE, stat=stat, code=recipe,
               table=pd.concat([sw.periods.assign(day=sw.periods["start"]),
                                sw.events], ignore_index=True))
    for note in sw.notes:
        if note.kind != "capped":
            st.caption(note.text)
    st.caption("Lanes: grey line = follow-up (os_days; pfs_days when no OS time), ending at "
               "death (✕) or last contact. Bars: CRS, ICANS and hypofibrinogenemia periods, "
               "darker for a higher grade (CTCAE v5 for fibrinogen, ASTCT for CRS/ICANS; the "
               "grade is the patient's maximum for CRS and ICANS, the episode's for "
               "hypofibrinogenemia). A period without a resolution day runs to the end of the "
               "lane.")
    with st.expander("Data behind the plot"):
        show_table(sw.lanes, name="swimmer-lanes", title="Lanes")
        show_table(sw.periods, name="swimmer-periods", title="Periods")
        show_table(sw.events, name="swimmer-events", title="Events")
