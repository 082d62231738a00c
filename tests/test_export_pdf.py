"""Tests of core.export.pdf: the landscape A4 pack, read back with pypdf."""

from __future__ import annotations

import io

import altair as alt
import pytest
from pypdf import PdfReader

import core.export.pdf as export
import export_cases as cases
from core.export import SYNTHETIC_LABEL, RenderCache, Report, ReportMeta, build_pdf
from export_cases import CAPTION, DAY
from export_cases import spec as _spec


@pytest.fixture(scope="module")
def charts() -> dict[str, alt.TopLevelMixin]:
    return cases.charts()


@pytest.fixture(scope="module")
def report() -> Report:
    return cases.report()


@pytest.fixture(scope="module")
def pack() -> tuple[dict[str, bytes], RenderCache]:
    return cases.pack()


# ---------------------------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------------------------

def test_pdf_pages_text_and_images(pack, report):
    reader = PdfReader(io.BytesIO(pack[0]["pdf"]))
    assert len(reader.pages) == 1 + len(report)
    first = reader.pages[0]
    assert float(first.mediabox.width) > float(first.mediabox.height)  # landscape
    cover = first.extract_text()
    for expected in ("CAR-T board 24 Nov", "Uploaded cohort", "n = 27", "2026-11-24",
                     "M\u00fcller", "\u2265 1 dose"):
        assert expected in cover
    assert len(first.images) == 0
    for page, item in zip(reader.pages[1:], report):
        text = page.extract_text()
        assert item.figure.title in text
        if item.figure.stat:
            assert item.figure.stat in text
        assert len(page.images) == 1


def test_pdf_falls_back_to_core_fonts(charts, monkeypatch, tmp_path):
    monkeypatch.setattr(export, "DEJAVU_DIR", tmp_path / "no-fonts-here")
    rep = Report(title="Board \u2013 CRS \u2265 2").add(
        _spec(charts["single"], title="Fibrinogen \u2264 150 \u2014 M\u00fcller",
              stat="r = \u22120.44 \u00b7 p = 0.01 \u2208 \u03c7\u00b2"))
    meta = ReportMeta(cohort="K\u00f6ln \u00b7 demo", filters=CAPTION, when=DAY,
                      synthetic=True)
    reader = PdfReader(io.BytesIO(build_pdf(rep, meta)))
    assert len(reader.pages) == 2
    cover = reader.pages[0].extract_text()
    assert "Board - CRS >= 2" in cover and "K\u00f6ln \u00b7 demo" in cover
    assert "Synthetic demo cohort - not patient data" in cover
    page = reader.pages[1].extract_text()
    assert "Fibrinogen <= 150 - M\u00fcller" in page
    assert "r = -0.44 \u00b7 p = 0.01 ? chi2" in page


def test_pdf_synthetic_label_only_when_synthetic(charts, pack):
    assert "Synthetic" not in "".join(p.extract_text()
                                      for p in PdfReader(io.BytesIO(pack[0]["pdf"])).pages)
    rep = Report().add(_spec(charts["single"], synthetic=True))
    meta = ReportMeta(cohort="Demo", when=DAY, synthetic=True)
    pages = PdfReader(io.BytesIO(build_pdf(rep, meta))).pages
    assert all(SYNTHETIC_LABEL in p.extract_text() for p in pages)
