"""Excel workbooks: every worksheet's cells as text, and the sheet that holds the table."""

from __future__ import annotations

import datetime
import io
import zipfile
import zlib
from collections.abc import Mapping

import numpy as np

from core import schema
from core.errors import DataFormatError
from core.ingest.mapping import dedupe_headers, suggest_mapping
from core.ingest.wording import sheet_list


def _xlsx_errors() -> tuple[type[BaseException], ...]:
    """What openpyxl raises on damaged or unusual workbooks (not bugs of ours)."""
    from xml.etree.ElementTree import ParseError

    from openpyxl.utils.exceptions import InvalidFileException, ReadOnlyWorkbookException

    return (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, InvalidFileException,
            ReadOnlyWorkbookException, ParseError, KeyError, IndexError, OSError, EOFError,
            ValueError, TypeError, AttributeError, NotImplementedError)


_MAX_CELLS = 20_000_000  # a damaged or hostile workbook can claim any size


def workbook_sheets(data: bytes, name: str) -> dict[str, list[list[str]]]:
    """Every worksheet's rows as text cells, in workbook order."""
    import openpyxl

    errors = _xlsx_errors()
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except errors as exc:
        raise DataFormatError(f"'{name}' could not be opened as an Excel workbook "
                              f"({type(exc).__name__}: {exc}). Open it in Excel, save it again "
                              "as .xlsx (or CSV) and upload again.") from exc
    values: dict[str, list[tuple]] = {}
    title, cells = "", 0
    sheets = f"sheets {sheet_list(wb.sheetnames)}"
    try:
        for ws in wb.worksheets:
            title = ws.title
            ws.reset_dimensions()  # some writers record a wrong used range
            rows = values[title] = []
            for row in ws.iter_rows(values_only=True):
                rows.append(row)
                cells += len(row)
                if cells > _MAX_CELLS:
                    raise DataFormatError(
                        f"'{name}' ({sheets}) has more than {_MAX_CELLS:,} cells by sheet "
                        f"'{title}': too large to read. Save the sheet with the table as CSV "
                        "and upload that file.")
    except errors as exc:
        raise DataFormatError(f"'{name}' ({sheets}): sheet '{title}' could not be read "
                              f"({type(exc).__name__}: {exc}). Open the workbook in Excel, save "
                              "it again as .xlsx (or the sheet with the table as CSV) and "
                              "upload again.") from exc
    finally:
        wb.close()
    return {title: [[_xlsx_cell(v) for v in row] for row in rows]
            for title, rows in values.items()}


def _xlsx_cell(v: object) -> str:
    """One workbook cell as the text a user sees (15 significant digits, ISO dates)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        if not np.isfinite(v):
            return ""
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else f"{v:.15g}"
    if isinstance(v, datetime.datetime):
        v = (v + datetime.timedelta(microseconds=500_000)).replace(microsecond=0)
        return v.date().isoformat() if v.time() == datetime.time() else v.isoformat()
    if isinstance(v, (datetime.date, datetime.time)):
        return v.isoformat()
    return str(v).strip()


def choose_sheet(sheets: Mapping[str, list[list[str]]],
                 table: schema.TableName | None) -> str | None:
    """The sheet that holds the table: among the sheets whose first non-blank row names every
    required column of ``table`` the one with most recognised headers; else the one with most
    recognised headers; else the one with most non-empty cells (None: all sheets empty)."""
    table = table or "patients"
    required = {c.name for c in schema.columns_of(table).values() if c.required}
    best: tuple[bool, int, int] | None = None
    chosen = None
    for title, rows in sheets.items():
        header = next((r for r in rows if any(c for c in r)), None)
        if header is None:
            continue
        mapped = {m for m in suggest_mapping(dedupe_headers(header), table).values() if m}
        cells = sum(1 for r in rows for c in r if c)
        score = (required <= mapped, len(mapped), cells)
        if best is None or score > best:
            best, chosen = score, title
    return chosen
