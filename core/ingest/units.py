"""Units: the one place where values are converted to canonical units.

The registry (:data:`core.schema.ANALYTES`) holds each analyte's canonical unit and the factors
of the other units it accepts; this module applies them, in the same way for

* a patient-table header (``"Fibrinogen nadir [g/L]"``: :func:`header_factor`),
* the unit column of the lab table (:func:`lab_factors`, :func:`convert_lab_units`), and
* treatment doses (:func:`dose_factors`).

Units are compared folded (:func:`core.schema.fold_unit`: case, white space, ``µ``/``μ``).

The rule for a unit that contradicts the values is strict: a stated unit is believed and
converted, and a patient's values that lie outside the analyte's typical range in their stated
(or assumed canonical) unit but inside it under another accepted unit are listed and not used
(:func:`contradicted_units`), never silently rescaled. The only values rescaled without a
stated unit are those of a patient-table fibrinogen column whose header names no unit and
whose median lies below 15 (g/L written where mg/dL is meant); that conversion is reported.
"""

from __future__ import annotations

import functools
from typing import Any, cast

import numpy as np
import pandas as pd

from core import schema
from core.ingest.parse import per_unique

#: Ranges in the canonical unit inside which a patient's median falls; a median outside that
#: lands inside under another accepted unit means the stated unit is wrong.
TYPICAL: dict[str, tuple[float, float]] = {
    "fibrinogen": (20.0, 1500.0), "albumin": (0.8, 7.0), "che": (0.3, 30.0),
    "d_dimer": (0.05, 150.0), "crp": (0.01, 80.0),
}
#: Accepted dose units per drug (folded) -> factor into the canonical dose unit (tocilizumab
#: mg, fibrinogen concentrate g); ``""`` (no unit) is the canonical one.
DOSE_UNITS: dict[str, dict[str, float]] = {
    "tocilizumab": {"mg": 1.0, "g": 1000.0, "": 1.0},
    "fibrinogen_concentrate": {"g": 1.0, "mg": 0.001, "": 1.0},
}
#: A patient-table fibrinogen column without a unit in its header whose median lies in
#: (0, this) holds g/L and is converted to mg/dL (x 100), with a note.
FIBRINOGEN_G_PER_L_BELOW = 15.0


@functools.cache
def unit_factors(analyte: str) -> dict[str, float]:
    """Folded unit -> factor into the canonical unit of ``analyte`` (do not mutate).

    Raises
    ------
    ValueError
        ``analyte`` is not in :data:`core.schema.ANALYTES`.
    """
    if analyte not in schema.ANALYTES:
        raise ValueError(f"unknown analyte {analyte!r}; known: {', '.join(schema.ANALYTES)}")
    return {schema.fold_unit(u): f for u, f in schema.ANALYTES[analyte].units.items()}


def accepted_units(analyte: str) -> str:
    """The units ``analyte`` accepts, for a message: ``'g/l', 'mg/dl', ...``."""
    return ", ".join(repr(k) for k in schema.ANALYTES[analyte].units if k)


# --------------------------------------------------------------------------------------------
# patient-table headers
# --------------------------------------------------------------------------------------------

def header_factor(column: str, header: str, values: pd.Series) -> tuple[float, str | None]:
    """The factor that converts a patient column to its canonical unit, and a sentence for the
    load report (None when nothing was converted).

    Parameters
    ----------
    column : the canonical column (``"fibrinogen_nadir"``); only analyte summaries convert.
    header : the uploaded header; a unit in brackets (``"[g/L]"``) is converted from.
    values : the column's numbers (for a fibrinogen column without a unit: g/L when the median
        is below :data:`FIBRINOGEN_G_PER_L_BELOW`).
    """
    analyte = schema.analyte_of(column)
    if analyte is None:
        return 1.0, None
    unit = schema.header_unit(header)
    factor = unit_factors(analyte.name).get(unit) if unit is not None else None
    if factor is not None and factor != 1.0:
        return factor, f"{column}: header says {unit}; converted to {analyte.unit} (x {factor:g})"
    if unit is None and analyte.name == "fibrinogen":
        med = values.median() if values.notna().any() else np.nan
        if pd.notna(med) and 0 < med < FIBRINOGEN_G_PER_L_BELOW:
            return 100.0, (f"{column}: values (median {med:g}) look like g/L; converted to "
                           "mg/dL (x 100). Put the unit in the header to be explicit.")
    return 1.0, None


# --------------------------------------------------------------------------------------------
# the lab table's unit column
# --------------------------------------------------------------------------------------------

