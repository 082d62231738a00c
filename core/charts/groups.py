"""Charts of group comparisons and correlations: Tukey boxplots, scatter with an OLS band, a
correlation heatmap (the paper's Figures 1-3).

Builders take data and return an Altair chart; they never render, save or import streamlit.
Box statistics come precomputed (:func:`core.stats.groups.tukey_box`, or the same columns from
SQL for big cohorts), so a chart never needs every raw row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import altair as alt
import numpy as np
import pandas as pd
from scipy import stats as sps

from core.errors import ColumnError

BOX_COLUMNS = ("group", "n", "q1", "median", "q3", "whisker_low", "whisker_high", "n_outliers")
BOX_FILL = "#99d5cf"
ACCENT = "#0f766e"
JITTER = 0.28  # points spread over +/- this fraction of the box band


def _check_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ColumnError(f"The {what} frame lacks column(s) {', '.join(missing)}.")


def _jitter(n: int, seed: int = 7) -> np.ndarray:
    """Deterministic horizontal offsets in [-JITTER, JITTER] (same picture on every rerun)."""
    return np.random.default_rng(seed).uniform(-JITTER, JITTER, n)


def _y_scale(log_scale: bool, values: Sequence[float]) -> alt.Scale:
    if not log_scale:
        return alt.Scale(zero=False)
    finite = np.asarray([v for v in values if pd.notna(v)], dtype=float)
    # log of a value <= 0 is undefined: fall back to symlog so the chart still draws
    return alt.Scale(type="log") if finite.size == 0 or finite.min() > 0 else alt.Scale(
        type="symlog")


def boxplot(box: pd.DataFrame, points: pd.DataFrame | None = None, *, value_label: str,
            group_label: str, log_scale: bool = False,
            ref_lines: Sequence[tuple[float, str]] | None = None, n_labels: bool = True,
            height: int = 320, step: int = 72, title: str = "") -> alt.LayerChart:
    """Tukey boxplot per group with jittered points, "n = k" labels and reference lines.

    Parameters
    ----------
    box : a :func:`core.stats.groups.tukey_box` frame (columns ``group, n, q1, median, q3,
        whisker_low, whisker_high, n_outliers``); its row order is the x order.
    points : points to overlay (the caller passes outliers plus a sample): columns ``group,
        value`` and optionally ``patient_id`` (shown in the tooltip). None: boxes only.
    value_label, group_label : axis titles.
    log_scale : log y axis (symlog if a value is <= 0).
    ref_lines : ``[(value, label), ...]`` drawn as dashed horizontal lines, e.g. the CTCAE
        grade limits of fibrinogen.
    n_labels : write "n = k" under each box.
    height, step, title : chart height and width per group in pixels, and title.

    Returns
    -------
    alt.LayerChart
        Layers in order: whisker rule, box bar, median tick, [points], [n labels],
        [reference rules, reference labels].
    """
    _check_columns(box, BOX_COLUMNS, "box")
    box = box.assign(group=box["group"].astype(str),
                     label=[f"n = {int(n)}" for n in box["n"]])
    order = box["group"].tolist()
    all_values = list(box["whisker_low"]) + list(box["whisker_high"])
    if points is not None and len(points):
        _check_columns(points, ["group", "value"], "points")
        all_values += list(points["value"])
    y_scale = _y_scale(log_scale, all_values + [v for v, _ in (ref_lines or [])])
    x = alt.X("group:N", title=group_label, sort=order,
              axis=alt.Axis(labelAngle=0, titlePadding=24 if n_labels else 4))
    base = alt.Chart(box).encode(x=x)
    tooltip = [alt.Tooltip("group:N", title=group_label), alt.Tooltip("n:Q"),
               alt.Tooltip("median:Q", format=".4~g"), alt.Tooltip("q1:Q", format=".4~g"),
               alt.Tooltip("q3:Q", format=".4~g"),
               alt.Tooltip("whisker_low:Q", format=".4~g", title="lower whisker"),
               alt.Tooltip("whisker_high:Q", format=".4~g", title="upper whisker"),
               alt.Tooltip("n_outliers:Q", title="outliers")]
    whiskers = base.mark_rule(color="#444").encode(
        y=alt.Y("whisker_low:Q", title=value_label, scale=y_scale), y2="whisker_high:Q")
    boxes = base.mark_bar(size=34, color=BOX_FILL, stroke="#444", strokeWidth=1).encode(
        y="q1:Q", y2="q3:Q", tooltip=tooltip)
    medians = base.mark_tick(size=34, thickness=2.5, color="#222").encode(
        y="median:Q", tooltip=tooltip)
    layers: list[alt.Chart] = [whiskers, boxes, medians]
    if points is not None and len(points):
        pts = points.assign(group=points["group"].astype(str), jitter=_jitter(len(points)))
        tips = [alt.Tooltip("group:N", title=group_label),
                alt.Tooltip("value:Q", title=value_label, format=".4~g")]
        if "patient_id" in pts.columns:
            tips.insert(0, alt.Tooltip("patient_id:N", title="Patient"))
        layers.append(alt.Chart(pts).mark_circle(size=28, color=ACCENT, opacity=0.75).encode(
            x=alt.X("group:N", sort=order),
            xOffset=alt.XOffset("jitter:Q", scale=alt.Scale(domain=[-0.5, 0.5])),
            y=alt.Y("value:Q"), tooltip=tips))
    if n_labels:
        layers.append(alt.Chart(box[["group", "n", "label"]]).mark_text(
            baseline="top", fontSize=11, color="#333", dy=18).encode(
            x=alt.X("group:N", sort=order), y=alt.value(height), text="label:N"))
    if ref_lines:
        layers += reference_line_layers(ref_lines)
    chart = alt.layer(*layers).properties(height=height, width=alt.Step(step), title=title)
    return cast(alt.LayerChart, chart)


def reference_line_layers(ref_lines: Sequence[tuple[float, str]]) -> list[alt.Chart]:
    """Dashed horizontal lines with a label at the left edge, e.g. CTCAE grade limits.

    Parameters
    ----------
    ref_lines : (value, label) pairs on the y scale of the chart they are layered onto.
    """
    refs = pd.DataFrame(list(ref_lines), columns=["value", "label"])
    rule = alt.Chart(refs).mark_rule(strokeDash=[5, 4], color="#b91c1c",
                                     strokeWidth=1).encode(y="value:Q")
    text = alt.Chart(refs).mark_text(align="left", baseline="bottom", dx=3, dy=-2, fontSize=10,
                                     color="#b91c1c").encode(y="value:Q", x=alt.value(0),
                                                             text="label:N")
    return [rule, text]


def ols_band(x: Sequence[float] | pd.Series, y: Sequence[float] | pd.Series,
             at: Sequence[float] | None = None,
             *, n_grid: int = 100, level: float = 0.95) -> pd.DataFrame:
    """OLS line ``y ~ x`` with the confidence band of the mean.

    Parameters
    ----------
    x, y : the points (no missing values).
    at : x positions to evaluate; default ``n_grid`` evenly spaced over the range of ``x``.
    level : confidence level of the band.

    Returns
    -------
    DataFrame
        Columns ``x, fit, ci_low, ci_high``.

    Notes
    -----
    Equals R ``predict(lm(y ~ x), newdata, interval = "confidence")``:
    ``fit +/- t(n - 2) * s * sqrt(1/n + (x0 - mean x)^2 / Sxx)``.
    """
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = len(xa)
    if n < 3 or np.ptp(xa) == 0:
        raise ColumnError("A fitted line needs at least 3 points with different x values.")
    x_mean = xa.mean()
    sxx = float(np.sum((xa - x_mean) ** 2))
    slope = float(np.sum((xa - x_mean) * (ya - ya.mean())) / sxx)
    intercept = float(ya.mean() - slope * x_mean)
    resid = ya - (intercept + slope * xa)
    s = float(np.sqrt(np.sum(resid ** 2) / (n - 2)))
    grid = np.linspace(xa.min(), xa.max(), n_grid) if at is None else np.asarray(at, float)
    fit = intercept + slope * grid
    half = sps.t.ppf(0.5 + level / 2, n - 2) * s * np.sqrt(1 / n + (grid - x_mean) ** 2 / sxx)
    return pd.DataFrame({"x": grid, "fit": fit, "ci_low": fit - half, "ci_high": fit + half})


def scatter(df: pd.DataFrame, x: str, y: str, *, color: str | None = None, fit: bool = True,
            x_label: str, y_label: str, title: str = "", height: int = 320) -> alt.LayerChart:
    """Scatter plot with an OLS line and its 95% confidence band (computed in Python).

    Parameters
    ----------
    df : the data; rows with a missing ``x`` or ``y`` are not drawn.
    x, y : numeric columns.
    color : optional grouping column for the point colour (the line is fitted to all points).
    fit : draw the OLS line and band (skipped when fewer than 3 distinct x values).
    x_label, y_label, title, height : labels and size.

    Returns
    -------
    alt.LayerChart
        Layers: [band (area), line], points. Tooltips show ``patient_id`` when present.
    """
    _check_columns(df, [x, y] + ([color] if color else []), "scatter")
    keep = [c for c in dict.fromkeys([x, y, color, "patient_id"]) if c and c in df.columns]
    data = df[keep].dropna(subset=[x, y])
    data = data.assign(**{x: pd.to_numeric(data[x]), y: pd.to_numeric(data[y])})
    x_enc = alt.X(f"{x}:Q", title=x_label, scale=alt.Scale(zero=False))
    y_enc = alt.Y(f"{y}:Q", title=y_label, scale=alt.Scale(zero=False))
    tips = [alt.Tooltip(f"{x}:Q", title=x_label, format=".4~g"),
            alt.Tooltip(f"{y}:Q", title=y_label, format=".4~g")]
    if "patient_id" in data.columns:
        tips.insert(0, alt.Tooltip("patient_id:N", title="Patient"))
    point_enc: dict = {"x": x_enc, "y": y_enc, "tooltip": tips}
    if color:
        data = data.assign(**{color: data[color].astype("string").fillna("missing")})
        point_enc["color"] = alt.Color(f"{color}:N", title=color)
        tips.append(alt.Tooltip(f"{color}:N"))
    mark: dict[str, Any] = {} if color else {"color": ACCENT}
    points = alt.Chart(data).mark_circle(size=45, opacity=0.8, **mark).encode(**point_enc)
    layers: list[alt.Chart] = []
    if fit and len(data) >= 3 and data[x].nunique() >= 2:
        band = ols_band(data[x], data[y]).rename(columns={"x": x})
        layers.append(alt.Chart(band).mark_area(opacity=0.18, color="#555").encode(
            x=x_enc, y=alt.Y("ci_low:Q"), y2="ci_high:Q"))
        layers.append(alt.Chart(band).mark_line(color="#333", strokeWidth=1.5).encode(
            x=x_enc, y=alt.Y("fit:Q")))
    layers.append(points)
    chart = alt.layer(*layers).properties(height=height, title=title)
    return cast(alt.LayerChart, chart)


def correlation_matrix(matrix: pd.DataFrame, *, title: str = "",
                       labels: dict[str, str] | None = None) -> alt.LayerChart:
    """Heatmap of pairwise correlations with "r" and "n = k" in each cell.

    Parameters
    ----------
    matrix : a :func:`core.stats.groups.correlation_matrix_frame` frame (columns ``x, y, r,
        pvalue, n``); the order of first appearance of ``x`` is the axis order.
    labels : optional column name -> axis label.
    title : chart title.

    Returns
    -------
    alt.LayerChart
        Layers: rect coloured by r (diverging, domain -1..1), text ``"r\\nn=k"``.
    """
    _check_columns(matrix, ["x", "y", "r", "pvalue", "n"], "correlation matrix")
    labels = labels or {}
    data = matrix.assign(
        x=matrix["x"].map(lambda c: labels.get(c, c)),
        y=matrix["y"].map(lambda c: labels.get(c, c)),
        text=[("–" if pd.isna(r) else f"{r:.2f}") + f"\nn={int(n)}"
              for r, n in zip(matrix["r"], matrix["n"])])
    order = list(dict.fromkeys(data["x"]))
    base = alt.Chart(data).encode(x=alt.X("x:N", sort=order, title=None,
                                          axis=alt.Axis(labelAngle=-35)),
                                  y=alt.Y("y:N", sort=order, title=None))
    cells = base.mark_rect().encode(
        color=alt.Color("r:Q", title="r", scale=alt.Scale(domain=[-1, 1], scheme="redblue")),
        tooltip=[alt.Tooltip("x:N"), alt.Tooltip("y:N"), alt.Tooltip("r:Q", format=".3f"),
                 alt.Tooltip("pvalue:Q", format=".3g", title="p"), alt.Tooltip("n:Q")])
    text = base.mark_text(lineBreak="\n", fontSize=10).encode(
        text="text:N",
        color=alt.condition("isValid(datum.r) && abs(datum.r) >= 0.6", alt.value("white"),
                            alt.value("black")))
    side = max(180, 60 * len(order))
    chart = alt.layer(cells, text).properties(width=side, height=side, title=title)
    return cast(alt.LayerChart, chart)
