"""Read uploaded tables, map their headers onto the canonical schema, validate and convert.

The flow for one uploaded file::

    raw = read_table(data, "export.csv")          # bytes -> RawTable (all cells as text)
    mapping = suggest_mapping(raw.headers, "patients")   # header -> canonical name or None
    frame, report = validate(raw, mapping, "patients")   # typed frame + what happened to every row

Nothing is dropped silently: every data row is either in ``frame`` or listed in
``report.rejected`` with the reason; every cell that could not be used is listed in
``report.cell_issues`` (its row is kept, the cell set missing). Nothing touches disk.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import itertools
import json
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from core import schema
from core.errors import DataFormatError, ValidationError

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DEMO_SOURCE = "Synthetic demo cohort"

NA_TOKENS = frozenset({"", "na", "n.a.", "n.a", "n/a", "nan", "null", "none", "-", "--", "—", "–",
                       "k.a.", "k.a", "nd", "n.d.", "missing", "unknown", "unbekannt", "?", "#n/a",
                       "not done", "nicht bestimmt"})
_TRUE = frozenset({"1", "yes", "y", "ja", "j", "true", "wahr", "x", "positive", "pos", "+"})
_FALSE = frozenset({"0", "no", "n", "nein", "false", "falsch", "negative", "neg"})
_SEX = {"f": "F", "female": "F", "w": "F", "weiblich": "F", "woman": "F", "frau": "F",
        "m": "M", "male": "M", "maennlich": "M", "männlich": "M", "man": "M", "mann": "M"}
_GRADE = re.compile(r"^(?:grade|grad|g)?\s*([0-9](?:[.,]0+)?)$")
_PLAIN_GRADE = re.compile(r"^[0-9](?:[.,]0+)?$")
_ROMAN = {"0": 0, "i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5}


# --------------------------------------------------------------------------------------------
# Reading bytes into a table of text cells
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RawTable:
    """An uploaded table before mapping: every cell is text (``""`` for empty).

    Attributes
    ----------
    frame : DataFrame of str, one column per header, in file order; one row per data row of
        the file (from the row after the header to the last non-blank row).
    headers : the original headers (de-duplicated with a ``.2`` suffix where repeated).
    filename : the uploaded file's name.
    format : "csv" or "xlsx".
    delimiter, decimal, encoding : what was detected (None for xlsx).
    first_row : spreadsheet row number of the first data row (2 when the header is row 1).
    sha256 : content hash of the bytes, used as a per-session cache key.
    sheet, sheets : for a workbook, the sheet read and all sheet names in order.
    row_problems : position in ``frame`` -> why that row cannot be loaded as it is (a row
        whose number of fields differs from the header's, a repeated header row);
        :func:`validate` rejects and lists these rows.
    cell_notes : ``(position, header, value, problem)`` for cells changed while reading
        (an invisible NUL character removed); :func:`validate` lists them as cell issues.
    notes : sentences about the file as a whole.
    """

    frame: pd.DataFrame
    headers: tuple[str, ...]
    filename: str
    format: Literal["csv", "xlsx"]
    delimiter: str | None
    decimal: str
    encoding: str | None
    first_row: int
    sha256: str
    sheet: str | None = None
    sheets: tuple[str, ...] = ()
    row_problems: Mapping[int, str] = field(default_factory=dict)
    cell_notes: tuple[tuple[int, str, str, str], ...] = ()
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for the user, e.g. ``CSV · ';' separated · decimal comma · cp1252`` or
        ``Excel workbook, sheet 'Patienten' (of 3: 'Info', 'Patienten', 'Labs')``."""
        if self.format == "xlsx":
            return "Excel workbook, " + _sheet_phrase(self.sheet, self.sheets)
        dec = "decimal comma" if self.decimal == "," else "decimal point"
        return f"CSV · {_delimiter_name(self.delimiter)} separated · {dec} · {self.encoding}"

    @property
    def label(self) -> str:
        """The file (and sheet) for messages: ``'x.xlsx', sheet 'Labs' (of 2: ...)``."""
        return _file_label(self.filename, self.format, self.sheet, self.sheets)


def _file_label(name: str, fmt: str, sheet: str | None, sheets: tuple[str, ...]) -> str:
    return f"'{name}', " + _sheet_phrase(sheet, sheets) if fmt == "xlsx" else f"'{name}'"


def _delimiter_name(delimiter: str | None) -> str:
    return {"\t": "tab", ",": "','", ";": "';'", "|": "'|'"}.get(delimiter or "", "?")


def _sheet_list(sheets: tuple[str, ...] | list[str], limit: int = 12) -> str:
    names = ", ".join(f"'{s}'" for s in list(sheets)[:limit])
    return names + (f" and {len(sheets) - limit} more" if len(sheets) > limit else "")


def _sheet_phrase(sheet: str | None, sheets: tuple[str, ...]) -> str:
    if len(sheets) <= 1:
        return f"sheet '{sheet}' (its only sheet)"
    return f"sheet '{sheet}' (of {len(sheets)}: {_sheet_list(sheets)})"


# ---- what kind of file is it? ----------------------------------------------------------------

_AGAIN = "Export the table again as CSV or Excel (.xlsx) and upload that file."
_MAGIC = (
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\x1f\x8b\x08", "a gzip-compressed file (unpack it first)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive (unpack it first)"),
    (b"Rar!\x1a\x07", "a RAR archive (unpack it first)"),
    (b"SQLite format 3\x00", "an SQLite database"),
)
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _binary_kind(data: bytes, name: str) -> str | None:
    """A message for a file that is recognisably not a text table or workbook, else None."""
    for magic, what in _MAGIC:
        if data.startswith(magic):
            return f"'{name}' is {what}, not a table. {_AGAIN}"
    if data.startswith(b"PAR1") and data.endswith(b"PAR1"):
        return f"'{name}' is a Parquet file. {_AGAIN}"
    if data.startswith(_OLE):
        if name.lower().endswith((".xlsx", ".xlsm")):
            return (f"'{name}' is a password-protected (encrypted) workbook, or an old .xls "
                    "file renamed to .xlsx. Remove the password (File > Info > Protect "
                    "Workbook) or save it as .xlsx, and upload again.")
        return (f"'{name}' is an old Excel 97-2003 (.xls) or other Office file. Save it as "
                ".xlsx or CSV and upload again.")
    return None


def _zip_kind(data: bytes, name: str) -> str | None:
    """None for an Excel workbook; otherwise a message saying what the ZIP file is."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = z.namelist()
            mimetype = ""
            if "mimetype" in names:
                with z.open("mimetype") as f:
                    mimetype = f.read(100).decode("ascii", "replace")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, KeyError,
            EOFError, zlib.error, RuntimeError, NotImplementedError) as exc:
        return (f"'{name}' starts like a ZIP file or Excel workbook but is damaged ({exc}). "
                "Save it again as .xlsx or CSV and upload again.")
    if "xl/workbook.xml" in names or any(n.startswith("xl/workbook") for n in names):
        return None
    if "spreadsheet" in mimetype:
        return (f"'{name}' is an OpenDocument spreadsheet (.ods). Save it as .xlsx or CSV "
                "(File > Save as) and upload again.")
    if any(n.startswith("word/") for n in names) or "text" in mimetype:
        return f"'{name}' is a word-processor document, not a table. {_AGAIN}"
    if any(n.startswith("ppt/") for n in names) or "presentation" in mimetype:
        return f"'{name}' is a presentation, not a table. {_AGAIN}"
    inside = ", ".join(f"'{n}'" for n in names[:5]) + (" ..." if len(names) > 5 else "")
    return (f"'{name}' is a ZIP archive ({len(names)} files: {inside or 'empty'}), not a "
            "table. Unpack it and upload the CSV or .xlsx file inside.")


def _text_kind(text: str, name: str) -> str | None:
    """A message for text that is a known non-table format (JSON, HTML, XML, RTF), else None."""
    head = text[:4096].lstrip("\ufeff \t\r\n").lower()
    if head.startswith("{\\rtf"):
        return f"'{name}' is a Rich Text (RTF) document, not a table. {_AGAIN}"
    if head.startswith(("<!doctype html", "<html")) or (
            head.startswith("<") and re.search(r"<(html|head|body|script|meta|title)[\s>]", head)):
        return (f"'{name}' is a web page (HTML), not a table: probably a download that failed "
                "or a login page saved under this name. Download the export again and check "
                "that it opens as a table in Excel before uploading.")
    if head.startswith("<?xml") or head.startswith("<svg"):
        if "urn:schemas-microsoft-com:office:spreadsheet" in head:
            return (f"'{name}' is an Excel 2003 XML spreadsheet. Open it in Excel, save it as "
                    ".xlsx and upload again.")
        return f"'{name}' is an XML file, not a table. {_AGAIN}"
    if head.startswith(("{", "[")) and _is_json(text, head):
        return (f"'{name}' is a JSON file (structured data, not a table of rows and columns). "
                f"{_AGAIN}")
    return None


def _is_json(text: str, head: str) -> bool:
    if re.match(r'^(\{\s*"|\[\s*[\[{"]|\[\s*\]|\{\s*\})', head):
        return True  # also a truncated or line-delimited JSON file
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


_CONTROL = re.compile(r"[\x00-\x08\x0e-\x19\x1b-\x1f]")


def _looks_binary(text: str) -> bool:
    """True when invisible control characters are frequent (more than 1% of the first 4 KiB,
    and more than 4): an image, a database or a damaged file, not text. A few stray NUL
    characters in a text export are cleaned cell by cell instead."""
    sample = text[:4096]
    n = len(_CONTROL.findall(sample))
    return n > max(4, 0.01 * len(sample))


# ---- text: decoding, delimiter, records --------------------------------------------------------

def _utf16_without_bom(sample: bytes) -> str | None:
    """``utf-16-le``/``utf-16-be`` when NUL bytes sit at every other position (UTF-16 text of
    mostly Latin characters written without a byte order mark), else None."""
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


def _decode(data: bytes, name: str) -> tuple[str, str]:
    """The text of a file and a name for its encoding (UTF-8, UTF-16, cp1252, latin-1)."""
    boms = ((b"\xff\xfe\x00\x00", "utf-32", "UTF-32"), (b"\x00\x00\xfe\xff", "utf-32", "UTF-32"),
            (b"\xff\xfe", "utf-16", "UTF-16"), (b"\xfe\xff", "utf-16", "UTF-16"))
    codec, label = next(((c, lbl) for bom, c, lbl in boms if data.startswith(bom)), (None, ""))
    codec = codec or _utf16_without_bom(data[:4096])
    if codec:
        try:
            return data.decode(codec), label or "UTF-16"
        except UnicodeError as exc:
            raise DataFormatError(
                f"'{name}' starts like a {label or 'UTF-16'} text file but cannot be decoded "
                f"({exc.reason} at byte {getattr(exc, 'start', '?')}): it is damaged or not a "
                "text file. Save the table again as CSV (UTF-8) and upload again.") from exc
    bom = data.startswith(b"\xef\xbb\xbf")
    body = data[3:] if bom else data
    for codec, label in (("utf-8", "UTF-8 with BOM" if bom else "UTF-8"), ("cp1252", "cp1252")):
        try:
            return body.decode(codec), label
        except UnicodeDecodeError:
            continue
    return body.decode("latin-1"), "latin-1"


def _reader(text: str, delimiter: str) -> Iterator[list[str]]:
    """Records of ``text`` with any line ending (``\\n``, ``\\r\\n``, old-Mac ``\\r``) and
    quoted fields that may hold delimiters and line breaks."""
    # a cell may be as long as the file itself (the bytes are in memory already); the limit is
    # process-wide, so it is only ever raised
    need = min(len(text) + 1, 2**31 - 1)
    if csv.field_size_limit() < need:
        csv.field_size_limit(need)
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"',
                      doublequote=True, strict=False)


_SNIFF_CHARS = 65536


def _sniff_delimiter(text: str) -> str:
    """The delimiter (tab ; , |) that splits the first 50 records most consistently; the
    header must contain it."""
    sample = text[:_SNIFF_CHARS]
    best, best_score = ",", -1.0
    for d in ("\t", ";", ",", "|"):
        try:
            records = list(itertools.islice(_reader(sample, d), 51))
        except csv.Error:
            continue
        if len(text) > _SNIFF_CHARS and len(records) > 1:
            records = records[:-1]  # probably cut in the middle
        counts = [len(r) - 1 for r in records if any(c.strip() for c in r)][:50]
        if not counts or counts[0] == 0:
            continue
        consistent = sum(c == counts[0] for c in counts) / len(counts)
        score = consistent * 1000 + counts[0]
        if score > best_score:
            best, best_score = d, score
    return best


_MAX_RESTARTS = 100


def _records(text: str, delimiter: str, name: str) -> tuple[list[list[str]], dict[int, str]]:
    """All records of a delimited text, and record index -> problem for records cut short.

    A quotation mark that opens a value and is never closed makes the csv module read the
    following lines into that value: rows would vanish. Such a record (one that swallowed
    lines that look like rows of the table) is read as its first line only, listed as a
    problem, and reading starts again on the next line.
    """
    lines = io.StringIO(text, newline="").readlines()  # the lines the csv module sees
    records: list[list[str]] = []
    problems: dict[int, str] = {}
    header: list[str] | None = None
    start = 0
    for _ in range(_MAX_RESTARTS):
        try:
            part = text if start == 0 else "".join(lines[start:])
            restart, header = _read_from(part, lines, start, delimiter, records, problems,
                                         header)
        except csv.Error as exc:  # with strict=False and newline="" hardly reachable
            raise DataFormatError(
                f"'{name}' could not be read as a {_delimiter_name(delimiter)}-separated table "
                f"({exc}). Open it in Excel, save it as CSV or .xlsx and upload again.") from exc
        if restart is None:
            return records, problems
        start = restart
    first = min(problems) + 1
    raise DataFormatError(f"'{name}' has more than {_MAX_RESTARTS} quotation marks (\") that "
                          f"open a value and are never closed (the first in row {first}). "
                          "Open it in Excel, save it again as CSV or .xlsx and upload again.")


def _read_from(part: str, lines: list[str], start: int, delimiter: str,
               records: list[list[str]], problems: dict[int, str], header: list[str] | None
               ) -> tuple[int | None, list[str] | None]:
    """Append the records of ``part`` (the text from physical line ``start`` on); stop at a
    record that swallowed rows (see :func:`_records`) and return the line to restart from
    (None: end of text)."""
    reader = _reader(part, delimiter)
    consumed = 0
    for record in reader:
        first, consumed = start + consumed, reader.line_num
        end = start + consumed
        if header is None and not _blank(record):
            header = record
        elif header is not None and end - first > 1 and _swallowed(
                lines[first + 1:end], header, delimiter, at_end=end >= len(lines)):
            problems[len(records)] = (
                "a quotation mark (\") opens a value in this row and is never closed; the "
                f"{_plural(end - first - 1, 'line')} after it are read as rows of their own. "
                "Close or remove the quotation mark")
            records.append(_split(lines[first], delimiter, csv.QUOTE_NONE))
            return first + 1, header
        records.append(record)
    return None, header


def _split(line: str, delimiter: str, quoting: int = csv.QUOTE_MINIMAL) -> list[str]:
    """The fields of one line of text by the csv rules (a line break ends it)."""
    reader = csv.reader(io.StringIO(line, newline=""), delimiter=delimiter, quoting=quoting,
                        strict=False)
    return next(reader, [])


def _swallowed(continuation: list[str], header: list[str], delimiter: str,
               at_end: bool) -> bool:
    """Whether the lines read into one quoted value look like rows of the table: at least two
    of them do, or one does and the value runs to the end of the file."""
    if _used_width(header) < 2:
        return False
    rowlike = 0
    for line in continuation:
        fields = _split(line, delimiter)
        rowlike += _fits(fields, header)
        if rowlike >= (1 if at_end else 2):
            return True
    return False


def _fits(record: list[str], header: list[str]) -> bool:
    """A record fits the header: as many fields (trailing empty ones may be more or fewer)."""
    n = len(record)
    return _used_width(header) <= n <= len(header) or (
        n > len(header) and _blank(record[len(header):]))


_DEC_COMMA = re.compile(r"^-?\d{1,3}(\.\d{3})*,\d+$|^-?\d+,\d+$")
_DEC_POINT = re.compile(r"^-?\d+\.\d+$")


def _detect_decimal(frame: pd.DataFrame, delimiter: str) -> str:
    if delimiter == ",":
        return "."
    sample = frame.head(500).to_numpy().ravel()
    commas = sum(bool(_DEC_COMMA.match(str(v).strip())) for v in sample)
    points = sum(bool(_DEC_POINT.match(str(v).strip())) for v in sample)
    return "," if commas > points else "."


def _dedupe(headers: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, h in enumerate(headers):
        h = str(h).replace("\ufeff", "").strip() or f"column_{i + 1}"
        while h in seen:  # "a", "a", "a.2" -> "a", "a.2", "a.2.2"
            seen[h] += 1
            h = f"{h}.{seen[h]}"
        seen[h] = 1
        out.append(h)
    return out


def read_table(data: bytes, filename: str, table: schema.TableName | None = None) -> RawTable:
    """Read CSV, TSV or XLSX bytes into a :class:`RawTable` of text cells.

    Parameters
    ----------
    data : the file's bytes (uploads are never written to disk).
    filename : used for messages (the format is recognised from the content).
    table : the table being loaded (patients when None); in a workbook it picks the sheet
        whose header names that table's required columns.

    Returns
    -------
    RawTable
        All cells as stripped text; delimiter, decimal mark and encoding detected. Rows with
        a different number of fields than the header and repeated header rows are in
        ``row_problems``, to be listed by :func:`validate`.

    Raises
    ------
    DataFormatError
        For everything that is not a readable table (empty, binary, PDF, HTML, JSON, ZIP,
        damaged workbook, ...), with a message that says what the file is and what to do.
    """
    name = filename or "upload"
    if not data or not data.strip():
        raise DataFormatError(f"'{name}' is empty. Export the table again with a header row "
                              "and one row per patient.")
    digest = hashlib.sha256(data).hexdigest()
    if data.startswith(b"PK\x03\x04"):
        if (problem := _zip_kind(data, name)) is not None:
            raise DataFormatError(problem)
        return _read_xlsx(data, name, digest, table)
    if (problem := _binary_kind(data, name)) is not None:
        raise DataFormatError(problem)
    text, encoding = _decode(data, name)
    excel_name = name.lower().endswith((".xlsx", ".xlsm"))
    if _looks_binary(text):
        raise DataFormatError(
            f"'{name}' is named like an Excel workbook but is not one (damaged, or another "
            "format renamed). Open it in Excel, save it as .xlsx and upload again." if excel_name
            else f"'{name}' is not a table: it looks like a binary file (an image, PDF or "
                 "database?). Upload a CSV, TSV or XLSX export.")
    if (problem := _text_kind(text, name)) is not None:
        raise DataFormatError(problem)
    notes: tuple[str, ...] = ()
    if excel_name:
        notes = (f"'{name}' is named like an Excel workbook but is a text file; it was read "
                 "as CSV.",)
    text = text.rstrip("\x1a")  # DOS end-of-file mark
    delimiter = _sniff_delimiter(text)
    records, problems = _records(text, delimiter, name)
    source = _Source(name, "csv", delimiter, encoding, digest, notes=notes, nul="\x00" in text)
    return _build(records, source, problems)


@dataclass(frozen=True)
class _Source:
    """Where records came from (the RawTable fields that are not the table itself)."""

    name: str
    format: Literal["csv", "xlsx"]
    delimiter: str | None
    encoding: str | None
    digest: str
    sheet: str | None = None
    sheets: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    nul: bool = False  # the text holds NUL characters (cleaned cell by cell)

    @property
    def label(self) -> str:
        return _file_label(self.name, self.format, self.sheet, self.sheets)


# ---- workbooks -----------------------------------------------------------------------------

def _xlsx_errors() -> tuple[type[BaseException], ...]:
    """What openpyxl raises on damaged or unusual workbooks (not bugs of ours)."""
    from xml.etree.ElementTree import ParseError

    from openpyxl.utils.exceptions import InvalidFileException, ReadOnlyWorkbookException

    return (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, InvalidFileException,
            ReadOnlyWorkbookException, ParseError, KeyError, IndexError, OSError, EOFError,
            ValueError, TypeError, AttributeError, NotImplementedError)


def _read_xlsx(data: bytes, name: str, digest: str,
               table: schema.TableName | None) -> RawTable:
    sheets = _workbook_sheets(data, name)
    names = tuple(sheets)
    if not names:
        raise DataFormatError(f"'{name}' is an Excel workbook without worksheets (only charts?). "
                              "Put the table on a worksheet, save and upload again.")
    chosen = _choose_sheet(sheets, table)
    if chosen is None:
        raise DataFormatError(f"'{name}' holds no data: its {_plural(len(names), 'sheet')} "
                              f"({_sheet_list(names)}) are empty. Check that you saved the "
                              "workbook with the table in it.")
    return _build(sheets[chosen], _Source(name, "xlsx", None, None, digest, chosen, names))


_MAX_CELLS = 20_000_000  # a damaged or hostile workbook can claim any size


def _workbook_sheets(data: bytes, name: str) -> dict[str, list[list[str]]]:
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
    sheets = f"sheets {_sheet_list(wb.sheetnames)}"
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


def _choose_sheet(sheets: Mapping[str, list[list[str]]],
                  table: schema.TableName | None) -> str | None:
    """The sheet that holds the table: among the sheets whose first non-blank row names every
    required column of ``table`` the one with most recognised headers; else the one with most
    recognised headers; else the one with most non-empty cells (None: all sheets empty)."""
    table = table or "patients"
    required = {c.name for c in schema.TABLES[table].values() if c.required}
    best: tuple[bool, int, int] | None = None
    chosen = None
    for title, rows in sheets.items():
        header = next((r for r in rows if any(c for c in r)), None)
        if header is None:
            continue
        mapped = {m for m in suggest_mapping(_dedupe(header), table).values() if m}
        cells = sum(1 for r in rows for c in r if c)
        score = (required <= mapped, len(mapped), cells)
        if best is None or score > best:
            best, chosen = score, title
    return chosen


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


# ---- records -> RawTable -----------------------------------------------------------------------

def _blank(record: list[str]) -> bool:
    return not any(c.strip() for c in record)


def _build(records: list[list[str]], src: _Source,
           problems_by_record: Mapping[int, str] | None = None) -> RawTable:
    """The header (first non-blank row), the data rows under it, and every row that does not
    fit the header listed in ``row_problems`` (with ``problems_by_record``, by record index,
    found while reading)."""
    while records and _blank(records[-1]):
        records.pop()  # trailing blank lines are not data rows
    header_idx = next((i for i, r in enumerate(records) if not _blank(r)), None)
    if header_idx is None:
        raise DataFormatError(f"{src.label} holds no data, only empty rows.")
    header = [c.replace("\x00", "").strip() for c in records[header_idx]]
    body = records[header_idx + 1:]
    problems = {i - header_idx - 1: p for i, p in (problems_by_record or {}).items()
                if i > header_idx}
    if src.format == "csv":
        width = len(header)
        problems |= _width_problems(body, header, src.delimiter or ",", skip=problems)
    else:  # a workbook's cells are positional: data right of the header is an unnamed column
        width = max(map(len, records))
    frame = _frame(body, width)
    headers = _dedupe(header + [""] * (width - len(header)))
    frame.columns = headers
    frame, cell_notes = _clean_nul(frame) if src.nul else (frame, [])
    keep = [h for h in headers if not (h.startswith("column_") and not frame[h].ne("").any())]
    if not keep:
        raise DataFormatError(f"{src.label} has no column headers.")
    frame = frame[keep]
    originals = dict(zip(headers, header))
    for pos in _repeated_headers(frame, {h: originals.get(h, "") for h in keep}):
        problems.setdefault(pos, "repeated header row (several exports joined into one "
                                 "file?); not data")
    decimal = _detect_decimal(frame, src.delimiter) if src.delimiter else "."
    cell_notes = tuple(n for n in cell_notes if n[1] in keep)
    return RawTable(frame, tuple(keep), src.name, src.format, src.delimiter, decimal,
                    src.encoding, header_idx + 2, src.digest, src.sheet, src.sheets,
                    dict(sorted(problems.items())), cell_notes, src.notes)


def _frame(body: list[list[str]], width: int) -> pd.DataFrame:
    """Records as a DataFrame of stripped text, cut or padded to ``width`` columns."""
    if any(len(r) != width for r in body):
        body = [r[:width] + [""] * (width - len(r)) for r in body]
    frame = pd.DataFrame(body, columns=range(width), dtype=object)
    return frame.apply(lambda s: s.str.strip()) if len(frame) else frame


def _width_problems(body: list[list[str]], header: list[str], delimiter: str,
                    skip: Mapping[int, str]) -> dict[int, str]:
    """Position -> problem for every data row whose number of fields does not fit."""
    fits = range(_used_width(header), len(header) + 1)
    return {i: p for i, r in enumerate(body) if len(r) not in fits and i not in skip
            and (p := _width_problem(r, header, delimiter)) is not None}


def _width_problem(record: list[str], header: list[str], delimiter: str) -> str | None:
    """Why a delimited row does not fit the header, or None. A blank row, trailing empty
    fields and empty fields under trailing empty headers fit."""
    n, width = len(record), _used_width(header)
    if _blank(record) or _fits(record, header):
        return None
    fields = _plural(n, "field")
    problem = f"has {fields} where the header has {width}"
    line = delimiter.join(record)
    for other in ("\t", ";", ",", "|"):
        if other == delimiter or other not in line:
            continue
        split = _split(line, other)
        if _fits(split, header):
            return (f"{problem}; it looks {_delimiter_name(other)}-separated — the rest of "
                    f"the file uses {_delimiter_name(delimiter)}")
    if any("\n" in c or "\r" in c for c in record):
        return (f"{problem}; a value in it runs over several lines (a quotation mark \" that "
                "is not closed?)")
    if n > len(header):
        return (f"{problem}; a value may contain the separator {_delimiter_name(delimiter)} "
                "without quotes (a decimal comma?)")
    return f"{problem}; values are missing or a value was split over two lines"


def _used_width(header: list[str]) -> int:
    """Fields up to the header's last non-empty cell (trailing empty headers are optional)."""
    return max((i + 1 for i, c in enumerate(header) if c.strip()), default=len(header))


def _clean_nul(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[int, str, str, str]]]:
    """Remove NUL characters (invisible; written by some exports) from cells and list them."""
    notes: list[tuple[int, str, str, str]] = []
    if not len(frame):
        return frame, notes
    hit = frame.apply(lambda s: s.str.contains("\x00", regex=False))
    if not hit.to_numpy().any():
        return frame, notes
    frame = frame.copy()
    for col in frame.columns[hit.any().to_numpy()]:
        for pos in np.flatnonzero(hit[col].to_numpy()):
            clean = frame[col].iloc[pos].replace("\x00", "").strip()
            frame.iloc[pos, frame.columns.get_loc(col)] = clean
            notes.append((int(pos), col, clean,
                          "held an invisible NUL character (damaged export?); it was removed"))
    return frame, notes


