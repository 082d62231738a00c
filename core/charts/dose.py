"""Charts of the tocilizumab dose-response (the paper's Figure 3A and 3D).

Builders take data and return an Altair chart; they never render, save or import streamlit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import altair as alt
import numpy as np
import pandas as pd

from core.charts.groups import BOX_COLUMNS, _check_columns, _y_scale, reference_line_layers

ARM_COLORS = {"no": "#dc6b5a", "yes": "#2bb5a8"}  # the paper: untreated red, treated turquoise
GRADE_COLORS = ["#e5e7eb", "#fde68a", "#fbbf24", "#ea580c", "#991b1b"]


def split_boxplot(box: pd.DataFrame, points: pd.DataFrame | None = None, *, value_label: str,
                  group_label: str, split: str = "tocilizumab", split_label: str = "Tocilizumab",
                  log_scale: bool = False,
                  ref_lines: Sequence[tuple[float, str]] | None = None, height: int = 320,
                  step: int = 90, title: str = "") -> alt.LayerChart:
    """Tukey boxplots per group, side by side for each level of ``split`` (Figure 3A).

    Parameters
    ----------
    box : box statistics with columns ``group``, ``split`` and ``n, q1, median, q3,
        whisker_low, whisker_high, n_outliers``; the first appearance of ``group`` is the
        x order.
    points : optional columns ``group``, ``split``, ``value`` (and ``patient_id``).
    split : the column that separates the boxes within a group (coloured, "yes"/"no").
    ref_lines : dashed horizontal lines ``[(value, label), ...]``.

    Returns
    -------
    alt.LayerChart
        Layers: whiskers, boxes, medians, [points], [reference rules and labels]; the n of each
        box is in its tooltip and in the legend-free label under the axis is the group.
    """
    _check_columns(box, list(BOX_COLUMNS) + [split], "box")
    box = box.assign(group=box["group"].astype(str), **{split: box[split].astype(str)})
    order = list(dict.fromkeys(box["group"]))
    arms = list(dict.fromkeys(sorted(box[split])))
    colors = [ARM_COLORS.get(a, "#888") for a in arms]
    values = list(box["whisker_low"]) + list(box["whisker_high"])
    if points is not None and len(points):
        values += list(points["value"])
    y_scale = _y_scale(log_scale, values + [v for v, _ in (ref_lines or [])])
    x = alt.X("group:N", title=group_label, sort=order, axis=alt.Axis(labelAngle=0))
    offset = alt.XOffset(f"{split}:N", sort=arms)
    color = alt.Color(f"{split}:N", title=split_label, sort=arms,
                      scale=alt.Scale(domain=arms, range=colors))
    tips = [alt.Tooltip("group:N", title=group_label), alt.Tooltip(f"{split}:N",
                                                                   title=split_label),
            alt.Tooltip("n:Q"), alt.Tooltip("median:Q", format=".4~g"),
            alt.Tooltip("q1:Q", format=".4~g"), alt.Tooltip("q3:Q", format=".4~g")]
    base = alt.Chart(box).encode(x=x, xOffset=offset)
    layers: list[alt.Chart] = [
        base.mark_rule(color="#444").encode(
            y=alt.Y("whisker_low:Q", title=value_label, scale=y_scale), y2="whisker_high:Q"),
        base.mark_bar(size=26, stroke="#444", strokeWidth=1, opacity=0.55).encode(
            y="q1:Q", y2="q3:Q", color=color, tooltip=tips),
        base.mark_tick(size=26, thickness=2.5, color="#222").encode(y="median:Q",
                                                                    tooltip=tips),
    ]
    if points is not None and len(points):
        _check_columns(points, ["group", "value", split], "points")
        pts = points.assign(group=points["group"].astype(str),
                            **{split: points[split].astype(str)})
        ptips = [alt.Tooltip("value:Q", title=value_label, format=".4~g")]
        if "patient_id" in pts.columns:
            ptips.insert(0, alt.Tooltip("patient_id:N", title="Patient"))
        layers.append(alt.Chart(pts).mark_circle(size=26, opacity=0.85, stroke="#333",
                                                 strokeWidth=0.4).encode(
            x=alt.X("group:N", sort=order), xOffset=offset, y="value:Q", color=color,
            tooltip=ptips))
    if ref_lines:
        layers += reference_line_layers(ref_lines)
    chart = alt.layer(*layers).properties(height=height, width=alt.Step(step), title=title)
    return cast(alt.LayerChart, chart)


def grade_by_doses(counts: pd.DataFrame, *, doses_label: str = "Tocilizumab doses",
                   grade_label: str = "Hypofibrinogenemia grade", height: int = 300,
                   title: str = "") -> alt.LayerChart:
    """Stacked bars: share of each hypofibrinogenemia grade per number of doses (Figure 3D).

    Parameters
    ----------
    counts : columns ``doses, grade, n, share`` (:func:`core.analyses.tocilizumab.grade_by_doses`).

    Returns
    -------
    alt.LayerChart
        Layers: stacked bars (share, coloured by grade 0-4), "n = k" above each bar.
    """
    _check_columns(counts, ["doses", "grade", "n", "share"], "counts")
    data = counts.assign(doses=counts["doses"].astype(str),
                         grade=counts["grade"].astype(int).astype(str))
    order = [str(d) for d in sorted(counts["doses"].unique())]
    totals = data.groupby("doses", as_index=False)["n"].sum()
    totals["label"] = [f"n = {int(n)}" for n in totals["n"]]
    x = alt.X("doses:N", title=doses_label, sort=order, axis=alt.Axis(labelAngle=0))
    bars = alt.Chart(data[data["n"] > 0]).mark_bar(stroke="#666", strokeWidth=0.5).encode(
        x=x, y=alt.Y("share:Q", title="Share of patients", stack="zero",
                     axis=alt.Axis(format="%", values=[0, 0.25, 0.5, 0.75, 1.0]),
                     scale=alt.Scale(domain=[0, 1.12])),
        color=alt.Color("grade:N", title=grade_label, sort=[str(g) for g in range(5)],
                        scale=alt.Scale(domain=[str(g) for g in range(5)],
                                        range=GRADE_COLORS)),
        order=alt.Order("grade:N"),
        tooltip=[alt.Tooltip("doses:N", title=doses_label),
                 alt.Tooltip("grade:N", title=grade_label), alt.Tooltip("n:Q"),
                 alt.Tooltip("share:Q", format=".0%")])
    labels = alt.Chart(totals.assign(top=np.full(len(totals), 1.0))).mark_text(
        baseline="bottom", dy=-3, fontSize=11, color="#333").encode(
        x=alt.X("doses:N", sort=order), y="top:Q", text="label:N")
    chart = alt.layer(bars, labels).properties(height=height, width=alt.Step(70), title=title)
    return cast(alt.LayerChart, chart)


def fit_width(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    """``chart`` with ``autosize: fit-x``: the width follows the page column, the height stays.

    Streamlit gives a chart without ``autosize`` the type ``fit`` (both directions). Vega then
    shrinks the plot height until every mark fits, and marks placed at a fixed pixel position
    below the plot (the boxplot's "n = k" labels) make it shrink the plot to almost nothing.
    Streamlit's theme also pads axis labels by 16 px, which puts the x labels onto the
    "n = k" line under each box: the label padding is set back to Vega-Lite's default.
    """
    return chart.properties(autosize=alt.AutoSizeParams(
        type="fit-x", contains="padding")).configure_axis(labelPadding=2)
