"""The cohort: three validated tables, from uploaded files, from frames, or the demo."""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TypeAlias

import numpy as np
import pandas as pd

from core import schema
from core.errors import ValidationError
from core.ingest import parse, units
from core.ingest.coded import categorical, codes_and_texts, is_coded
from core.ingest.dates import long_dates, patients_dates
from core.ingest.mapping import merge_mapping
from core.ingest.read import RawTable, read_table
from core.ingest.report import LoadReport
from core.ingest.validate import validate
from core.ingest.wording import plural

Progress: TypeAlias = Callable[[str, float], None]
"""A progress hook: ``progress(step_label, fraction)``, e.g. ``("Reading labs.csv", 0.4)``;
fractions in [0, 1], non-decreasing, ending with ``("Loaded", 1.0)``."""

DATA_DIR = Path(__file__).resolve().parent.parent.parent / "data"
DEMO_SOURCE = "Synthetic demo cohort"


@dataclass(frozen=True)
class Cohort:
    """A loaded cohort: validated tables plus where they came from.

    Attributes
    ----------
    patients : one row per patient, canonical columns first, extra columns after.
    labs : long lab table (patient_id, day, analyte, value, unit); may be empty. From
        :func:`load_upload`, patient_id, analyte and unit are pandas Categorical (sorted
        categories, every one used); from :func:`load_frames`, object columns.
    treatments : long treatment table (patient_id, day, drug, dose, unit); may be empty; its
        text columns Categorical from :func:`load_upload` as the labs'.
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

    @cached_property
    def fingerprint(self) -> str:
        """Content hash of the three tables: the key for per-session caches.

        Computed once per Cohort (it hashes every row): the tables are never modified after
        the Cohort is made (a changed cohort is a new Cohort, e.g. ``dataclasses.replace``)."""
        h = hashlib.sha256()
        for df in (self.patients, self.labs, self.treatments):
            h.update(frame_digest(df))
        return h.hexdigest()[:16]


#: digests of frames already hashed, by id, with a weak reference that proves it is the same
#: object: a derived cohort shares its lab and treatment frames with its source, so only its
#: patient table is hashed again
_DIGESTS: dict[int, tuple[weakref.ref[pd.DataFrame], bytes]] = {}


def frame_digest(df: pd.DataFrame) -> bytes:
    """SHA-256 of a frame's column names, dtypes and values (not its index).

    Numeric columns are hashed as their bytes and Categorical ones as codes plus categories
    (10M lab rows: ~0.15 s, against ~0.9 s through ``pd.util.hash_pandas_object``); other
    columns through ``hash_pandas_object``. Equal content in another dtype or category set gives
    another digest (a cache miss, never a wrong hit). Cached per frame object, since frames
    are never modified after a Cohort is made.
    """
    hit = _DIGESTS.get(id(df))
    if hit is not None and hit[0]() is df:
        return hit[1]
    h = hashlib.sha256(repr([(str(c), str(t)) for c, t in df.dtypes.items()]).encode())
    h.update(str(len(df)).encode())
    for _, col in df.items():
        parts: list[np.ndarray]
        if isinstance(col.dtype, pd.CategoricalDtype):
            cats = pd.util.hash_pandas_object(col.cat.categories, index=False)
            parts = [cats.to_numpy(), col.cat.codes.to_numpy()]
        elif isinstance(col.dtype, np.dtype) and col.dtype.kind in "biuf":
            parts = [col.to_numpy()]
        else:
            parts = [pd.util.hash_pandas_object(col, index=False).to_numpy()]
        for part in parts:
            h.update(np.ascontiguousarray(part).data.cast("B"))
    digest = h.digest()
    for key, (ref, _) in list(_DIGESTS.items()):  # a snapshot: sessions run in threads
        if ref() is None:
            _DIGESTS.pop(key, None)
    _DIGESTS[id(df)] = (weakref.ref(df), digest)
    return digest


def empty_table(table: schema.TableName) -> pd.DataFrame:
    """An empty frame with the canonical columns of ``table``."""
    cols = schema.columns_of(table)
    return pd.DataFrame({name: pd.Series(dtype=_dtype(spec)) for name, spec in cols.items()})


def _dtype(spec: schema.Column) -> str:
    """The dtype a validated column of this kind has."""
    if spec.kind in ("numeric", "day"):
        return "float64"
    if spec.kind in ("integer", "binary", "grade"):
        return "Int64"
    return "object"


def load_frames(patients: pd.DataFrame, labs: pd.DataFrame | None = None,
                treatments: pd.DataFrame | None = None, *, source: str = "DataFrame",
                synthetic: bool = False) -> Cohort:
    """Build a :class:`Cohort` from frames that already use canonical column names (a notebook's
    way in). Types are coerced as the loader would; problems raise :class:`ValidationError`.

    Raises
    ------
    ValidationError
        The patient table has no ``patient_id`` column or repeats an ID.
    TypeError
        A table is not a DataFrame.
    """
    if not isinstance(patients, pd.DataFrame):
        raise TypeError(f"patients must be a DataFrame; got {type(patients).__name__}")
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
    """A frame built in code with its canonical columns typed as the loader types them (0/1 by
    :func:`core.ingest.parse.coerce_binary`), canonical columns first."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"the {table} table must be a DataFrame; got {type(df).__name__}")
    df = df.copy()
    cols = schema.columns_of(table)
    for name in df.columns:
        spec = cols.get(name)
        if spec is None:
            continue
        if spec.kind == "binary":
            df[name] = parse.coerce_binary(df[name])
        elif spec.kind in ("integer", "grade"):
            df[name] = pd.to_numeric(df[name], errors="coerce").round().astype("Int64")
        elif spec.kind in ("numeric", "day"):
            df[name] = pd.to_numeric(df[name], errors="coerce").astype(float)
        else:
            df[name] = parse.none_where(df[name], df[name].notna())
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
                mappings: Mapping[str, Mapping[str, str | None]] | None = None, *,
                pt_normal_seconds: float | None = None,
                progress: Progress | None = None) -> Cohort:
    """Read, map and validate uploaded files into a :class:`Cohort`.

    Parameters
    ----------
    patients, labs, treatments : the uploaded files (labs and treatments optional).
    mappings : per table, the user's corrected header mapping; headers it does not name (and
        tables without one) use :func:`core.ingest.suggest_mapping`; entries for headers the
        file does not have are ignored, with a note.
    pt_normal_seconds : the laboratory's normal PT in seconds; given, PT values in seconds
        become an INR approximation (PT ratio; listed as approximate), else they are kept
        as analyte ``pt`` and listed as not converted.
    progress : called as ``progress(step_label, fraction)`` before each step ("Reading
        labs.csv", "Checking values in labs.csv", "Converting units", ...), the fraction in
        [0, 1] non-decreasing (steps weighted by the files' sizes), and finally
        ``progress("Loaded", 1.0)``.

    Raises
    ------
    DataFormatError, ValidationError
        With a message naming the file and what to fix. Problems in single rows or cells do not
        raise: they are in ``cohort.reports``.
    TypeError
        An upload is not an :class:`Upload`.
    """
    for up in (patients, labs, treatments):
        if up is not None and not isinstance(up, Upload):
            raise TypeError(f"uploads must be Upload(name, data); got {type(up).__name__}")
    mappings = mappings or {}
    step = _Steps(progress, [u for u in (patients, labs, treatments) if u is not None])
    long_tables: tuple[tuple[schema.TableName, Upload | None], ...] = (
        ("labs", labs), ("treatments", treatments))
    # The lab and treatment files are parsed (pyarrow and hashlib release the GIL) while the
    # patient table is checked; each is used, or its error raised, where it was read before.
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-read")
    try:
        reads = {table: pool.submit(read_table, up.data, up.name, table, coded=True)
                 for table, up in long_tables if up is not None}
        frame, report, infusion = _load_patients(patients, mappings.get("patients"), step)
        frames, reports = {"patients": frame}, {"patients": report}
        known = set(frame["patient_id"])
        for table, up in long_tables:
            if up is None:
                frames[table] = empty_table(table)
                continue
            frames[table], reports[table] = _load_long(table, up, mappings.get(table), infusion,
                                                       known, pt_normal_seconds, step,
                                                       reads[table])
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    names = ", ".join(u.name for u in (patients, labs, treatments) if u is not None)
    step.done()
    return Cohort(frames["patients"], frames["labs"], frames["treatments"], names, False, reports)


