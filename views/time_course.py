"""Time course page: per-patient lab curves after CAR-T infusion or after the first tocilizumab
dose, with doses on the curves, CTCAE grade lines and a group median/IQR band (the paper's
Supplementary Figure S2). The band comes from DuckDB; curves are a seeded sample."""

from __future__ import annotations

import altair as alt
import streamlit as st

from core import schema
from core.analyses import columns
from core.analyses import time_course as tc
from core.charts import time_course as charts
from core.codegen import FLT, STORE, Call, Recipe
from core.stats import DEFAULT_SEED
from ui import session
from ui.figures import compute, show_chart, show_table
from ui.guard import guard

NONE = "__none__"
MAX_PANELS = 40
PER_ROW = 5


def _new_sample() -> None:
    st.session_state["tc_seed"] = st.session_state.get("tc_seed", DEFAULT_SEED) + 1


view = session.page("Time course", min_n=0)
if not len(view.store.cohort.labs):
    st.info("This cohort has no lab table, so there are no time courses to draw. Upload a "
            "**Labs** file in the sidebar (long format: patient_id, day, analyte, value, unit; "
            "the Data page has a template); add **Treatments** to mark tocilizumab and "
            "steroid doses and to align the curves to the first tocilizumab dose.")
    st.stop()
analytes = session.memo(tc.analytes, view.store, view.filter)
if not analytes:
    st.warning("No patient in view has a lab value. Widen the filter in the sidebar.")
    st.stop()


@st.fragment
def time_course_panel() -> None:
    """The panel with its own inputs (a fragment: changing them reruns this panel only, not
    the sidebar)."""
    # ------------------------------------------------------------------ inputs
    c1, c2, c3, c4 = st.columns([2, 2, 2, 2])
    analyte = c1.selectbox("Analyte", analytes, key="tc_analyte",
                           format_func=lambda a: schema.ANALYTES[a].label
                           if a in schema.ANALYTES else a)
    align = c2.radio("x axis: days after", ["infusion", "tocilizumab"], key="tc_align",
                     horizontal=True,
                     format_func={"infusion": "CAR-T infusion",
                                  "tocilizumab": "first tocilizumab"}.get)
    groups = columns.group_columns(view.patients)
    choices = [NONE] + groups
    group = c3.selectbox("Median and IQR by", choices, key="tc_group",
                         index=choices.index("tocilizumab") if "tocilizumab" in choices else 0,
                         format_func=lambda g: "— none (all patients) —" if g == NONE
                         else schema.label(g))
    layout = c4.radio("Layout", ["overlay", "multiples"], key="tc_layout", horizontal=True,
                      format_func={"overlay": "One panel", "multiples": "Per patient"}.get)

    d1, d2, d3, d4 = st.columns([3, 1, 3, 1])
    x_range = d1.slider("Days shown", -30, 180, (int(tc.X_RANGE[0]), int(tc.X_RANGE[1])),
                        key="tc_range")
    sample = d2.number_input("Curves", 1, tc.MAX_SAMPLE, tc.DEFAULT_SAMPLE, key="tc_sample",
                             help="How many patients to draw, a seeded random sample (the same "
                                  "on every rerun). The band always uses every patient in view.")
    options = session.memo(tc.patient_options, view.store, view.filter, analyte, align=align)
    picked = d3.multiselect("Patients (instead of the sample)", options, key="tc_patients",
                            placeholder="Random sample")
    with d4:
        st.write("")
        st.button("New sample", key="tc_resample", on_click=_new_sample, width="stretch",
                  disabled=bool(picked), help="Draw another random sample of patients.")
    a = schema.ANALYTES.get(analyte)
    e1, e2, _ = st.columns([1, 1, 4])
    log = e1.toggle("Log axis", value=bool(a and a.log_scale), key=f"tc_log_{analyte}",
                    help="On by default for skewed analytes (D-dimer, ferritin, CRP, IL-6, ...).")
    show_band = e2.toggle("Median and IQR", value=True, key="tc_band")

    # ------------------------------------------------------------------ compute
    settings = session.endpoint_settings()
    recipe = Recipe.of(result=Call(tc.time_course, STORE, FLT, analyte, align=align,
                                   group=None if group == NONE else group,
                                   x_range=(float(x_range[0]), float(x_range[1])),
                                   sample=int(sample),
                                   seed=int(st.session_state.get("tc_seed", DEFAULT_SEED)),
                                   patients=tuple(picked)))
    with guard("Time course"):
        res = compute(recipe, view)

    name = a.label if a else analyte
    y_title = f"{name} ({a.unit})" if a and a.unit else name
    x_title = ("Days after CAR-T infusion" if align == "infusion"
               else "Days after first tocilizumab dose")
    lines = tc.ctcae_lines(settings.fibrinogen_lln) if analyte == "fibrinogen" else None
    group_title = "All patients" if group == NONE else schema.label(group)

    stat = [f"{res.n_with_values} patients with {name}"]
    if res.n_unaligned:
        stat.append(f"{res.n_unaligned} without tocilizumab left out")
    stat.append(f"curves: {res.n_curves} of {res.n_in_range}"
                + (" (seeded random sample)" if res.sampled else ""))
    if show_band:
        stat.append(f"band: median and IQR of each patient's mean per bin; bins {res.bins}")
    if lines is not None:
        stat.append("dashed: CTCAE v5 grades at 1.0/0.75/0.5/0.25 × LLN "
                    f"{settings.fibrinogen_lln:g} mg/dL")
    title = f"{name} {x_title[0].lower() + x_title[1:]}"
    domain = (float(x_range[0]), float(x_range[1]))

    chart: alt.TopLevelMixin
    if layout == "overlay":
        chart = charts.overlay(res.curves, res.band if show_band else None, res.doses, lines,
                               x_title=x_title, y_title=y_title, group_title=group_title,
                               x_domain=domain, log_scale=log, height=460)
    else:
        first = list(dict.fromkeys(res.curves["patient_id"]))[:MAX_PANELS]
        if res.n_curves > MAX_PANELS:
            stat.append(f"first {MAX_PANELS} patients drawn as panels")
        chart = charts.small_multiples(res.curves[res.curves["patient_id"].isin(first)],
                                       res.doses, lines, x_title=x_title, y_title=y_title,
                                       group_title=group_title, x_domain=domain, log_scale=log,
                                       columns=PER_ROW, panel_width=135, panel_height=110)
    show_chart(chart, name=f"time-course-{analyte}-{align}", title=title, stat=" · ".join(stat),
               table=res.band, code=recipe)
    for n in res.notes:
        st.caption(n.text)
    with st.expander("Median and IQR per bin (table)"):
        band = res.band.assign(group=res.band["group"].astype(str))
        show_table(band.rename(columns={"bin": "bin start", "x": "day drawn", "n": "patients"}),
                   name=f"time-course-band-{analyte}-{align}", title=f"{name} band", code=recipe)


time_course_panel()
