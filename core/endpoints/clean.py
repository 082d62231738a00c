"""Lab and treatment rows -> the rows the endpoints use; every other row listed with why.

:func:`clean_labs` and :func:`clean_treatments` are sequences of named checks. Each check takes
the rows still usable, lists in :class:`Issues` the ones it sets aside (with a problem per row
and one summary message per kind) and returns the mask of the rows still usable. Cells are read
by :mod:`core.ingest.parse` and units converted by :mod:`core.ingest.units`, as the loader does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core import schema
from core.endpoints.analytes import ACODE
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


def _problems(index: pd.Index, mask: np.ndarray, texts: list[str]) -> pd.Series:
    """A problem text per row: ``texts`` (one per True of ``mask``, in order), else ``""``."""
    out = np.full(len(index), "", dtype=object)
    out[np.asarray(mask, dtype=bool)] = texts
    return pd.Series(out, index=index, dtype=object)


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
    f["pid"] = parse.patient_ids(df["patient_id"]).to_numpy(object)
    day = parse.read_numbers(df["day"], None).values
    f["day"] = day
    no_id = pd.isna(f["pid"]).to_numpy()
    iss.add(table, f, no_id, "no patient_id: not used; fill in the patient ID",
            f"{{n}} {table} rows without a patient_id were not used.")
    bad_day = ~no_id & np.isnan(day)
    iss.add(table, f, bad_day, "day missing or not a number: not used; enter days after infusion",
            f"{{n}} {table} rows without a numeric day were not used.")
    out_day = ~no_id & ~np.isnan(day) & ((day < DAY_LO) | (day > DAY_HI))
    iss.add(table, f, out_day, f"day outside {DAY_LO:g}..{DAY_HI:g}: not used; check the day "
            "(days after infusion, not a date)",
            f"{{n}} {table} rows with a day outside {DAY_LO:g}..{DAY_HI:g} were not used.")
    ok = ~(no_id | bad_day | out_day)
    if known is not None:
        unknown = ok & ~f["pid"].isin(known).to_numpy()
        iss.add(table, f, unknown, "patient not in the patient table: not used; add the patient "
                "or correct the ID", f"{{n}} {table} rows belong to patients missing from the "
                "patient table and were not used.")
        ok &= ~unknown
    return ok


# --------------------------------------------------------------------------------------------
# labs
# --------------------------------------------------------------------------------------------

def clean_labs(labs: pd.DataFrame, known: set[str] | None,
               iss: Issues) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Usable lab rows as integer codes, sorted by patient, analyte and day.

    Parameters
    ----------
    labs : ``patient_id, day, analyte, value`` and optionally ``unit``.
    known : the patient table's IDs (None: every patient).
    iss : where every row not used as given is listed.

    Returns
    -------
    (DataFrame, ndarray, ndarray)
        ``pid`` (position into the second item, the patient IDs), ``analyte`` (code of
        :data:`core.endpoints.analytes.ACODE`), ``day``, ``value`` (canonical unit; same-day
        repeats merged); third item: every patient ID with a usable ID and day (even if no
        value was usable).

    Raises
    ------
    ColumnError
        A required column is missing.
    """
    require_columns(labs, "labs", ("patient_id", "day", "analyte", "value"))
    f = _frame_for(labs, "analyte", "value")
    ok = _common_checks("labs", f, labs, known, iss)
    ok_id = ok.copy()  # rows of patients that belong in the output, usable or not
    ok = _known_analytes(f, ok, iss)
    ok = _numeric_values(labs, f, ok, iss)
    ok = _convert_units(f, ok, iss)
    ok = _plausible(f, ok, iss)
    rows, puniq = _sorted_codes(f.loc[ok], iss)
    rows = _merge_same_day(rows, iss)
    everyone = pd.unique(f["pid"][pd.notna(f["pid"]).to_numpy() & ok_id])
    return rows, puniq, everyone


def _known_analytes(f: pd.DataFrame, ok: np.ndarray, iss: Issues) -> np.ndarray:
    """Fold analyte names to canonical ones; set aside unknown analytes."""
    f["analyte"] = parse.per_unique(f["name_raw"], schema.analyte_named)
    unknown = ok & pd.isna(f["analyte"]).to_numpy()
    iss.add("labs", f, unknown, "unknown analyte: kept, not used for endpoints (known: "
            + ", ".join(ANALYTES) + ")",
            "{n} lab rows have an analyte name core does not know; they are kept but not used "
            "for endpoints (see issues).")
    return ok & ~unknown


def _numeric_values(labs: pd.DataFrame, f: pd.DataFrame, ok: np.ndarray,
                    iss: Issues) -> np.ndarray:
    """Read the results; set aside rows without a number, list censored ones (used at their
    bound)."""
    n = parse.read_numbers(labs["value"], None)
    vals = n.values
    f["value"] = vals
    noval = ok & np.isnan(vals)
    iss.add("labs", f, noval, "no numeric result: not used",
            "{n} lab rows have no numeric result (empty or text such as 'n.a.') and were not "
            "used.")
    ok = ok & ~noval
    cens_ok = ok & n.censored
    cprob = _problems(f.index, cens_ok, [f"censored result: used as {v:g}" for v in vals[cens_ok]])
    iss.add("labs", f, cens_ok, cprob, "{n} censored lab results such as '<0.5' were used at "
            "their bound (listed in issues).")
    return ok


