"""Lab and treatment rows -> the rows the endpoints use; every other row listed with why.

:func:`clean_labs` and :func:`clean_treatments` are sequences of named checks. Each check takes
the rows still usable, lists in :class:`Issues` the ones it sets aside (with a problem per row
and one summary message per kind) and returns the mask of the rows still usable. Cells are read
by :mod:`core.ingest.parse` and units converted by :mod:`core.ingest.units`, as the loader does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core import schema
from core.endpoints.analytes import ACODE, ANAMES, text_ranks
from core.errors import ColumnError
from core.ingest import parse, units
from core.schema import ANALYTES, DAY_HI, DAY_LO, DRUGS

ISSUE_COLUMNS = ("table", "row", "patient_id", "analyte", "day", "value", "problem")


class Issues:
    """Input rows not used as given (:data:`ISSUE_COLUMNS`) and one message per kind."""

    def __init__(self) -> None:
        self.parts: list[pd.DataFrame] = []
        self.messages: list[str] = []

    def add(self, table: str, frame: pd.DataFrame, mask: np.ndarray, problem: pd.Series | str,
            message: str | None = None) -> None:
        """List the rows of ``frame`` (a :func:`_frame_for` frame) where ``mask`` is True with
        ``problem`` (one text, or per row); ``message`` (``{n}``: the count) once."""
        if not mask.any():
            return
        sub = frame.loc[mask]
        prob = problem[mask] if isinstance(problem, pd.Series) else problem
        self.parts.append(pd.DataFrame({
            "table": table, "row": sub["row"].to_numpy(), "patient_id": sub["pid_raw"].to_numpy(),
            "analyte": sub["name_raw"].to_numpy(), "day": sub["day_raw"].to_numpy(),
            "value": sub["value_raw"].to_numpy(),
            "problem": prob.to_numpy() if isinstance(prob, pd.Series) else prob}))
        if message:
            self.messages.append(message.format(n=int(mask.sum())))

    def add_at(self, table: str, raw: RawCells, where: np.ndarray,
               problem: Sequence[str] | str, message: str | None = None) -> None:
        """List the input rows ``where`` points at (a mask over the input rows, or input
        positions in the order to list them) with ``problem`` (one text, or one per listed
        row); ``message`` (``{n}``: the count) once. Only these rows' cells are read."""
        pos = np.flatnonzero(where) if where.dtype == bool else np.asarray(where, np.int64)
        if not len(pos):
            return
        self.parts.append(pd.DataFrame({"table": table, **raw.cells(pos),
                                        "problem": problem if isinstance(problem, str)
                                        else np.asarray(problem, dtype=object)}))
        if message:
            self.messages.append(message.format(n=len(pos)))

    def frame(self) -> pd.DataFrame:
        """Every listed row, in the order listed."""
        if not self.parts:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in ISSUE_COLUMNS})
        out = pd.concat(self.parts, ignore_index=True)
        for c in ("patient_id", "analyte", "value", "day"):
            out[c] = out[c].astype(object)
        return out.loc[:, list(ISSUE_COLUMNS)]


