"""The meeting pack as a ZIP archive: every figure as PNG and SVG, the tables, the filtered
patient list (with its lab and treatment rows), a notebook that recomputes every figure and a
README that says what it all is (:func:`build_zip`).

(Named ``archive``, not ``zip``: a module called ``zip`` would shadow the built-in ``zip`` in
the package namespace.)
"""

from __future__ import annotations

import io
import zipfile

import pandas as pd

from core.export.figures import SYNTHETIC_LABEL, ImageFormat
from core.export.names import filename
from core.export.notebook import NOTEBOOK_NAME, build_notebook, csv_dtypes
from core.export.rendering import RenderCache
from core.export.report import Report, ReportMeta
from core.export.tables import safe_csv

__all__ = ["build_zip"]

#: Each figure goes into the archive in these formats.
_FIGURE_FORMATS: tuple[ImageFormat, ...] = ("png", "svg")
#: Members (by extension) stored without compression: PNG data is compressed already.
_STORED = (".png",)

_README_NOTES = [
    "Notes:",
    "  PNG files are 300 dpi; SVG files are vector and scale freely.",
    "  CSV files are UTF-8 with BOM. Text cells starting with = + - @ (or a tab/CR) carry a",
    "  leading ' so that spreadsheets do not run them as formulas.",
    "  Days are days after CAR-T infusion; the export holds no calendar dates.",
    f"  {NOTEBOOK_NAME} recomputes every figure from the CSV files with the app's core",
    "  library; its first cell says how to run it.",
]


def _members(report: Report, meta: ReportMeta, tables: dict[str, pd.DataFrame],
             cache: RenderCache) -> list[tuple[str, bytes]]:
    """(name, bytes) of every file but the README, in archive order."""
    members = []
    files = {}
    for table, frame in tables.items():
        name = filename(table, "csv", meta.when)
        members.append((name, safe_csv(frame)))
        files[table] = (name, csv_dtypes(frame))
    if len(report):
        members.append((NOTEBOOK_NAME, build_notebook(report, meta, files)))
    for i, item in enumerate(report, start=1):
        fig = item.figure
        for fmt in _FIGURE_FORMATS:
            members.append((f"figures/{i:02d}_{filename(fig.name, fmt, meta.when)}",
                            cache.get(fig, fmt)))
        if item.table is not None:
            members.append((f"tables/{i:02d}_{filename(fig.name, 'csv', meta.when)}",
                            safe_csv(item.table)))
    return members


def _readme_header(report: Report, meta: ReportMeta, n: int) -> list[str]:
    """Pack title, cohort, filters, n, date, app version (and the synthetic label)."""
    lines = [
        report.title,
        "=" * len(report.title),
        "",
        f"Cohort:      {meta.cohort}",
        f"Filters:     {meta.filters or '(none)'}",
        f"Patients:    n = {n}",
        f"Date:        {meta.when.isoformat()}",
        f"App version: CAR-T cohort explorer {meta.app_version}",
    ]
    if meta.synthetic:
        lines += ["", f"*** {SYNTHETIC_LABEL} ***"]
    return lines


def _readme_figures(report: Report) -> list[str]:
    """Each figure's number and title, with its caption and statistic indented below."""
    lines = ["", "Figures:"]
    for i, item in enumerate(report, start=1):
        lines.append(f"  {i:02d}. {item.figure.title}")
        lines += [f"      {text}" for text in item.figure.text_lines]
    return lines


def _readme(report: Report, meta: ReportMeta, n: int, files: list[str]) -> str:
    """README.txt (CRLF line ends, for Notepad)."""
    lines = _readme_header(report, meta, n) + _readme_figures(report)
    lines += ["", "Files:"] + [f"  {name}" for name in files]
    lines += ["", "Library versions:"]
    lines += [f"  {name}: {version}" for name, version in meta.versions.items()]
    lines += ["", *_README_NOTES]
    return "\r\n".join(lines) + "\r\n"


def build_zip(report: Report, meta: ReportMeta, patients: pd.DataFrame, *,
              labs: pd.DataFrame | None = None, treatments: pd.DataFrame | None = None,
              cache: RenderCache | None = None) -> bytes:
    """A ZIP with every figure (PNG + SVG), the tables, the patient list, a notebook and a
    README.

    Layout::

        README.txt                                   filters, n, date, versions, file list
        patients_<date>.csv                          the filtered patient table (safe CSV)
        labs_<date>.csv, treatments_<date>.csv       their lab and treatment rows (when given)
        report.ipynb                                 recomputes every figure from the CSVs
                                                     (when the report has figures)
        figures/NN_<name>_<date>.png / .svg          one pair per report item, in report order
        tables/NN_<name>_<date>.csv                  for items that carry a table

    Parameters
    ----------
    report : Report
    meta : ReportMeta
    patients : pandas.DataFrame
        The filtered patient table.
    labs, treatments : pandas.DataFrame, optional
        The lab and treatment rows of those patients (the notebook derives the endpoints
        from them under each figure's settings).
    cache : RenderCache, optional
        Share one with the other pack builders to render each figure once.

    Returns
    -------
    bytes
        The .zip file.

    Raises
    ------
    ExportError
        If a figure cannot be rendered.
    """
    cache = cache or RenderCache()
    tables = {"patients": patients}
    for table, frame in (("labs", labs), ("treatments", treatments)):
        if frame is not None:
            tables[table] = frame
    members = _members(report, meta, tables, cache)
    n = meta.n if meta.n is not None else len(patients)
    readme = _readme(report, meta, n, [name for name, _ in members])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", readme.encode("utf-8"))
        for name, data in members:
            stored = name.endswith(_STORED)
            archive.writestr(name, data,
                             compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
    return buffer.getvalue()
