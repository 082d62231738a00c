"""Tests of core.export.pptx: the widescreen deck, opened with python-pptx as PowerPoint would."""

from __future__ import annotations

import io

import altair as alt
import pytest
from PIL import Image
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE

import export_cases as cases
from core.export import SYNTHETIC_LABEL, RenderCache, Report, ReportMeta, build_pptx
from export_cases import CAPTION, DAY
from export_cases import spec as _spec


@pytest.fixture(scope="module")
def charts() -> dict[str, alt.TopLevelMixin]:
    return cases.charts()


@pytest.fixture(scope="module")
def report() -> Report:
    return cases.report()


@pytest.fixture(scope="module")
def meta() -> ReportMeta:
    return cases.meta()


@pytest.fixture(scope="module")
def pack() -> tuple[dict[str, bytes], RenderCache]:
    return cases.pack()


# ---------------------------------------------------------------------------------------------
# PPTX
# ---------------------------------------------------------------------------------------------

def test_pptx_slides_titles_pictures_and_stats(pack, report):
    prs = Presentation(io.BytesIO(pack[0]["pptx"]))
    assert prs.slide_width == pytest.approx(13.333 * 914400, rel=1e-3)
    assert prs.slide_height == 7.5 * 914400
    slides = list(prs.slides)
    assert len(slides) == 1 + len(report)

    title_text = " ".join(s.text_frame.text for s in slides[0].shapes if s.has_text_frame)
    assert slides[0].shapes.title.text == "CAR-T board 24 Nov"
    for expected in ("Uploaded cohort", CAPTION, "n = 27", "2026-11-24"):
        assert expected in title_text
    assert "Synthetic" not in title_text

    for slide, item in zip(slides[1:], report):
        assert slide.shapes.title.text == item.figure.title
        pictures = [s for s in slide.shapes if s.shape_type == MSO_SHAPE_TYPE.PICTURE]
        assert len(pictures) == 1
        texts = " ".join(s.text_frame.text for s in slide.shapes if s.has_text_frame)
        if item.figure.stat:
            assert item.figure.stat in texts
        assert CAPTION in slide.notes_slide.notes_text_frame.text


def test_pptx_pictures_keep_aspect_and_fit_the_slide(pack, report):
    prs = Presentation(io.BytesIO(pack[0]["pptx"]))
    cache = pack[1]
    for slide, item in zip(list(prs.slides)[1:], report):
        pic = next(s for s in slide.shapes if s.shape_type == MSO_SHAPE_TYPE.PICTURE)
        px_w, px_h = Image.open(io.BytesIO(cache.get(item.figure, "png"))).size
        assert pic.width / pic.height == pytest.approx(px_w / px_h, rel=0.01)
        assert pic.left >= 0 and pic.left + pic.width <= prs.slide_width
        assert pic.top >= 0 and pic.top + pic.height <= prs.slide_height
        assert pic.crop_left == 0 and pic.crop_right == 0
        assert pic.image.content_type == "image/png"


def test_pptx_synthetic_cohort_is_labelled(charts):
    rep = Report().add(_spec(charts["single"], synthetic=True))
    demo = ReportMeta(cohort="Demo cohort", filters="all patients \u00b7 n = 41", n=41,
                      when=DAY, synthetic=True)
    prs = Presentation(io.BytesIO(build_pptx(rep, demo)))
    for slide in prs.slides:
        texts = " ".join(s.text_frame.text for s in slide.shapes if s.has_text_frame)
        assert SYNTHETIC_LABEL in texts


def test_pptx_handles_empty_title_and_missing_stat(charts, meta):
    rep = Report().add(_spec(charts["single"], title="", stat=None))
    slide = list(Presentation(io.BytesIO(build_pptx(rep, meta))).slides)[1]
    assert slide.shapes.title.text == ""
    assert sum(s.shape_type == MSO_SHAPE_TYPE.PICTURE for s in slide.shapes) == 1