def require_columns(frame: pd.DataFrame, table: str, cols: tuple[str, ...]) -> None:
    """Raise :class:`ColumnError` naming the columns of ``cols`` that ``frame`` lacks."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"the {table} table must be a DataFrame; got {type(frame).__name__}")
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ColumnError(f"The {table} table has no column {', '.join(map(repr, missing))}: "
                          f"it needs {', '.join(cols)} (map your headers to these names).")


class RawCells:
    """The cells of an input table the issue listing shows (``row`` is its index), read only
    for the rows listed (:meth:`Issues.add_at`): no copy of a large table."""

    def __init__(self, df: pd.DataFrame, name_col: str, value_col: str) -> None:
        self.df, self.name_col, self.value_col = df, name_col, value_col

    def cells(self, pos: np.ndarray) -> dict[str, np.ndarray]:
        """``row, patient_id, analyte, day, value`` of the rows at positions ``pos``."""
        def take(col: str) -> np.ndarray:
            if col not in self.df:
                return np.full(len(pos), None)
            return self.df[col].take(pos).to_numpy(object)
        return {"row": self.df.index.to_numpy()[pos], "patient_id": take("patient_id"),
                "analyte": take(self.name_col), "day": take("day"),
                "value": take(self.value_col)}


def _id_day_texts(table: str) -> list[tuple[str, str]]:
    """(problem, message) of the rows set aside for: no patient ID, no numeric day, a day out
    of range, a patient missing from the patient table."""
    return [("no patient_id: not used; fill in the patient ID",
             f"{{n}} {table} rows without a patient_id were not used."),
            ("day missing or not a number: not used; enter days after infusion",
             f"{{n}} {table} rows without a numeric day were not used."),
            (f"day outside {DAY_LO:g}..{DAY_HI:g}: not used; check the day (days after "
             "infusion, not a date)",
             f"{{n}} {table} rows with a day outside {DAY_LO:g}..{DAY_HI:g} were not used."),
            ("patient not in the patient table: not used; add the patient or correct the ID",
             f"{{n}} {table} rows belong to patients missing from the patient table and were "
             "not used.")]


def _frame_for(df: pd.DataFrame, name_col: str, value_col: str) -> pd.DataFrame:
    """The raw cells the issue listing shows, one row per input row."""
    n = len(df)
    return pd.DataFrame({
        "row": df.index.to_numpy(),
        "pid_raw": df["patient_id"].to_numpy(object),
        "day_raw": df["day"].to_numpy(object),
        "name_raw": df[name_col].to_numpy(object),
        "value_raw": df[value_col].to_numpy(object) if value_col in df else np.full(n, None),
        "unit_raw": df["unit"].to_numpy(object) if "unit" in df else np.full(n, None),
    })


def _common_checks(table: str, f: pd.DataFrame, df: pd.DataFrame, known: set[str] | None,
                   iss: Issues) -> np.ndarray:
    """Patient ID and day checks shared by labs and treatments; returns the usable mask."""
    codes, id_of = _id_codes(df["patient_id"])
    f["pid"] = id_of[codes]
    day = parse.read_numbers(df["day"], None).values
    f["day"] = day
    texts = _id_day_texts(table)
    no_id = pd.isna(f["pid"]).to_numpy()
    iss.add(table, f, no_id, *texts[0])
    bad_day = ~no_id & np.isnan(day)
    iss.add(table, f, bad_day, *texts[1])
    out_day = ~no_id & ~np.isnan(day) & ((day < DAY_LO) | (day > DAY_HI))
    iss.add(table, f, out_day, *texts[2])
    ok = ~(no_id | bad_day | out_day)
    if known is not None:
        is_known = np.array([x in known for x in id_of], dtype=bool)   # once per ID
        unknown = ok & ~is_known[codes]
        iss.add(table, f, unknown, *texts[3])
        ok &= ~unknown
    return ok


# --------------------------------------------------------------------------------------------
# labs
# --------------------------------------------------------------------------------------------

def clean_labs(labs: pd.DataFrame, known: set[str] | None,
               iss: Issues) -> tuple[LabRows, np.ndarray, np.ndarray]:
    """Usable lab rows as integer codes, sorted by patient, analyte and day.

    Works on integer codes throughout: a Categorical column's own codes (as the loader gives
    ``patient_id``, ``analyte`` and ``unit``), otherwise one ``pd.factorize``; every per-text
    step (patient IDs, analyte names, units) runs once per distinct text. The input's cells are
    read only for the rows listed in ``iss``.

    Parameters
    ----------
    labs : ``patient_id, day, analyte, value`` and optionally ``unit`` (object or Categorical).
    known : the patient table's IDs (None: every patient).
    iss : where every row not used as given is listed.

    Returns
    -------
    (LabRows, ndarray, ndarray)
        :class:`LabRows` ``pid`` (position into the second item, the patient IDs, in the order
        of their first usable row), ``analyte`` (code of :data:`core.endpoints.analytes.ACODE`),
        ``day``, ``value`` (canonical unit; same-day repeats merged); third item: every patient
        ID with a usable ID and day (even if no value was usable), in no particular order.

    Raises
    ------
    ColumnError
        A required column is missing.
    """
    require_columns(labs, "labs", ("patient_id", "day", "analyte", "value"))
    raw = RawCells(labs, "analyte", "value")
    c = _Coded.of(labs)
    ok, day = _lab_checks(raw, c, known, iss)
    present = np.bincount(c.idc if ok.all() else c.idc[ok], minlength=len(c.ids)) > 0
    everyone = c.ids[present]  # patients that belong in the output, usable values or not
    ok = _known_analytes(raw, c, ok, iss)
    value, ok = _numeric_values(labs, raw, ok, iss)
    value, ok = _convert_units(raw, c, value, ok, iss)
    ok = _plausible(raw, c, value, ok, iss)
    rows, puniq = _sorted_codes(c, day, value, ok, iss)
    return _merge_same_day(rows, raw, iss), puniq, everyone


@dataclass(frozen=True)
class _Coded:
    """A lab table's text columns as integer codes (-1: missing or unknown).

    Attributes
    ----------
    idc : per row, the position of its patient ID in ``ids``.
    ids : the distinct patient IDs (:func:`core.ingest.parse.patient_ids` of the cells).
    acode : per row, the analyte's code in :data:`ACODE` (-1: unknown name).
    ucode : per row, the position of its unit cell in ``units`` (-1: no unit column or empty).
    units : the distinct unit cells as uploaded.
    """

    idc: np.ndarray
    ids: np.ndarray
    acode: np.ndarray
    ucode: np.ndarray
    units: np.ndarray

    @classmethod
    def of(cls, labs: pd.DataFrame) -> _Coded:
        pc, pcats = _codes(labs["patient_id"])
        # patient_ids once per distinct cell; cells meaning one ID (" 7", 7.0) share a code
        cell_ids = patient_ids(pd.Series(_with_none(pcats), dtype=object))
        id_of_cell, ids = pd.factorize(cell_ids.to_numpy(object), use_na_sentinel=True)
        idc = id_of_cell.astype(np.int32)[pc]  # code -1 (missing cell) reads the appended None
        ac, acats = _codes(labs["analyte"])
        code_of = np.array([ACODE.get(str(a), -1) if a is not None else -1 for a in
                            parse.per_unique(_with_none(acats), schema.analyte_named)],
                           dtype=np.int32)
        acode = code_of[ac]
        if "unit" in labs:
            ucode, ucats = _codes(labs["unit"])
        else:
            ucode, ucats = np.full(len(labs), -1, np.int32), np.array([], dtype=object)
        return cls(idc, np.asarray(ids, dtype=object), acode, ucode, ucats)


def _codes(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (-1: missing) and the distinct values of a column: a Categorical's own
    codes and categories, otherwise one ``pd.factorize``."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        return col.cat.codes.to_numpy(), col.cat.categories.to_numpy(dtype=object)
    codes, uniq = pd.factorize(pd.Series(col.to_numpy(object), dtype=object),
                               use_na_sentinel=True)
    return codes, np.asarray(uniq, dtype=object)


def patient_ids(values: pd.Series) -> pd.Series:
    """:func:`core.ingest.parse.patient_ids` (stripped text, ``7.0`` -> ``"7"``, missing or
    empty -> None), worked out once per distinct cell (a Categorical's categories): text
    cells, as the loader gives them, only need stripping."""
    codes, table = _id_codes(values)
    return pd.Series(table[codes], index=values.index, dtype=object)


def _id_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """:func:`patient_ids` as codes (-1: missing cell) and the ID of each code (the last
    entry, None, is what -1 reads)."""
    codes, uniq = _codes(values)
    if len(uniq) and pd.api.types.infer_dtype(uniq, skipna=False) == "string":
        stripped = pd.Series(uniq, dtype=object).str.strip().to_numpy(object)
        stripped[stripped == ""] = None
        table = _with_none(stripped)
    else:
        table = parse.patient_ids(pd.Series(_with_none(uniq), dtype=object)).to_numpy(object)
    return codes, table


def _with_none(values: np.ndarray) -> np.ndarray:
    """``values`` as objects with a None appended (what code -1, missing, reads)."""
    out = np.empty(len(values) + 1, dtype=object)
    out[:-1] = values
    return out


def _lab_checks(raw: RawCells, c: _Coded, known: set[str] | None,
                iss: Issues) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_common_checks` on codes: patient ID, day and known patient; the usable mask
    and the days."""
    day = parse.read_numbers(raw.df["day"], None).values
    no_id = c.idc < 0
    bad_day = ~no_id & np.isnan(day)
    with np.errstate(invalid="ignore"):
        out_day = ~no_id & ~np.isnan(day) & ((day < DAY_LO) | (day > DAY_HI))
    texts = _id_day_texts("labs")
    for mask, (problem, message) in zip((no_id, bad_day, out_day), texts[:3], strict=True):
        iss.add_at("labs", raw, mask, problem, message)
    ok = ~(no_id | bad_day | out_day)
    if known is not None:
        is_known = np.array([x in known for x in c.ids] + [False], dtype=bool)
        unknown = ok & ~is_known[c.idc]
        iss.add_at("labs", raw, unknown, *texts[3])
        ok &= ~unknown
    return ok, day


def _known_analytes(raw: RawCells, c: _Coded, ok: np.ndarray, iss: Issues) -> np.ndarray:
    """Set aside rows of unknown analytes (names folded to canonical ones in :class:`_Coded`)."""
    unknown = ok & (c.acode < 0)
    iss.add_at("labs", raw, unknown, "unknown analyte: kept, not used for endpoints (known: "
               + ", ".join(ANALYTES) + ")",
               "{n} lab rows have an analyte name core does not know; they are kept but not "
               "used for endpoints (see issues).")
    return ok & ~unknown


def _numeric_values(labs: pd.DataFrame, raw: RawCells, ok: np.ndarray,
                    iss: Issues) -> tuple[np.ndarray, np.ndarray]:
    """Read the results; set aside rows without a number, list censored ones (used at their
    bound). Returns the values and the usable mask."""
    n = parse.read_numbers(labs["value"], None)
    vals = n.values
    noval = ok & np.isnan(vals)
    iss.add_at("labs", raw, noval, "no numeric result: not used",
               "{n} lab rows have no numeric result (empty or text such as 'n.a.') and were "
               "not used.")
    ok = ok & ~noval
    cens_ok = ok & n.censored
    iss.add_at("labs", raw, cens_ok, [f"censored result: used as {v:g}" for v in vals[cens_ok]],
               "{n} censored lab results such as '<0.5' were used at their bound (listed in "
               "issues).")
    return vals, ok


def _convert_units(raw: RawCells, c: _Coded, value: np.ndarray, ok: np.ndarray,
                   iss: Issues) -> tuple[np.ndarray, np.ndarray]:
    """Convert values to canonical units; set aside unknown units and units the patient's
    values contradict. Returns the converted values and the usable mask."""
    pair_factor, pair_given, pair = _unit_factors(c)
    bad_unit = ok & (pair_given & np.isnan(pair_factor))[pair]
    iss.add_at("labs", raw, bad_unit,
               [f"unknown unit for {ANAMES[a]}: not used; use one of "
                f"{units.accepted_units(ANAMES[a])}" for a in c.acode[bad_unit]],
               "{n} lab rows have a unit core cannot convert and were not used (see issues).")
    # the factor applied: the unit's where one was given (a bad unit's: 1), else 1
    applied = np.where(pair_given, np.nan_to_num(pair_factor, nan=1.0), 1.0)
    if (applied == 1.0).all():   # every unit canonical (as the loader leaves them): no product
        factor = None
    else:
        factor = np.where(ok, applied[pair], 1.0)
        value = value * factor
    ok = ok & ~bad_unit
    pos, problem = _contradicted(c, value, factor, ok)
    iss.add_at("labs", raw, pos, problem, "{n} lab rows carry values that contradict their "
               "unit (e.g. fibrinogen in g/L labelled mg/dL) and were not used (see issues).")
    ok[pos] = False
    return value, ok


def _unit_factors(c: _Coded) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`core.ingest.units.lab_factors` once per (analyte, unit cell) pair that occurs:
    per pair the factor and whether a unit was given, and per row its pair."""
    na, nu = len(ANAMES) + 1, len(c.units) + 1   # last of each: unknown analyte, no unit
    wide = np.dtype(np.int32 if na * nu < 2**31 else np.int64)
    pair: np.ndarray = c.acode.astype(wide)
    pair[pair < 0] = na - 1
    pair *= nu
    unit: np.ndarray = c.ucode.astype(wide)
    unit[unit < 0] = nu - 1
    pair += unit
    names = np.array([*ANAMES, None], dtype=object)
    cells = _with_none(c.units)
    if na * nu <= 4 * len(pair) + 1024:   # a pair's number is its place in the full table
        uniq = np.flatnonzero(np.bincount(pair, minlength=na * nu))
        factor, given = units.lab_factors(names[uniq // nu], cells[uniq % nu])
        full_f, full_g = np.ones(na * nu), np.zeros(na * nu, bool)
        full_f[uniq], full_g[uniq] = factor, given
        return full_f, full_g, pair
    inv, uniq = pd.factorize(pair)
    factor, given = units.lab_factors(names[uniq // nu], cells[uniq % nu])
    return factor, given, inv


def _contradicted(c: _Coded, value: np.ndarray, factor: np.ndarray | None,
                  ok: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The rows :func:`core.ingest.units.contradicted_units` names, and why.

    That function compares the median per patient, analyte and unit cell with the analyte's
    typical range; it runs here only on the groups whose median may lie outside the range (at
    least half of the values below its low or above its high end), every row of such a group
    included, so its answer is the same as on the whole table at a fraction of the work. Such
    a group has a value outside the range: only the patients with one are looked at."""
    na = len(ANAMES)
    typical = np.full(na + 1, False)
    lo, hi = np.full(na + 1, -np.inf), np.full(na + 1, np.inf)   # others: never outside
    for name, (t_lo, t_hi) in units.TYPICAL.items():
        typical[ACODE[name]], lo[ACODE[name]], hi[ACODE[name]] = True, t_lo, t_hi
    outside = _outside(value, c.acode, lo, hi) & ok
    if not outside.any():
        return np.zeros(0, np.int64), []
    flagged = np.zeros(len(c.ids) + 1, bool)   # the last: no patient ID (never usable)
    flagged[c.idc[outside]] = True
    cand = np.flatnonzero(ok & typical[c.acode] & flagged[c.idc])
    # the unit cells as the function groups them ("" for none, else the text)
    ustr, uc = pd.factorize(np.array(["" if units._missing(u) else str(u)
                                      for u in _with_none(c.units)], dtype=object))
    # (analyte, unit text) pairs that occur, numbered 0..m-1
    a = c.acode[cand]
    pair = a.astype(np.int64) * len(uc) + ustr[c.ucode[cand]]
    seen = np.bincount(pair, minlength=na * len(uc)) > 0
    pair = (np.cumsum(seen) - 1)[pair]
    key = c.idc[cand].astype(np.int64) * int(seen.sum()) + pair
    if int(key.max()) < 4 * len(key) + 1_000_000:
        gid, width = key, int(key.max()) + 1
    else:
        gid, uniq = pd.factorize(key)
        width = len(uniq)
    v = value[cand]
    n = np.bincount(gid, minlength=width)
    below = np.bincount(gid, weights=v < lo[a], minlength=width)
    above = np.bincount(gid, weights=v > hi[a], minlength=width)
    suspect = (2 * below >= n) & (n > 0) | (2 * above >= n) & (n > 0)
    sel = cand[suspect[gid]]
    if not len(sel):
        return sel, []
    cells = _with_none(c.units)
    problem = units.contradicted_units(c.ids[c.idc[sel]], np.asarray(ANAMES, dtype=object)[
        c.acode[sel]], cells[c.ucode[sel]], value[sel],
        np.ones(len(sel)) if factor is None else factor[sel]).to_numpy(object)
    hit = problem != ""
    return sel[hit], list(problem[hit])


def _plausible(raw: RawCells, c: _Coded, value: np.ndarray, ok: np.ndarray,
               iss: Issues) -> np.ndarray:
    """Set aside values outside the analyte's plausible range."""
    lo = np.array([ANALYTES[a].plausible[0] for a in ANAMES] + [-np.inf], dtype=float)
    hi = np.array([ANALYTES[a].plausible[1] for a in ANAMES] + [np.inf], dtype=float)
    implaus = _outside(value, c.acode, lo, hi) & ok
    iss.add_at("labs", raw, implaus, [
        f"outside the plausible range {ANALYTES[a].plausible[0]:g}-"
        f"{ANALYTES[a].plausible[1]:g} {ANALYTES[a].unit}: not used; check for a typo or the "
        "unit" for a in (ANAMES[i] for i in c.acode[implaus])],
        "{n} lab values outside the plausible range were not used (see issues).")
    return ok & ~implaus


def _outside(value: np.ndarray, code: np.ndarray, lo: np.ndarray,
             hi: np.ndarray) -> np.ndarray:
    """``(value < lo[code]) | (value > hi[code])`` with one row-long buffer for both bounds
    (code -1 reads the last entry)."""
    bound = np.take(lo, code)
    out = value < bound
    np.take(hi, code, out=bound)
    out |= value > bound
    return out


@dataclass(frozen=True)
class LabRows:
    """The usable lab rows (:func:`clean_labs`), sorted by patient, analyte and day.

    Attributes
    ----------
    pid : patient position into the patient IDs :func:`clean_labs` returns with them.
    analyte : analyte code (:data:`core.endpoints.analytes.ACODE`).
    day : day after infusion.
    value : value in the canonical unit (same-day repeats merged).
    """

    pid: np.ndarray
    analyte: np.ndarray
    day: np.ndarray
    value: np.ndarray

    @classmethod
    def empty(cls) -> LabRows:
        """No rows."""
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0))

    def __len__(self) -> int:
        return len(self.pid)


