"""Shared cases for the tests of core.export (tests/test_export_*.py): small charts of every
kind, a three-figure report, its metadata and patient table, and the pack built from them.

Each builder is cached, so the pack (the slow part: every figure rendered) is built once per test
session however many test modules open it. The values are immutable or treated as such.
"""

from __future__ import annotations

from datetime import date
from functools import cache

import altair as alt
import numpy as np
import pandas as pd

from core.export import FigureSpec, RenderCache, Report, ReportItem, ReportMeta, build_pack

CAPTION = ("CRS 1-2 \u00b7 tisa-cel, axi-cel \u00b7 tocilizumab \u2265 1 dose \u2013 M\u00fcller"
           " \u00b7 n = 27")
DAY = date(2026, 11, 24)


@cache
def data() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 60
    return pd.DataFrame({
        "crs_grade": rng.choice(["0", "1", "2", "3-4"], n),
        "fibrinogen_nadir": rng.normal(250, 80, n).round(1),
        "tocilizumab_cum_mg": rng.uniform(0, 2400, n).round(0),
        "product": rng.choice(["tisa-cel", "axi-cel"], n),
    })


@cache
def charts() -> dict[str, alt.TopLevelMixin]:
    base = alt.Chart(data())
    box = base.mark_boxplot().encode(x="crs_grade:N", y="fibrinogen_nadir:Q")
    points = base.mark_circle().encode(x="crs_grade:N", y="fibrinogen_nadir:Q")
    scatter = base.mark_point().encode(x="tocilizumab_cum_mg:Q", y="fibrinogen_nadir:Q")
    return {
        "single": scatter,
        "layered": box + points,
        "hconcat": scatter | base.mark_bar().encode(x="crs_grade:N", y="count():Q"),
        "vconcat": alt.vconcat(scatter, box),
        "facet": scatter.properties(width=180, height=150).facet(column="product:N"),
        "facet_encoding": scatter.encode(column="product:N").properties(width=180),
        "configured": scatter.properties(width="container").configure_axis(grid=False),
        "interactive": scatter.interactive(),
        "titled": scatter.properties(title="Old title"),
    }


def spec(chart: alt.TopLevelMixin, *, title: str = "Fibrinogen nadir by CRS grade",
         stat: str | None = "Kruskal-Wallis p = 0.004", synthetic: bool = False,
         name: str = "fibrinogen_by_crs") -> FigureSpec:
    """A figure of ``chart`` with the shared :data:`CAPTION`."""
    return FigureSpec(chart=chart, title=title, caption=CAPTION, stat=stat, name=name,
                      synthetic=synthetic)


@cache
def report() -> Report:
    c = charts()
    rep = Report(title="CAR-T board 24 Nov")
    rep = rep.add(spec(c["layered"], title="Fibrinogen nadir by CRS grade",
                       stat="Kruskal-Wallis p = 0.004", name="fibrinogen-by-crs"))
    rep = rep.add(ReportItem(spec(c["single"], title="Tocilizumab dose vs fibrinogen",
                                  stat="Spearman r = \u22120.44, p = 0.01", name="toci-vs-fib"),
                             table=pd.DataFrame({"a": ["=cmd", "ok"], "b": [1.5, -3]})))
    rep = rep.add(spec(c["facet"], title="Fibrinogen by product", stat=None,
                       name="by-product"))
    return rep


@cache
def meta() -> ReportMeta:
    return ReportMeta(cohort="Uploaded cohort (upload.xlsx)", filters=CAPTION, n=27, when=DAY,
                      synthetic=False)


@cache
def patients() -> pd.DataFrame:
    df = data()
    return df.assign(patient_id=[f"P{i:03d}" for i in range(len(df))])


@cache
def pack() -> tuple[dict[str, bytes], RenderCache]:
    """The PPTX, PDF and ZIP of :func:`report`, and the (closed) cache that rendered them."""
    with RenderCache() as render_cache:
        return build_pack(report(), meta(), patients(), cache=render_cache), render_cache
