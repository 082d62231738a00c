"""Tests of core.export.figures: the title, caption, statistic and data label drawn into every
kind of chart."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import altair as alt
import pytest
from PIL import Image

import core.export.figures as export
import export_cases as cases
from core.export import SYNTHETIC_LABEL, render, with_caption
from export_cases import CAPTION
from export_cases import spec as _spec


@pytest.fixture(scope="module")
def charts() -> dict[str, alt.TopLevelMixin]:
    return cases.charts()


# ---------------------------------------------------------------------------------------------
# with_caption
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["single", "layered", "hconcat", "vconcat", "facet",
                                  "facet_encoding", "configured", "interactive", "titled"])
def test_with_caption_renders_every_chart_kind(charts, kind):
    spec = _spec(charts[kind], synthetic=True)
    wrapped = with_caption(spec)
    assert isinstance(wrapped, alt.VConcatChart)
    svg = render(spec, "svg").decode("utf-8")
    text = "".join(ET.fromstring(svg).itertext())
    assert "Fibrinogen nadir by CRS grade" in text and CAPTION in text
    assert SYNTHETIC_LABEL in text
    png = render(spec, "png")
    assert Image.open(io.BytesIO(png)).size[0] >= 3000


def test_with_caption_moves_config_and_keeps_original(charts):
    original = charts["configured"]
    wrapped = with_caption(_spec(original)).to_dict()
    assert wrapped["config"]["axis"]["grid"] is False
    assert "config" not in wrapped["vconcat"][0]
    assert original.config is not alt.Undefined  # the input chart is untouched


def test_with_caption_sizes_container_width_chart(charts):
    inner = with_caption(_spec(charts["configured"])).to_dict()["vconcat"][0]
    assert inner["width"] == export.DEFAULT_VIEW_SIZE[0]


def test_explicit_sizes_are_kept(charts):
    step = charts["layered"].properties(width=alt.Step(40), height=200)
    inner = with_caption(_spec(step)).to_dict()["vconcat"][0]
    assert inner["width"] == {"step": 40} and inner["height"] == 200


def test_same_title_is_not_printed_twice(charts):
    chart = charts["single"].properties(title="Fibrinogen nadir by CRS grade")
    inner = with_caption(_spec(chart)).to_dict()["vconcat"][0]
    assert "title" not in inner
    # a chart's own, different title gives way to the figure title: one title per image
    replaced = with_caption(_spec(charts["titled"])).to_dict()
    assert "title" not in replaced["vconcat"][0]
    assert replaced["title"]["text"] == _spec(charts["titled"]).title
    # a figure without a title keeps the chart's own
    untitled = export.FigureSpec(charts["titled"], title="")
    assert with_caption(untitled).to_dict()["vconcat"][0]["title"] == "Old title"


def test_synthetic_label_only_when_synthetic(charts):
    real = render(_spec(charts["single"], synthetic=False), "svg").decode("utf-8")
    demo = render(_spec(charts["single"], synthetic=True), "svg").decode("utf-8")
    assert "Synthetic demo cohort" not in real
    assert "Synthetic demo cohort" in demo


def test_no_stat_no_stat_line(charts):
    svg = render(_spec(charts["single"], stat=None), "svg").decode("utf-8")
    assert "Kruskal" not in svg and CAPTION in "".join(ET.fromstring(svg).itertext())


def test_long_caption_is_wrapped_on_separators():
    caption = " \u00b7 ".join(f"condition number {i}" for i in range(12))
    lines = export._wrap_line(caption, 60)
    assert len(lines) > 1 and all(len(line) <= 60 for line in lines)
    assert " \u00b7 ".join(lines) == caption
