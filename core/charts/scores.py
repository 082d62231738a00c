"""Charts of the CAR-T risk scores: a score by toxicity grade as a Tukey boxplot, EASIX and
m-EASIX on a log2 axis (the literature reports log2 EASIX: Korell 2022, Pennisi 2021)."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

from core.charts.groups import boxplot

#: CAR-HEMATOTOX high-risk threshold drawn as a reference line (Rejeski 2021: >= 2 high).
HEMATOTOX_LINE: tuple[float, str] = (1.5, "high risk ≥ 2")


def score_boxplot(box: pd.DataFrame, points: pd.DataFrame | None, *, value_label: str,
                  group_label: str, log2: bool = False,
                  ref_lines: Sequence[tuple[float, str]] | None = None, title: str = "",
                  height: int = 280, step: int = 56) -> alt.LayerChart:
    """A score by grade: :func:`core.charts.groups.boxplot`, with a base-2 log axis when
    ``log2`` (ticks at powers of 2; symlog when a value is <= 0, where log is undefined).

    Parameters
    ----------
    box : Tukey box frame (``group, n, q1, median, q3, whisker_low, whisker_high,
        n_outliers``).
    points : ``group, value`` (and ``patient_id``) to overlay, or None.
    value_label, group_label : axis titles.
    log2 : draw the value axis on a log2 scale.
    ref_lines : dashed reference lines ``[(value, label)]``.
    title, height, step : as :func:`core.charts.groups.boxplot`.

    Returns
    -------
    alt.LayerChart
        The layers of :func:`core.charts.groups.boxplot`.
    """
    chart = boxplot(box, points, value_label=value_label, group_label=group_label,
                    log_scale=log2, ref_lines=ref_lines, title=title, height=height,
                    step=step)
    if log2:
        values = np.r_[box["whisker_low"].to_numpy(float), box["whisker_high"].to_numpy(float),
                       points["value"].to_numpy(float) if points is not None and len(points)
                       else np.zeros(0)]
        finite = values[np.isfinite(values)]
        if finite.size and finite.min() > 0:
            lo, hi = np.floor(np.log2(finite.min())), np.ceil(np.log2(finite.max()))
            ticks = [float(2.0 ** k) for k in np.arange(lo, hi + 1)]
            whiskers = chart.layer[0]
            whiskers.encoding.y.scale = alt.Scale(type="log", base=2)
            whiskers.encoding.y.axis = alt.Axis(values=ticks, format="~g")
    return chart