def _repeated_headers(frame: pd.DataFrame, originals: Mapping[str, str]) -> list[int]:
    """Positions of rows that repeat the header (as joined exports do): at least two (or all)
    named columns hold their own header text, and these are at least 80% of the row's
    non-empty cells."""
    named = {h: o for h, o in originals.items() if o}
    if not len(frame) or not named:
        return []
    same = pd.DataFrame({h: frame[h].eq(o) for h, o in named.items()})
    matches = same.sum(axis=1).to_numpy()
    filled = frame.ne("").sum(axis=1).to_numpy()
    hits = (matches >= min(2, len(named))) & (matches >= 0.8 * filled)
    return np.flatnonzero(hits).tolist()


# --------------------------------------------------------------------------------------------
# Dates -> days after infusion (a meeting export carries no calendar dates)
# --------------------------------------------------------------------------------------------

INFUSION_DATE = frozenset(schema.normalise_header(a) for a in (
    "infusion date", "date of infusion", "cart date", "car t date", "car-t infusion date",
    "cart infusion", "infusion", "infusionsdatum", "datum infusion", "day 0 date"))
SAMPLE_DATE = frozenset(schema.normalise_header(a) for a in (
    "date", "datum", "sample date", "collection date", "abnahmedatum", "administration date",
    "gabedatum", "date given"))
