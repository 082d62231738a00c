"""The meeting pack as a landscape A4 PDF: :func:`build_pdf`.

Page 1 is the cover (pack title, cohort, filters, n, date); then one page per pinned figure.
Text is set in DejaVu Sans when the font is installed (full Unicode), otherwise in core
Helvetica with a transliteration ("\u2265" -> ">="), never with a crash.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ExportError
from core.export.figures import SYNTHETIC_LABEL
from core.export.layout import fit, png_size, stat_lines
from core.export.rendering import RenderCache
from core.export.report import Report, ReportItem, ReportMeta, cover_lines

__all__ = ["DEJAVU_DIR", "build_pdf"]

#: Where the PDF builder looks for DejaVu Sans (Debian's fonts-dejavu-core).
DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")

_MARGIN_MM = 15.0
_RED = (179, 38, 30)
_GREY = (90, 90, 90)
_BLACK = (0, 0, 0)

_LATIN1_FALLBACK = str.maketrans({
    "\u2265": ">=", "\u2264": "<=", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2026": "...",
    "\u2022": "\u00b7", "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u03b1": "alpha",
    "\u03b2": "beta", "\u03c7": "chi", "\u00b2": "2",
})


class _PdfText:
    """Font choice for fpdf2: DejaVu Sans from disk when present, else core Helvetica.

    Core fonts are latin-1 only, so text is transliterated ("\u2265" -> ">=", "\u2013" -> "-";
    umlauts and "\u00b7" are latin-1 and kept) and anything left is replaced by "?" instead of
    crashing.
    """

    def __init__(self, pdf: Any, font_dir: Path | None) -> None:
        self.pdf = pdf
        self.family = "helvetica"
        self.unicode = False
        regular = font_dir / "DejaVuSans.ttf" if font_dir else None
        bold = font_dir / "DejaVuSans-Bold.ttf" if font_dir else None
        if regular and bold and regular.is_file() and bold.is_file():
            try:
                pdf.add_font("dejavu", "", str(regular))
                pdf.add_font("dejavu", "B", str(bold))
                self.family, self.unicode = "dejavu", True
            except Exception:  # unreadable font file: fall back to core fonts
                self.family, self.unicode = "helvetica", False

    def text(self, value: str) -> str:
        """``value`` as the chosen font can print it."""
        if self.unicode:
            return value
        return value.translate(_LATIN1_FALLBACK).encode("latin-1", "replace").decode("latin-1")

    def font(self, size: float, bold: bool = False) -> None:
        """Select the font at ``size`` points."""
        self.pdf.set_font(self.family, "B" if bold else "", size)


@dataclass
class _Writer:
    """An fpdf2 document with its fonts and page geometry (mm), one method per page part."""

    pdf: Any
    fonts: _PdfText
    meta: ReportMeta

    @property
    def content_w(self) -> float:
        return self.pdf.w - 2 * _MARGIN_MM

    def lines(self, lines: list[str], height: float) -> None:
        """Each line as a wrapped paragraph from the left margin."""
        for line in lines:
            self.pdf.set_x(_MARGIN_MM)
            self.pdf.multi_cell(self.content_w, height, self.fonts.text(line))

    def footer(self, page_no: int) -> None:
        """Cohort, date (and the synthetic label) on the left, the page number on the right."""
        pdf, meta = self.pdf, self.meta
        self.fonts.font(8)
        pdf.set_text_color(*_GREY)
        pdf.set_xy(_MARGIN_MM, pdf.h - 10)
        label = f"{meta.cohort} \u00b7 {meta.when.isoformat()}"
        if meta.synthetic:
            label += f" \u00b7 {SYNTHETIC_LABEL}"
        pdf.cell(self.content_w - 20, 5, self.fonts.text(label))
        pdf.cell(20, 5, str(page_no), align="R")
        pdf.set_text_color(*_BLACK)

    def cover(self, report: Report) -> None:
        """Page 1: pack title, cohort, filters, n, date (and the synthetic label in red)."""
        pdf = self.pdf
        pdf.add_page()
        self.fonts.font(26, bold=True)
        pdf.set_xy(_MARGIN_MM, 50)
        pdf.multi_cell(self.content_w, 12, self.fonts.text(report.title))
        pdf.ln(6)
        self.fonts.font(14)
        self.lines(cover_lines(self.meta, len(report)), 8)
        if self.meta.synthetic:
            pdf.ln(4)
            pdf.set_text_color(*_RED)
            self.fonts.font(14, bold=True)
            self.lines([SYNTHETIC_LABEL], 8)
            pdf.set_text_color(*_BLACK)
        self.footer(1)

    def figure_page(self, item: ReportItem, page_no: int, cache: RenderCache) -> None:
        """One figure: title, the PNG fitted between title and statistic, the statistic."""
        pdf, fig = self.pdf, item.figure
        pdf.add_page()
        self.fonts.font(18, bold=True)
        pdf.set_xy(_MARGIN_MM, 12)
        pdf.multi_cell(self.content_w, 9, self.fonts.text(fig.title))
        top = pdf.get_y() + 3
        # the footer already says SYNTHETIC_LABEL when the whole pack is synthetic
        under = stat_lines(fig, synthetic_label=fig.synthetic and not self.meta.synthetic)
        box_h = pdf.h - 14 - 7.0 * len(under) - 3 - top
        h = self._image(fig.title, cache.get(fig, "png"), top, box_h)
        self.fonts.font(12)
        pdf.set_xy(_MARGIN_MM, top + h + 3)
        self.lines(under, 7)
        self.footer(page_no)

    def _image(self, title: str, png: bytes, top: float, box_h: float) -> float:
        """Place ``png`` centred at ``top`` within ``box_h``; returns its height (mm)."""
        w, h = fit(png_size(png), (self.content_w, box_h))
        try:
            self.pdf.image(io.BytesIO(png), x=_MARGIN_MM + (self.content_w - w) / 2, y=top,
                           w=w, h=h)
        except Exception as exc:
            raise ExportError(f"Figure '{title}' could not be placed in the PDF: {exc}") \
                from exc
        return h


def build_pdf(report: Report, meta: ReportMeta, *, cache: RenderCache | None = None) -> bytes:
    """The report as a landscape A4 PDF.

    Page 1: pack title, cohort, filters, n, date (and the synthetic label). Then one page per
    item: its title, the figure PNG fitted to the page with its aspect ratio kept, and the
    statistic under it. Every page has a footer with the cohort, the date and the page number.
    Text uses DejaVu Sans from :data:`DEJAVU_DIR` when installed (full Unicode), otherwise core
    Helvetica with transliteration (see :class:`_PdfText`).

    Parameters
    ----------
    report : Report
    meta : ReportMeta
    cache : RenderCache, optional
        Share one with the other pack builders to render each figure once.

    Returns
    -------
    bytes
        The .pdf file.

    Raises
    ------
    ExportError
        If a figure cannot be rendered or placed.
    """
    from fpdf import FPDF

    cache = cache or RenderCache()
    pdf = FPDF(orientation="landscape", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_title(report.title)
    pdf.set_creator(f"CAR-T cohort explorer {meta.app_version}")
    writer = _Writer(pdf, _PdfText(pdf, DEJAVU_DIR), meta)
    writer.cover(report)
    for page_no, item in enumerate(report, start=2):
        writer.figure_page(item, page_no, cache)
    return bytes(pdf.output())
