"""Survival and model charts: Kaplan-Meier curves, cumulative incidence curves, numbers-at-risk
table, forest plot.

Builders take a result object (or its tidy table) and return an Altair chart; they never render,
save or import streamlit. The KM plot and its risk table share one explicit x domain, so they
line up when stacked with :func:`km_with_risk_table`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import altair as alt
import numpy as np
import pandas as pd

from core.stats.competing import CumulativeIncidenceResult
from core.stats.survival import KaplanMeierResult

_LEGEND = "Group (n)"


def _legend_labels(result: KaplanMeierResult) -> dict[str, str]:
    """Group -> legend label with the group's n, e.g. ``"1 (n=138)"``."""
    m = result.medians
    return {str(g): f"{g} (n={int(n)})" for g, n in zip(m["group"], m["n"])}


def _x_domain(result: KaplanMeierResult) -> list[float]:
    return [0.0, float(result.curves["time"].max()) or 1.0]


def km_plot(result: KaplanMeierResult, *, time_label: str | None = "Days", show_ci: bool = True,
            show_censors: bool = True, width: int = 520, height: int = 320,
            x_domain: Sequence[float] | None = None) -> alt.LayerChart:
    """Kaplan-Meier step curves with log(-log) CI bands and censoring ticks.

    Parameters
    ----------
    result : from :func:`core.stats.kaplan_meier`.
    time_label : x-axis title (None: no title, as above a risk table).
    show_ci : draw the 95% CI as a step band.
    show_censors : draw a small vertical tick at each censoring time on the curve.
    x_domain : time axis domain (default: 0 to the last time).

    Returns
    -------
    alt.LayerChart
        Layers: CI band (optional), survival step line, censor ticks (optional). Legend titled
        "Group (n)" with n per group.
    """
    labels = _legend_labels(result)
    data = result.curves.assign(legend=result.curves["group"].map(labels))
    order = [labels[g] for g in result.groups]
    domain = list(x_domain) if x_domain is not None else _x_domain(result)
    x = alt.X("time:Q", title=time_label, scale=alt.Scale(domain=domain, nice=False))
    color = alt.Color("legend:N", title=_LEGEND, sort=order,
                      legend=alt.Legend(orient="top-right") if len(order) > 1 else None)
    base = alt.Chart(data)
    y = alt.Y("survival:Q", title="Survival probability", scale=alt.Scale(domain=[0, 1]))
    tooltip = [alt.Tooltip("legend:N", title="Group"),
               alt.Tooltip("time:Q", title=time_label or "Time"),
               alt.Tooltip("survival:Q", format=".3f"), alt.Tooltip("ci_low:Q", format=".3f"),
               alt.Tooltip("ci_high:Q", format=".3f"), alt.Tooltip("at_risk:Q")]
    line = base.mark_line(interpolate="step-after").encode(x=x, y=y, color=color,
                                                             tooltip=tooltip)
    layers: list[alt.Chart] = []
    if show_ci:
        band = base.transform_filter("isValid(datum.ci_low) && isValid(datum.ci_high)") \
            .mark_area(interpolate="step-after", opacity=0.18) \
            .encode(x=x, y=alt.Y("ci_low:Q", scale=alt.Scale(domain=[0, 1])), y2="ci_high:Q",
                    color=color)
        layers.append(band)
    layers.append(line)
    if show_censors:
        ticks = base.transform_filter("datum.censored > 0").mark_tick(
            orient="vertical", size=8, thickness=1.2).encode(x=x, y=y, color=color,
                                                              tooltip=tooltip)
        layers.append(ticks)
    chart = alt.layer(*layers).properties(width=width, height=height)
    return cast(alt.LayerChart, chart)


def at_risk_table(at_risk: pd.DataFrame, *, time_label: str = "Days",
                  x_domain: Sequence[float] | None = None, width: int = 520,
                  group_labels: dict[str, str] | None = None) -> alt.Chart:
    """Numbers-at-risk table as a text chart, one row per group, aligned on the time axis.

    Parameters
    ----------
    at_risk : ``result.survival_at(times)`` (columns group, time, at_risk, ...).
    x_domain : the KM plot's x domain, so the columns sit under the plot's ticks
        (default: 0 to the largest time).
    group_labels : optional group -> row label.

    Returns
    -------
    alt.Chart
        Text marks: x = time (same scale as the KM plot), y = group, text = at_risk.
    """
    data = at_risk.copy()
    data["row"] = data["group"].map(group_labels) if group_labels else data["group"]
    domain = list(x_domain) if x_domain is not None else [0.0, float(data["time"].max()) or 1.0]
    rows = list(dict.fromkeys(data["row"]))
    return alt.Chart(data).mark_text(fontSize=11).encode(
        x=alt.X("time:Q", title=time_label, scale=alt.Scale(domain=domain, nice=False),
                axis=alt.Axis(values=sorted(data["time"].unique().tolist()), grid=False)),
        y=alt.Y("row:N", title="At risk", sort=rows,
                axis=alt.Axis(domain=False, ticks=False, offset=16)),
        text=alt.Text("at_risk:Q", format="d"),
        color=alt.Color("row:N", sort=rows, legend=None),
    ).properties(width=width, height=max(18 * len(rows), 24))


