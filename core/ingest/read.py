"""Bytes -> :class:`RawTable`: a table of text cells, before any header is mapped.

:func:`read_table` recognises what the file is (:mod:`core.ingest.filekind`), reads delimited
text (:mod:`core.ingest.delimited`) or a workbook (:mod:`core.ingest.workbook`), finds the
header row, and lists every row that does not fit the header for :func:`core.ingest.validate`
to reject with its reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from core import schema
from core.errors import DataFormatError
from core.ingest import delimited, packed
from core.ingest.coded import from_codes
from core.ingest.delimited import blank_record, used_width
from core.ingest.filekind import binary_kind, looks_binary, text_kind, zip_kind
from core.ingest.mapping import dedupe_headers
from core.ingest.wording import delimiter_name, file_label, plural, sheet_list, sheet_phrase
from core.ingest.workbook import choose_sheet, workbook_sheets


@dataclass(frozen=True)
class RawTable:
    """An uploaded table before mapping: every cell is text (``""`` for empty).

    Attributes
    ----------
    frame : DataFrame of str, one column per header, in file order; one row per data row of
        the file (from the row after the header to the last non-blank row).
    headers : the original headers (de-duplicated with a ``.2`` suffix where repeated).
    filename : the uploaded file's name.
    format : "csv", "xlsx" or "parquet".
    delimiter, decimal, encoding : what was detected (None for xlsx).
    first_row : spreadsheet row number of the first data row (2 when the header is row 1).
    sha256 : content hash of the bytes, used as a per-session cache key.
    sheet, sheets : for a workbook, the sheet read and all sheet names in order.
    row_problems : position in ``frame`` -> why that row cannot be loaded as it is (a row
        whose number of fields differs from the header's, a repeated header row);
        :func:`core.ingest.validate` rejects and lists these rows.
    cell_notes : ``(position, header, value, problem)`` for cells changed while reading
        (an invisible NUL character removed); :func:`core.ingest.validate` lists them as cell
        issues.
    notes : sentences about the file as a whole.
    """

    frame: pd.DataFrame
    headers: tuple[str, ...]
    filename: str
    format: Literal["csv", "xlsx", "parquet"]
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
            return "Excel workbook, " + sheet_phrase(self.sheet, self.sheets)
        if self.format == "parquet":
            return "Parquet"
        dec = "decimal comma" if self.decimal == "," else "decimal point"
        return f"CSV · {delimiter_name(self.delimiter)} separated · {dec} · {self.encoding}"

    @property
    def label(self) -> str:
        """The file (and sheet) for messages: ``'x.xlsx', sheet 'Labs' (of 2: ...)``."""
        return file_label(self.filename, self.format, self.sheet, self.sheets)


def read_table(data: bytes, filename: str, table: schema.TableName | None = None, *,
               coded: bool = False) -> RawTable:
    """Read CSV, TSV, XLSX or Parquet bytes into a :class:`RawTable` of text cells; a
    gzip-compressed file or a ZIP archive holding one such file is unpacked first
    (:mod:`core.ingest.packed`).

    Parameters
    ----------
    data : the file's bytes (uploads are never written to disk).
    filename : used for messages (the format is recognised from the content).
    table : the table being loaded (patients when None); in a workbook it picks the sheet
        whose header names that table's required columns.
    coded : a clean UTF-8 delimited file read by pyarrow
        (:func:`core.ingest.delimited.read_coded`) or a Parquet file comes with every column
        a pandas Categorical of its stripped texts (the same cells, dictionary-encoded;
        nothing is made per cell); other files (other encodings, files the fast path
        declines, workbooks) as without it.

    Returns
    -------
    RawTable
        All cells as stripped text; delimiter, decimal mark and encoding detected. Rows with
        a different number of fields than the header and repeated header rows are in
        ``row_problems``, to be listed by :func:`core.ingest.validate`.

    Raises
    ------
    TypeError
        ``data`` is not bytes.
    ValueError
        ``table`` is not a table of the schema.
    DataFormatError
        For everything that is not a readable table (empty, binary, PDF, HTML, JSON, a ZIP
        archive of several files, damaged workbook, gzip or Parquet file, ...), with a
        message that says what the file is and what to do.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be the file's bytes; got {type(data).__name__}")
    if table is not None:
        schema.columns_of(table)  # ValueError for a table the schema does not have
    data = bytes(data)
    name = filename or "upload"
    return _read(data, name, table, coded, depth=0)


def _read(data: bytes, name: str, table: schema.TableName | None, coded: bool,
          depth: int) -> RawTable:
    """:func:`read_table` of bytes (``depth``: archives unpacked so far)."""
    if depth < 2 and (inner := packed.unpack(data, name)) is not None:
        return _read(inner[0], inner[1], table, coded, depth + 1)
    if data.startswith(packed.PARQUET_MAGIC):
        return _read_parquet(data, name, coded)
    if coded and (raw := _read_coded(data, name)) is not None:
        return raw
    if not data or not data.strip():
        raise DataFormatError(f"'{name}' is empty. Export the table again with a header row "
                              "and one row per patient.")
    digest = hashlib.sha256(data).hexdigest()
    if data.startswith(b"PK\x03\x04"):
        if (problem := packed.several_members(data, name) or zip_kind(data, name)) is not None:
            raise DataFormatError(problem)
        return _read_xlsx(data, name, digest, table)
    if (problem := binary_kind(data, name)) is not None:
        raise DataFormatError(problem)
    text, encoding = delimited.decode(data, name)
    excel_name = name.lower().endswith((".xlsx", ".xlsm"))
    if looks_binary(text):
        raise DataFormatError(
            f"'{name}' is named like an Excel workbook but is not one (damaged, or another "
            "format renamed). Open it in Excel, save it as .xlsx and upload again." if excel_name
            else f"'{name}' is not a table: it looks like a binary file (an image, PDF or "
                 "database?). Upload a CSV, TSV or XLSX export.")
    if (problem := text_kind(text, name)) is not None:
        raise DataFormatError(problem)
    notes: tuple[str, ...] = ()
    if excel_name:
        notes = (f"'{name}' is named like an Excel workbook but is a text file; it was read "
                 "as CSV.",)
    text = text.rstrip("\x1a")  # DOS end-of-file mark
    delimiter = delimited.sniff_delimiter(text)
    fast = delimited.read_columns(text, delimiter)
    if fast is not None:  # the same table as the csv module's, parsed by pyarrow
        header, columns = fast
        frame = pd.DataFrame(dict(enumerate(columns)), columns=range(len(header)), copy=False)
        return _finish(frame, header, 0, {}, _Source(name, "csv", delimiter, encoding, digest,
                                                     notes=notes))
    rows, problems = delimited.read_records(text, delimiter, name)
    source = _Source(name, "csv", delimiter, encoding, digest, notes=notes, nul="\x00" in text)
    return _build(rows, source, problems)


_HEAD_BYTES = 1 << 20  # decoded to recognise the file and its delimiter (>= 256k characters)


def _read_coded(data: bytes, name: str) -> RawTable | None:
    """The RawTable of a clean UTF-8 delimited file with Categorical columns, read from the
    bytes without decoding them as a whole (only the first MiB is decoded, to recognise the
    file as :func:`read_table` does); None for anything else (:func:`read_table` reads it)."""
    import re
    import threading

    if not data or re.match(rb"\s*\Z", data) or data.startswith(b"PK\x03\x04"):
        return None
    if binary_kind(data, name) is not None or delimited.utf16_without_bom(data[:4096]):
        return None
    if data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        return None
    bom = data.startswith(b"\xef\xbb\xbf")
    body = data[3:] if bom else data
    head = body[:_HEAD_BYTES]
    if len(body) > len(head):
        cut = head.rfind(b"\n")
        if cut < 0:
            return None
        head = head[:cut + 1]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None  # cp1252 or damaged: read_table decodes the whole file
    if looks_binary(text) or text[:4096].lstrip("\ufeff \t\r\n").startswith(("{", "[")):
        return None
    if text_kind(text, name) is not None:
        return None
    notes: tuple[str, ...] = ()
    if name.lower().endswith((".xlsx", ".xlsm")):
        notes = (f"'{name}' is named like an Excel workbook but is a text file; it was read "
                 "as CSV.",)
    if len(head) == len(body):
        text = text.rstrip("\x1a")  # as read_table sniffs the whole text without it
    delimiter = delimited.sniff_delimiter(text)
    digest: list[str] = []  # hashed while pyarrow parses (hashlib releases the GIL)
    hasher = threading.Thread(target=lambda: digest.append(hashlib.sha256(data).hexdigest()))
    hasher.start()
    try:
        coded = delimited.read_coded(body, delimiter)
    finally:
        hasher.join()
    if coded is None:
        return None
    header, columns = coded
    frame = pd.DataFrame({i: from_codes(codes, texts)
                          for i, (codes, texts) in enumerate(columns)}, copy=False)
    encoding = "UTF-8 with BOM" if bom else "UTF-8"
    return _finish(frame, header, 0, {}, _Source(name, "csv", delimiter, encoding, digest[0],
                                                 notes=notes))


def _read_parquet(data: bytes, name: str, coded: bool) -> RawTable:
    """A Parquet file as a RawTable of text cells (Categorical columns when ``coded``)."""
    header, columns = packed.read_parquet(data, name)
    if coded:
        frame = pd.DataFrame({i: from_codes(codes, texts)
                              for i, (codes, texts) in enumerate(columns)}, copy=False)
    else:
        frame = pd.DataFrame({i: texts[codes] for i, (codes, texts) in enumerate(columns)},
                             dtype=object, copy=False)
    frame.columns = pd.RangeIndex(len(header))
    digest = hashlib.sha256(data).hexdigest()
    return _finish(frame, header, 0, {}, _Source(name, "parquet", None, None, digest))


def equals(column: pd.Series, text: str) -> np.ndarray:
    """Where a column of text cells (object or Categorical) holds ``text``; a Categorical
    is compared per distinct text."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        cats = column.cat.categories
        hit = np.flatnonzero(cats.to_numpy(dtype=object) == text)
        codes = column.cat.codes.to_numpy()
        return codes == hit[0] if len(hit) else np.zeros(len(codes), dtype=bool)
    return np.asarray(column.to_numpy(dtype=object) == text, dtype=bool)


@dataclass(frozen=True)
class _Source:
    """Where records came from (the RawTable fields that are not the table itself)."""

    name: str
    format: Literal["csv", "xlsx", "parquet"]
    delimiter: str | None
    encoding: str | None
    digest: str
    sheet: str | None = None
    sheets: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    nul: bool = False  # the text holds NUL characters (cleaned cell by cell)

    @property
    def label(self) -> str:
        return file_label(self.name, self.format, self.sheet, self.sheets)


def _read_xlsx(data: bytes, name: str, digest: str,
               table: schema.TableName | None) -> RawTable:
    sheets = workbook_sheets(data, name)
    names = tuple(sheets)
    if not names:
        raise DataFormatError(f"'{name}' is an Excel workbook without worksheets (only charts?). "
                              "Put the table on a worksheet, save and upload again.")
    chosen = choose_sheet(sheets, table)
    if chosen is None:
        raise DataFormatError(f"'{name}' holds no data: its {plural(len(names), 'sheet')} "
                              f"({sheet_list(names)}) are empty. Check that you saved the "
                              "workbook with the table in it.")
    return _build(sheets[chosen], _Source(name, "xlsx", None, None, digest, chosen, names))


def _build(records: list[list[str]], src: _Source,
           problems_by_record: Mapping[int, str] | None = None) -> RawTable:
    """The header (first non-blank row), the data rows under it, and every row that does not
    fit the header listed in ``row_problems`` (with ``problems_by_record``, by record index,
    found while reading)."""
    while records and blank_record(records[-1]):
        records.pop()  # trailing blank lines are not data rows
    header_idx = next((i for i, r in enumerate(records) if not blank_record(r)), None)
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
    return _finish(_frame(body, width), header, header_idx, problems, src)


def _finish(frame: pd.DataFrame, header: list[str], header_idx: int,
            problems: dict[int, str], src: _Source) -> RawTable:
    """The RawTable of ``frame`` (stripped text, columns ``0..width-1``) under ``header``
    (record ``header_idx`` of the file): unnamed empty columns dropped, NUL characters
    cleaned, repeated header rows listed, the decimal mark detected."""
    width = frame.shape[1]
    headers = dedupe_headers(header + [""] * (width - len(header)))
    frame.columns = headers
    frame, nul_notes = _clean_nul(frame) if src.nul else (frame, [])
    keep = [h for h in headers if not (h.startswith("column_") and not frame[h].ne("").any())]
    if not keep:
        raise DataFormatError(f"{src.label} has no column headers.")
    if len(keep) < len(headers):
        frame = frame[keep]
    originals = dict(zip(headers, header))
    for pos in _repeated_headers(frame, {h: originals.get(h, "") for h in keep}):
        problems.setdefault(pos, "repeated header row (several exports joined into one "
                                 "file?); not data")
    decimal = delimited.detect_decimal(frame, src.delimiter) if src.delimiter else "."
    cell_notes = tuple(n for n in nul_notes if n[1] in keep)
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
    widths = range(used_width(header), len(header) + 1)
    return {i: p for i, r in enumerate(body) if len(r) not in widths and i not in skip
            and (p := _width_problem(r, header, delimiter)) is not None}


def _width_problem(record: list[str], header: list[str], delimiter: str) -> str | None:
    """Why a delimited row does not fit the header, or None. A blank row, trailing empty
    fields and empty fields under trailing empty headers fit."""
    n, width = len(record), used_width(header)
    if blank_record(record) or delimited.fits(record, header):
        return None
    fields = plural(n, "field")
    problem = f"has {fields} where the header has {width}"
    line = delimiter.join(record)
    for other in ("\t", ";", ",", "|"):
        if other == delimiter or other not in line:
            continue
        if delimited.fits(delimited.split(line, other), header):
            return (f"{problem}; it looks {delimiter_name(other)}-separated — the rest of "
                    f"the file uses {delimiter_name(delimiter)}")
    if any("\n" in c or "\r" in c for c in record):
        return (f"{problem}; a value in it runs over several lines (a quotation mark \" that "
                "is not closed?)")
    if n > len(header):
        return (f"{problem}; a value may contain the separator {delimiter_name(delimiter)} "
                "without quotes (a decimal comma?)")
    return f"{problem}; values are missing or a value was split over two lines"


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
            frame.loc[frame.index[int(pos)], col] = clean
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
    coded = [h for h in named if isinstance(frame[h].dtype, pd.CategoricalDtype)]
    if coded and not any(o in frame[h].cat.categories for h, o in named.items() if h in coded) \
            and len(coded) == len(named):
        return []  # no column holds its header text
    matches = np.zeros(len(frame), dtype=np.intp)
    for h, o in named.items():
        matches += equals(frame[h], o)
    candidates = np.flatnonzero(matches >= min(2, len(named)))
    if not len(candidates):
        return []
    filled = (frame.iloc[candidates] != "").sum(axis=1).to_numpy()
    hits = matches[candidates] >= 0.8 * filled
    return candidates[hits].tolist()