class _Steps:
    """Calls a :data:`Progress` hook with fractions weighted by the uploads' sizes: per file,
    reading 45%, checking values 40%, converting units 15% of its share."""

    _PHASES = {"read": (0.0, 0.45), "check": (0.45, 0.40), "convert": (0.85, 0.15)}

    def __init__(self, progress: Progress | None, uploads: list[Upload]) -> None:
        self.progress = progress
        sizes = [max(len(u.data), 1) for u in uploads]
        total = float(sum(sizes)) or 1.0
        self.start: dict[int, tuple[float, float]] = {}
        acc = 0.0
        for u, n in zip(uploads, sizes):
            self.start[id(u)] = (acc / total, n / total)
            acc += n
        self.last = 0.0

    def __call__(self, label: str, up: Upload, phase: str) -> None:
        if self.progress is None:
            return
        offset, share = self.start.get(id(up), (self.last, 0.0))
        lo, _ = self._PHASES[phase]
        self.last = min(1.0, max(self.last, offset + share * lo))
        self.progress(label, self.last)

    def done(self) -> None:
        if self.progress is not None:
            self.last = 1.0
            self.progress("Loaded", 1.0)


def _load_patients(up: Upload, mapping: Mapping[str, str | None] | None,
                   step: _Steps | None = None
                   ) -> tuple[pd.DataFrame, LoadReport, pd.Series | None]:
    """The patient table, its report and the infusion date per patient (None if not given).

    Raises :class:`ValidationError` when no patient row could be loaded."""
    step = step or _Steps(None, [])
    step(f"Reading {up.name}", up, "read")
    raw = read_table(up.data, up.name, "patients", coded=True)
    step(f"Checking values in {up.name}", up, "check")
    raw, infusion, date_notes = patients_dates(raw)
    frame, report = validate(raw, merge_mapping(mapping, raw.headers, "patients"), "patients")
    frame = _object_text(frame)  # one row per patient: text columns stay plain objects
    if frame.empty:
        raise ValidationError(_nothing_loaded(raw, report))
    return frame, _with_notes(report, date_notes), infusion


