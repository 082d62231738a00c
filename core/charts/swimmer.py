"""Swimmer plot (issue 14): one lane per patient with follow-up, CRS / ICANS /
hypofibrinogenemia periods (grade as label and shade), doses, progression and death.

The builder takes a :class:`core.analyses.swimmer.Swimmer` (tidy frames) and returns an Altair
chart; it never renders, saves or imports streamlit.

* lanes: ``patient_id, lane, follow_up, follow_up_source, status, crs_grade, icans_grade``
* periods: ``patient_id, lane, kind, episode, start, end, grade, resolved`` (one sub-row of the
  lane per kind, so overlapping periods stay visible)
* events: ``patient_id, lane, kind, day, drug, dose, unit`` (a shape and colour per kind)
"""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from core.analyses.swimmer import EVENT_KINDS, PERIOD_KINDS, Swimmer

PERIOD_COLORS = {"CRS": "#c2410c", "ICANS": "#7e22ce", "Hypofibrinogenemia": "#0369a1"}
EVENT_STYLE: dict[str, tuple[str, str]] = {   # kind -> (shape, colour)
    "Tocilizumab": ("triangle-up", "#0f766e"),
    "Corticosteroid": ("diamond", "#4338ca"),
    "Anakinra": ("triangle-down", "#be185d"),
    "Fibrinogen concentrate": ("circle", "#d97706"),
    "Cryoprecipitate": ("triangle-left", "#92400e"),
    "FFP": ("triangle-right", "#65a30d"),
    "Progression": ("square", "#dc2626"),
    "Death": ("cross", "#111827"),
}
LANE_COLOR = "#9ca3af"
#: lanes with more than this many rows get no grade text (too small to read)
GRADE_TEXT_MAX_LANES = 60
#: time-axis choices: linear, or symmetric log (day 0-30 wide, years still on the axis)
TimeScale = str
TIME_SCALES = ("linear", "symlog")
#: tick days on the symlog axis (its own ticks bunch up at the long end)
SYMLOG_TICKS = (-30, -7, 0, 1, 3, 7, 14, 30, 60, 100, 180, 365, 730, 1095, 1825, 2555, 3650)


