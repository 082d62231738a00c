"""One uploaded column -> typed values, by its kind in the schema (id, number, integer, day,
0/1, grade, category, sex), with every cell that could not be used as written listed.

Cells are read by :mod:`core.ingest.parse` and converted to canonical units by
:mod:`core.ingest.units`; this module only decides, per kind, what is listed and what is kept.

Work is per distinct cell text (:class:`Distinct`): a long lab table has millions of rows but
a few distinct analytes and units, so every text method runs over the distinct values and the
results are spread back to the rows by their codes. Problems are collected in batches (one per
kind of problem and column, :class:`BatchCollector`) and become the report's tables at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core import schema
from core.ingest import parse, units
from core.ingest.coded import categorical
from core.ingest.report import Collector
from core.ingest.wording import short


@dataclass(frozen=True)
class Distinct:
    """A column of text cells as its distinct values and, per row, the code of its value.

    Attributes
    ----------
    codes : per row, the position of its cell text in ``uniq``.
    uniq : the distinct cell texts (RangeIndex, named like the column).
    index : the column's index.

    A column that is not all text (None, NaN, numbers) is kept as it is, one "distinct" value
    per row, so the functions run on it see exactly the cells they saw before. A Categorical
    column of text (:func:`core.ingest.read_table` with ``coded=True``) is taken as it is:
    its codes and categories (``coded`` is True; categories no row uses may be among
    ``uniq``), so nothing is made per cell.
    """

    codes: np.ndarray
    uniq: pd.Series
    index: pd.Index
    coded: bool = False

    @classmethod
    def of(cls, raw: pd.Series) -> Distinct:
        if isinstance(raw.dtype, pd.CategoricalDtype):
            codes = raw.cat.codes.to_numpy()
            cats = raw.cat.categories.to_numpy(dtype=object)
            if len(codes) and not (codes < 0).any() and pd.api.types.infer_dtype(
                    cats, skipna=False) in ("string", "empty"):
                return cls(codes, pd.Series(cats, dtype=object, name=raw.name), raw.index,
                           coded=True)
        arr = raw.to_numpy(dtype=object)
        if len(arr) and pd.api.types.infer_dtype(arr, skipna=False) == "string":
            codes, uniq = pd.factorize(arr)
            return cls(codes.astype(np.intp, copy=False),
                       pd.Series(uniq, dtype=object, name=raw.name), raw.index)
        return cls(np.arange(len(arr), dtype=np.intp),
                   pd.Series(arr, dtype=object, name=raw.name), raw.index)

    def rows(self, per_value: np.ndarray) -> np.ndarray:
        """A per-distinct-value array spread to the rows."""
        per_value = np.asarray(per_value)
        if per_value.dtype == bool and len(per_value) and self.coded:
            if not per_value.any():  # the same for every row: no pass over the codes
                return np.zeros(len(self.codes), dtype=bool)
            if per_value.all():
                return np.ones(len(self.codes), dtype=bool)
        return per_value[self.codes]

    def series(self, per_value: pd.Series) -> pd.Series:
        """A per-distinct-value Series (any dtype) spread to the rows, on the column's index."""
        out = per_value.take(self.codes)
        out.index = self.index
        return out

    def cells(self, positions: np.ndarray) -> np.ndarray:
        """The cell texts at row ``positions``."""
        return self.uniq.to_numpy(dtype=object)[self.codes[positions]]

    def text_column(self, per_value: pd.Series) -> pd.Series:
        """A per-distinct-value Series of text (None where missing) spread to the rows: a
        Categorical with sorted categories (those some row uses) for a ``coded`` column,
        else as :meth:`series`."""
        if not self.coded:
            return self.series(per_value)
        return categorical(self.codes, per_value.to_numpy(dtype=object), self.index)


def per_text(values: np.ndarray, func: Callable[[object], object]) -> np.ndarray:
    """``func`` of every value (an object array), computed once per distinct value when every
    value is text (else once per value: ``1`` and ``True`` are equal keys but differ as text)."""
    values = np.asarray(values, dtype=object)
    if not len(values):
        return np.empty(0, dtype=object)
    if pd.api.types.infer_dtype(values, skipna=False) == "string":
        codes, uniq = pd.factorize(values)
        return np.array([func(u) for u in uniq] + [None], dtype=object)[:-1][codes]
    return np.array([func(v) for v in values] + [None], dtype=object)[:-1]