def _load_long(table: schema.TableName, up: Upload, mapping: Mapping[str, str | None] | None,
               infusion: pd.Series | None, known: set[str],
               pt_normal_seconds: float | None = None,
               step: _Steps | None = None,
               reading: Future[RawTable] | None = None) -> tuple[pd.DataFrame, LoadReport]:
    """A lab or treatment table (rows of patients not in ``known`` rejected) and its report;
    lab analytes and units normalised (``reading``: the file's ``read_table``, under way)."""
    step = step or _Steps(None, [])
    step(f"Reading {up.name}", up, "read")
    raw = (reading.result() if reading is not None
           else read_table(up.data, up.name, table, coded=True))
    step(f"Checking values in {up.name}", up, "check")
    raw, date_notes = long_dates(raw, table, infusion)
    frame, report = validate(raw, merge_mapping(mapping, raw.headers, table), table,
                             known_patients=known)
    report = _with_notes(report, date_notes)
    step("Converting units", up, "convert")
    if table == "labs" and "analyte" in frame:
        frame, report = normalise_labs(frame, report, pt_normal_seconds=pt_normal_seconds)
    if table == "treatments":
        frame, doses = units.convert_dose_units(frame)
        report = replace(report, conversions=report.conversions + tuple(doses))
    return frame, report