def lane_step(n_lanes: int) -> int:
    """Pixels per lane: 20 for a few lanes, shrinking to 7 so 200 lanes stay ~1400 px high."""
    return int(max(7, min(20, 900 // max(n_lanes, 1))))


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Object/categorical columns as text (Vega-Lite JSON); altair sends NaN as null. A frame,
    not ``alt.Data(values=...)``: altair wraps and deep-copies every inline record."""
    out = frame.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype) or out[c].dtype == object:
            out[c] = out[c].astype(str)
    return out


def lane_labels(lanes: pd.DataFrame) -> list[str]:
    """Axis label of each lane: the patient ID and, where given, the maximum CRS and ICANS
    grades ("P1 · CRS 2 · ICANS 0"), so the grades show even without onset days."""
    out = lanes["patient_id"].astype(str)
    for name, col in (("CRS", "crs_grade"), ("ICANS", "icans_grade")):
        g = pd.to_numeric(lanes[col], errors="coerce")
        text = g.fillna(0).astype(int).astype(str)
        out = out + np.where(g.notna(), f" · {name} " + text, "")
    return list(out)


def swimmer_chart(sw: Swimmer, *, title: str = "", x_max: float | None = None,
                  time_scale: TimeScale = "linear", width: int | None = None) -> alt.LayerChart:
    """The swimmer plot of ``sw``.

    Parameters
    ----------
    sw : Swimmer
        From :func:`core.analyses.swimmer.swimmer`.
    title : str
    x_max : float, optional
        Last day on the time axis (marks beyond are clipped); None: the longest lane.
    time_scale : {"linear", "symlog"}
        ``"symlog"`` widens the first weeks (CRS, ICANS, doses) and keeps years on the axis.
    width : int, optional
        Plot width in px; None: the container's (the page) or the export default.

    Returns
    -------
    alt.LayerChart
        Layers: follow-up lines, periods (a sub-row per kind present, shade by grade), grade labels
        (up to :data:`GRADE_TEXT_MAX_LANES` lanes), events (shape and colour by kind). Two
        legends: "Period" and "Event". Height: :func:`lane_step` px per lane (a pixel height:
        each lane is a band split into one sub-row per period kind present).
    """
    if time_scale not in TIME_SCALES:
        raise ValueError(f"time_scale must be one of {TIME_SCALES}; got {time_scale!r}")
    lanes, periods, events = sw.lanes, sw.periods, sw.events
    lanes = lanes.assign(label=lane_labels(lanes))
    order = list(lanes["label"])
    days = [0.0, *lanes["follow_up"].dropna(), *periods["end"].dropna(),
            *periods["start"].dropna(), *events["day"].dropna()]
    lo = float(min(days))
    hi = float(x_max) if x_max is not None else float(max(days))
    hi = max(hi, lo + 1.0)
    scale: dict[str, Any] = {"domain": [lo, hi], "nice": False, "zero": False}
    if time_scale == "symlog":
        scale["type"] = "symlog"
    x_title = "Days after CAR-T infusion" + (" (symmetric log scale)"
                                             if time_scale == "symlog" else "")
    y = alt.Y("label:N", sort=order, title="Patient",
              axis=alt.Axis(labelFontSize=9 if len(order) > 40 else 11,
                            labelLimit=220, labels=len(order) <= 120))
    axis = (alt.Axis(values=[t for t in SYMLOG_TICKS if lo <= t <= hi])
            if time_scale == "symlog" else alt.Axis())
    x = alt.X("start:Q", title=x_title, scale=alt.Scale(**scale), axis=axis)
    lane_data = _plain(lanes.assign(start=np.where(lanes["follow_up"].notna(),
                                                   min(lo, 0.0), np.nan)))
    lane_layer = alt.Chart(lane_data).mark_rule(
        color=LANE_COLOR, strokeWidth=2, clip=True).encode(
        y=y, x=x, x2="follow_up:Q",
        tooltip=[alt.Tooltip("patient_id:N", title="Patient"),
                 alt.Tooltip("follow_up:Q", title="Follow-up (days)", format=".0f"),
                 alt.Tooltip("follow_up_source:N", title="from"),
                 alt.Tooltip("status:N", title="Status"),
                 alt.Tooltip("crs_grade:Q", title="CRS grade"),
                 alt.Tooltip("icans_grade:Q", title="ICANS grade"),
                 alt.Tooltip("sort_value:Q", title="Sort value", format=".4~g")])
    layers: list[alt.Chart] = [lane_layer]
    kinds = [k for k in PERIOD_KINDS if k in set(periods["kind"])]
    to_label = dict(zip(lanes["lane"], lanes["label"]))
    periods = periods.assign(label=periods["lane"].map(to_label))
    events = events.assign(label=events["lane"].map(to_label))
    if len(periods):
        pdata = _plain(periods.assign(
            end_shown=np.maximum(periods["end"].to_numpy(float),
                                 periods["start"].to_numpy(float) + 0.5),
            grade_text=np.where(periods["grade"].notna(),
                                "G" + periods["grade"].fillna(0).astype(int).astype(str), ""),
            state=np.where(periods["resolved"], "resolved", "not resolved")))
        pbase = alt.Chart(pdata).encode(
            y=y, yOffset=alt.YOffset("kind:N", sort=kinds, scale=alt.Scale(domain=kinds)))
        layers.append(pbase.mark_bar(clip=True, cornerRadius=1).encode(
            x=x, x2="end_shown:Q",
            color=alt.Color("kind:N", title="Period", sort=kinds, scale=alt.Scale(
                domain=kinds, range=[PERIOD_COLORS[k] for k in kinds])),
            opacity=alt.Opacity("grade:Q", legend=None, scale=alt.Scale(
                domain=[0, 4], range=[0.35, 1.0])),
            tooltip=[alt.Tooltip("patient_id:N", title="Patient"),
                     alt.Tooltip("kind:N", title="Period"),
                     alt.Tooltip("episode:Q", title="Episode"),
                     alt.Tooltip("grade:Q", title="Grade"),
                     alt.Tooltip("start:Q", title="From day", format=".4~g"),
                     alt.Tooltip("end:Q", title="To day", format=".4~g"),
                     alt.Tooltip("state:N", title="")]))
        if len(order) <= GRADE_TEXT_MAX_LANES:
            layers.append(pbase.mark_text(align="left", baseline="middle", dx=2, fontSize=8,
                                          color="#111827", clip=True).encode(
                x=x, text="grade_text:N"))
    if len(events):
        ekinds = [k for k in EVENT_KINDS if k in set(events["kind"])]
        edata = _plain(events.assign(start=events["day"],
                                     angle=np.where(events["kind"] == "Death", 45, 0)))
        layers.append(alt.Chart(edata).mark_point(
            filled=True, size=55 if len(order) <= 60 else 30, opacity=0.95, clip=True,
            stroke="white", strokeWidth=0.6).encode(
            y=y, x=x,
            color=alt.Color("kind:N", title="Event", sort=ekinds, scale=alt.Scale(
                domain=ekinds, range=[EVENT_STYLE[k][1] for k in ekinds]),
                legend=alt.Legend(symbolStrokeWidth=0, symbolSize=80)),
            shape=alt.Shape("kind:N", title="Event", sort=ekinds, scale=alt.Scale(
                domain=ekinds, range=[EVENT_STYLE[k][0] for k in ekinds])),
            angle=alt.Angle("angle:Q", scale=None),
            tooltip=[alt.Tooltip("patient_id:N", title="Patient"),
                     alt.Tooltip("kind:N", title="Event"), alt.Tooltip("day:Q", title="Day",
                                                                      format=".4~g"),
                     alt.Tooltip("drug:N", title="Drug"),
                     alt.Tooltip("dose:Q", title="Dose", format=".4~g"),
                     alt.Tooltip("unit:N", title="Unit")]))
    chart = alt.layer(*layers).resolve_scale(color="independent", shape="independent",
                                             opacity="independent")
    # a pixel height, not alt.Step: with a yOffset the step would size each period sub-row
    props: dict[str, Any] = {"height": lane_step(len(order)) * max(len(order), 1)}
    if title:
        props["title"] = title
    if width is not None:
        props["width"] = width
    return chart.properties(**props)