_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%d.%m.%y", "%Y-%m-%dT%H:%M:%S",
                 "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S")


_DATE_LIKE = r"^\d{1,4}[-./]\d{1,2}[-./]\d{2,4}"


def _date_like_columns(frame: pd.DataFrame) -> list[str]:
    """Columns where at least 80% of the non-missing cells start like a date: the only ones
    worth parsing (checked over the whole block at once; wide exports have thousands of
    columns)."""
    if frame.shape[1] == 0 or len(frame) == 0:
        return []
    cells = pd.Series(frame.to_numpy(dtype=object).ravel(order="F"), dtype=object).astype(str)
    shape = frame.shape
    known = (~_is_na(cells)).to_numpy().reshape(shape, order="F")
    dated = cells.str.match(_DATE_LIKE).to_numpy().reshape(shape, order="F") & known
    n_known = known.sum(axis=0)
    ratio = np.divide(dated.sum(axis=0), n_known, out=np.zeros(shape[1]), where=n_known > 0)
    return [c for c, r in zip(frame.columns, ratio) if r >= 0.8]


def _parse_dates(raw: pd.Series) -> pd.Series | None:
    """Datetimes if at least 80% of the non-missing cells are dates in one known format."""
    cells = raw[~_is_na(raw)]
    if cells.empty or not cells.str.match(_DATE_LIKE).mean() >= 0.8:
        return None
    parsed = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    for fmt in _DATE_FORMATS:  # each cell takes the first format it fits (dates with and
        parsed = parsed.fillna(  # without times mix in real exports)
            pd.to_datetime(raw.where(~_is_na(raw)), format=fmt, errors="coerce"))
    return parsed if parsed[cells.index].notna().mean() >= 0.8 else None


