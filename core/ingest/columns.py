"""One uploaded column -> typed values, by its kind in the schema (id, number, integer, day,
0/1, grade, category, sex), with every cell that could not be used as written listed.

Cells are read by :mod:`core.ingest.parse` and converted to canonical units by
:mod:`core.ingest.units`; this module only decides, per kind, what is listed and what is kept.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core import schema
from core.ingest import parse, units
from core.ingest.report import Collector
from core.ingest.wording import short


def convert_column(raw: pd.Series, spec: schema.Column, header: str, decimal: str,
                   c: Collector, conversions: list[str]) -> pd.Series:
    """One mapped column of text cells as typed values.

    Parameters
    ----------
    raw : the column's text cells.
    spec : the canonical column it is mapped to.
    header : the uploaded header (a unit in brackets is converted from).
    decimal : the file's decimal mark.
    c : where every cell not used as written is listed.
    conversions : where a sentence about a unit conversion is appended.

    Returns
    -------
    Series
        Text (id, category), ``Int64`` (binary, grade, integer) or float (numeric, day).
    """
    name = spec.name
    if spec.kind == "id":
        return raw.str.strip()
    if spec.kind == "binary":
        return _binary(raw, name, c)
    if spec.kind == "grade":
        return _grade(raw, name, spec.lo or 0, spec.hi or 4, c)
    if spec.kind == "category":
        return _sex(raw, c) if name == "sex" else _category(raw)
    values = _numbers(raw, name, decimal, c)
    values = _to_canonical_unit(values, raw, name, header, c, conversions)
    if spec.kind == "integer":
        values = _whole(values, raw, name, c)
    values = _in_range(values, raw, spec, c)
    return values.round().astype("Int64") if spec.kind == "integer" else values


def _numbers(raw: pd.Series, column: str, decimal: str, c: Collector) -> pd.Series:
    """Numbers; a censored ``"<0.5"`` is used at its bound and listed, text is listed."""
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
    for pos in np.flatnonzero(comma):
        c.cell(pos, column, raw.iloc[pos], f"read with a decimal comma as {values[pos]:g}"
               + ("; censored value, used at its bound" if censored[pos] else ""))
    for pos in np.flatnonzero(censored & ~comma):
        c.cell(pos, column, raw.iloc[pos], f"censored value; used {values[pos]:g}")
    for pos in np.flatnonzero(failed):
        c.cell(pos, column, raw.iloc[pos], "not a number; set missing")
    return pd.Series(values, index=raw.index, dtype=float)


def _to_canonical_unit(values: pd.Series, raw: pd.Series, column: str, header: str,
                       c: Collector, conversions: list[str]) -> pd.Series:
    """Values in the column's canonical unit (:func:`core.ingest.units.header_unit`); when
    the header's unit cannot be used or the values contradict it, every value is listed and
    set missing (never rescaled by guess)."""
    h = units.header_unit(column, header, values)
    if h.sentence:
        conversions.append(h.sentence)
    if h.problem:
        for pos in np.flatnonzero(values.notna().to_numpy()):
            c.cell(pos, column, raw.iloc[pos], h.problem)
        return values.where(pd.Series(False, index=values.index))
    return values * h.factor if h.factor != 1.0 else values


def _whole(values: pd.Series, raw: pd.Series, column: str, c: Collector) -> pd.Series:
    frac = values.notna() & (values % 1 != 0)
    for pos in np.flatnonzero(frac.to_numpy()):
        c.cell(pos, column, raw.iloc[pos], "expected a whole number; set missing")
    return values.where(~frac)


def _in_range(values: pd.Series, raw: pd.Series, spec: schema.Column,
              c: Collector) -> pd.Series:
    lo = spec.lo if spec.lo is not None else -np.inf
    hi = spec.hi if spec.hi is not None else np.inf
    out_of_range = values.notna() & ((values < lo) | (values > hi))
    unit = f" {spec.unit}" if spec.unit and spec.unit != "day" else ""
    for pos in np.flatnonzero(out_of_range.to_numpy()):
        c.cell(pos, spec.name, raw.iloc[pos],
               f"outside the plausible range {lo:g}-{hi:g}{unit}; set missing")
    return values.where(~out_of_range)


def _binary(raw: pd.Series, column: str, c: Collector) -> pd.Series:
    values, bad = parse.parse_binary(raw)
    for pos in np.flatnonzero(bad):
        c.cell(pos, column, raw.iloc[pos], "expected 0/1 (yes/no); set missing")
    return values


def _grade(raw: pd.Series, column: str, lo: float, hi: float, c: Collector) -> pd.Series:
    """Grades; every cell not written as a plain number is listed with how it was read."""
    g = parse.parse_grades(raw, lo, hi)
    for pos in np.flatnonzero(g.unparsed):
        c.cell(pos, column, raw.iloc[pos], f"expected a grade {lo:g}-{hi:g}; set missing")
    for pos in np.flatnonzero(g.out_of_range):
        c.cell(pos, column, raw.iloc[pos], f"grade out of range {lo:g}-{hi:g}; set missing")
    for pos in np.flatnonzero(g.worded):
        c.cell(pos, column, raw.iloc[pos],
               f"read '{short(raw.iloc[pos], 40)}' as grade {int(g.values.iloc[pos])}")
    return g.in_range()


def _sex(raw: pd.Series, c: Collector) -> pd.Series:
    values, bad = parse.parse_sex(raw)
    for pos in np.flatnonzero(bad):
        c.cell(pos, "sex", raw.iloc[pos], "expected F or M; set missing")
    return values


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