def _fill_object(values: np.ndarray | str, n: int) -> np.ndarray:
    if isinstance(values, str):
        out = np.empty(n, dtype=object)
        out[:] = values
        return out
    return np.asarray(values, dtype=object)


@dataclass
class BatchCollector(Collector):
    """A :class:`~core.ingest.report.Collector` that takes problems many cells at a time
    (:meth:`cells_at`, :meth:`reject_at`) and builds the report's tables vectorised; the
    one-cell methods still work. The tables equal those a row-by-row collection gives:
    cells in the order listed, rejected rows sorted with their reasons joined in order."""

    _cells: list[tuple[np.ndarray, object, object, object]] = field(default_factory=list)
    _rejects: list[tuple[np.ndarray, str | np.ndarray]] = field(default_factory=list)
    #: the patient IDs as distinct texts and codes; when given, ``ids`` is not read (a
    #: column of millions of IDs need not be made to list a few rows)
    id_codes: Distinct | None = None

    def cell(self, pos: int | np.integer, column: str, value: str, problem: str) -> None:
        values = np.empty(1, dtype=object)
        values[0] = value
        self.cells_at(np.array([int(pos)], dtype=np.intp), column, values, problem)

    def reject(self, pos: int | np.integer, reason: str) -> None:
        self.reject_at(np.array([int(pos)], dtype=np.intp), reason)

    def cells_at(self, positions: np.ndarray, column: str | np.ndarray,
                 values: np.ndarray, problems: str | np.ndarray) -> None:
        """List the cells at row ``positions`` (values and problems per cell, or one problem
        for all); their rows stay loaded."""
        if len(positions):
            self._cells.append((np.asarray(positions, dtype=np.intp), column, values, problems))

    def reject_at(self, positions: np.ndarray, reasons: str | np.ndarray) -> None:
        """Reject the rows at ``positions`` (a second reason is appended to the first)."""
        if len(positions):
            self._rejects.append((np.asarray(positions, dtype=np.intp), reasons))

    def rejected_positions(self) -> np.ndarray:
        if not self._rejects:
            return np.empty(0, dtype=np.intp)
        return np.unique(np.concatenate([p for p, _ in self._rejects]))

    def _ids_at(self, positions: np.ndarray) -> np.ndarray:
        if self.id_codes is not None:
            return per_text(self.id_codes.cells(positions), short)
        return per_text(self.ids.iloc[positions].to_numpy(dtype=object), short)

    def rejected_frame(self) -> pd.DataFrame:
        """DataFrame (row, patient_id, reason), one row per rejected row, in row order."""
        columns = ["row", "patient_id", "reason"]
        if not self._rejects:
            return pd.DataFrame([], columns=columns)
        pos = np.concatenate([p for p, _ in self._rejects])
        why = np.concatenate([_fill_object(r, len(p)) for p, r in self._rejects])
        order = np.argsort(pos, kind="stable")
        pos, why = pos[order], why[order]
        start = np.r_[True, pos[1:] != pos[:-1]]
        first = np.flatnonzero(start)
        reason = why[first].copy()
        if len(first) < len(pos):  # rows with several reasons: "a; b", in the order given
            group = np.cumsum(start) - 1
            rank = np.arange(len(pos)) - first[group]
            for k in range(1, int(rank.max()) + 1):
                at = rank == k
                reason[group[at]] = reason[group[at]] + "; " + why[at]
        pos = pos[first]
        pid = self._ids_at(pos)
        pid[pid == ""] = None
        return pd.DataFrame({"row": self.row_numbers[pos].astype(np.int64), "patient_id": pid,
                             "reason": reason}, columns=columns)

    def cells_frame(self, keep: np.ndarray) -> pd.DataFrame:
        """DataFrame (row, patient_id, column, value, problem) of the cells listed whose rows
        are kept (``keep``: per position), in the order listed."""
        columns = ["row", "patient_id", "column", "value", "problem"]
        batches = []
        for p, col, v, pr in self._cells:
            m = keep[p]
            if m.any():
                batches.append((p[m], col if isinstance(col, str) else np.asarray(col)[m],
                                np.asarray(v, dtype=object)[m],
                                pr if isinstance(pr, str) else np.asarray(pr, dtype=object)[m]))
        if not batches:
            return pd.DataFrame([], columns=columns)
        pos = np.concatenate([p for p, *_ in batches])
        column = np.concatenate([_fill_object(col, len(p)) if isinstance(col, str)
                                 else np.asarray(col, dtype=object) for p, col, *_ in batches])
        value = per_text(np.concatenate([v for _, _, v, _ in batches]), lambda x: short(x, 200))
        problem = np.concatenate([_fill_object(pr, len(p)) for p, _, _, pr in batches])
        return pd.DataFrame({"row": self.row_numbers[pos].astype(np.int64),
                             "patient_id": self._ids_at(pos), "column": column, "value": value,
                             "problem": problem}, columns=columns)