def _days_since(dates: pd.Series, infusion: pd.Series) -> pd.Series:
    return (dates - infusion).dt.total_seconds() / 86400.0


def _patients_dates(raw: RawTable) -> tuple[RawTable, pd.Series | None, list[str]]:
    """Find the infusion date; turn other date columns into ``<name>_day``; drop the dates.

    Returns the table without date columns, the infusion date per patient ID (or None) and
    notes for the user.
    """
    frame, notes = raw.frame.copy(), []
    infusion_header = next((h for h in raw.headers
                            if schema.normalise_header(h) in INFUSION_DATE), None)
    infusion = _parse_dates(frame[infusion_header]) if infusion_header else None
    candidates = _date_like_columns(frame[[h for h in raw.headers if h != infusion_header]])
    date_cols = {h: d for h in candidates if (d := _parse_dates(frame[h])) is not None}
    if infusion_header and infusion is None:
        notes.append(f"'{infusion_header}' holds no recognisable dates; it was ignored.")
    for h, d in date_cols.items():
        if infusion is not None:
            name = _unused(f"{h} (days after infusion)", frame.columns)
            frame[name] = _days_since(d, infusion).map(lambda v: "" if pd.isna(v) else f"{v:g}")
            notes.append(f"'{h}' converted from dates to days after infusion as '{name}'; "
                         "the dates were dropped.")
        else:
            notes.append(f"'{h}' holds dates but there is no infusion date column to convert "
                         "them to days after infusion; the column was dropped.")
        del frame[h]
    if infusion_header:
        del frame[infusion_header]
        notes.append(f"'{infusion_header}' (infusion date) used to convert dates, then dropped.")
    by_id: pd.Series | None = None
    if infusion is not None:
        id_header = next((h for h, t in suggest_mapping(raw.headers, "patients").items()
                          if t == "patient_id"), None)
        if id_header:
            by_id = pd.Series(infusion.to_numpy(), index=frame[id_header].str.strip())
            by_id = by_id[~by_id.index.duplicated()]
    return replace(raw, frame=frame, headers=tuple(frame.columns)), by_id, notes


def _unused(name: str, taken: pd.Index) -> str:
    """``name``, or ``name (2)``, ``name (3)``, ... when a column of that name exists."""
    out, i = name, 2
    while out in taken:
        out, i = f"{name} ({i})", i + 1
    return out


def _long_dates(raw: RawTable, table: schema.TableName,
                infusion: pd.Series | None) -> tuple[RawTable, list[str]]:
    """Labs/treatments with a date column and no day column: day = date - infusion date."""
    mapping = suggest_mapping(raw.headers, table)
    if "day" in mapping.values():
        return raw, []
    date_header = next((h for h in raw.headers if schema.normalise_header(h) in SAMPLE_DATE),
                       None)
    if date_header is None:
        return raw, []
    dates = _parse_dates(raw.frame[date_header])
    if dates is None:
        return raw, [f"'{date_header}' holds no recognisable dates."]
    frame = raw.frame.copy()
    notes = []
    id_header = next(h for h, t in mapping.items() if t == "patient_id") \
        if "patient_id" in mapping.values() else None
    if infusion is None or id_header is None:
        frame["day"] = ""
        notes.append(f"{table}: '{date_header}' holds dates, but the patient table has no "
                     "infusion date to convert them to days; add an 'infusion_date' column to "
                     "the patient table or a 'day' column here.")
    else:
        inf = frame[id_header].str.strip().map(infusion)
        days = _days_since(dates, pd.to_datetime(inf))
        frame["day"] = days.map(lambda v: "" if pd.isna(v) else f"{v:g}")
        missing = int((dates.notna() & inf.isna()).sum())
        notes.append(f"{table}: '{date_header}' converted to days after infusion; the dates "
                     "were dropped." + (f" {missing} rows whose patient has no infusion date "
                                        "are listed as 'no usable day'." if missing else ""))
    del frame[date_header]
    return replace(raw, frame=frame, headers=tuple(frame.columns)), notes


# --------------------------------------------------------------------------------------------
# Mapping headers to canonical columns
# --------------------------------------------------------------------------------------------

def _alias_index(table: schema.TableName) -> dict[str, str]:
    index: dict[str, str] = {}
    for col in schema.TABLES[table].values():
        for alias in (col.name, col.label, *col.aliases):
            index.setdefault(schema.normalise_header(alias), col.name)
    return index


def suggest_mapping(headers: tuple[str, ...] | list[str],
                    table: schema.TableName) -> dict[str, str | None]:
    """Suggest a canonical column for each header (None: keep as an extra column).

    Headers are compared ignoring case, spaces, punctuation and a unit suffix in brackets, so
    ``"Fibrinogen nadir [g/l]"``, ``"CRS Grad"`` and ``"Patient-ID"`` are recognised. Each
    canonical column is taken by the first header that matches it.
    """
    index = _alias_index(table)
    taken: set[str] = set()
    out: dict[str, str | None] = {}
    for h in headers:
        key = schema.normalise_header(h)
        target = index.get(key)
        if target is None and key.endswith("grad"):
            target = index.get(key + "e")
        if target in taken:
            target = None
        if target:
            taken.add(target)
        out[h] = target
    return out


