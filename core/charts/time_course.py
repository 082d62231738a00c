"""Time-course charts (the paper's Supplementary Figure S2): per-patient curves, a group
median with IQR band, tocilizumab/corticosteroid doses on the curves, CTCAE grade lines.

Builders take tidy frames (from :mod:`core.analyses.time_course`) and return an Altair chart;
they never render, save or import streamlit.

* curves: ``patient_id, x, value, group``
* band: ``group, x, median, q1, q3, n``
* doses: ``patient_id, x, drug, dose, kind`` and optionally ``value`` (the y on the curve;
  without it the marks sit on the x axis)
* lines: ``value, label`` (e.g. :func:`core.analyses.time_course.ctcae_lines`)
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from core.errors import ColumnError

PALETTE = ("#0f766e", "#c2410c", "#4338ca", "#be185d", "#4d7c0f", "#0369a1", "#a16207",
           "#7e22ce", "#475569", "#b91c1c")
DOSE_SHAPES = {"Tocilizumab": "triangle-up", "Corticosteroid": "diamond"}
DOSE_COLOR = "#111827"
LINE_COLOR = "#b91c1c"


def _need(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ColumnError(f"The {what} frame lacks column(s) {', '.join(missing)}.")


def _groups(*frames: pd.DataFrame | None) -> list[str]:
    out: list[str] = []
    for f in frames:
        if f is None or "group" not in f or not len(f):
            continue
        g = f["group"]
        cats = list(g.cat.categories) if isinstance(g.dtype, pd.CategoricalDtype) else []
        present = set(g.astype(str))
        out += [str(c) for c in cats if str(c) in present] or sorted(present)
    return list(dict.fromkeys(out))


def _y(log_scale: bool, title: str, field: str = "value") -> alt.Y:
    scale = alt.Scale(type="log") if log_scale else alt.Scale(zero=False)
    return alt.Y(f"{field}:Q", title=title, scale=scale)


def _x(title: str, domain: tuple[float, float] | None) -> alt.X:
    scale = alt.Scale(domain=list(domain), nice=False) if domain else alt.Scale(nice=False)
    return alt.X("x:Q", title=title, scale=scale)


def _plain(frame: pd.DataFrame, log_scale: bool, col: str = "value") -> pd.DataFrame:
    """Object/categorical columns as text (Vega-Lite JSON), non-positive values dropped on a
    log axis (their log is undefined)."""
    out = frame.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype) or out[c].dtype == object:
            out[c] = out[c].astype(str)
    if log_scale and col in out:
        out = out[out[col] > 0]
    return out


def _lines(lines: pd.DataFrame) -> alt.LayerChart:
    _need(lines, ("value", "label"), "lines")
    rule = alt.Chart(lines).mark_rule(color=LINE_COLOR, strokeDash=[5, 4], strokeWidth=1,
                                      opacity=0.8).encode(y="value:Q")
    text = alt.Chart(lines).mark_text(align="right", baseline="bottom", dx=-2, dy=-1,
                                      color=LINE_COLOR, fontSize=10).encode(
        y="value:Q", text="label:N", x=alt.value("width"))
    return rule + text


def overlay(curves: pd.DataFrame, band: pd.DataFrame | None = None,
            doses: pd.DataFrame | None = None, lines: pd.DataFrame | None = None, *,
            x_title: str = "Days after CAR-T infusion", y_title: str = "value",
            group_title: str = "Group", x_domain: tuple[float, float] | None = None,
            log_scale: bool = False, zero_rule: bool = True, height: int = 420,
            title: str = "") -> alt.LayerChart:
    """All curves in one panel, coloured by group, with the group band on top.

    Parameters
    ----------
    curves : ``patient_id, x, value, group`` (thin lines, one per patient).
    band : ``group, x, median, q1, q3, n`` (IQR area and a thick median line per group);
        None for no band.
    doses : ``patient_id, x, kind`` (+ ``value``, ``drug``, ``dose``): dose marks, shaped by
        kind; on the curve when ``value`` is given, else on the x axis.
    lines : ``value, label``: dashed horizontal reference lines (CTCAE grades).
    x_title, y_title, group_title : titles.
    x_domain : fixed x range (the page's slider).
    log_scale : log y axis; non-positive values are left out.
    zero_rule : a grey vertical rule at x = 0 (infusion or first tocilizumab dose).

    Returns
    -------
    alt.LayerChart
    """
    _need(curves, ("patient_id", "x", "value", "group"), "curves")
    groups = _groups(band, curves)
    color = alt.Color("group:N", title=group_title,
                      scale=alt.Scale(domain=groups, range=list(PALETTE[:max(len(groups), 1)])),
                      legend=alt.Legend(orient="top", symbolType="stroke"))
    layers: list[alt.Chart | alt.LayerChart] = []
    if zero_rule:
        layers.append(alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(
            color="#9ca3af", strokeWidth=1).encode(x="x:Q"))
    if lines is not None and len(lines):
        layers.append(_lines(lines))
    if len(curves):
        c = _plain(curves, log_scale)
        layers.append(alt.Chart(c).mark_line(strokeWidth=1, opacity=0.35, interpolate="linear")
                      .encode(x=_x(x_title, x_domain), y=_y(log_scale, y_title), color=color,
                              detail="patient_id:N",
                              tooltip=[alt.Tooltip("patient_id:N", title="Patient"),
                                       alt.Tooltip("x:Q", title="Day", format=".1f"),
                                       alt.Tooltip("value:Q", title=y_title, format=".3g"),
                                       alt.Tooltip("group:N", title=group_title)]))
    if band is not None and len(band):
        _need(band, ("group", "x", "median", "q1", "q3", "n"), "band")
        b = _plain(band, log_scale, "q1")
        tip = [alt.Tooltip("group:N", title=group_title),
               alt.Tooltip("x:Q", title="Day (bin centre)", format=".1f"),
               alt.Tooltip("median:Q", title="Median", format=".3g"),
               alt.Tooltip("q1:Q", title="Q1", format=".3g"),
               alt.Tooltip("q3:Q", title="Q3", format=".3g"),
               alt.Tooltip("n:Q", title="Patients")]
        base = alt.Chart(b).encode(x=_x(x_title, x_domain), color=color)
        layers.append(base.mark_area(opacity=0.18, interpolate="monotone").encode(
            y=_y(log_scale, y_title, "q1"), y2="q3:Q", tooltip=tip))
        layers.append(base.mark_line(strokeWidth=3, interpolate="monotone").encode(
            y=_y(log_scale, y_title, "median"), tooltip=tip))
    if doses is not None and len(doses):
        _need(doses, ("patient_id", "x", "kind"), "doses")
        d = _plain(doses, log_scale and "value" in doses, "value")
        shape = alt.Shape("kind:N", title="Dose", scale=alt.Scale(
            domain=list(DOSE_SHAPES), range=list(DOSE_SHAPES.values())),
            legend=alt.Legend(orient="top"))
        tip = [alt.Tooltip("patient_id:N", title="Patient"),
               alt.Tooltip("x:Q", title="Day", format=".1f")]
        tip += [alt.Tooltip(f"{c}:{t}", title=c.capitalize()) for c, t in
                (("drug", "N"), ("dose", "Q")) if c in d]
        enc = {"x": _x(x_title, x_domain), "shape": shape, "tooltip": tip}
        if "value" in d:
            enc["y"] = _y(log_scale, y_title)
        else:
            enc["y"] = alt.value("height")
        layers.append(alt.Chart(d).mark_point(filled=True, size=55, color=DOSE_COLOR,
                                              opacity=0.85).encode(**enc))
    chart = alt.layer(*layers).resolve_scale(color="shared").properties(height=height)
    return chart.properties(title=title) if title else chart


def small_multiples(curves: pd.DataFrame, doses: pd.DataFrame | None = None,
                    lines: pd.DataFrame | None = None, *,
                    x_title: str = "Days after CAR-T infusion", y_title: str = "value",
                    group_title: str = "Group", x_domain: tuple[float, float] | None = None,
                    log_scale: bool = False, columns: int = 5, panel_width: int = 170,
                    panel_height: int = 120, title: str = "") -> alt.FacetChart:
    """One small panel per patient (``columns`` per row), shared axes.

    Parameters
    ----------
    curves : ``patient_id, x, value, group`` (line + points, coloured by group).
    doses : ``patient_id, x, kind`` (+ ``value``): dose marks on the patient's curve (on the x
        axis without ``value``).
    lines : ``value, label``: dashed reference lines in every panel.
    columns : panels per row.

    Returns
    -------
    alt.FacetChart
        Faceted by ``patient_id`` in the order of first appearance in ``curves``.
    """
    _need(curves, ("patient_id", "x", "value", "group"), "curves")
    order = list(dict.fromkeys(curves["patient_id"].astype(str)))
    groups = _groups(curves)
    parts = [_plain(curves, log_scale).assign(layer="curve")]
    if doses is not None and len(doses):
        _need(doses, ("patient_id", "x", "kind"), "doses")
        d = _plain(doses, log_scale and "value" in doses, "value").assign(layer="dose")
        parts.append(d[d["patient_id"].isin(order)])
    has_lines = lines is not None and len(lines) > 0
    if lines is not None and has_lines:
        parts.append(pd.concat([lines.assign(patient_id=p, layer="line") for p in order],
                               ignore_index=True))
    data = pd.concat(parts, ignore_index=True)
    keep = [c for c in ("patient_id", "x", "value", "group", "drug", "dose", "kind", "label",
                        "layer") if c in data]
    data = data.loc[:, keep]
    for c in data.columns:
        if data[c].dtype == object:
            data[c] = data[c].where(data[c].notna(), None)  # type: ignore[call-overload]
    color = alt.Color("group:N", title=group_title,
                      scale=alt.Scale(domain=groups, range=list(PALETTE[:max(len(groups), 1)])),
                      legend=alt.Legend(orient="top"))
    base = alt.Chart().encode(x=_x(x_title, x_domain))
    curve = base.transform_filter(alt.datum.layer == "curve")
    layers = [
        curve.mark_line(strokeWidth=1.5).encode(y=_y(log_scale, y_title), color=color),
        curve.mark_circle(size=12).encode(
            y=_y(log_scale, y_title), color=color,
            tooltip=[alt.Tooltip("x:Q", title="Day", format=".1f"),
                     alt.Tooltip("value:Q", title=y_title, format=".3g")]),
    ]
    if has_lines:
        layers.insert(0, alt.Chart().mark_rule(color=LINE_COLOR, strokeDash=[4, 3],
                                               strokeWidth=0.8, opacity=0.7).encode(
            y=_y(log_scale, y_title)).transform_filter(alt.datum.layer == "line"))
    if doses is not None and len(doses):
        shape = alt.Shape("kind:N", title="Dose", scale=alt.Scale(
            domain=list(DOSE_SHAPES), range=list(DOSE_SHAPES.values())),
            legend=alt.Legend(orient="top"))
        tip = [alt.Tooltip("x:Q", title="Day", format=".1f")]
        tip += [alt.Tooltip(f"{c}:{t}", title=c.capitalize()) for c, t in
                (("drug", "N"), ("dose", "Q")) if c in data]
        y = _y(log_scale, y_title) if "value" in doses else alt.value(panel_height)
        layers.append(base.mark_point(filled=True, size=40, color=DOSE_COLOR).encode(
            y=y, shape=shape, tooltip=tip).transform_filter(alt.datum.layer == "dose"))
    chart = alt.layer(*layers, data=data).properties(width=panel_width, height=panel_height)
    chart = chart.facet(facet=alt.Facet("patient_id:N", title=None, sort=order,
                                        header=alt.Header(labelFontSize=11, labelPadding=2)),
                        columns=columns)
    chart = chart.resolve_scale(x="shared", y="shared")
    return chart.properties(title=title) if title else chart
