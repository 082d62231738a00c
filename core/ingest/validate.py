"""Type, convert and check one table; list every row not loaded and every cell not usable."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from core import schema
from core.errors import ValidationError
from core.ingest.columns import BatchCollector, Distinct, convert_column, extra_columns, per_text
from core.ingest.mapping import safe_extra_name
from core.ingest.parse import is_na
from core.ingest.read import RawTable, equals
from core.ingest.report import LoadReport
from core.ingest.wording import short


def validate(raw: RawTable, mapping: Mapping[str, str | None], table: schema.TableName,
             *, known_patients: set[str] | None = None) -> tuple[pd.DataFrame, LoadReport]:
    """Type, convert and check one table; report every problem at once.

    Parameters
    ----------
    raw : the table read by :func:`core.ingest.read_table`.
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
        When a required column (``patient_id``; for labs day/analyte/value) is not mapped, or
        a column is mapped from two headers.
    TypeError, ValueError
        ``raw`` is not a RawTable; ``table`` is not a table of the schema.
    """
    if not isinstance(raw, RawTable):
        raise TypeError(f"raw must be a RawTable (from read_table); got {type(raw).__name__}")
    schema.columns_of(table)  # ValueError for a table the schema does not have
    mapping, notes = _usable_mapping(raw, mapping, table)
    _check_required(raw, mapping, table)
    rows = np.arange(len(raw.frame)) + raw.first_row
    id_header = next(h for h, t in mapping.items() if t == "patient_id")
    distinct = {h: Distinct.of(raw.frame[h]) for h, t in mapping.items() if t}
    ids = distinct[id_header]
    stripped = ids.uniq.str.strip()
    stripped_ids = Distinct(ids.codes, stripped, ids.index, ids.coded)
    c = BatchCollector(rows, ids.series(stripped) if not ids.coded else
                       pd.Series(dtype=object), id_codes=stripped_ids)
    conversions: list[str] = []
    typed, names = _typed_columns(raw, mapping, table, c, conversions, distinct)
    notes += _renamed_note(names, mapping)
    if raw.cell_notes:
        pos, headers, values, problems = (np.array(x, dtype=object)
                                          for x in zip(*raw.cell_notes))
        c.cells_at(pos.astype(np.intp), np.array([names.get(h, h) for h in headers], dtype=object),
                   values, problems)
    if not len(raw.frame):
        notes.append(f"{raw.label} has a header row but no data rows.")
    _reject_rows(raw, stripped_ids, typed, table, known_patients, c)
    return _loaded(raw, table, typed, c, mapping, conversions, notes)


def _renamed_note(names: Mapping[str, str], mapping: Mapping[str, str | None]) -> list[str]:
    """A note naming the extra columns kept under another name than their header."""
    renamed = [f"'{h}' kept as column '{n}'" for h, n in names.items()
               if not mapping.get(h) and n != h]
    if not renamed:
        return []
    return ["Columns that are not in the schema were kept under names the app can use: "
            + "; ".join(renamed) + "."]


def _loaded(raw: RawTable, table: str, typed: pd.DataFrame, c: BatchCollector,
            mapping: Mapping[str, str | None], conversions: list[str],
            notes: list[str]) -> tuple[pd.DataFrame, LoadReport]:
    """The rows not rejected, and the report listing the rejected rows and the cell problems
    of the loaded ones."""
    keep = np.ones(len(raw.frame), dtype=bool)
    rejected_at = c.rejected_positions()
    keep[rejected_at] = False
    if len(rejected_at):
        at = np.flatnonzero(keep)
        index = pd.RangeIndex(len(at))
        # a rejected row's category is no category of the table
        loaded = pd.DataFrame({name: _kept(col, at, index) for name, col in typed.items()},
                              index=index, columns=typed.columns, copy=False)
    elif typed.index.equals(pd.RangeIndex(len(typed))):
        loaded = typed  # every row loaded: no copy
    else:
        loaded = typed.reset_index(drop=True)
    rejected = c.rejected_frame()
    cells = c.cells_frame(keep)
    report = LoadReport(table, raw.filename, raw.describe(), len(raw.frame), len(loaded),
                        rejected, cells, dict(mapping), tuple(conversions), (*raw.notes, *notes))
    return loaded, report


def _kept(column: pd.Series, at: np.ndarray, index: pd.Index) -> pd.Series:
    """The rows ``at`` of a column, on ``index``; a Categorical without the categories no
    kept row has."""
    out = pd.Series(column.array.take(at), index=index, name=column.name)
    if isinstance(out.dtype, pd.CategoricalDtype):
        out = out.cat.remove_unused_categories()
    return out


def _usable_mapping(raw: RawTable, mapping: Mapping[str, str | None],
                    table: schema.TableName) -> tuple[dict[str, str | None], list[str]]:
    """The mapping restricted to this file's headers and this table's columns, and notes on
    what was ignored (a mapping saved for another file or table)."""
    columns = schema.columns_of(table)
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
    missing = [c.name for c in schema.columns_of(table).values()
               if c.required and c.name not in targets]
    if missing:
        found = ", ".join(f"'{short(h, 40)}'" for h in raw.headers[:12])
        more = f" and {len(raw.headers) - 12} more" if len(raw.headers) > 12 else ""
        sheets = (" If the table is on another sheet, check its header row: the sheet whose "
                  "headers name the required columns is the one read." if raw.format == "xlsx"
                  and len(raw.sheets) > 1 else "")
        raise ValidationError(
            f"{raw.label}: the {table} table has no column for {', '.join(missing)}. Headers "
            f"found: {found}{more}. Rename a header (e.g. to '{missing[0]}') or map it in the "
            f"column mapping on the Data page.{sheets}")


def _typed_columns(raw: RawTable, mapping: Mapping[str, str | None], table: schema.TableName,
                   c: BatchCollector, conversions: list[str],
                   distinct: Mapping[str, Distinct]) -> tuple[pd.DataFrame, dict[str, str]]:
    """Every column converted (canonical ones by their kind, extras as number or text), and
    header -> column name in the result (``distinct``: the mapped columns as
    :class:`~core.ingest.columns.Distinct`)."""
    columns = schema.columns_of(table)
    out: dict[str, pd.Series] = {}
    names: dict[str, str] = {}
    used = {t for t in mapping.values() if t}
    reserved = set(schema.PATIENT_COLUMNS) | set(columns)
    extras: list[str] = []
    for i, header in enumerate(raw.headers):
        target = mapping.get(header)
        if target:
            out[target] = convert_column(raw.frame[header], columns[target], header,
                                         raw.decimal, c, conversions, distinct[header])
            names[header] = target
        else:
            name = safe_extra_name(header, used | reserved, i + 1)
            used.add(name)
            names[header] = name
            extras.append(header)
    converted = extra_columns(raw.frame[extras], raw.decimal)
    for header in extras:
        out[names[header]] = converted[header]
    out = {names[h]: out[names[h]] for h in raw.headers}  # file order
    return pd.DataFrame(out, index=raw.frame.index, copy=False), names


def _reject_rows(raw: RawTable, ids: Distinct, typed: pd.DataFrame, table: schema.TableName,
                 known_patients: set[str] | None, c: BatchCollector) -> None:
    """Reject, with a reason, every row that cannot be loaded: rows that do not fit the header,
    blank rows, rows without an ID, duplicate patients, long-table rows without a usable
    required value or for an unknown patient (``ids``: the stripped patient IDs)."""
    has_id = _reject_structure(raw, ids, c)
    if table == "patients":
        _reject_duplicate_patients(raw, ids.series(ids.uniq), has_id, c)
    else:
        _reject_unusable(ids, typed, table, has_id, known_patients, c)


def _reject_structure(raw: RawTable, ids: Distinct, c: BatchCollector) -> np.ndarray:
    """Reject rows that do not fit the header, blank rows and rows without a patient ID;
    return the mask of the other rows (those with an ID)."""
    for row, reason in raw.row_problems.items():
        c.reject(row, reason)
    other = np.zeros(len(raw.frame), dtype=bool)  # already rejected for the row's structure
    other[list(raw.row_problems)] = True
    blank = np.ones(len(raw.frame), dtype=bool)
    for j in range(raw.frame.shape[1]):
        blank &= equals(raw.frame.iloc[:, j], "")
    blank &= ~other
    c.reject_at(np.flatnonzero(blank), "blank row")
    no_id = ids.rows(is_na(ids.uniq).to_numpy()) & ~blank & ~other
    c.reject_at(np.flatnonzero(no_id), "no patient_id")
    return ~(blank | other | no_id)


def _reject_duplicate_patients(raw: RawTable, ids: pd.Series, has_id: np.ndarray,
                               c: BatchCollector) -> None:
    """Reject every copy of a patient ID that appears in more than one row."""
    rows = np.arange(len(raw.frame)) + raw.first_row
    valid = pd.Series(has_id, index=ids.index)
    dup = valid & ids.where(valid).duplicated(keep=False)
    for pid, group in ids[dup].groupby(ids[dup]):
        where = ", ".join(str(rows[i]) for i in group.index)
        c.reject_at(np.asarray(group.index, dtype=np.intp),
                    f"patient_id '{short(pid)}' appears in rows {where}; keep one row per "
                    "patient")


def _reject_unusable(ids: Distinct, typed: pd.DataFrame, table: schema.TableName,
                     has_id: np.ndarray, known_patients: set[str] | None,
                     c: BatchCollector) -> None:
    """Reject long-table rows without a usable required value or for an unknown patient."""
    columns = schema.columns_of(table)
    for req in ("day", "analyte", "value", "drug"):
        if req in typed and columns.get(req) is not None and columns[req].required:
            c.reject_at(np.flatnonzero(typed[req].isna().to_numpy() & has_id),
                        f"no usable {req}")
    if known_patients is not None:
        unknown = ~ids.rows(ids.uniq.isin(known_patients).to_numpy()) & has_id
        pos = np.flatnonzero(unknown)
        if len(pos):
            why = per_text(ids.cells(pos), lambda p: f"patient_id '{short(p)}' is not in the "
                           "patient table")
            c.reject_at(pos, why)