# --------------------------------------------------------------------------------------------
# Validation and conversion
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LoadReport:
    """What happened to every row and cell of one uploaded table.

    Attributes
    ----------
    table : "patients", "labs" or "treatments".
    filename, detected : file name and the detected format line.
    rows_read : data rows in the file: every row from the one after the header to the last
        non-blank row (blank rows, repeated headers and malformed rows included), so
        ``rows_read == rows_loaded + rows_rejected``.
    rows_loaded : rows in the validated frame.
    rejected : DataFrame (row, patient_id, reason): rows not loaded; ``row`` is the spreadsheet
        row number (header = row 1).
    cell_issues : DataFrame (row, patient_id, column, value, problem): cells set missing or
        changed (censored "<0.5"); their rows were loaded.
    mapping : header -> canonical column (None: kept under its own name).
    conversions : human sentences about unit conversions applied.
    notes : human sentences about the file as a whole (columns renamed, dates converted, a
        mapping entry ignored, no data rows).
    """

    table: str
    filename: str
    detected: str
    rows_read: int
    rows_loaded: int
    rejected: pd.DataFrame
    cell_issues: pd.DataFrame
    mapping: dict[str, str | None]
    conversions: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def rows_rejected(self) -> int:
        return len(self.rejected)

    def summary(self) -> str:
        """``"patients: 41 rows read · 41 loaded · 0 rejected · 2 cell problems"``."""
        return (f"{self.table}: {self.rows_read} rows read · {self.rows_loaded} loaded · "
                f"{self.rows_rejected} rejected · {len(self.cell_issues)} cell problems")


@dataclass
class _Collector:
    row_numbers: np.ndarray
    ids: pd.Series
    cells: list[dict] = field(default_factory=list)
    rejected: dict[int, str] = field(default_factory=dict)

    def cell(self, pos: int, column: str, value: str, problem: str) -> None:
        self.cells.append({"row": int(self.row_numbers[pos]),
                           "patient_id": _short(self.ids.iloc[pos]), "column": column,
                           "value": _short(value, 200), "problem": problem})

    def reject(self, pos: int, reason: str) -> None:
        if pos in self.rejected:
            self.rejected[pos] += "; " + reason
        else:
            self.rejected[pos] = reason


def _is_na(s: pd.Series) -> pd.Series:
    return s.str.strip().str.lower().isin(NA_TOKENS)


def _parse_number(text: str, decimal: str) -> float | None:
    """One cell as a number (``"1.234,5"`` with a decimal comma), or None."""
    v = _parse_numbers(pd.Series([text]), decimal).iloc[0]
    return None if pd.isna(v) else float(v)


def _parse_numbers(raw: pd.Series, decimal: str) -> pd.Series:
    """Vectorised number parsing: thousands separators, decimal comma, minus signs."""
    t = (raw.astype(str).str.strip().str.replace("\u2212", "-", regex=False)
         .str.replace(r"[\s\u00a0]", "", regex=True))
    if decimal == ",":
        thousands = t.str.fullmatch(r"-?\d{1,3}(\.\d{3})+(,\d+)?")
        t = t.where(~thousands, t.str.replace(".", "", regex=False)).str.replace(",", ".",
                                                                                 regex=False)
    else:
        thousands = t.str.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?")
        t = t.where(~thousands, t.str.replace(",", "", regex=False))
    v = pd.to_numeric(t, errors="coerce")
    return v.where(np.isfinite(v))


def _numbers(raw: pd.Series, column: str, decimal: str, col: _Collector,
             allow_censored: bool = True) -> pd.Series:
    na = _is_na(raw)
    values = _parse_numbers(raw, decimal).where(~na)
    failed = values.isna() & ~na
    if allow_censored and failed.any():
        parts = raw[failed].str.extract(r"^\s*(?:[<>]=?|≤|≥)\s*(.+)$")[0]
        censored = _parse_numbers(parts.fillna(""), decimal)
        for pos in np.flatnonzero(failed.to_numpy()):
            v = censored.get(raw.index[pos])
            if v is not None and pd.notna(v):
                values.iloc[pos] = v
                col.cell(pos, column, raw.iloc[pos], f"censored value; used {v:g}")
        failed = values.isna() & ~na
    for pos in np.flatnonzero(failed.to_numpy()):
        col.cell(pos, column, raw.iloc[pos], "not a number; set missing")
    return values.astype(float)


def _unit_factor(canon: str, header: str, values: pd.Series) -> tuple[float, str | None]:
    """Factor that converts a patient column to its canonical unit, and a sentence saying so."""
    analyte = _analyte_of(canon)
    if analyte is None:
        return 1.0, None
    a = schema.ANALYTES[analyte]
    unit = schema.header_unit(header)
    if unit and unit in a.units and a.units[unit] != 1.0:
        f = a.units[unit]
        return f, f"{canon}: header says {unit}; converted to {a.unit} (x {f:g})"
    if unit is None and analyte == "fibrinogen":
        med = values.median() if values.notna().any() else np.nan
        if pd.notna(med) and 0 < med < 15:
            return 100.0, (f"{canon}: values (median {med:g}) look like g/L; converted to "
                           "mg/dL (x 100). Put the unit in the header to be explicit.")
    return 1.0, None


def _analyte_of(canon: str) -> str | None:
    for suffix in ("_baseline", "_nadir", "_max", "_min"):
        if canon.endswith(suffix) and canon[: -len(suffix)] in schema.ANALYTES:
            return canon[: -len(suffix)]
    return None


def _binary(raw: pd.Series, column: str, c: _Collector) -> pd.Series:
    low = raw.str.strip().str.lower()
    out = pd.Series(pd.NA, index=raw.index, dtype="Int64")
    out[low.isin(_TRUE)] = 1
    out[low.isin(_FALSE)] = 0
    # "1.0" / "0,0"
    out[low.isin({"1.0", "1,0"})] = 1
    out[low.isin({"0.0", "0,0"})] = 0
    bad = out.isna() & ~_is_na(raw)
    for pos in np.flatnonzero(bad.to_numpy()):
        c.cell(pos, column, raw.iloc[pos], "expected 0/1 (yes/no); set missing")
    return out


def _grade(raw: pd.Series, column: str, lo: float, hi: float, c: _Collector) -> pd.Series:
    """Grades from digits (``2``, ``2.0``, ``G2``, ``Grad 2``) or Roman numerals (``II``,
    ``grade II``); every cell not written as a plain number is listed with how it was read."""
    na = _is_na(raw)
    t = raw.astype(str).str.strip().str.lower()
    digits = t.str.replace(" ", "", regex=False).str.extract(_GRADE.pattern)[0] \
        .str.replace(",", ".", regex=False)
    roman = t.str.replace(r"^(grade|grad)\s+", "", regex=True).map(_ROMAN)
    g = pd.to_numeric(digits, errors="coerce").fillna(roman).where(~na)
    unparsed = g.isna() & ~na
    out_of_range = g.notna() & ((g < lo) | (g > hi))
    worded = g.notna() & ~out_of_range & ~t.str.match(_PLAIN_GRADE.pattern)
    for pos in np.flatnonzero(unparsed.to_numpy()):
        c.cell(pos, column, raw.iloc[pos], f"expected a grade {lo:g}-{hi:g}; set missing")
    for pos in np.flatnonzero(out_of_range.to_numpy()):
        c.cell(pos, column, raw.iloc[pos], f"grade out of range {lo:g}-{hi:g}; set missing")
    for pos in np.flatnonzero(worded.to_numpy()):
        c.cell(pos, column, raw.iloc[pos],
               f"read '{_short(raw.iloc[pos], 40)}' as grade {int(g.iloc[pos])}")
    return g.where(~out_of_range).astype("Int64")


