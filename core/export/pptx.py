"""The meeting pack as a widescreen PowerPoint deck: :func:`build_pptx`.

Slide 1 is the cover (pack title, cohort, filters, n, date); then one slide per pinned figure
with its title, the 300-dpi PNG fitted to the content area, and the statistic under it.
"""

from __future__ import annotations

import io
from typing import Any

from core.export.figures import SYNTHETIC_LABEL
from core.export.layout import fit, png_size, stat_lines
from core.export.rendering import RenderCache
from core.export.report import Report, ReportItem, ReportMeta, cover_lines

__all__ = ["build_pptx"]

_SLIDE_W_IN, _SLIDE_H_IN = 13.333, 7.5
_MARGIN_IN = 0.5
_CONTENT_W_IN = _SLIDE_W_IN - 2 * _MARGIN_IN
_TITLE_BOX_IN = (0.3, 0.8)        # top, height
_FIGURE_BOX_TOP_IN = 1.2
_STAT_BOX_IN = (6.55, 0.55)       # top, height
_LAYOUT_TITLE, _LAYOUT_TITLE_ONLY = 0, 5  # python-pptx's default template


def _place(shape: Any, left: float, top: float, width: float, height: float) -> None:
    """Move and size a shape (inches)."""
    from pptx.util import Inches

    shape.left, shape.top = Inches(left), Inches(top)
    shape.width, shape.height = Inches(width), Inches(height)


def _set_lines(text_frame: Any, lines: list[str], size: Any) -> None:
    """One paragraph per line, all at font ``size``."""
    text_frame.text = lines[0] if lines else ""
    for line in lines[1:]:
        text_frame.add_paragraph().text = line
    for paragraph in text_frame.paragraphs:
        for run in paragraph.runs:
            run.font.size = size


def _cover_slide(prs: Any, report: Report, meta: ReportMeta) -> None:
    """The title slide: pack title, then cohort, filters, n, date (and the synthetic label)."""
    from pptx.util import Pt

    slide = prs.slides.add_slide(prs.slide_layouts[_LAYOUT_TITLE])
    _place(slide.shapes.title, _MARGIN_IN, 1.6, _CONTENT_W_IN, 1.4)
    slide.shapes.title.text = report.title
    subtitle = slide.placeholders[1]
    _place(subtitle, _MARGIN_IN, 3.2, _CONTENT_W_IN, 3.2)
    lines = cover_lines(meta, len(report))
    if meta.synthetic:
        lines.append(SYNTHETIC_LABEL)
    _set_lines(subtitle.text_frame, lines, Pt(20))


def _add_picture(slide: Any, png: bytes) -> None:
    """The figure, aspect kept, centred in the box between the title and the statistic."""
    from pptx.util import Inches

    box_h = _STAT_BOX_IN[0] - _FIGURE_BOX_TOP_IN - 0.1
    w, h = fit(png_size(png), (_CONTENT_W_IN, box_h))
    slide.shapes.add_picture(io.BytesIO(png), Inches(_MARGIN_IN + (_CONTENT_W_IN - w) / 2),
                             Inches(_FIGURE_BOX_TOP_IN), Inches(w), Inches(h))


def _figure_slide(prs: Any, item: ReportItem, meta: ReportMeta, cache: RenderCache) -> None:
    """One figure: title, picture, statistic (and label) under it, caption in the notes."""
    from pptx.util import Inches, Pt

    fig = item.figure
    slide = prs.slides.add_slide(prs.slide_layouts[_LAYOUT_TITLE_ONLY])
    _place(slide.shapes.title, _MARGIN_IN, _TITLE_BOX_IN[0], _CONTENT_W_IN, _TITLE_BOX_IN[1])
    _set_lines(slide.shapes.title.text_frame, [fig.title], Pt(28))
    _add_picture(slide, cache.get(fig, "png"))
    footer = stat_lines(fig, synthetic_label=fig.synthetic or meta.synthetic)
    if footer:
        box = slide.shapes.add_textbox(Inches(_MARGIN_IN), Inches(_STAT_BOX_IN[0]),
                                       Inches(_CONTENT_W_IN), Inches(_STAT_BOX_IN[1]))
        box.text_frame.word_wrap = True
        _set_lines(box.text_frame, footer, Pt(16))
    notes = [*fig.text_lines, f"{meta.cohort} \u00b7 {meta.when.isoformat()}"]
    slide.notes_slide.notes_text_frame.text = "\n".join(notes)


def build_pptx(report: Report, meta: ReportMeta, *, cache: RenderCache | None = None) -> bytes:
    """A widescreen (13.333 x 7.5 in) PowerPoint deck of the report.

    Slide 1: the pack title, cohort, filters, n and date (and the synthetic label). Then one
    slide per item: its title (the slide's title placeholder), its figure as a 300-dpi PNG
    scaled to fit the content area with its aspect ratio kept and centred, and the statistic
    as a text box under it. The filter caption and statistic also go into the speaker notes.

    Parameters
    ----------
    report : Report
    meta : ReportMeta
    cache : RenderCache, optional
        Share one with :func:`~core.export.pdf.build_pdf` /
        :func:`~core.export.archive.build_zip` to render each figure once.

    Returns
    -------
    bytes
        The .pptx file.

    Raises
    ------
    ExportError
        If a figure cannot be rendered.
    """
    from pptx import Presentation
    from pptx.util import Inches

    cache = cache or RenderCache()
    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(_SLIDE_W_IN), Inches(_SLIDE_H_IN)
    _cover_slide(prs, report, meta)
    for item in report:
        _figure_slide(prs, item, meta, cache)
    buffer = io.BytesIO()
    prs.save(buffer)
    return buffer.getvalue()