def km_with_risk_table(result: KaplanMeierResult, times: Sequence[float], *,
                       time_label: str = "Days", show_ci: bool = True,
                       show_censors: bool = True, width: int = 520) -> alt.VConcatChart:
    """KM plot with the numbers-at-risk table underneath, sharing the x scale.

    Returns
    -------
    alt.VConcatChart
        ``[km_plot, at_risk_table]``; x scale resolved as shared.
    """
    domain = _x_domain(result)
    domain[1] = max(domain[1], float(max(times, default=0)))
    plot = km_plot(result, time_label=None, show_ci=show_ci, show_censors=show_censors,
                   width=width, x_domain=domain)
    table = at_risk_table(result.survival_at(times), time_label=time_label, x_domain=domain,
                          width=width, group_labels=_legend_labels(result))
    return alt.vconcat(plot, table, spacing=6).resolve_scale(x="shared", color="independent")


def cif_plot(result: CumulativeIncidenceResult, *, time_label: str | None = "Days",
             show_ci: bool = True, width: int = 520, height: int = 320,
             x_domain: Sequence[float] | None = None) -> alt.LayerChart:
    """Cumulative incidence step curves (rising from 0) with log(-log) CI bands.

    Parameters
    ----------
    result : from :func:`core.stats.cumulative_incidence`.
    time_label : x-axis title (None: no title, as above a risk table).
    show_ci : draw the 95% CI as a step band.
    x_domain : time axis domain (default: 0 to the last time).

    Returns
    -------
    alt.LayerChart
        Layers: CI band (optional), incidence step line. Legend titled "Group (n)".
    """
    labels = {str(g): f"{g} (n={int(n)})" for g, n in zip(result.summary["group"],
                                                          result.summary["n"])}
    data = result.curves.assign(legend=result.curves["group"].map(labels))
    order = [labels[g] for g in result.groups]
    domain = list(x_domain) if x_domain is not None else [
        0.0, float(result.curves["time"].max()) or 1.0]
    x = alt.X("time:Q", title=time_label, scale=alt.Scale(domain=domain, nice=False))
    color = alt.Color("legend:N", title=_LEGEND, sort=order,
                      legend=alt.Legend(orient="top-left") if len(order) > 1 else None)
    top = float(np.nanmax(np.r_[result.curves["ci_high"].to_numpy(dtype=float), 0.05]))
    y_scale = alt.Scale(domain=[0, min(1.0, max(0.1, top * 1.1))])
    base = alt.Chart(data)
    tooltip = [alt.Tooltip("legend:N", title="Group"),
               alt.Tooltip("time:Q", title=time_label or "Time"),
               alt.Tooltip("cif:Q", format=".3f", title="Cumulative incidence"),
               alt.Tooltip("ci_low:Q", format=".3f"), alt.Tooltip("ci_high:Q", format=".3f"),
               alt.Tooltip("at_risk:Q")]
    line = base.mark_line(interpolate="step-after").encode(
        x=x, y=alt.Y("cif:Q", title="Cumulative incidence", scale=y_scale), color=color,
        tooltip=tooltip)
    layers: list[alt.Chart] = []
    if show_ci:
        layers.append(base.transform_filter("isValid(datum.ci_low) && isValid(datum.ci_high)")
                      .mark_area(interpolate="step-after", opacity=0.18)
                      .encode(x=x, y=alt.Y("ci_low:Q", scale=y_scale), y2="ci_high:Q",
                              color=color))
    layers.append(line)
    return cast(alt.LayerChart, alt.layer(*layers).properties(width=width, height=height))