@dataclass(frozen=True)
class _Rows:
    """Usable lab rows sorted by patient, analyte, day and value: ``order`` into the usable
    rows, ``src`` the usable rows' input positions (None: every input row is usable);
    ``same_day`` True where a row has the patient, analyte and day of the row before it."""

    pcode: np.ndarray
    acode: np.ndarray
    day: np.ndarray
    value: np.ndarray
    order: np.ndarray
    src: np.ndarray | None
    same_day: np.ndarray

    def source(self, where: np.ndarray | slice) -> np.ndarray:
        """The input positions of the sorted rows ``where`` selects."""
        o = self.order[where]
        return o if self.src is None else self.src[o]


def _sorted_codes(c: _Coded, day_all: np.ndarray, value: np.ndarray, ok: np.ndarray,
                  iss: Issues) -> tuple[_Rows, np.ndarray]:
    """The usable rows coded and sorted by patient, analyte, day and value (stable), with
    messages about row order, times of day and days before infusion; and the patient IDs
    (patients numbered in the order of their first usable row)."""
    src: np.ndarray | None = None
    if ok.all():   # a clean table: no copies
        idc, acode, day, val = c.idc, c.acode, day_all, value
    else:
        src = np.flatnonzero(ok)
        idc, acode, day, val = c.idc[src], c.acode[src], day_all[src], value[src]
    pcode, used = pd.factorize(idc)   # patients in the order of their first usable row
    na = len(ANAMES)
    key: np.ndarray = pcode.astype(np.int32 if len(used) * na < 2**31 else np.int64)
    key *= na
    key += acode
    o, k, d, same, same_day = _order(key, day, val)
    if len(o):
        # input not in day order within a patient's analyte <=> the sort moved a later day
        # in front of an earlier one
        if (same & (d[1:] != d[:-1]) & (o[1:] < o[:-1])).any():
            iss.messages.append("Lab rows were not in day order; they were sorted (results do "
                                "not depend on row order).")
        n_frac = int(np.count_nonzero(day != np.floor(day)))
        if n_frac:
            iss.messages.append(f"{n_frac} lab rows have fractional days (times of day);"
                                " they are used as they are, and DIC scores group them by "
                                "calendar day.")
        n_neg = int(np.count_nonzero(day < 0))
        if n_neg:
            iss.messages.append(f"{n_neg} lab rows lie before infusion (day < 0);"
                                " they count for baselines only.")
    # the sorted patient and analyte codes (what divmod(k, na) gives, by two gathers)
    pc, ac = pcode.take(o).astype(k.dtype), acode.take(o).astype(k.dtype, copy=False)
    rows = _Rows(pc, ac, d, val[o], o, src, same_day)
    return rows, c.ids[np.asarray(used, dtype=np.int64)]