def _object_text(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its Categorical columns as object columns (None where missing)."""
    coded = [c for c in frame.columns if is_coded(frame[c])]
    if not coded:
        return frame
    out = {}
    for name in frame.columns:
        col = frame[name]
        if name in coded:
            codes, texts = codes_and_texts(col)
            table = np.empty(len(texts) + 1, dtype=object)  # code -1: the last entry, None
            table[:-1] = texts
            values = table[codes]
            col = pd.Series(values, index=frame.index, dtype=object, name=name)
        out[name] = col
    return pd.DataFrame(out, index=frame.index, columns=frame.columns, copy=False)


def _with_notes(report: LoadReport, notes: list[str]) -> LoadReport:
    return replace(report, notes=report.notes + tuple(notes)) if notes else report


def _nothing_loaded(raw: RawTable, report: LoadReport) -> str:
    """Why an uploaded patient table gave no patient, and what to do."""
    if report.rows_read == 0:
        return (f"{raw.label} has a header row but no data rows. Add one row per patient "
                "below the header and upload again.")
    return (f"{raw.label}: no patient row could be loaded ({plural(report.rows_read, 'row')}, "
            f"all rejected). {_first_reasons(report)}. Correct these rows in the file (or the "
            "column mapping on the Data page) and upload again.")


def _first_reasons(report: LoadReport, n: int = 3) -> str:
    """``"Reasons: row 2: no patient_id; row 3: ..."`` (the first ``n`` rejected rows)."""
    if report.rejected.empty:
        return "Reasons: the file has a header row but no data rows"
    head = report.rejected.head(n)
    extra = len(report.rejected) - n
    more = f" (and {plural(extra, 'more row')})" if extra > 0 else ""
    return "Reasons: " + "; ".join(f"row {r}: {x}" for r, x in
                                   zip(head["row"], head["reason"])) + more


def normalise_labs(labs: pd.DataFrame, report: LoadReport, *,
                   pt_normal_seconds: float | None = None) -> tuple[pd.DataFrame, LoadReport]:
    """Fold analyte names to canonical ones (:func:`core.schema.analyte_named`) and convert
    values in recognised units to canonical units (:func:`core.ingest.units.convert_lab_units`).
    Unknown analytes are kept under their own name and listed in a note; values whose unit
    contradicts them are left for the endpoint derivation to list, never rescaled here."""
    notes = list(report.notes)
    if is_coded(labs["analyte"]):  # per category (the ingest's labs)
        codes, names = codes_and_texts(labs["analyte"])
        canon_of = np.array([schema.analyte_named(str(a)) for a in names], dtype=object)
        used = np.bincount(codes[codes >= 0], minlength=len(names)) > 0
        unknown = sorted({str(a) for a, c, u in zip(names, canon_of, used) if c is None and u})
        if (codes < 0).any() and schema.analyte_named("nan") is None:
            unknown = sorted({*unknown, "nan"})  # as astype(str) names a missing analyte
        analyte = categorical(codes, np.where(pd.isna(canon_of), names, canon_of), labs.index)
    else:
        canon = _per_distinct(labs["analyte"].astype(str), schema.analyte_named)
        unknown = sorted(set(labs.loc[canon.isna(), "analyte"].astype(str)))
        analyte = canon.fillna(labs["analyte"])
    if unknown:
        notes.append("Analytes not recognised (kept under their own names, not used for "
                     "derived endpoints): " + ", ".join(unknown[:20]))
    labs = _with_column(labs, "analyte", analyte)
    labs, conversions = units.convert_lab_units(labs, pt_normal_seconds=pt_normal_seconds)
    return labs, replace(report, conversions=report.conversions + tuple(conversions),
                         notes=tuple(notes))


def _with_column(frame: pd.DataFrame, name: str, column: pd.Series) -> pd.DataFrame:
    """``frame.assign(name=column)`` without copying the other columns."""
    out = {c: (column if c == name else frame[c]) for c in frame.columns}
    return pd.DataFrame(out, index=frame.index, copy=False)


def _per_distinct(text: pd.Series, func: Callable[[str], str | None]) -> pd.Series:
    """``text.map(func)`` computed once per distinct text (a lab table has millions of rows
    and a few dozen analyte names)."""
    codes, uniq = pd.factorize(text.to_numpy(dtype=object))
    if (codes < 0).any():  # not text (cannot happen after astype(str)): as map would
        return text.map(func)
    per_value = pd.Series(uniq, dtype=object).map(func)
    out = per_value.take(codes)
    out.index = text.index
    return out