def _convert_units(f: pd.DataFrame, ok: np.ndarray, iss: Issues) -> np.ndarray:
    """Convert values to canonical units; set aside unknown units and units the patient's
    values contradict."""
    factor, given = units.lab_factors(f["analyte"].to_numpy(object), f["unit_raw"])
    stated = ok & given
    bad_unit = stated & np.isnan(factor)
    factor = np.where(stated, np.nan_to_num(factor, nan=1.0), 1.0)
    prob = _problems(f.index, bad_unit,
                     [f"unknown unit for {a}: not used; use one of {units.accepted_units(a)}"
                      for a in f["analyte"][bad_unit]])
    iss.add("labs", f, bad_unit, prob, "{n} lab rows have a unit core cannot convert and were"
            " not used (see issues).")
    ok = ok & ~bad_unit
    f["value"] = f["value"].to_numpy(float) * factor
    problem = units.contradicted_units(f["pid"].to_numpy(object), f["analyte"].to_numpy(object),
                                       f["unit_raw"].to_numpy(object), f["value"].to_numpy(float),
                                       factor, usable=ok)
    wrong = (problem != "").to_numpy()
    iss.add("labs", f, wrong, problem, "{n} lab rows carry values that contradict their unit "
            "(e.g. fibrinogen in g/L labelled mg/dL) and were not used (see issues).")
    return ok & ~wrong


def _plausible(f: pd.DataFrame, ok: np.ndarray, iss: Issues) -> np.ndarray:
    """Set aside values outside the analyte's plausible range."""
    lo = parse.per_unique(f["analyte"], lambda a: ANALYTES[a].plausible[0]
                          if isinstance(a, str) else -np.inf).astype(float)
    hi = parse.per_unique(f["analyte"], lambda a: ANALYTES[a].plausible[1]
                          if isinstance(a, str) else np.inf).astype(float)
    implaus = ok & ((f["value"].to_numpy() < lo) | (f["value"].to_numpy() > hi))
    pprob = _problems(f.index, implaus,
                      [f"outside the plausible range {ANALYTES[a].plausible[0]:g}-"
                       f"{ANALYTES[a].plausible[1]:g} {ANALYTES[a].unit}: not used; check for a "
                       "typo or the unit" for a in f["analyte"][implaus]])
    iss.add("labs", f, implaus, pprob,
            "{n} lab values outside the plausible range were not used (see issues).")
    return ok & ~implaus


def _sorted_codes(good: pd.DataFrame, iss: Issues) -> tuple[pd.DataFrame, np.ndarray]:
    """The usable rows coded and sorted by patient, analyte, day and value (stable), with
    messages about row order, times of day and days before infusion; and the patient IDs."""
    pcode, puniq = pd.factorize(good["pid"])
    acode = parse.per_unique(good["analyte"], lambda x: ACODE.get(str(x), -1)).astype(np.int64)
    day = good["day"].to_numpy(float)
    val = good["value"].to_numpy(float)
    o = np.lexsort((val, day, acode, pcode))
    if len(good):
        # input not in day order within a patient's analyte <=> the sort moved a later day
        # in front of an earlier one
        grp_same = (pcode[o][1:] == pcode[o][:-1]) & (acode[o][1:] == acode[o][:-1])
        if (grp_same & (day[o][1:] != day[o][:-1]) & (o[1:] < o[:-1])).any():
            iss.messages.append("Lab rows were not in day order; they were sorted (results do "
                                "not depend on row order).")
        frac = day != np.floor(day)
        if frac.any():
            iss.messages.append(f"{int(frac.sum())} lab rows have fractional days (times of day);"
                                " they are used as they are, and DIC scores group them by "
                                "calendar day.")
        if (day < 0).any():
            iss.messages.append(f"{int((day < 0).sum())} lab rows lie before infusion (day < 0);"
                                " they count for baselines only.")
    rows = good.iloc[o].reset_index(drop=True).assign(
        pcode=pcode[o].astype(np.int64), acode=acode[o], day=day[o], value=val[o])
    return rows, np.asarray(puniq, dtype=object)


def _merge_same_day(rows: pd.DataFrame, iss: Issues) -> pd.DataFrame:
    """Count exact duplicates once and replace different values of one patient, analyte and
    day by their mean; list both. Returns ``pid, analyte, day, value``."""
    pcode, acode = rows["pcode"].to_numpy(), rows["acode"].to_numpy()
    day, val = rows["day"].to_numpy(float), rows["value"].to_numpy(float)
    same_day = _same_key(pcode, acode, day)
    exact = same_day & np.r_[False, val[1:] == val[:-1]]
    if exact.any():
        iss.add("labs", rows, exact, "exact duplicate of another row: counted once",
                "{n} exact duplicate lab rows were counted once.")
        keep = ~exact
        rows = rows[keep].reset_index(drop=True)
        pcode, acode, day, val = pcode[keep], acode[keep], day[keep], val[keep]
        same_day = same_day[keep] & _same_key(pcode, acode, day)
    if same_day.any():
        gid = np.cumsum(~same_day) - 1
        cnt = np.bincount(gid)
        mean = np.bincount(gid, weights=val) / cnt
        multi = cnt[gid] > 1
        listing = pd.Series(val[multi]).groupby(gid[multi]).agg(
            lambda v: ", ".join(f"{x:g}" for x in v))
        prob = _problems(pd.RangeIndex(len(rows)), multi, [
            f"values {listing[g]} on the same day: their mean {mean[g]:g} is used"
            for g in gid[multi]])
        iss.add("labs", rows, multi, prob,
                "{n} lab rows share patient, analyte and day with a different value; the "
                "mean of each such set is used (see issues).")
        first = ~same_day
        pcode, acode, day, val = pcode[first], acode[first], day[first], mean[gid[first]]
    return pd.DataFrame({"pid": pcode.astype(np.int64), "analyte": acode, "day": day,
                         "value": val})


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
    good = f.loc[ok, ["pid", "drug", "day", "dose"]]
    return good.sort_values(["pid", "day"], kind="stable").reset_index(drop=True)


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