def _order(key: np.ndarray, day: np.ndarray, val: np.ndarray,
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The permutation ``np.lexsort((val, day, key))`` (stable), without its cost: one stable
    sort of the integer ``key``, a second one over (key, day rank) only when days are out of
    order within a key, and a sort by value only among rows sharing key and day. Returns it
    with the sorted keys and days, where a row has the key of the row before (one shorter),
    and where it has its key and day."""
    o = _stable_argsort(key)
    k, d = key[o], day[o]
    same = k[1:] == k[:-1]
    if (same & (d[1:] < d[:-1])).any():
        if (day == np.floor(day)).all():
            drank = (day - DAY_LO).astype(np.int64)   # usable days lie within DAY_LO..DAY_HI
        else:
            drank = pd.factorize(day, sort=True)[0].astype(np.int64)
        nd = int(drank.max()) + 1
        if (int(key.max()) + 1) * nd < 2**62:
            o = _stable_argsort(key.astype(np.int64) * nd + drank)
        else:
            o = np.lexsort((day, key))
        k, d = key[o], day[o]
        same = k[1:] == k[:-1]
    tie = np.r_[False, same & (d[1:] == d[:-1])]   # same key and day as the row before
    if tie.any():
        run = np.cumsum(~tie)
        t = np.flatnonzero(tie | np.r_[tie[1:], False])
        o[t] = o[t][np.lexsort((val[o[t]], run[t]))]
    return o, k, d, same, tie


def _stable_argsort(key: np.ndarray) -> np.ndarray:
    """``np.argsort(key, kind="stable")`` of non-negative integers, in 32 bits when they fit
    (twice as fast)."""
    if key.dtype != np.int32 and len(key) and int(key.max()) < 2**31:
        key = key.astype(np.int32)
    return np.argsort(key, kind="stable")


def _merge_same_day(rows: _Rows, raw: RawCells, iss: Issues) -> LabRows:
    """Count exact duplicates once and replace different values of one patient, analyte and
    day by their mean; list both."""
    pcode, acode, day, val = rows.pcode, rows.acode, rows.day, rows.value
    same_day = rows.same_day
    if not same_day.any():
        return LabRows(pcode, acode, day, val)
    src = rows.source(slice(None))
    exact = same_day & np.r_[False, val[1:] == val[:-1]]
    if exact.any():
        iss.add_at("labs", raw, src[exact], "exact duplicate of another row: counted once",
                   "{n} exact duplicate lab rows were counted once.")
        keep = ~exact
        pcode, acode, day, val, src = pcode[keep], acode[keep], day[keep], val[keep], src[keep]
        same_day = same_day[keep] & _same_key(pcode, acode, day)
    if same_day.any():
        gid = np.cumsum(~same_day) - 1
        cnt = np.bincount(gid)
        mean = np.bincount(gid, weights=val) / cnt
        multi = cnt[gid] > 1
        listing = pd.Series(val[multi]).groupby(gid[multi]).agg(
            lambda v: ", ".join(f"{x:g}" for x in v))
        iss.add_at("labs", raw, src[multi], [
            f"values {listing[g]} on the same day: their mean {mean[g]:g} is used"
            for g in gid[multi]],
            "{n} lab rows share patient, analyte and day with a different value; the "
            "mean of each such set is used (see issues).")
        first = ~same_day
        pcode, acode, day, val = pcode[first], acode[first], day[first], mean[gid[first]]
    return LabRows(pcode, acode, day, val)


def _same_key(pcode: np.ndarray, acode: np.ndarray, day: np.ndarray) -> np.ndarray:
    """True where a row has the patient, analyte and day of the row before it."""
    return np.r_[False, (pcode[1:] == pcode[:-1]) & (acode[1:] == acode[:-1])
                 & (day[1:] == day[:-1])]


# --------------------------------------------------------------------------------------------
# treatments
# --------------------------------------------------------------------------------------------

def clean_treatments(tx: pd.DataFrame, known: set[str] | None, iss: Issues) -> pd.DataFrame:
    """Usable treatment rows ``pid, drug, day, dose`` (dose in the drug's canonical unit),
    sorted by patient and day; every other row listed in ``iss``.

    Raises
    ------
    ColumnError
        A required column (patient_id, day, drug) is missing.
    """
    require_columns(tx, "treatments", ("patient_id", "day", "drug"))
    f = _frame_for(tx, "drug", "dose")
    ok = _common_checks("treatments", f, tx, known, iss)
    f["drug"] = parse.per_unique(f["name_raw"], schema.drug_named)
    unknown = ok & pd.isna(f["drug"]).to_numpy()
    iss.add("treatments", f, unknown, "drug not used for endpoints (kept); known: "
            + ", ".join(DRUGS), "{n} treatment rows name a drug core does not use for endpoints;"
            " they are kept (see issues).")
    ok &= ~unknown
    ok = _doses(tx, f, ok, iss)
    rows = np.flatnonzero(ok)
    pid = f["pid"].to_numpy(object)[rows]
    day = f["day"].to_numpy(float)[rows]
    # sort_values(["pid", "day"], kind="stable") on ranks: each distinct ID ranked once
    codes, uniq = pd.factorize(pid)
    rank = text_ranks(np.asarray(uniq, dtype=object))
    o = rows[np.lexsort((day, rank[codes]))]
    return pd.DataFrame({c: f[c].to_numpy()[o] for c in ("pid", "drug", "day", "dose")})


def _doses(tx: pd.DataFrame, f: pd.DataFrame, ok: np.ndarray, iss: Issues) -> np.ndarray:
    """Doses in the canonical unit; set aside unknown dose units, list missing and censored
    doses."""
    if "dose" in tx:
        n = parse.read_numbers(tx["dose"], None)
        dose, cens = n.values, n.censored
    else:
        dose, cens = np.full(len(f), np.nan), np.zeros(len(f), bool)
    drug = f["drug"].to_numpy(object)
    factor, bad_unit = units.dose_factors(drug, f["unit_raw"], ok)
    iss.add("treatments", f, bad_unit, "dose unit not recognised: not used; use mg for "
            "tocilizumab and g for fibrinogen concentrate",
            "{n} treatment rows have a dose unit core cannot convert and were not used.")
    ok = ok & ~bad_unit
    dosed = ok & np.isin(drug, list(units.DOSE_UNITS))
    nodose = dosed & np.isnan(dose)
    iss.add("treatments", f, nodose, "dose missing: counted as an administration; the patient's "
            "cumulative dose is left empty", "{n} tocilizumab/fibrinogen rows have no dose; "
            "cumulative doses of those patients are left empty.")
    iss.add("treatments", f, dosed & cens, "censored dose: bound used",
            "{n} censored doses were used at their bound.")
    ok, factor = _steroid_units(f, drug, ok, factor, iss)
    f["dose"] = dose * factor
    return ok


#: Corticosteroid dose units (folded) -> factor into mg, for as long as the registry
#: (core.ingest.units.DOSE_UNITS) does not carry the steroids itself.
_STEROID_UNITS = {"mg": 1.0, "": 1.0, "none": 1.0, "g": 1000.0, "ug": 0.001, "mcg": 0.001}


def _steroid_units(f: pd.DataFrame, drug: np.ndarray, ok: np.ndarray, factor: np.ndarray,
                   iss: Issues) -> tuple[np.ndarray, np.ndarray]:
    """Corticosteroid doses in mg (methylprednisolone "1 g" is 1000 mg, not 1 mg: the dose
    threshold depends on it); rows in another unit are listed and not used."""
    own = [d for d in schema.CORTICOSTEROIDS if d not in units.DOSE_UNITS]
    sel = ok & np.isin(drug, own)
    if not sel.any():
        return ok, factor
    key = parse.per_unique(f["unit_raw"], schema.fold_unit)
    known = np.array([k in _STEROID_UNITS for k in key], dtype=bool)
    bad = sel & ~known
    iss.add("treatments", f, bad, "corticosteroid dose unit not recognised: not used; use mg",
            "{n} corticosteroid rows have a dose unit core cannot convert and were not used.")
    factor = factor.copy()
    conv = sel & known
    factor[conv] = [_STEROID_UNITS[k] for k in key[conv]]
    return ok & ~bad, factor