def _convert_column(raw: pd.Series, spec: schema.Column, header: str, decimal: str,
                    c: _Collector, conversions: list[str]) -> pd.Series:
    name = spec.name
    if spec.kind == "id":
        return raw.str.strip()
    if spec.kind == "binary":
        return _binary(raw, name, c)
    if spec.kind == "grade":
        return _grade(raw, name, spec.lo or 0, spec.hi or 4, c)
    if spec.kind == "category":
        out = raw.where(~_is_na(raw), None).str.strip()
        if name == "sex":
            folded = out.str.lower().map(_SEX)
            bad = folded.isna() & out.notna()
            for pos in np.flatnonzero(bad.to_numpy()):
                c.cell(pos, name, raw.iloc[pos], "expected F or M; set missing")
            return folded.astype(object).where(folded.notna(), None)
        return out.astype(object).where(out.notna(), None)
    values = _numbers(raw, name, decimal, c)
    factor, sentence = _unit_factor(name, header, values)
    if factor != 1.0:
        values = values * factor
        conversions.append(sentence or "")
    elif sentence:
        conversions.append(sentence)
    if spec.kind == "integer":
        frac = values.notna() & (values % 1 != 0)
        for pos in np.flatnonzero(frac.to_numpy()):
            c.cell(pos, name, raw.iloc[pos], "expected a whole number; set missing")
        values = values.where(~frac)
    lo = spec.lo if spec.lo is not None else -np.inf
    hi = spec.hi if spec.hi is not None else np.inf
    out_of_range = values.notna() & ((values < lo) | (values > hi))
    unit = f" {spec.unit}" if spec.unit and spec.unit != "day" else ""
    for pos in np.flatnonzero(out_of_range.to_numpy()):
        c.cell(pos, name, raw.iloc[pos],
               f"outside the plausible range {lo:g}-{hi:g}{unit}; set missing")
    values = values.where(~out_of_range)
    return values.round().astype("Int64") if spec.kind == "integer" else values


def _extra_column(raw: pd.Series, decimal: str) -> pd.Series:
    """An unmapped column: numeric when every non-missing cell is a number, else text."""
    return _extra_columns(raw.to_frame(), decimal).iloc[:, 0]


def _extra_columns(block: pd.DataFrame, decimal: str) -> pd.DataFrame:
    """Every unmapped column at once, each as :func:`_extra_column` describes it.

    The cells are checked for NA tokens and parsed as numbers in one pass over the whole block
    (a wide export has thousands of extra columns; per-column string methods took seconds).
    A column is numeric (Int64 when every value is whole and exactly representable, else
    float) when it has a value and every non-missing cell is a number; otherwise text with
    missing cells as None.
    """
    if block.shape[1] == 0:
        return pd.DataFrame(index=block.index)
    shape = block.shape
    text = block.to_numpy(dtype=object)
    cells = pd.Series(text.ravel(order="F"), dtype=object)
    na = _is_na(cells.astype(str)).to_numpy().reshape(shape, order="F")
    parsed = _parse_numbers(cells, decimal).to_numpy(dtype=float).reshape(shape, order="F")
    numeric = (~na).any(axis=0) & ~(np.isnan(parsed) & ~na).any(axis=0)
    out: dict[str, pd.Series] = {}
    for j, name in enumerate(block.columns):
        if numeric[j]:
            values = np.where(na[:, j], np.nan, parsed[:, j])
            known = values[~np.isnan(values)]
            whole = bool(np.all(known % 1 == 0) and np.abs(known).max() < 2**53)
            out[name] = pd.Series(pd.array(values, dtype="Int64") if whole else values,
                                  index=block.index)
        else:
            col = text[:, j].copy()
            col[na[:, j]] = None
            out[name] = pd.Series(col, index=block.index, dtype=object)
    return pd.DataFrame(out, index=block.index)


def validate(raw: RawTable, mapping: Mapping[str, str | None], table: schema.TableName,
             *, known_patients: set[str] | None = None) -> tuple[pd.DataFrame, LoadReport]:
    """Type, convert and check one table; report every problem at once.

    Parameters
    ----------
    raw : the table read by :func:`read_table`.
    mapping : header -> canonical column or None (kept as an extra column under a safe name).
        Headers the file does not have and targets that are not columns of ``table`` are
        ignored, with a note.
    table : which table this is.
    known_patients : for labs/treatments, the loaded patient IDs; rows for other IDs are
        rejected and listed.

    Returns
    -------
    (DataFrame, LoadReport)
        The typed frame with canonical columns (and extras), and the report. Every data row
        of ``raw`` is either in the frame or in ``report.rejected`` with its reason.

    Raises
    ------
    ValidationError
        When a required column (``patient_id``; for labs day/analyte/value) is not mapped.
    """
    columns = schema.TABLES[table]
    mapping, notes = _usable_mapping(raw, mapping, table)
    _check_required(raw, mapping, table)
    frame = raw.frame
    rows = np.arange(len(frame)) + raw.first_row
    id_header = next(h for h, t in mapping.items() if t == "patient_id")
    ids = frame[id_header].str.strip()
    c = _Collector(rows, ids)
    conversions: list[str] = []
    typed, names = _typed_columns(raw, mapping, table, c, conversions)
    renamed = [f"'{h}' kept as column '{n}'" for h, n in names.items()
               if not mapping.get(h) and n != h]
    if renamed:
        notes.append("Columns that are not in the schema were kept under names the app can "
                     "use: " + "; ".join(renamed) + ".")
    for pos, header, value, problem in raw.cell_notes:
        c.cell(pos, names.get(header, header), value, problem)
    if not len(frame):
        notes.append(f"{raw.label} has a header row but no data rows.")
    _reject_rows(raw, ids, typed, table, known_patients, c)

    keep = np.ones(len(frame), dtype=bool)
    keep[list(c.rejected)] = False
    typed = typed[keep].reset_index(drop=True)
    rejected = pd.DataFrame(
        [{"row": int(rows[p]), "patient_id": _short(ids.iloc[p]) or None, "reason": r}
         for p, r in sorted(c.rejected.items())], columns=["row", "patient_id", "reason"])
    kept_rows = set(rows[keep].tolist())
    cells = pd.DataFrame([x for x in c.cells if x["row"] in kept_rows],
                         columns=["row", "patient_id", "column", "value", "problem"])
    report = LoadReport(table, raw.filename, raw.describe(), len(frame), len(typed), rejected,
                        cells, dict(mapping), tuple(conversions), (*raw.notes, *notes))
    return typed, report


def _usable_mapping(raw: RawTable, mapping: Mapping[str, str | None],
                    table: schema.TableName) -> tuple[dict[str, str | None], list[str]]:
    """The mapping restricted to this file's headers and this table's columns, and notes on
    what was ignored (a mapping saved for another file or table)."""
    columns = schema.TABLES[table]
    notes = []
    absent = [h for h, t in mapping.items() if t and h not in raw.headers]
    if absent:
        notes.append(f"The column mapping names headers {raw.label} does not have ("
                     + ", ".join(f"'{h}'" for h in absent[:10]) + "); they were ignored.")
    unknown = sorted({str(t) for h, t in mapping.items()
                      if t and h in raw.headers and t not in columns})
    if unknown:
        notes.append(f"{table} has no column " + ", ".join(f"'{t}'" for t in unknown)
                     + "; the headers mapped to it were kept under their own names.")
    usable = {h: (t if t in columns else None) for h, t in mapping.items() if h in raw.headers}
    return usable, notes


def _check_required(raw: RawTable, mapping: Mapping[str, str | None],
                    table: schema.TableName) -> None:
    """Raise :class:`ValidationError` when a column is mapped twice or a required one is
    missing."""
    targets = [t for t in mapping.values() if t]
    dupes = sorted({t for t in targets if targets.count(t) > 1})
    if dupes:
        raise ValidationError(f"{raw.label}, {table} table: several headers are mapped to "
                              f"{', '.join(dupes)}. Map each canonical column from one header "
                              "only.")
    missing = [c.name for c in schema.TABLES[table].values()
               if c.required and c.name not in targets]
    if missing:
        found = ", ".join(f"'{_short(h, 40)}'" for h in raw.headers[:12])
        more = f" and {len(raw.headers) - 12} more" if len(raw.headers) > 12 else ""
        sheets = (" If the table is on another sheet, check its header row: the sheet whose "
                  "headers name the required columns is the one read." if raw.format == "xlsx"
                  and len(raw.sheets) > 1 else "")
        raise ValidationError(
            f"{raw.label}: the {table} table has no column for {', '.join(missing)}. Headers "
            f"found: {found}{more}. Rename a header (e.g. to '{missing[0]}') or map it in the "
            f"column mapping on the Data page.{sheets}")


def _typed_columns(raw: RawTable, mapping: Mapping[str, str | None], table: schema.TableName,
                   c: _Collector, conversions: list[str]) -> tuple[pd.DataFrame, dict[str, str]]:
    """Every column converted (canonical ones by their kind, extras as number or text), and
    header -> column name in the result."""
    columns = schema.TABLES[table]
    out: dict[str, pd.Series] = {}
    names: dict[str, str] = {}
    used = {t for t in mapping.values() if t}
    reserved = set(schema.PATIENT_COLUMNS) | set(columns)
    extras: list[str] = []
    for i, header in enumerate(raw.headers):
        target = mapping.get(header)
        if target:
            out[target] = _convert_column(raw.frame[header], columns[target], header,
                                          raw.decimal, c, conversions)
            names[header] = target
        else:
            name = _safe_extra_name(header, used | reserved, i + 1)
            used.add(name)
            names[header] = name
            extras.append(header)
    converted = _extra_columns(raw.frame[extras], raw.decimal)
    for header in extras:
        out[names[header]] = converted[header]
    out = {names[h]: out[names[h]] for h in raw.headers}  # file order
    return pd.DataFrame(out, index=raw.frame.index), names