def _list(c: Collector, positions: np.ndarray, column: str, d: Distinct,
          problems: str | np.ndarray) -> None:
    """List the cells of column ``d`` at row ``positions`` with their problem(s)."""
    if not len(positions):
        return
    if isinstance(c, BatchCollector):
        c.cells_at(positions, column, d.cells(positions), problems)
        return
    values = d.cells(positions)
    for i, pos in enumerate(positions):
        c.cell(pos, column, values[i], problems if isinstance(problems, str) else problems[i])


def convert_column(raw: pd.Series, spec: schema.Column, header: str, decimal: str,
                   c: Collector, conversions: list[str],
                   distinct: Distinct | None = None) -> pd.Series:
    """One mapped column of text cells as typed values.

    Parameters
    ----------
    raw : the column's text cells.
    spec : the canonical column it is mapped to.
    header : the uploaded header (a unit in brackets is converted from).
    decimal : the file's decimal mark.
    c : where every cell not used as written is listed.
    conversions : where a sentence about a unit conversion is appended.
    distinct : ``raw`` as :class:`Distinct` (made here when not given).

    Returns
    -------
    Series
        Text (id, category), ``Int64`` (binary, grade, integer) or float (numeric, day).
    """
    d = distinct if distinct is not None else Distinct.of(raw)
    name = spec.name
    if spec.kind == "id":
        return d.text_column(d.uniq.str.strip())
    if spec.kind == "binary":
        return _binary(d, name, c)
    if spec.kind == "grade":
        return _grade(d, name, spec.lo or 0, spec.hi or 4, c)
    if spec.kind == "category":
        return _sex(d, c) if name == "sex" else d.text_column(_category(d.uniq))
    values = _numbers(d, name, decimal, c)
    values = _to_canonical_unit(values, d, name, header, c, conversions)
    if spec.kind == "integer":
        values = _whole(values, d, name, c)
    values = _in_range(values, d, spec, c)
    return values.round().astype("Int64") if spec.kind == "integer" else values


def _numbers(d: Distinct, column: str, decimal: str, c: Collector) -> pd.Series:
    """Numbers; a censored ``"<0.5"`` is used at its bound and listed, text is listed."""
    raw = d.uniq
    n = parse.read_numbers(raw, decimal)
    values, failed, censored = n.values.copy(), n.failed.copy(), n.censored
    comma = np.zeros(len(raw), bool)
    if decimal == "." and failed.any():
        # a text cell of a workbook (or a stray cell) written with a decimal comma: "<0,19"
        text = raw[failed]
        plain = text.str.contains(",", regex=False) & ~text.str.contains(".", regex=False)
        again = parse.read_numbers(text[plain], ",")
        hit = np.flatnonzero(failed)[plain.to_numpy()][~np.isnan(again.values)]
        values[hit] = again.values[~np.isnan(again.values)]
        failed[hit], comma[hit] = False, True
        censored = censored.copy()
        censored[hit] = again.censored[~np.isnan(again.values)]
    said = np.empty(len(raw), dtype=object)
    for i in np.flatnonzero(comma):
        said[i] = (f"read with a decimal comma as {values[i]:g}"
                   + ("; censored value, used at its bound" if censored[i] else ""))
    for i in np.flatnonzero(censored & ~comma):
        said[i] = f"censored value; used {values[i]:g}"
    if comma.any():
        pos = np.flatnonzero(d.rows(comma))
        _list(c, pos, column, d, said[d.codes[pos]])
    if (censored & ~comma).any():
        pos = np.flatnonzero(d.rows(censored & ~comma))
        _list(c, pos, column, d, said[d.codes[pos]])
    if failed.any():
        _list(c, np.flatnonzero(d.rows(failed)), column, d, "not a number; set missing")
    return pd.Series(d.rows(values), index=d.index, dtype=float)