def lab_factors(analytes: pd.Series | np.ndarray,
                units: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per lab row, the factor into its analyte's canonical unit.

    Parameters
    ----------
    analytes : canonical analyte names (None or unknown names: factor NaN when a unit is
        given).
    units : the unit cells as uploaded (None/NaN/empty: no unit given).

    Returns
    -------
    (factor, given)
        ``factor`` is 1.0 where no unit is given and NaN where the given unit is not one the
        analyte accepts; ``given`` says where a unit was given. Work is per distinct
        (analyte, unit) pair, so millions of rows cost little.
    """
    key = per_unique(np.asarray(units, dtype=object),
                     _unit_key)
    given = key != ""
    factor = np.ones(len(key))
    if not given.any():
        return factor, given
    # one look-up per distinct (analyte, unit) pair
    ac, au = pd.factorize(pd.Series(np.asarray(analytes, dtype=object)[given], dtype=object))
    uc, uu = pd.factorize(pd.Series(key[given], dtype=object))
    width = len(uu) + 1
    pc, pu = pd.factorize((ac.astype(np.int64) + 1) * width + uc)
    names = [None, *au]
    table = np.array([_factor(names[int(q) // width], uu[int(q) % width]) for q in pu])
    factor[given] = table[pc]
    return factor, given


def _missing(u: object) -> bool:
    """None, NaN or pandas' NA (a unit cell left empty)."""
    return u is None or bool(pd.isna(cast(Any, u)))


def _unit_key(u: object) -> str:
    """A unit cell folded for look-up; ``""`` when empty."""
    return "" if _missing(u) else schema.fold_unit(u)


def _factor(analyte: object, unit: str) -> float:
    if not isinstance(analyte, str) or analyte not in schema.ANALYTES:
        return np.nan
    return unit_factors(analyte).get(unit, np.nan)


def convert_lab_units(labs: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The lab table with every value in a recognised unit converted to the canonical unit
    (its ``unit`` cell set to that unit), and one sentence per analyte and unit converted.

    Values in units the analyte does not accept, and values without a unit, are left as they
    are; the endpoint derivation lists them (:func:`contradicted_units`).
    """
    if "unit" not in labs or not len(labs):
        return labs, []
    factor, _ = lab_factors(labs["analyte"].to_numpy(object), labs["unit"].to_numpy(object))
    convert = ~np.isnan(factor) & (factor != 1.0)
    if not convert.any():
        return labs, []
    key = labs["unit"].fillna("").astype(str).map(schema.fold_unit)
    sentences = []
    for name, a in schema.ANALYTES.items():
        rows = labs["analyte"].eq(name).to_numpy() & convert
        for u, f in a.units.items():
            hit = rows & key.eq(schema.fold_unit(u)).to_numpy()
            if hit.any():
                sentences.append(f"labs: {int(hit.sum())} {name} values in {u} converted to "
                                 f"{a.unit} (x {f:g})")
    out = labs.assign(value=labs["value"] * np.where(convert, factor, 1.0))
    out.loc[convert, "unit"] = out.loc[convert, "analyte"].map(lambda n: schema.ANALYTES[n].unit)
    return out, sentences


def contradicted_units(patients: np.ndarray, analytes: np.ndarray, units: np.ndarray,
                       values: np.ndarray, factors: np.ndarray,
                       usable: np.ndarray | None = None) -> pd.Series:
    """Why each lab row's unit contradicts its values ("" where it does not).

    Per patient, analyte and stated unit, the median of the converted values is compared with
    the analyte's :data:`TYPICAL` range; when it lies outside and another accepted unit would
    bring it inside, every row of that group is named with the likely unit.

    Parameters
    ----------
    patients, analytes : per row, the patient and the canonical analyte.
    units : per row, the unit as uploaded (None: no unit given, the canonical one assumed).
    values : per row, the value converted by ``factors``.
    factors : per row, the factor applied (:func:`lab_factors`).
    usable : rows to check (default all); the others are never named.

    Returns
    -------
    Series of str, indexed by row position.
    """
    problem = pd.Series("", index=range(len(values)), dtype=object)
    cand = np.isin(np.asarray(analytes, dtype=object), list(TYPICAL))
    if usable is not None:
        cand &= usable
    if not cand.any():
        return problem
    sub = pd.DataFrame({"pid": np.asarray(patients, dtype=object)[cand],
                        "analyte": np.asarray(analytes, dtype=object)[cand],
                        "value": np.asarray(values, dtype=float)[cand],
                        "factor": np.asarray(factors, dtype=float)[cand]},
                       index=np.flatnonzero(cand))
    sub["u"] = per_unique(np.asarray(units, dtype=object)[cand],
                          lambda u: "" if _missing(u) else str(u))
    med = sub.groupby(["pid", "analyte", "u"], sort=False)["value"].transform("median")
    for (key, u), g in sub.assign(med=med).groupby(["analyte", "u"], sort=False):
        a = str(key)
        lo, hi = TYPICAL[a]
        g = g[(g["med"] < lo) | (g["med"] > hi)]
        if g.empty:
            continue
        for alt, fac in schema.ANALYTES[a].units.items():
            ratio = fac / g["factor"]
            fits = (g["med"] * ratio >= lo) & (g["med"] * ratio <= hi)
            sel = g.index[fits & (problem[g.index] == "")]
            if len(sel):
                shown = u or schema.ANALYTES[a].unit + " (no unit given, canonical assumed)"
                problem[sel] = (f"{a} values look like {alt} (patient median "
                                + g.loc[sel, "med"].div(g.loc[sel, "factor"]).map("{:g}".format)
                                + f"), not {shown}: not used; correct the unit or convert "
                                "the values")
    return problem


# --------------------------------------------------------------------------------------------
# treatment doses
# --------------------------------------------------------------------------------------------

def dose_factors(drugs: np.ndarray, units: pd.Series | np.ndarray,
                 usable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per treatment row, the factor into the drug's canonical dose unit, and a mask of the
    usable rows of a dosed drug (:data:`DOSE_UNITS`) whose unit is not accepted.

    Rows that are not ``usable`` and drugs without dose units keep factor 1.0.
    """
    factor = np.ones(len(drugs))
    key = per_unique(np.asarray(units, dtype=object),
                     _unit_key)
    bad = np.zeros(len(drugs), bool)
    for drug, table in DOSE_UNITS.items():
        sel = usable & (drugs == drug)
        for u in pd.unique(key[sel]):
            m = sel & (key == u)
            if u in table:
                factor[m] = table[u]
            else:
                bad |= m
    return factor, bad
