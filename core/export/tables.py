"""Tables as CSV or XLSX that a spreadsheet opens without running any cell as a formula.

A patient ID like ``=HYPERLINK(...)`` or a comment starting with ``+`` or ``-`` is data, not a
formula: :func:`safe_csv` prefixes such text with ``'`` (OWASP CSV-injection guidance) and
:func:`table_xlsx` stores it as a string with Excel's quote prefix. Numbers are never touched.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from typing import Any

import pandas as pd

from core.errors import ExportError

__all__ = ["FORMULA_TRIGGERS", "safe_csv", "table_xlsx"]

#: A text cell starting with one of these would be run as a formula by a spreadsheet.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def _is_formula_like(value: object) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)


# ---------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------

def _neutralise(value: object) -> object:
    """Prefix a formula-like *string* with ``'``; anything else (numbers, NaN) is returned as is."""
    return "'" + value if _is_formula_like(value) else value  # type: ignore[operator]


def _text_columns(df: pd.DataFrame) -> list[Any]:
    return [col for col in df.columns
            if pd.api.types.is_object_dtype(df[col]) or pd.api.types.is_string_dtype(df[col])
            or isinstance(df[col].dtype, pd.CategoricalDtype)]


def _neutralised_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells and headers are neutralised.

    A categorical column is neutralised once per category (a lab table's patient_id, analyte
    and unit: millions of rows, hundreds of categories) and stays categorical, which also
    writes faster; it falls back to cell by cell when two categories would become one.
    """
    out = df.copy()
    for col in _text_columns(df):
        s = df[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            renamed = [_neutralise(c) for c in s.cat.categories]
            if len(set(renamed)) == len(renamed):
                out[col] = s.cat.rename_categories(renamed)
                continue
        out[col] = s.astype(object).map(_neutralise)
    out.columns = [_neutralise(c) for c in df.columns]
    return out


def _check_separators(sep: str, decimal: str) -> None:
    for what, value in (("sep", sep), ("decimal", decimal)):
        if not isinstance(value, str) or len(value) != 1:
            raise ValueError(f"{what} must be one character, got {value!r}.")
    if sep == decimal:
        raise ValueError(f"sep and decimal must differ, both are {sep!r}.")


def safe_csv(df: pd.DataFrame, *, sep: str = ",", decimal: str = ".") -> bytes:
    """CSV bytes that a spreadsheet opens without running formulas.

    Every *text* cell (and header) that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
    carriage return gets a leading ``'`` (OWASP CSV-injection guidance), so Excel/LibreOffice
    show it as text. Numbers are never touched: a numeric ``-3`` stays ``-3``; only ``str``
    values are, even in mixed object columns. The index is not written.

    Encoding is UTF-8 with a byte-order mark (``utf-8-sig``): Excel on Windows only reads a CSV
    as UTF-8 (umlauts, "\u2265", "\u00b7") when the BOM is there; pandas and R read it fine
    (``pd.read_csv`` strips it). Rows end in CRLF (RFC 4180); fields are quoted when needed;
    floats are written at full precision (no rounding).

    Parameters
    ----------
    df : pandas.DataFrame
    sep : str, default ","
        Use ``";"`` (with ``decimal=","``) for German-locale Excel, which splits CSV on ``;``.
    decimal : str, default "."

    Returns
    -------
    bytes

    Raises
    ------
    ValueError
        If ``sep`` or ``decimal`` is not a single character, or both are the same.
    """
    _check_separators(sep, decimal)
    text = _neutralised_frame(df).to_csv(index=False, sep=sep, decimal=decimal,
                                         lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    return text.encode("utf-8-sig")


# ---------------------------------------------------------------------------------------------
# XLSX
# ---------------------------------------------------------------------------------------------

def _xlsx_value(value: Any) -> object:
    """A value openpyxl can store: None for missing, Python scalars, wall-clock datetimes."""
    if value is None:
        return None
    try:
        if pd.isna(value):  # NaN, NA, NaT
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, pd.Timestamp):  # Excel has no time zones: keep the wall-clock time
        return (value.tz_localize(None) if value.tzinfo else value).to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            return value.item()  # numpy scalar -> Python scalar
        except (TypeError, ValueError):
            pass
    if isinstance(value, (int, float, bool, str, date)):
        return value
    return str(value)


def _sheet_name(sheet: str) -> str:
    """``sheet`` without the characters Excel forbids, cut to 31 characters."""
    return _SHEET_BAD.sub("_", sheet)[:31] or "data"


def _xlsx_cell(ws: Any, value: object, font: Any = None) -> Any:
    """A write-only cell; text is always a string (quote-prefixed when formula-like)."""
    from openpyxl.cell import WriteOnlyCell

    value = _xlsx_value(value)
    cell = WriteOnlyCell(ws, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
        if _is_formula_like(value):
            cell.quotePrefix = True
    if font is not None:
        cell.font = font
    return cell


def table_xlsx(df: pd.DataFrame, sheet: str = "data") -> bytes:
    """An XLSX workbook (one sheet) whose text cells can never be formulas.

    openpyxl stores any string starting with ``=`` as a formula. Here every cell holding a
    ``str`` is written with data type ``"s"`` (shared string) and formula-like text
    (``= + - @``, tab, CR) additionally gets Excel's *quote prefix* style, the same thing Excel
    does when a user types ``'=1+1``: the cell shows ``=1+1`` exactly and stays text even when
    edited. Unlike CSV, no visible ``'`` is added, so values survive a round trip unchanged.
    Numbers, booleans and dates keep their types; NaN/NA become empty cells. The header row is
    bold and frozen.

    Parameters
    ----------
    df : pandas.DataFrame
    sheet : str, default "data"
        Sheet name (characters Excel forbids are replaced, cut to 31 characters).

    Returns
    -------
    bytes

    Raises
    ------
    ExportError
        If openpyxl cannot write the workbook.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet(_sheet_name(sheet))
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    ws.append([_xlsx_cell(ws, str(col), bold) for col in df.columns])
    for row in df.itertuples(index=False, name=None):
        ws.append([_xlsx_cell(ws, v) for v in row])
    buffer = io.BytesIO()
    try:
        workbook.save(buffer)
    except Exception as exc:
        raise ExportError(f"The table could not be written as XLSX: {exc}") from exc
    return buffer.getvalue()