def _reject_rows(raw: RawTable, ids: pd.Series, typed: pd.DataFrame, table: schema.TableName,
                 known_patients: set[str] | None, c: _Collector) -> None:
    """Reject, with a reason, every row that cannot be loaded: rows that do not fit the header,
    blank rows, rows without an ID, duplicate patients, long-table rows without a usable
    required value or for an unknown patient."""
    rows = np.arange(len(raw.frame)) + raw.first_row
    for pos, reason in raw.row_problems.items():
        c.reject(pos, reason)
    other = np.zeros(len(raw.frame), dtype=bool)  # already rejected for the row's structure
    other[list(raw.row_problems)] = True
    blank = raw.frame.eq("").all(axis=1).to_numpy() & ~other
    for pos in np.flatnonzero(blank):
        c.reject(pos, "blank row")
    no_id = (_is_na(ids).to_numpy() & ~blank & ~other)
    for pos in np.flatnonzero(no_id):
        c.reject(pos, "no patient_id")
    has_id = ~(blank | other | no_id)
    if table == "patients":
        valid = pd.Series(has_id, index=ids.index)
        dup = valid & ids.where(valid).duplicated(keep=False)
        for pid, group in ids[dup].groupby(ids[dup]):
            where = ", ".join(str(rows[i]) for i in group.index)
            for pos in group.index:
                c.reject(pos, f"patient_id '{_short(pid)}' appears in rows {where}; keep one "
                              "row per patient")
        return
    columns = schema.TABLES[table]
    for req in ("day", "analyte", "value", "drug"):
        if req in typed and columns.get(req) is not None and columns[req].required:
            for pos in np.flatnonzero(typed[req].isna().to_numpy() & has_id):
                c.reject(pos, f"no usable {req}")
    if known_patients is not None:
        unknown = ~ids.isin(known_patients).to_numpy() & has_id
        for pos in np.flatnonzero(unknown):
            c.reject(pos, f"patient_id '{_short(ids.iloc[pos])}' is not in the patient table")


def _short(text: object, limit: int = 80) -> str:
    """Text cut to ``limit`` characters for a listing (a cell may hold a whole file)."""
    t = "" if text is None or (isinstance(text, float) and np.isnan(text)) else str(text)
    return t if len(t) <= limit else t[: limit - 1] + "…"


_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe",
                       "Ü": "Ue"})


def _safe_extra_name(header: str, used: set[str], position: int = 0) -> str:
    """A column name for an unmapped header: lower-case ASCII letters, digits and ``_``,
    never empty (``column_7`` for a header of only emoji or CJK characters) and never one of
    ``used``."""
    ascii_text = unicodedata.normalize("NFKD", str(header).translate(_FOLD)) \
        .encode("ascii", "ignore").decode()
    base = re.sub(r"[^0-9a-zA-Z]+", "_", ascii_text).strip("_").lower()[:60].strip("_")
    base = base or f"column_{position}"
    if base[0].isdigit():
        base = "c_" + base
    name, i = base, 2
    while name in used:
        name, i = f"{base}_{i}", i + 1
    return name


# --------------------------------------------------------------------------------------------
# The cohort: three validated tables
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cohort:
    """A loaded cohort: validated tables plus where they came from.

    Attributes
    ----------
    patients : one row per patient, canonical columns first, extra columns after.
    labs : long lab table (patient_id, day, analyte, value, unit); may be empty.
    treatments : long treatment table (patient_id, day, drug, dose, unit); may be empty.
    source : "Synthetic demo cohort" or the uploaded file names.
    synthetic : True for the demo cohort (every view says so).
    reports : LoadReport per uploaded table (empty for the demo).
    """

    patients: pd.DataFrame
    labs: pd.DataFrame
    treatments: pd.DataFrame
    source: str
    synthetic: bool = False
    reports: dict[str, LoadReport] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """Content hash of the three tables: the key for per-session caches."""
        h = hashlib.sha256()
        for df in (self.patients, self.labs, self.treatments):
            h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
            h.update("|".join(map(str, df.columns)).encode())
        return h.hexdigest()[:16]


def empty_table(table: schema.TableName) -> pd.DataFrame:
    """An empty frame with the canonical columns of ``table``."""
    cols = schema.TABLES[table]
    return pd.DataFrame({name: pd.Series(dtype=_dtype(spec)) for name, spec in cols.items()})


def _dtype(spec: schema.Column) -> str:
    if spec.kind in ("numeric", "day"):
        return "float64"
    if spec.kind in ("integer", "binary", "grade"):
        return "Int64"
    return "object"


def load_frames(patients: pd.DataFrame, labs: pd.DataFrame | None = None,
                treatments: pd.DataFrame | None = None, *, source: str = "DataFrame",
                synthetic: bool = False) -> Cohort:
    """Build a :class:`Cohort` from frames that already use canonical column names (a notebook's
    way in). Types are coerced as the loader would; problems raise :class:`ValidationError`."""
    if "patient_id" not in patients.columns:
        raise ValidationError("The patient table needs a 'patient_id' column.")
    if patients["patient_id"].duplicated().any():
        dup = patients.loc[patients["patient_id"].duplicated(), "patient_id"].iloc[0]
        raise ValidationError(f"patient_id '{dup}' appears more than once.")
    return Cohort(_coerce(patients, "patients"),
                  _coerce(labs, "labs") if labs is not None else empty_table("labs"),
                  _coerce(treatments, "treatments") if treatments is not None
                  else empty_table("treatments"), source, synthetic)


def _coerce(df: pd.DataFrame, table: schema.TableName) -> pd.DataFrame:
    df = df.copy()
    cols = schema.TABLES[table]
    for name in df.columns:
        spec = cols.get(name)
        if spec is None:
            continue
        if spec.kind in ("integer", "binary", "grade"):
            df[name] = pd.to_numeric(df[name], errors="coerce").round().astype("Int64")
        elif spec.kind in ("numeric", "day"):
            df[name] = pd.to_numeric(df[name], errors="coerce").astype(float)
        else:
            df[name] = df[name].astype(object).where(df[name].notna(), None)
            if spec.kind == "id":
                df[name] = df[name].astype(str)
    front = [c for c in cols if c in df.columns]
    return df[front + [c for c in df.columns if c not in cols]]


def load_demo(directory: Path | None = None) -> Cohort:
    """The synthetic demo cohort from ``data/demo_*.csv`` (41 synthetic patients)."""
    d = directory or DATA_DIR
    p = pd.read_csv(d / "demo_patients.csv")
    labs_path, tx_path = d / "demo_labs.csv", d / "demo_treatments.csv"
    labs = pd.read_csv(labs_path) if labs_path.exists() else None
    tx = pd.read_csv(tx_path) if tx_path.exists() else None
    return load_frames(p, labs, tx, source=DEMO_SOURCE, synthetic=True)


@dataclass(frozen=True)
class Upload:
    """One uploaded file: its name and bytes (held in memory only)."""

    name: str
    data: bytes


def load_upload(patients: Upload, labs: Upload | None = None,
                treatments: Upload | None = None,
                mappings: Mapping[str, Mapping[str, str | None]] | None = None) -> Cohort:
    """Read, map and validate uploaded files into a :class:`Cohort`.

    Parameters
    ----------
    patients, labs, treatments : the uploaded files (labs and treatments optional).
    mappings : per table, the user's corrected header mapping; headers it does not name (and
        tables without one) use :func:`suggest_mapping`; entries for headers the file does
        not have are ignored, with a note.

    Raises
    ------
    DataFormatError, ValidationError
        With a message naming the file and what to fix. Problems in single rows or cells do not
        raise: they are in ``cohort.reports``.
    """
    mappings = mappings or {}
    infusion: pd.Series | None = None
    reports: dict[str, LoadReport] = {}
    frames: dict[str, pd.DataFrame] = {}
    for table, up in (("patients", patients), ("labs", labs), ("treatments", treatments)):
        if up is None:
            frames[table] = empty_table(table)  # type: ignore[arg-type]
            continue
        raw = read_table(up.data, up.name, table)  # type: ignore[arg-type]
        if table == "patients":
            raw, infusion, date_notes = _patients_dates(raw)
        else:
            raw, date_notes = _long_dates(raw, table, infusion)  # type: ignore[arg-type]
        mapping = merge_mapping(mappings.get(table), raw.headers, table)  # type: ignore
        known = set(frames["patients"]["patient_id"]) if table != "patients" else None
        frame, report = validate(raw, mapping, table, known_patients=known)  # type: ignore
        if table == "patients" and frame.empty:
            raise ValidationError(_nothing_loaded(raw, report))
        if date_notes:
            report = replace(report, notes=report.notes + tuple(date_notes))
        if table == "labs" and "analyte" in frame:
            frame, report = _normalise_labs(frame, report)
        frames[table], reports[table] = frame, report
    names = ", ".join(u.name for u in (patients, labs, treatments) if u is not None)
    return Cohort(frames["patients"], frames["labs"], frames["treatments"], names, False, reports)