def cif_with_risk_table(result: CumulativeIncidenceResult, times: Sequence[float], *,
                        time_label: str = "Days", show_ci: bool = True,
                        width: int = 520) -> alt.VConcatChart:
    """Cumulative incidence plot with the numbers-at-risk table underneath (shared x).

    Returns
    -------
    alt.VConcatChart
        ``[cif_plot, at_risk_table]``.
    """
    domain = [0.0, max(float(result.curves["time"].max()) or 1.0,
                       float(max(times, default=0)))]
    plot = cif_plot(result, time_label=None, show_ci=show_ci, width=width, x_domain=domain)
    labels = {str(g): f"{g} (n={int(n)})" for g, n in zip(result.summary["group"],
                                                          result.summary["n"])}
    table = at_risk_table(result.cif_at(times), time_label=time_label, x_domain=domain,
                          width=width, group_labels=labels)
    return alt.vconcat(plot, table, spacing=6).resolve_scale(x="shared", color="independent")


def forest_plot(table: pd.DataFrame, *, estimate: str = "odds_ratio", ref_line: float = 1.0,
                label: str = "term", limits: tuple[float, float] = (1e-3, 1e3),
                width: int = 420) -> alt.LayerChart:
    """Forest plot: estimate and 95% CI per term on a log axis, reference line at ``ref_line``.

    Parameters
    ----------
    table : a result table (columns ``label``, ``estimate``, ci_low, ci_high), e.g.
        ``logistic(...).table`` or ``cox(...).table`` with ``estimate="hazard_ratio"``. The
        intercept row, if present, is left out.
    limits : values outside (infinite or huge limits under separation, zero lower limits) are
        clipped to these bounds and marked with an arrow-head triangle at the clipped end.

    Returns
    -------
    alt.LayerChart
        Layers: reference rule, CI rules, point estimates, clip markers. Columns added to the
        data: est, low, high (clipped), clipped_low, clipped_high (bool).
    """
    lo_lim, hi_lim = limits
    data = table[table[label] != "(Intercept)"].copy()
    est = data[estimate].astype(float).to_numpy()
    low, high = data["ci_low"].astype(float).to_numpy(), data["ci_high"].astype(float).to_numpy()
    data = data.assign(
        est=np.clip(np.nan_to_num(est, nan=ref_line), lo_lim, hi_lim),
        low=np.clip(np.nan_to_num(low, nan=lo_lim), lo_lim, hi_lim),
        high=np.clip(np.nan_to_num(high, nan=hi_lim, posinf=hi_lim), lo_lim, hi_lim),
        clipped_low=~(low > lo_lim), clipped_high=~(high < hi_lim))
    finite = np.r_[data["low"], data["high"], ref_line]
    domain = [float(max(finite.min() / 1.2, lo_lim)), float(min(finite.max() * 1.2, hi_lim))]
    x_scale = alt.Scale(type="log", domain=domain, clamp=True)
    y = alt.Y(f"{label}:N", title=None, sort=list(data[label]))
    base = alt.Chart(data)
    tooltip = [alt.Tooltip(f"{label}:N"), alt.Tooltip(f"{estimate}:Q", format=".3g"),
               alt.Tooltip("ci_low:Q", format=".3g"), alt.Tooltip("ci_high:Q", format=".3g")]
    if "pvalue" in data:
        tooltip.append(alt.Tooltip("pvalue:Q", format=".3g"))
    rule = base.mark_rule().encode(x=alt.X("low:Q", scale=x_scale,
                                           title=estimate.replace("_", " ").capitalize()),
                                   x2="high:Q", y=y, tooltip=tooltip)
    point = base.mark_point(filled=True, size=60, shape="square").encode(
        x=alt.X("est:Q", scale=x_scale), y=y, tooltip=tooltip)
    ref = alt.Chart(pd.DataFrame({"ref": [ref_line]})).mark_rule(strokeDash=[4, 4],
                                                                 color="gray").encode(
        x=alt.X("ref:Q", scale=x_scale))
    left = base.transform_filter("datum.clipped_low").mark_point(
        shape="triangle-left", filled=True, size=50, color="firebrick").encode(
        x=alt.X("low:Q", scale=x_scale), y=y, tooltip=tooltip)
    right = base.transform_filter("datum.clipped_high").mark_point(
        shape="triangle-right", filled=True, size=50, color="firebrick").encode(
        x=alt.X("high:Q", scale=x_scale), y=y, tooltip=tooltip)
    chart = alt.layer(ref, rule, point, left, right).properties(
        width=width, height=max(28 * len(data), 60))
    return cast(alt.LayerChart, chart)
