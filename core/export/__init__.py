"""Figures, safe tables and the meeting pack (PPTX / PDF / ZIP).

Pure core: no streamlit, no disk writes, no network. Everything is built in memory and returned as
``bytes`` for a download button or a notebook. One module per concept:

============  ==================================================================================
names         :func:`filename` (``"<slug>_<date>.<ext>"``) and :data:`MIME_TYPES`
figures       :class:`FigureSpec` (chart, title, filter caption with n, statistic, synthetic
              flag) and :func:`with_caption`, which draws that text into the image
rendering     :func:`render` to PNG (300 dpi, slide-sized) / SVG / PDF with vl-convert, offline;
              :class:`RenderCache` (once per build, background prefetch) and
              :class:`RenderMemo` (across builds, keyed by content, bounded by size)
tables        :func:`safe_csv` and :func:`table_xlsx`, without spreadsheet formula injection
report        :class:`Report` (the pinned figures, immutable), :class:`ReportItem`,
              :class:`ReportMeta` (cohort, filters, n, date, versions)
layout        placing a rendered PNG on a slide or page (shared by pptx and pdf)
pptx, pdf     :func:`build_pptx`, :func:`build_pdf`
archive       :func:`build_zip`: figures as PNG + SVG, tables, the filtered patients (with their
              lab and treatment rows), the notebook, README
notebook      :func:`~core.export.notebook.build_notebook`: ``report.ipynb``, which reads the
              pack's CSVs and recomputes every pinned figure from its
              :class:`~core.codegen.PanelCode` (the same calls as the page's "Show code")
pack          :func:`build_pack`: all three, each figure rendered once
============  ==================================================================================

Heavy libraries (vl-convert, python-pptx, fpdf2, openpyxl) are imported inside the functions that
use them. Errors: :class:`~core.errors.ExportError` for what the user's data or choice caused (a
chart that cannot be drawn, a remote data URL); ``ValueError`` for a bad argument (an unknown
format), which is a bug in the caller.
"""

from __future__ import annotations

from core.export.archive import build_zip
from core.export.figures import (
    IMAGE_FORMATS,
    SYNTHETIC_LABEL,
    FigureSpec,
    ImageFormat,
    chart_digest,
    check_image_format,
    figure_key,
    with_caption,
)
from core.export.names import MIME_TYPES, filename
from core.export.pack import PACK_FORMATS, PackFormat, build_pack
from core.export.pdf import build_pdf
from core.export.pptx import build_pptx
from core.export.rendering import RenderCache, RenderMemo, render, render_key
from core.export.report import Report, ReportItem, ReportMeta, library_versions
from core.export.tables import safe_csv, table_xlsx

__all__ = [
    "FigureSpec",
    "ImageFormat",
    "IMAGE_FORMATS",
    "check_image_format",
    "ReportItem",
    "Report",
    "ReportMeta",
    "RenderCache",
    "RenderMemo",
    "with_caption",
    "render",
    "render_key",
    "chart_digest",
    "figure_key",
    "filename",
    "MIME_TYPES",
    "safe_csv",
    "table_xlsx",
    "library_versions",
    "build_pptx",
    "build_pdf",
    "build_zip",
    "build_pack",
    "PackFormat",
    "PACK_FORMATS",
    "SYNTHETIC_LABEL",
]
