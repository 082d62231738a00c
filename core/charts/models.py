"""Figure builders for the Outcomes pages: the Kaplan-Meier figure with its risk table and the
forest plot, made ready for a page column and for export.

They wrap :func:`core.charts.survival.km_with_risk_table` and :func:`~core.charts.survival.
forest_plot` (which stay the reference builders) and add what the app needs around them:

* ``autosize: fit-x`` on the KM + risk-table stack, so it fits the page width (Streamlit
  stretches the width of a nested vconcat without fitting it and the right edge overflows);
* room for long group and term labels (legend, risk-table rows and forest rows are not cut
  to "Hypofibrinogene…");
* one categorical colour scheme, so curves and risk-table rows keep distinct colours under
  any theme;
* a forest height that leaves each row enough space for its label.

Builders only; they never render, save or import streamlit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt
import pandas as pd

from core.charts.survival import cif_with_risk_table, forest_plot, km_with_risk_table
from core.stats.competing import CumulativeIncidenceResult
from core.stats.survival import KaplanMeierResult

SCHEME: Any = "tableau10"  # an Altair scheme name (a Literal in its stubs)
LABEL_LIMIT = 320


def _undefined(x: object) -> bool:
    return x is alt.Undefined or x is None


def _merged(channel: alt.SchemaBase, prop: str, **extra: object) -> dict | None:
    """The channel's ``prop`` (an axis or legend) as a dict with ``extra`` added; None stays
    None (no legend/axis)."""
    current = channel.to_dict(validate=False).get(prop, {})
    if current is None:
        return None
    return {**current, **extra}


def _with(channel: alt.SchemaBase, **props: object) -> alt.SchemaBase:
    """A copy of an encoding channel with ``props`` replaced."""
    spec = channel.to_dict(validate=False)
    spec.update(props)
    spec = {k: (v.to_dict(validate=False) if isinstance(v, alt.SchemaBase) else v)
            for k, v in spec.items()}
    return type(channel).from_dict(spec, validate=False)


def km_figure(result: KaplanMeierResult, times: Sequence[float], *, time_label: str = "Days",
              width: int = 560, label_limit: int = LABEL_LIMIT) -> alt.VConcatChart:
    """Kaplan-Meier curves with CI bands and censor ticks above the numbers-at-risk table.

    Parameters
    ----------
    result : from :func:`core.stats.kaplan_meier`.
    times : the columns of the at-risk table (e.g. ``SurvivalResult.times``).
    time_label : x-axis title under the risk table.
    width : plot width when not stretched to a container.
    label_limit : pixels allowed for a legend entry or risk-table row label.

    Returns
    -------
    alt.VConcatChart
        ``km_with_risk_table`` with autosize fit-x, a fixed categorical colour scheme and
        longer label limits.
    """
    chart = km_with_risk_table(result, times, time_label=time_label, width=width).copy(
        deep=True)
    return _styled(chart, label_limit)


def cif_figure(result: CumulativeIncidenceResult, times: Sequence[float], *,
               time_label: str = "Days", width: int = 560, label_limit: int = LABEL_LIMIT
               ) -> alt.VConcatChart:
    """Cumulative incidence curves with CI bands above the numbers-at-risk table, styled as
    :func:`km_figure`.

    Returns
    -------
    alt.VConcatChart
        ``cif_with_risk_table`` with autosize fit-x, the colour scheme and label limits.
    """
    chart = cif_with_risk_table(result, times, time_label=time_label, width=width).copy(
        deep=True)
    return _styled(chart, label_limit)


def _styled(chart: alt.VConcatChart, label_limit: int) -> alt.VConcatChart:
    """A curve + risk-table stack with the app's colour scheme, label limits and fit-x."""
    plot, table = chart.vconcat
    for layer in plot.layer:
        color = layer.encoding.color
        if _undefined(color):
            continue
        layer.encoding.color = _with(color, scale=alt.Scale(scheme=SCHEME),
                                     legend=_merged(color, "legend", labelLimit=label_limit))
    enc = table.encoding
    enc.color = _with(enc.color, scale=alt.Scale(scheme=SCHEME))
    enc.y = _with(enc.y, axis=_merged(enc.y, "axis", labelLimit=label_limit))
    return chart.properties(autosize=alt.AutoSizeParams(type="fit-x", contains="padding"))


def forest(table: pd.DataFrame, *, estimate: str = "odds_ratio", label: str = "term",
           row_height: int = 34, width: int = 420, label_limit: int = LABEL_LIMIT
           ) -> alt.LayerChart:
    """Forest plot on a log axis (:func:`core.charts.survival.forest_plot`) with room per row.

    Parameters
    ----------
    table : a model table with columns ``label``, ``estimate``, ci_low, ci_high (pvalue
        optional); an intercept row is left out.
    estimate : "odds_ratio" or "hazard_ratio".
    row_height : pixels per term (the axis is added on top).
    label_limit : pixels allowed for a term label.

    Returns
    -------
    alt.LayerChart
        The forest plot with its height set from the number of terms and long labels kept.
    """
    chart = forest_plot(table, estimate=estimate, label=label, width=width).copy(deep=True)
    n = int((table[label] != "(Intercept)").sum())
    for layer in chart.layer:
        y = layer.encoding.y
        if _undefined(y):
            continue
        layer.encoding.y = _with(y, axis=_merged(y, "axis", labelLimit=label_limit,
                                                 labelOverlap=False))
    return chart.properties(height=max(row_height * n, 60) + 40)
