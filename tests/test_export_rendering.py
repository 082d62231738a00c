"""Tests of core.export.rendering: PNG at slide size and 300 dpi, SVG and PDF, offline, each
figure rendered once per build (and once per session with a memo)."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import altair as alt
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from pypdf import PdfReader

import core.export.rendering as export
import export_cases as cases
from core.errors import ExportError
from core.export import FigureSpec, RenderCache, RenderMemo, render, render_key, with_caption
from export_cases import CAPTION
from export_cases import spec as _spec


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return cases.data()


@pytest.fixture(scope="module")
def charts() -> dict[str, alt.TopLevelMixin]:
    return cases.charts()


# ---------------------------------------------------------------------------------------------
# render
# ---------------------------------------------------------------------------------------------

def test_png_is_slide_size_at_300_dpi(charts):
    png = render(_spec(charts["layered"]), "png")
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    width, height = image.size
    assert width >= 3000
    assert height >= 5.6 * 300  # covers a 10 x 5.6 in box at 300 dpi
    dpi = image.info["dpi"]
    assert dpi[0] == pytest.approx(300, abs=0.5) and dpi[1] == pytest.approx(300, abs=0.5)
    assert width / dpi[0] >= 10.0 - 1e-3  # physical width: 10 inches or more


def test_png_ppi_is_configurable(charts):
    png = render(_spec(charts["single"]), "png", ppi=150)
    image = Image.open(io.BytesIO(png))
    assert image.info["dpi"][0] == pytest.approx(150, abs=0.5)
    assert 1500 <= image.size[0] <= 1510


def test_svg_parses_and_carries_caption_title_and_stat(charts):
    svg = render(_spec(charts["layered"]), "svg").decode("utf-8")
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    text = "".join(root.itertext())
    assert "Fibrinogen nadir by CRS grade" in text
    assert CAPTION in text
    assert "Kruskal-Wallis p = 0.004" in text


def test_pdf_render_is_a_vector_pdf_of_the_chart_size(charts):
    spec = _spec(charts["single"])
    pdf = render(spec, "pdf")
    assert pdf.startswith(b"%PDF")
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    svg_width = float(ET.fromstring(render(spec, "svg")).attrib["width"])
    assert float(page.mediabox.width) == pytest.approx(svg_width, abs=1.5)  # 1 CSS px = 1 pt
    assert "Fibrinogen nadir by CRS grade" in page.extract_text()


def test_line_opacity_is_rendered_as_stroke_opacity(data):
    import vl_convert as vlc

    lines = alt.Chart(data).mark_line(opacity=0.4).encode(
        x="tocilizumab_cum_mg:Q", y="fibrinogen_nadir:Q", detail="crs_grade:N")
    area = alt.Chart(data).mark_area(opacity=0.3).encode(x="tocilizumab_cum_mg:Q",
                                                          y="fibrinogen_nadir:Q")
    spec = _spec((lines + area).facet(column="product:N"))
    layers = RenderCache().spec_dict(spec)["vconcat"][0]["spec"]["layer"]
    assert layers[0]["mark"] == {"type": "line", "strokeOpacity": 0.4, "fillOpacity": 0.4}
    assert layers[1]["mark"] == {"type": "area", "strokeOpacity": 0.3, "fillOpacity": 0.3}

    # same pixels as the original spec (rendered small to keep the test quick)
    ppi = 40
    ours = np.asarray(Image.open(io.BytesIO(render(spec, "png", ppi=ppi))).convert("RGB"),
                      dtype=float)
    original = with_caption(spec).to_dict()
    size = export._svg_size(vlc.vegalite_to_svg(original))
    factor = export._png_pixel_factor(size, ppi, export.FIGURE_BOX_IN)
    theirs = np.asarray(Image.open(io.BytesIO(vlc.vegalite_to_png(
        original, scale=factor * 72 / ppi, ppi=ppi))).convert("RGB"), dtype=float)
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).mean() < 0.5


def test_bad_arguments_are_value_errors_not_export_errors():
    # programming errors: a page must not show them to the user as something to fix
    with pytest.raises(ValueError, match="expected an Altair chart"):
        render(FigureSpec(chart="not a chart", title="x"), "png")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Unknown figure format"):
        render(FigureSpec(chart=alt.Chart(pd.DataFrame({"a": [1]})).mark_point(), title="x"),
               "gif")  # type: ignore[arg-type]


def test_render_is_offline():
    chart = alt.Chart(alt.UrlData("https://example.com/cohort.csv")).mark_point().encode(
        x="a:Q")
    with pytest.raises(ExportError, match="not allowed"):
        render(FigureSpec(chart=chart, title="remote"), "svg")

# ---------------------------------------------------------------------------------------------
# RenderCache
# ---------------------------------------------------------------------------------------------

def test_prefetch_renders_in_background_and_reports_errors(charts):
    good = _spec(charts["single"])
    bad = FigureSpec(chart=alt.Chart(alt.UrlData("https://example.com/x.csv")).mark_point()
                     .encode(x="a:Q"), title="remote")
    with RenderCache() as cache:
        cache.prefetch([good, bad, good])
        png = cache.get(good, "png")
        assert png.startswith(b"\x89PNG")
        with pytest.raises(ExportError, match="remote"):
            cache.get(bad, "png")
        assert cache.get(good, "svg").startswith(b"<svg")
    assert cache.renders == 3  # vl-convert calls: good SVG + PNG once each, bad SVG (failed)


@pytest.mark.parametrize("kwargs", [{"ppi": 0}, {"ppi": float("nan")}, {"box_in": (10, -1)},
                                    {"box_in": (10,)}])
def test_render_rejects_a_size_that_is_not_positive(charts, kwargs):
    with pytest.raises(ValueError, match="positive"):
        render(_spec(charts["single"]), "png", **kwargs)


def test_cache_rejects_unknown_formats(charts):
    cache = RenderCache()
    with pytest.raises(ValueError, match="Unknown figure format"):
        cache.get(_spec(charts["single"]), "jpeg")  # type: ignore[arg-type]
    assert cache.renders == 0


# ---------------------------------------------------------------------------------------------
# RenderMemo: rendered bytes across builds
# ---------------------------------------------------------------------------------------------

def test_cache_backed_by_a_memo_renders_only_what_the_memo_lacks(charts):
    memo = RenderMemo()
    first = _spec(charts["single"])
    with RenderCache(memo=memo) as cache:
        png = cache.get(first, "png")
    assert cache.renders == 2 and len(memo) == 2  # the SVG (for the size) and the PNG
    # the same figure built again (a new, equal object), e.g. on a later rerun
    again = _spec(charts["single"])
    with RenderCache(memo=memo) as cache:
        assert cache.get(again, "png") == png and cache.get(again, "svg").startswith(b"<svg")
    assert cache.renders == 0
    # what the memo holds is what a lazy download finds, and the other way round
    assert memo.render(again, "png") is memo.get(render_key(first, "png"))
    assert memo.renders == 0
    # another size is another image
    with RenderCache(memo=memo, ppi=72) as cache:
        cache.get(again, "png")
    assert cache.renders == 1  # the PNG; the SVG (vector, any size) comes from the memo