def merge_mapping(user: Mapping[str, str | None] | None, headers: tuple[str, ...],
                   table: schema.TableName) -> dict[str, str | None]:
    """The mapping to use for a file: the user's choice for the headers it names, the
    suggestion for the others (unless the user gave that column to another header).

    Parameters
    ----------
    user : the user's saved mapping (possibly made for another version of the file), or None.
    headers : the file's headers.
    table : which table.

    Returns
    -------
    dict
        header -> canonical column or None. Entries of ``user`` for headers the file does not
        have are kept, so that :func:`validate` can say they were ignored.
    """
    suggested = suggest_mapping(headers, table)
    if not user:
        return suggested
    taken = {t for h, t in user.items() if t and h in headers}
    merged = {h: (user[h] if h in user else
                  (t if t not in taken else None)) for h, t in suggested.items()}
    return {**{h: t for h, t in user.items() if h not in merged}, **merged}


def _nothing_loaded(raw: RawTable, report: LoadReport) -> str:
    """Why an uploaded patient table gave no patient, and what to do."""
    if report.rows_read == 0:
        return (f"{raw.label} has a header row but no data rows. Add one row per patient "
                "below the header and upload again.")
    return (f"{raw.label}: no patient row could be loaded ({_plural(report.rows_read, 'row')}, "
            f"all rejected). {_first_reasons(report)}. Correct these rows in the file (or the "
            "column mapping on the Data page) and upload again.")


def _first_reasons(report: LoadReport, n: int = 3) -> str:
    """``"Reasons: row 2: no patient_id; row 3: ..."`` (the first ``n`` rejected rows)."""
    if report.rejected.empty:
        return "Reasons: the file has a header row but no data rows"
    head = report.rejected.head(n)
    extra = len(report.rejected) - n
    more = f" (and {_plural(extra, 'more row')})" if extra > 0 else ""
    return "Reasons: " + "; ".join(f"row {r}: {x}" for r, x in
                                   zip(head["row"], head["reason"])) + more


def _analyte_index() -> dict[str, str]:
    idx: dict[str, str] = {}
    for a in schema.ANALYTES.values():
        for alias in (a.name, a.label, *a.aliases):
            idx.setdefault(schema.normalise_header(alias), a.name)
    return idx


def _normalise_labs(labs: pd.DataFrame, report: LoadReport) -> tuple[pd.DataFrame, LoadReport]:
    """Fold analyte names to canonical ones and convert recognised units to canonical units.
    Unknown analytes are kept under their own name and listed."""
    idx = _analyte_index()
    key = labs["analyte"].astype(str).map(schema.normalise_header)
    canon = key.map(idx)
    notes = list(report.notes)
    unknown = sorted(set(labs.loc[canon.isna(), "analyte"].astype(str)))
    if unknown:
        notes.append("Analytes not recognised (kept under their own names, not used for "
                     "derived endpoints): " + ", ".join(unknown[:20]))
    labs = labs.assign(analyte=canon.fillna(labs["analyte"]))
    conversions = list(report.conversions)
    if "unit" in labs:
        unit = labs["unit"].fillna("").astype(str).str.lower().str.replace("µ", "u") \
            .str.replace(" ", "")
        factors = pd.Series(1.0, index=labs.index)
        for name, a in schema.ANALYTES.items():
            rows = labs["analyte"].eq(name)
            for u, f in a.units.items():
                hit = rows & unit.eq(u.replace(" ", ""))
                if f != 1.0 and hit.any():
                    factors[hit] = f
                    conversions.append(f"labs: {int(hit.sum())} {name} values in {u} converted "
                                       f"to {a.unit} (x {f:g})")
        labs = labs.assign(value=labs["value"] * factors)
        labs.loc[factors.ne(1.0), "unit"] = labs.loc[factors.ne(1.0), "analyte"].map(
            lambda n: schema.ANALYTES[n].unit)
    fib = labs["analyte"].eq("fibrinogen") & labs["value"].notna()
    if fib.any() and 0 < labs.loc[fib, "value"].median() < 15:
        conversions.append("labs: fibrinogen values look like g/L (median "
                           f"{labs.loc[fib, 'value'].median():g}); converted to mg/dL (x 100)")
        labs.loc[fib, "value"] = labs.loc[fib, "value"] * 100
        labs.loc[fib, "unit"] = "mg/dL"
    return labs, LoadReport(report.table, report.filename, report.detected, report.rows_read,
                            report.rows_loaded, report.rejected, report.cell_issues,
                            report.mapping, tuple(conversions), tuple(notes))


def data_dictionary() -> pd.DataFrame:
    """The data dictionary: table, column, required, type, unit, range, description, aliases."""
    rows = []
    for table, cols in schema.TABLES.items():
        for c in cols.values():
            rng = "" if c.lo is None else f"{c.lo:g} to {c.hi:g}"
            rows.append({"table": table, "column": c.name, "required": c.required,
                         "type": c.kind, "unit": c.unit or "", "range": rng,
                         "allowed values": ", ".join(c.levels or ()),
                         "description": c.description,
                         "also recognised as": ", ".join(c.aliases)})
    for a in schema.ANALYTES.values():
        rows.append({"table": "labs (analyte)", "column": a.name, "required": False,
                     "type": "analyte", "unit": a.unit,
                     "range": f"reference {a.lln if a.lln is not None else ''}-"
                              f"{a.uln if a.uln is not None else ''}",
                     "allowed values": "", "description": f"{a.label}. {a.source}",
                     "also recognised as": ", ".join(a.aliases)
                     + (" · units: " + ", ".join(a.units) if a.units else "")})
    return pd.DataFrame(rows)


def template(table: schema.TableName) -> pd.DataFrame:
    """An upload template: the canonical headers and two synthetic example rows."""
    examples = {
        "patients": [
            {"patient_id": "P001", "age": 64, "sex": "F", "disease": "High-grade B-NHL",
             "disease_subtype": "primary", "bulky": 0, "cci": 2, "product": "axi-cel",
             "target": "CD19", "costimulation": "CD28", "lymphodepletion": "Flu/Cy",
             "crs_grade": 2, "icans_grade": 0, "tocilizumab": 1, "tocilizumab_doses": 2,
             "tocilizumab_cum_mg": 1600, "corticosteroids": 0, "fibrinogen_baseline": 380,
             "fibrinogen_nadir": 140, "pfs_days": 365, "pfs_event": 0, "os_days": 365,
             "os_event": 0},
            {"patient_id": "P002", "age": 71, "sex": "M", "disease": "Multiple myeloma",
             "bulky": 0, "cci": 3, "product": "ide-cel", "target": "BCMA",
             "costimulation": "4-1BB", "lymphodepletion": "Flu/Cy", "crs_grade": 1,
             "icans_grade": 1, "tocilizumab": 0, "tocilizumab_doses": 0,
             "tocilizumab_cum_mg": 0, "corticosteroids": 0, "fibrinogen_baseline": 310,
             "fibrinogen_nadir": 290, "pfs_days": 200, "pfs_event": 1, "os_days": 420,
             "os_event": 0},
        ],
        "labs": [
            {"patient_id": "P001", "day": -1, "analyte": "fibrinogen", "value": 380,
             "unit": "mg/dL"},
            {"patient_id": "P001", "day": 5, "analyte": "fibrinogen", "value": 140,
             "unit": "mg/dL"},
        ],
        "treatments": [
            {"patient_id": "P001", "day": 2, "drug": "tocilizumab", "dose": 800, "unit": "mg"},
            {"patient_id": "P001", "day": 3, "drug": "tocilizumab", "dose": 800, "unit": "mg"},
        ],
    }[table]
    cols = list(schema.TABLES[table])
    return pd.DataFrame(examples).reindex(columns=cols)


def write_templates(directory: Path | None = None) -> list[Path]:
    """Write the upload templates (CSV) and the data dictionary to ``data/templates``.

    ``python -m core.loading`` (or ``make demo-data``) calls this; the files are committed so
    the README can link them, and a test checks they match this code.
    """
    d = directory or DATA_DIR / "templates"
    d.mkdir(parents=True, exist_ok=True)
    paths = []
    for table in ("patients", "labs", "treatments"):
        path = d / f"{table}.csv"
        template(table).to_csv(path, index=False)
        paths.append(path)
    path = d / "data_dictionary.csv"
    data_dictionary().to_csv(path, index=False)
    return [*paths, path]


if __name__ == "__main__":
    for p in write_templates():
        print(p)