def _to_canonical_unit(values: pd.Series, d: Distinct, column: str, header: str,
                       c: Collector, conversions: list[str]) -> pd.Series:
    """Values in the column's canonical unit (:func:`core.ingest.units.header_unit`); when
    the header's unit cannot be used or the values contradict it, every value is listed and
    set missing (never rescaled by guess)."""
    h = units.header_unit(column, header, values)
    if h.sentence:
        conversions.append(h.sentence)
    if h.problem:
        _list(c, np.flatnonzero(values.notna().to_numpy()), column, d, h.problem)
        return values.where(pd.Series(False, index=values.index))
    return values * h.factor if h.factor != 1.0 else values


def _whole(values: pd.Series, d: Distinct, column: str, c: Collector) -> pd.Series:
    frac = values.notna() & (values % 1 != 0)
    if not frac.any():
        return values
    _list(c, np.flatnonzero(frac.to_numpy()), column, d, "expected a whole number; set missing")
    return values.where(~frac)


def _in_range(values: pd.Series, d: Distinct, spec: schema.Column,
              c: Collector) -> pd.Series:
    lo = spec.lo if spec.lo is not None else -np.inf
    hi = spec.hi if spec.hi is not None else np.inf
    out_of_range = values.notna() & ((values < lo) | (values > hi))
    if not out_of_range.any():
        return values
    unit = f" {spec.unit}" if spec.unit and spec.unit != "day" else ""
    _list(c, np.flatnonzero(out_of_range.to_numpy()), spec.name, d,
          f"outside the plausible range {lo:g}-{hi:g}{unit}; set missing")
    return values.where(~out_of_range)


def _binary(d: Distinct, column: str, c: Collector) -> pd.Series:
    values, bad = parse.parse_binary(d.uniq)
    if bad.any():
        _list(c, np.flatnonzero(d.rows(bad)), column, d, "expected 0/1 (yes/no); set missing")
    return d.series(values)


def _grade(d: Distinct, column: str, lo: float, hi: float, c: Collector) -> pd.Series:
    """Grades; every cell not written as a plain number is listed with how it was read."""
    g = parse.parse_grades(d.uniq, lo, hi)
    if g.unparsed.any():
        _list(c, np.flatnonzero(d.rows(g.unparsed)), column, d,
              f"expected a grade {lo:g}-{hi:g}; set missing")
    if g.out_of_range.any():
        _list(c, np.flatnonzero(d.rows(g.out_of_range)), column, d,
              f"grade out of range {lo:g}-{hi:g}; set missing")
    if g.worded.any():
        said = np.empty(len(d.uniq), dtype=object)
        for i in np.flatnonzero(g.worded):
            said[i] = f"read '{short(d.uniq.iloc[i], 40)}' as grade {int(g.values.iloc[i])}"
        pos = np.flatnonzero(d.rows(g.worded))
        _list(c, pos, column, d, said[d.codes[pos]])
    return d.series(g.in_range())


def _sex(d: Distinct, c: Collector) -> pd.Series:
    values, bad = parse.parse_sex(d.uniq)
    if bad.any():
        _list(c, np.flatnonzero(d.rows(bad)), "sex", d, "expected F or M; set missing")
    return d.series(values)


def _category(raw: pd.Series) -> pd.Series:
    out = parse.none_where(raw, ~parse.is_na(raw)).str.strip()
    return parse.none_where(out, out.notna())


def extra_column(raw: pd.Series, decimal: str) -> pd.Series:
    """An unmapped column: numeric when every non-missing cell is a number, else text."""
    return extra_columns(raw.to_frame(), decimal).iloc[:, 0]


def extra_columns(block: pd.DataFrame, decimal: str) -> pd.DataFrame:
    """Every unmapped column at once, each as :func:`extra_column` describes it.

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
    na = parse.is_na(cells.astype(str)).to_numpy().reshape(shape, order="F")
    parsed = parse.parse_numbers(cells, decimal).to_numpy(dtype=float).reshape(shape, order="F")
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
