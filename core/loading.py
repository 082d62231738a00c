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
import hashlib
import io
import re
import zipfile
from collections.abc import Mapping
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
_GRADE = re.compile(r"^(?:grade|grad|g)?\s*([0-9](?:\.0+)?)$")
_ROMAN = {"0": 0, "i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5}


# --------------------------------------------------------------------------------------------
# Reading bytes into a table of text cells
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RawTable:
    """An uploaded table before mapping: every cell is text (``""`` for empty).

    Attributes
    ----------
    frame : DataFrame of str, one column per header, in file order.
    headers : the original headers (de-duplicated with a ``.2`` suffix where repeated).
    filename : the uploaded file's name.
    format : "csv" or "xlsx".
    delimiter, decimal, encoding : what was detected (None for xlsx).
    first_row : spreadsheet row number of the first data row (2 when the header is row 1).
    sha256 : content hash of the bytes, used as a per-session cache key.
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

    def describe(self) -> str:
        """One line for the user, e.g. ``CSV · ';' separated · decimal comma · cp1252``."""
        if self.format == "xlsx":
            return "Excel workbook (first sheet)"
        sep = {"\t": "tab", ",": "','", ";": "';'", "|": "'|'"}.get(self.delimiter or "", "?")
        dec = "decimal comma" if self.decimal == "," else "decimal point"
        return f"CSV · {sep} separated · {dec} · {self.encoding}"


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "UTF-8 with BOM"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "UTF-16"
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _sniff_delimiter(text: str) -> str:
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    if not lines:
        return ","
    best, best_score = ",", -1.0
    for d in ("\t", ";", ",", "|"):
        counts = [len(next(csv.reader([ln], delimiter=d))) - 1 for ln in lines]
        if counts[0] == 0:
            continue
        consistent = sum(c == counts[0] for c in counts) / len(counts)
        score = consistent * 1000 + counts[0]
        if score > best_score:
            best, best_score = d, score
    return best


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
        if h in seen:
            seen[h] += 1
            h = f"{h}.{seen[h]}"
        else:
            seen[h] = 1
        out.append(h)
    return out


def read_table(data: bytes, filename: str) -> RawTable:
    """Read CSV, TSV or XLSX bytes into a :class:`RawTable` of text cells.

    Parameters
    ----------
    data : the file's bytes (uploads are never written to disk).
    filename : used for the format hint and messages.

    Returns
    -------
    RawTable
        All cells as stripped text; delimiter, decimal mark and encoding detected.

    Raises
    ------
    DataFormatError
        Empty file, a binary file that is not an Excel workbook, a workbook that cannot be
        opened, or a file with a header row and no usable structure.
    """
    name = filename or "upload"
    if not data or not data.strip():
        raise DataFormatError(f"'{name}' is empty. Export the table again with a header row "
                              "and one row per patient.")
    digest = hashlib.sha256(data).hexdigest()
    if data[:4] == b"PK\x03\x04" or name.lower().endswith((".xlsx", ".xlsm")):
        return _read_xlsx(data, name, digest)
    if name.lower().endswith(".xls") or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise DataFormatError(f"'{name}' is an old Excel 97-2003 (.xls) file. Save it as .xlsx "
                              "or CSV and upload again.")
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataFormatError(f"'{name}' is not a table: it looks like a binary file (an image, "
                              "PDF or database?). Upload a CSV, TSV or XLSX export.")
    text, encoding = _decode(data)
    delimiter = _sniff_delimiter(text)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False,
                            header=None, skip_blank_lines=False, engine="python",
                            quoting=csv.QUOTE_MINIMAL, on_bad_lines="error")
    except (pd.errors.ParserError, csv.Error, ValueError) as exc:
        raise DataFormatError(f"'{name}' could not be read as a table ({exc}). Check that every "
                              "row has the same number of columns as the header.") from exc
    return _finish(frame, name, "csv", delimiter, encoding, digest)


def _read_xlsx(data: bytes, name: str, digest: str) -> RawTable:
    try:
        frame = pd.read_excel(io.BytesIO(data), sheet_name=0, header=None, dtype=object,
                              engine="openpyxl")
    except (zipfile.BadZipFile, ValueError, KeyError, OSError) as exc:
        raise DataFormatError(f"'{name}' could not be opened as an Excel workbook ({exc}). "
                              "Save it again as .xlsx or CSV.") from exc

    def cell(v: object) -> str:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return ""
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        if isinstance(v, pd.Timestamp):
            return v.date().isoformat() if v == v.normalize() else v.isoformat()
        return str(v).strip()

    frame = frame.map(cell)
    return _finish(frame, name, "xlsx", None, None, digest)


def _finish(frame: pd.DataFrame, name: str, fmt: Literal["csv", "xlsx"], delimiter: str | None,
            encoding: str | None, digest: str) -> RawTable:
    frame = frame.fillna("").astype(str).apply(lambda s: s.str.strip())
    # the header is the first non-blank row
    nonblank = frame.ne("").any(axis=1).to_numpy()
    if not nonblank.any():
        raise DataFormatError(f"'{name}' holds no data, only empty rows.")
    header_idx = int(np.argmax(nonblank))
    headers = _dedupe(list(frame.iloc[header_idx]))
    body = frame.iloc[header_idx + 1:].reset_index(drop=True)
    body.columns = headers
    # drop fully empty trailing columns without header (Excel artefacts)
    keep = [h for h in headers if not (h.startswith("column_") and body[h].eq("").all())]
    body = body[keep]
    if len(keep) < 1:
        raise DataFormatError(f"'{name}' has no column headers.")
    decimal = _detect_decimal(body, delimiter) if fmt == "csv" and delimiter else "."
    return RawTable(body, tuple(keep), name, fmt, delimiter, decimal, encoding,
                    header_idx + 2, digest)


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


def _parse_dates(raw: pd.Series) -> pd.Series | None:
    """Datetimes if at least 80% of the non-missing cells are dates in one known format."""
    cells = raw[~_is_na(raw)]
    if cells.empty or not cells.str.match(r"^\d{1,4}[-./]\d{1,2}[-./]\d{2,4}").mean() >= 0.8:
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
    date_cols = {h: d for h in raw.headers if h != infusion_header
                 and (d := _parse_dates(frame[h])) is not None}
    if infusion_header and infusion is None:
        notes.append(f"'{infusion_header}' holds no recognisable dates; it was ignored.")
    for h, d in date_cols.items():
        if infusion is not None:
            name = f"{h} (days after infusion)"
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
    headers = tuple(c for c in frame.columns)
    return (RawTable(frame, headers, raw.filename, raw.format, raw.delimiter, raw.decimal,
                     raw.encoding, raw.first_row, raw.sha256), by_id, notes)


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
    return (RawTable(frame, tuple(frame.columns), raw.filename, raw.format, raw.delimiter,
                     raw.decimal, raw.encoding, raw.first_row, raw.sha256), notes)


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
    rows_read : data rows in the file (blank rows included).
    rows_loaded : rows in the validated frame.
    rejected : DataFrame (row, patient_id, reason): rows not loaded; ``row`` is the spreadsheet
        row number (header = row 1).
    cell_issues : DataFrame (row, patient_id, column, value, problem): cells set missing or
        changed (censored "<0.5"); their rows were loaded.
    mapping : header -> canonical column (None: kept under its own name).
    conversions : human sentences about unit conversions applied.
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
        self.cells.append({"row": int(self.row_numbers[pos]), "patient_id": self.ids.iloc[pos],
                           "column": column, "value": value, "problem": problem})

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
        med = values.median()
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
    na = _is_na(raw)
    t = raw.astype(str).str.strip().str.lower()
    digits = t.str.replace(" ", "", regex=False).str.extract(_GRADE.pattern)[0]
    roman = t.str.replace(r"^(grade|grad)\s+", "", regex=True).map(_ROMAN)
    g = pd.to_numeric(digits, errors="coerce").fillna(roman).where(~na)
    unparsed = g.isna() & ~na
    out_of_range = g.notna() & ((g < lo) | (g > hi))
    for pos in np.flatnonzero(unparsed.to_numpy()):
        c.cell(pos, column, raw.iloc[pos], f"expected a grade {lo:g}-{hi:g}; set missing")
    for pos in np.flatnonzero(out_of_range.to_numpy()):
        c.cell(pos, column, raw.iloc[pos], f"grade out of range {lo:g}-{hi:g}; set missing")
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
    na = _is_na(raw)
    parsed = _parse_numbers(raw[~na], decimal)
    if len(parsed) and parsed.notna().all():
        out = pd.Series(np.nan, index=raw.index)
        out[~na] = parsed.astype(float)
        if out.dropna().mod(1).eq(0).all():
            return out.astype("Int64")
        return out
    return raw.where(~na, None).astype(object)


def validate(raw: RawTable, mapping: Mapping[str, str | None], table: schema.TableName,
             *, known_patients: set[str] | None = None) -> tuple[pd.DataFrame, LoadReport]:
    """Type, convert and check one table; report every problem at once.

    Parameters
    ----------
    raw : the table read by :func:`read_table`.
    mapping : header -> canonical column or None (kept as an extra column under a safe name).
    table : which table this is.
    known_patients : for labs/treatments, the loaded patient IDs; rows for other IDs are
        rejected and listed.

    Returns
    -------
    (DataFrame, LoadReport)
        The typed frame with canonical columns (and extras), and the report.

    Raises
    ------
    ValidationError
        When a required column (``patient_id``; for labs day/analyte/value) is not mapped.
    """
    columns = schema.TABLES[table]
    targets = [t for t in mapping.values() if t]
    dupes = sorted({t for t in targets if targets.count(t) > 1})
    if dupes:
        raise ValidationError(f"{table}: several headers are mapped to {', '.join(dupes)}. "
                              "Map each canonical column from one header only.")
    missing = [c.name for c in columns.values() if c.required and c.name not in targets]
    if missing:
        found = ", ".join(f"'{h}'" for h in raw.headers[:12])
        raise ValidationError(
            f"{table}: no column for {', '.join(missing)}. Headers found: {found}. "
            f"Rename a header (e.g. to '{missing[0]}') or map it in the column mapping.")

    frame = raw.frame
    rows = np.arange(len(frame)) + raw.first_row
    id_header = next(h for h, t in mapping.items() if t == "patient_id")
    ids = frame[id_header].str.strip()
    c = _Collector(rows, ids)
    conversions: list[str] = []
    out: dict[str, pd.Series] = {}
    used_names = set(targets)
    for header in raw.headers:
        target = mapping.get(header)
        if target:
            out[target] = _convert_column(frame[header], columns[target], header, raw.decimal,
                                          c, conversions)
        else:
            name = _safe_extra_name(header, used_names)
            used_names.add(name)
            out[name] = _extra_column(frame[header], raw.decimal)
    typed = pd.DataFrame(out, index=frame.index)

    blank = frame.eq("").all(axis=1).to_numpy()
    for pos in np.flatnonzero(blank):
        c.reject(pos, "blank row")
    no_id = (_is_na(ids) & ~blank).to_numpy()
    for pos in np.flatnonzero(no_id):
        c.reject(pos, "no patient_id")
    if table == "patients":
        dup = ids.duplicated(keep=False) & ~_is_na(ids)
        for pid, group in ids[dup].groupby(ids[dup]):
            where = ", ".join(str(rows[i]) for i in group.index)
            for pos in group.index:
                c.reject(pos, f"patient_id '{pid}' appears in rows {where}; keep one row per "
                              "patient")
    else:
        for req in ("day", "analyte", "value", "drug"):
            if req in typed and columns.get(req) is not None and columns[req].required:
                miss = typed[req].isna().to_numpy() & ~blank & ~no_id
                for pos in np.flatnonzero(miss):
                    c.reject(pos, f"no usable {req}")
        if known_patients is not None:
            unknown = ~ids.isin(known_patients) & ~_is_na(ids) & ~pd.Series(blank)
            for pos in np.flatnonzero(unknown.to_numpy()):
                c.reject(pos, f"patient_id '{ids.iloc[pos]}' is not in the patient table")

    keep = np.ones(len(frame), dtype=bool)
    keep[list(c.rejected)] = False
    typed = typed[keep].reset_index(drop=True)
    rejected = pd.DataFrame(
        [{"row": int(rows[p]), "patient_id": ids.iloc[p] or None, "reason": r}
         for p, r in sorted(c.rejected.items())], columns=["row", "patient_id", "reason"])
    kept_rows = set(rows[keep].tolist())
    cells = pd.DataFrame([x for x in c.cells if x["row"] in kept_rows],
                         columns=["row", "patient_id", "column", "value", "problem"])
    report = LoadReport(table, raw.filename, raw.describe(), len(frame), len(typed), rejected,
                        cells, dict(mapping), tuple(conversions))
    return typed, report


def _safe_extra_name(header: str, used: set[str]) -> str:
    base = re.sub(r"[^0-9a-zA-Z]+", "_", header).strip("_").lower() or "column"
    if base[0].isdigit():
        base = "c_" + base
    name, i = base, 2
    while name in used or name in schema.PATIENT_COLUMNS:
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
    mappings : per table, the user's corrected header mapping; tables without one use
        :func:`suggest_mapping`.

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
        raw = read_table(up.data, up.name)
        if table == "patients":
            raw, infusion, date_notes = _patients_dates(raw)
        else:
            raw, date_notes = _long_dates(raw, table, infusion)  # type: ignore[arg-type]
        mapping = mappings.get(table) or suggest_mapping(raw.headers, table)  # type: ignore
        known = set(frames["patients"]["patient_id"]) if table != "patients" else None
        frame, report = validate(raw, mapping, table, known_patients=known)  # type: ignore
        if table == "patients" and frame.empty:
            raise ValidationError(f"'{up.name}': no patient row could be loaded. "
                                  + _first_reasons(report))
        if date_notes:
            report = replace(report, notes=report.notes + tuple(date_notes))
        if table == "labs" and "analyte" in frame:
            frame, report = _normalise_labs(frame, report)
        frames[table], reports[table] = frame, report
    names = ", ".join(u.name for u in (patients, labs, treatments) if u is not None)
    return Cohort(frames["patients"], frames["labs"], frames["treatments"], names, False, reports)


def _first_reasons(report: LoadReport) -> str:
    reasons = report.rejected["reason"].head(3).tolist()
    return "Reasons: " + "; ".join(f"row {r}: {x}" for r, x in
                                   zip(report.rejected["row"].head(3), reasons))


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
    fib = labs["analyte"].eq("fibrinogen")
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
