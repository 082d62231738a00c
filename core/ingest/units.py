"""Units: the one place where values are converted to canonical units.

The registry (:data:`core.schema.ANALYTES`) holds each analyte's canonical unit, the factors
of the other units it accepts, the conversions that are approximate or rest on an assumption
(``unit_notes``: DDU -> FEU x 2) and the units it recognises but cannot convert
(``not_converted``: Quick % to INR); this module applies them, in the same way for

* a patient-table header (``"D-dimer max [ng/mL FEU]"``: :func:`header_unit`),
* the unit column of the lab table (:func:`lab_factors`, :func:`convert_lab_units`; Quick %
  and PT seconds are kept apart from INR, :data:`PT_FAMILY`; PT seconds become an INR
  approximation only with the laboratory's normal PT), and
* treatment doses (:func:`convert_dose_units` at load, :func:`dose_factors`).

Units are compared folded (:func:`core.schema.fold_unit`: case, white space, ``µ``/``μ``/
``mc``, powers of ten). Every conversion, every unit not converted and every contradiction
is a sentence of the load report; :func:`registry_table` shows the registry on the Data page.

The rule for a unit that contradicts the values is strict: a stated unit is believed and
converted, and values that lie outside the analyte's typical range in their stated (or
assumed canonical) unit but inside it under another accepted unit (:data:`DISTINCT_RATIO`
apart) are listed and not used (:func:`contradicted_units`), never rescaled by guess. The only
values rescaled without a stated unit are those of a patient-table fibrinogen column whose
header names no unit and whose median lies below 15 (g/L written where mg/dL is meant); that
conversion is reported.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from core import schema
from core.ingest.coded import categorical, codes_and_texts, is_coded
from core.ingest.parse import per_unique

#: Ranges in the canonical unit inside which a patient's median falls; a median outside that
#: lands inside under another accepted unit means the stated unit is wrong.
TYPICAL: dict[str, tuple[float, float]] = {
    "fibrinogen": (20.0, 1500.0), "albumin": (0.8, 7.0), "che": (0.3, 30.0),
    "d_dimer": (0.05, 150.0), "crp": (0.01, 80.0), "platelets": (1.0, 2000.0),
    "haemoglobin": (2.5, 25.0), "creatinine": (0.1, 25.0),
}
#: Another accepted unit explains a contradicting median only when it differs by at least
#: this ratio (DDU vs FEU, x 2, is never "the likely unit": the ranges overlap).
DISTINCT_RATIO = 5.0
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

@dataclass(frozen=True)
class HeaderUnit:
    """What the unit in a patient-table header means for the column's values.

    Attributes
    ----------
    factor : multiplies the values into the canonical unit (NaN: the values cannot be used).
    sentence : for the load report's conversions (None: nothing to say).
    problem : why the column's values are not used ("" when they are): an unknown unit, a
        unit that cannot be converted, or values that contradict the stated unit; every
        non-missing cell is then listed with it and set missing.
    """

    factor: float
    sentence: str | None = None
    problem: str = ""


def header_unit(column: str, header: str, values: pd.Series) -> HeaderUnit:
    """How to bring a patient column to its canonical unit (see :class:`HeaderUnit`).

    Parameters
    ----------
    column : the canonical column (``"fibrinogen_nadir"``); only analyte summaries convert.
    header : the uploaded header; a unit in brackets (``"[g/L]"``, ``"[ng/mL FEU]"``) is
        converted from, with the analyte's registry (:data:`core.schema.ANALYTES`).
    values : the column's numbers as written. Without a unit in the header, a fibrinogen
        column whose median is below :data:`FIBRINOGEN_G_PER_L_BELOW` is g/L (x 100, said);
        with or without one, a median outside the analyte's :data:`TYPICAL` range that
        another accepted unit would bring inside contradicts the unit: listed, not used.
    """
    analyte = schema.analyte_of(column)
    if analyte is None:
        return HeaderUnit(1.0)
    a = analyte.name
    written = _written_unit(header)
    unit = schema.header_unit(header)
    if unit is not None and unit not in unit_factors(a):
        why = not_converted_reason(a, unit)
        if why:
            return HeaderUnit(np.nan, f"{column}: header says '{written}': not converted "
                              f"({why}); values not used", f"unit '{written}' not converted: "
                              f"{why}; set missing")
        return HeaderUnit(np.nan, f"{column}: header says '{written}', a unit {a} does not "
                          f"accept ({accepted_units(a)}); values not used",
                          f"unit '{written}' in the header is not one {a} accepts "
                          f"({accepted_units(a)}); set missing: correct the header")
    med = float(values.median()) if values.notna().any() else np.nan
    if unit is None and a == "fibrinogen" and 0 < med < FIBRINOGEN_G_PER_L_BELOW:
        return HeaderUnit(100.0, f"{column}: values (median {med:g}) look like g/L; converted "
                          "to mg/dL (x 100). Put the unit in the header to be explicit.")
    factor = unit_factors(a).get(unit, 1.0) if unit is not None else 1.0
    likely = _likely_unit(a, med * factor, factor)
    if likely is not None:
        stated = f"'{written}' as the header says" if unit else \
            f"{analyte.unit} (no unit in the header, canonical assumed)"
        return HeaderUnit(np.nan, f"{column}: values (median {med:g}) look like {likely}, not "
                          f"{stated}; values not used: correct the header or the values",
                          f"values (median {med:g}) look like {likely}, not {stated}; set "
                          "missing")
    if unit is None or (factor == 1.0 and not unit_note(a, unit)):
        return HeaderUnit(1.0)
    note = unit_note(a, unit)
    return HeaderUnit(factor, f"{column}: header says '{written}'; converted to {analyte.unit} "
                      f"(x {factor:g})" + (f"; {note}" if note else ""))


def header_factor(column: str, header: str, values: pd.Series) -> tuple[float, str | None]:
    """:func:`header_unit` as ``(factor, sentence)`` (factor NaN: values not usable)."""
    h = header_unit(column, header, values)
    return h.factor, h.sentence


def _written_unit(header: str) -> str:
    """The unit as the header writes it (for messages): ``"ng/mL FEU"``."""
    m = re.search(r"\[\s*([^\]]+?)\s*\]", header)
    found = [m.group(1)] if m else re.findall(r"\(\s*([^()]+?)\s*\)", header)
    return found[-1].strip() if found else ""


def _likely_unit(analyte: str, median: float, factor: float) -> str | None:
    """The accepted unit that would bring a median (already converted by ``factor``) inside
    the analyte's :data:`TYPICAL` range, when it lies outside; else None."""
    if analyte not in TYPICAL or not np.isfinite(median):
        return None
    lo, hi = TYPICAL[analyte]
    if lo <= median <= hi:
        return None
    for alt, fac in schema.ANALYTES[analyte].units.items():
        if _distinct(fac / factor) and lo <= median * fac / factor <= hi:
            return alt
    return None


def _distinct(ratio: float) -> bool:
    """Two units' factors differ by at least :data:`DISTINCT_RATIO` either way."""
    return bool(ratio >= DISTINCT_RATIO or ratio <= 1 / DISTINCT_RATIO)


def unit_note(analyte: str, unit: str) -> str:
    """Why a conversion from ``unit`` (folded) is approximate or assumed ("" if exact)."""
    notes = {schema.fold_unit(u): n for u, n in schema.ANALYTES[analyte].unit_notes.items()}
    return notes.get(unit, "")


def not_converted_reason(analyte: str, unit: str) -> str:
    """Why ``unit`` (folded) is recognised for ``analyte`` but not converted ("" if it is not
    such a unit)."""
    reasons = {schema.fold_unit(u): n for u, n in schema.ANALYTES[analyte].not_converted.items()}
    return reasons.get(unit, "")


# --------------------------------------------------------------------------------------------
# the lab table's unit column
# --------------------------------------------------------------------------------------------

def lab_factors(analytes: pd.Series | np.ndarray, units: pd.Series | np.ndarray, *,
                key: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per lab row, the factor into its analyte's canonical unit.

    Parameters
    ----------
    analytes : canonical analyte names (None or unknown names: factor NaN when a unit is
        given).
    units : the unit cells as uploaded (None/NaN/empty: no unit given).
    key : the units folded (:func:`_unit_keys`) when the caller has them.

    Returns
    -------
    (factor, given)
        ``factor`` is 1.0 where no unit is given and NaN where the given unit is not one the
        analyte accepts; ``given`` says where a unit was given. Work is per distinct
        (analyte, unit) pair, so millions of rows cost little.
    """
    if key is None:
        key = _unit_keys(units)
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


def _unit_keys(units: pd.Series | np.ndarray) -> np.ndarray:
    """:func:`_unit_key` of every unit cell (once per distinct cell)."""
    return per_unique(np.asarray(units, dtype=object), _unit_key)


def _isin(values: pd.Series | np.ndarray, items: Iterable[str]) -> np.ndarray:
    """Where an object array holds one of a few texts: ``np.isin`` by hashing (numpy's
    ``isin`` compares object arrays element by element, once per item)."""
    return pd.Series(np.asarray(values, dtype=object), dtype=object).isin(
        list(items)).to_numpy(bool)


def _factor(analyte: object, unit: str) -> float:
    if not isinstance(analyte, str) or analyte not in schema.ANALYTES:
        return np.nan
    return unit_factors(analyte).get(unit, np.nan)


#: Analytes that are one measurement, the prothrombin time, in different units: a lab row's
#: unit says which it is (``"%"``: Quick, ``"s"``: seconds, none or ``"INR"``: INR).
PT_FAMILY: tuple[str, ...] = ("inr", "quick", "pt")


def convert_lab_units(labs: pd.DataFrame, *, pt_normal_seconds: float | None = None,
                      pt_isi: float = 1.0) -> tuple[pd.DataFrame, list[str]]:
    """The lab table with every value in a recognised unit converted to the canonical unit
    (its ``unit`` cell set to that unit), and one sentence per analyte and unit: converted
    (with the factor, and why it is approximate where it is), not converted (a unit the
    analyte does not accept, Quick % or PT seconds that cannot become an INR), or contradicted
    by the values.

    Values that are not converted are left as they are; the endpoint derivation does not use
    them and lists them (:func:`contradicted_units`). Nothing is rescaled without a stated
    unit.

    Parameters
    ----------
    labs : the validated lab table (canonical analyte names where known).
    pt_normal_seconds : the laboratory's normal (mean normal) PT in seconds. Given, PT values
        in seconds become an INR approximation, ``(PT / normal) ** pt_isi`` (listed as
        approximate); None (default): they are kept as analyte ``pt`` and listed as not
        converted.
    pt_isi : the thromboplastin's ISI (1.0 when unknown: the INR is then the PT ratio).

    Raises
    ------
    ValueError
        ``pt_normal_seconds`` or ``pt_isi`` is not a positive number.
    """
    if pt_normal_seconds is not None and not (np.isfinite(pt_normal_seconds)
                                              and pt_normal_seconds > 0):
        raise ValueError(f"pt_normal_seconds must be a positive number of seconds; got "
                         f"{pt_normal_seconds!r}")
    if not (np.isfinite(pt_isi) and pt_isi > 0):
        raise ValueError(f"pt_isi must be a positive number; got {pt_isi!r}")
    if "unit" not in labs or not len(labs):
        return labs, []
    if all(c in labs and is_coded(labs[c]) for c in ("patient_id", "analyte", "unit")):
        return _convert_coded(labs, pt_normal_seconds, pt_isi)
    sentences: list[str] = []
    labs = _route_pt_family(labs, sentences, pt_to_inr=pt_normal_seconds is not None)
    if pt_normal_seconds is not None:
        labs = _pt_to_inr(labs, pt_normal_seconds, pt_isi, sentences)
    analytes = labs["analyte"].to_numpy(object)
    unit = labs["unit"].to_numpy(object)
    key = _unit_keys(unit)
    factor, given = lab_factors(analytes, unit, key=key)
    sentences += _lab_sentences(analytes, key, factor, given, labs["unit"])
    ok = given & ~np.isnan(factor)
    applied = np.where(ok, factor, 1.0)
    wrong, said = _contradictions(labs, labs["value"].to_numpy(float) * applied, applied,
                                  ~given | ok)
    ok &= ~wrong   # contradicted rows keep their value and unit: the derivation lists them
    out = labs.assign(value=labs["value"] * np.where(ok, factor, 1.0))
    names = out.loc[ok, "analyte"]
    out.loc[ok, "unit"] = names.map({n: schema.ANALYTES[n].unit for n in pd.unique(names)})
    return out, [s for s in sentences + said if s]


def _first_seen(pair: np.ndarray, present: np.ndarray) -> np.ndarray:
    """The pair codes in ``present`` (those some row has) in the order they first appear in
    ``pair`` (a prefix of the rows usually holds all of them)."""
    want = set(np.flatnonzero(present).tolist())
    for stop in (100_000, len(pair)):
        seen = pd.unique(pair[:stop])
        if set(seen.tolist()) >= want or stop >= len(pair):
            return np.asarray(seen)
    raise AssertionError("unreachable")


def _convert_coded(labs: pd.DataFrame, pt_normal_seconds: float | None,
                   pt_isi: float) -> tuple[pd.DataFrame, list[str]]:
    """:func:`convert_lab_units` of a lab table whose patient_id, analyte and unit columns are
    Categorical (the ingest's), with the same result and sentences. Every rule depends on
    the row's analyte and unit only, so it runs once per (analyte, unit) pair present and is
    spread to the rows by the pair's code; only the patient medians of
    :func:`contradicted_units` look at rows, and only at the groups that hold a value outside
    the typical range (a median of values inside a range lies inside it)."""
    a_codes, a_names = codes_and_texts(labs["analyte"])
    u_codes, u_texts = codes_and_texts(labs["unit"])
    n_a, width = len(a_names), len(u_texts) + 1
    a_idx = np.where(a_codes < 0, n_a, a_codes) if (a_codes < 0).any() else a_codes
    pair = a_idx.astype(np.int32) * np.int32(width) + u_codes.astype(np.int32) + np.int32(1)
    n_pairs = (n_a + 1) * width
    counts = np.bincount(pair, minlength=n_pairs)
    present = counts > 0
    order = _first_seen(pair, present)  # pairs in the order they first appear
    # per pair: analyte (None: no analyte) and unit text (None: no unit), as the rows have them
    name: list[str | None] = [a_names[p // width] if p // width < n_a else None
                              for p in range(n_pairs)]
    text: list[str | None] = [u_texts[p % width - 1] if p % width else None
                              for p in range(n_pairs)]
    key = [_unit_key(t) for t in text]
    sentences: list[str] = []
    pt_to_inr = pt_normal_seconds is not None
    # Quick % and PT seconds under their own analytes (_route_pt_family)
    target = list(name)
    for p in np.flatnonzero(present):
        if name[p] in PT_FAMILY:
            for member in PT_FAMILY:
                if key[p] and key[p] in unit_factors(member):
                    target[p] = member
    moved = np.array([t != a for t, a in zip(target, name)])
    tgt = np.array(target, dtype=object)
    for member in ("quick",) if pt_to_inr else ("quick", "pt"):
        rows = int(counts[tgt == member].sum())
        if not rows:
            continue
        from_inr = int(counts[(tgt == member) & moved].sum())
        why = schema.ANALYTES["inr"].not_converted["%" if member == "quick" else "s"]
        sentences.append(f"labs: {rows} prothrombin-time values in "
                         f"{schema.ANALYTES[member].unit} kept as analyte '{member}', not "
                         f"converted to INR ({why})"
                         + (f"; {from_inr} of them were named INR/PT but carry that unit"
                            if from_inr else ""))
    name = target
    value = labs["value"].to_numpy(dtype=float)
    if pt_normal_seconds is not None:  # PT seconds as an INR approximation (_pt_to_inr)
        pt = np.array([a == "pt" for a in name]) & present
        if pt.any():
            rows_pt = pt[pair]
            value = value.copy()
            value[rows_pt] = (value[rows_pt] / pt_normal_seconds) ** pt_isi
            for p in np.flatnonzero(pt):
                name[p], text[p], key[p] = "inr", "INR", _unit_key("INR")
            rule = "PT ratio" if pt_isi == 1.0 else f"(PT / normal PT) ^ {pt_isi:g}"
            sentences.append(f"labs: {int(counts[pt].sum())} PT values in s converted to an "
                             f"INR approximation: {rule} with the normal PT "
                             f"{pt_normal_seconds:g} s"
                             + (" (ISI assumed 1.0)" if pt_isi == 1.0 else "") + ": approximate")
    given = np.array([k != "" for k in key])
    factor = np.array([_factor(a, k) if g else 1.0 for a, k, g in zip(name, key, given)])
    # one sentence per (analyte, folded unit) given, in the order they first appear
    groups: dict[tuple[str, str], list[int]] = {}
    for p in order:
        if given[p] and name[p] is not None:
            groups.setdefault((str(name[p]), key[p]), []).append(int(p))
    for (a, k), members in groups.items():
        if a not in schema.ANALYTES:
            continue
        written = list(dict.fromkeys(text[p] for p in members))[:4]
        sentences.append(_lab_sentence_of(a, k, int(counts[members].sum()),
                                          float(factor[members[0]]), written))
    ok = given & ~np.isnan(factor)
    applied = np.where(ok, factor, 1.0)
    converted = value * applied[pair]
    hit, said = _contradictions_coded(labs, pair, present, name, text, converted,
                                      applied, ~given | ok)
    converted[hit] = value[hit]  # contradicted rows keep their value and unit: the
    unit_ok = [schema.ANALYTES[a].unit if o and a is not None else t  # derivation lists them
               for a, t, o in zip(name, text, ok)]
    unit_code = pair
    if len(hit):
        unit_code = pair.copy()
        unit_code[hit] += np.int32(n_pairs)
    out = {c: labs[c] for c in labs.columns}
    out["value"] = pd.Series(converted, index=labs.index)
    out["analyte"] = categorical(pair, np.array(name, dtype=object), labs.index, counts=counts)
    out["unit"] = categorical(unit_code, np.array(unit_ok + text, dtype=object), labs.index,
                              counts=None if len(hit) else counts)
    frame = pd.DataFrame(out, index=labs.index, copy=False)
    return frame, [s for s in sentences + said if s]


def _contradictions_coded(labs: pd.DataFrame, pair: np.ndarray, present: np.ndarray,
                          name: list[str | None], text: list[str | None],
                          values: np.ndarray, factor: np.ndarray, usable: np.ndarray
                          ) -> tuple[np.ndarray, list[str]]:
    """:func:`_contradictions` of the coded table: the row positions whose values contradict
    their unit, and the sentences. Per pair: ``name``, ``text``, ``factor``, ``usable``."""
    lo = np.full(len(name), -np.inf)
    hi = np.full(len(name), np.inf)
    for p in np.flatnonzero(present & usable):
        if name[p] in TYPICAL:
            lo[p], hi[p] = TYPICAL[str(name[p])]
    outside = (values < lo[pair]) | (values > hi[pair])
    none = np.empty(0, dtype=np.intp)
    if not outside.any():
        return none, []
    # the (patient, analyte, unit) groups holding such a value: only their medians can lie
    # outside; analyte and unit as the texts group them (two pairs may now share both)
    groups = pd.factorize(pd.Series([f"{a}\x00{t}" for a, t in zip(name, text)]))[0]
    pid_codes, pid_texts = codes_and_texts(labs["patient_id"])
    n_g = int(groups.max()) + 1
    gid = pid_codes.astype(np.int64) * n_g + groups[pair]
    suspect = np.zeros(len(pid_texts) * n_g + 1, dtype=bool)
    suspect[gid[outside]] = True
    rows = np.flatnonzero(suspect[gid] & np.isfinite(lo[pair]))
    sub_pair = pair[rows]
    problem = contradicted_units(pid_texts[pid_codes[rows]],
                                 np.array(name, dtype=object)[sub_pair],
                                 np.array(text, dtype=object)[sub_pair],
                                 values[rows], factor[sub_pair])
    hit = (problem != "").to_numpy()
    if not hit.any():
        return none, []
    sub = pd.DataFrame({"patient_id": pid_texts[pid_codes[rows[hit]]],
                        "analyte": np.array(name, dtype=object)[sub_pair[hit]]})
    return rows[hit], _contradiction_sentences(sub, problem[np.flatnonzero(hit)[0]])


def _lab_sentences(analytes: np.ndarray, key: np.ndarray, factor: np.ndarray,
                   given: np.ndarray, unit: pd.Series) -> list[str]:
    """Per known analyte and folded unit given (in the order they first appear), the sentence
    of :func:`_lab_sentence`; the rows are grouped by codes, not by a groupby of text."""
    rows = np.flatnonzero(given)
    a_codes, a_names = pd.factorize(pd.Series(analytes[rows], dtype=object))
    rows, a_codes = rows[a_codes >= 0], a_codes[a_codes >= 0]  # groupby drops missing keys
    if not len(rows):
        return []
    k_codes, k_names = pd.factorize(pd.Series(key[rows], dtype=object))
    pair, pairs = pd.factorize(a_codes.astype(np.int64) * len(k_names) + k_codes)
    order = np.argsort(pair, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(pair, minlength=len(pairs)))]
    text = unit.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(text[rows], skipna=False) != "string":
        text = unit.astype(str).to_numpy(dtype=object)
    out = []
    for j, p in enumerate(pairs):
        a = a_names[int(p) // len(k_names)]
        if a not in schema.ANALYTES:
            continue  # unknown analytes are named in a note of their own
        members = rows[order[bounds[j]:bounds[j + 1]]]
        written = pd.unique(pd.Series(text[members], dtype=object))[:4]
        out.append(_lab_sentence_of(str(a), str(k_names[int(p) % len(k_names)]),
                                    len(members), float(factor[members[0]]), written))
    return out


def _lab_sentence(a: str, key: str, g: pd.DataFrame) -> str:
    """One sentence about the lab rows of analyte ``a`` whose unit folds to ``key``."""
    return _lab_sentence_of(a, key, len(g), float(g["factor"].iloc[0]),
                            pd.unique(g["written"])[:4])


def _lab_sentence_of(a: str, key: str, n: int, f: float, spellings: Iterable[object]) -> str:
    """One sentence about ``n`` lab rows of analyte ``a`` whose unit folds to ``key`` (factor
    ``f``), written as ``spellings`` (the first four)."""
    written = ", ".join(f"'{w}'" for w in spellings)
    canon = schema.ANALYTES[a].unit or "(no unit)"
    if np.isnan(f):
        why = not_converted_reason(a, key)
        if why:
            return f"labs: {n} {a} values in {written} not converted: {why}"
        return (f"labs: {n} {a} values in {written}: a unit {a} does not accept "
                f"({accepted_units(a)}); kept as they are, not used for endpoints")
    note = unit_note(a, key)
    if f == 1.0 and not note:
        return ""
    return (f"labs: {n} {a} values in {written} converted to {canon} ({factor_text(f)})"
            + (f"; {note}" if note else ""))


def factor_text(f: float) -> str:
    """``"x 100"``, ``"x 0.001"``, or ``"/ 88.4"`` where the inverse is the number people know."""
    inv = 1 / f
    if f < 1 and abs(inv - round(inv, 1)) < 1e-9 and round(inv, 1) != round(inv):
        return f"/ {round(inv, 1):g}"
    return f"x {f:g}"


def _pt_to_inr(labs: pd.DataFrame, normal: float, isi: float,
               sentences: list[str]) -> pd.DataFrame:
    """PT values in seconds (analyte ``pt``) as an INR approximation, with a sentence."""
    rows = labs["analyte"].eq("pt").to_numpy()
    if not rows.any():
        return labs
    out = labs.copy()
    out.loc[rows, "value"] = (out.loc[rows, "value"].astype(float) / normal) ** isi
    out.loc[rows, "analyte"] = "inr"
    out.loc[rows, "unit"] = "INR"
    rule = "PT ratio" if isi == 1.0 else f"(PT / normal PT) ^ {isi:g}"
    sentences.append(f"labs: {int(rows.sum())} PT values in s converted to an INR "
                     f"approximation: {rule} with the normal PT {normal:g} s"
                     + (" (ISI assumed 1.0)" if isi == 1.0 else "") + ": approximate")
    return out


def _route_pt_family(labs: pd.DataFrame, sentences: list[str], *,
                     pt_to_inr: bool = False) -> pd.DataFrame:
    """Prothrombin-time rows under the analyte their unit names (INR, Quick %, PT seconds),
    and a sentence saying that Quick and PT seconds are kept apart, not converted to INR."""
    name = labs["analyte"].to_numpy(object)
    fam = np.flatnonzero(_isin(name, PT_FAMILY))
    if not len(fam):
        return labs
    key = _unit_keys(labs["unit"].to_numpy(object)[fam])
    target = name.copy()
    for member in PT_FAMILY:
        accepts = [u for u in unit_factors(member) if u]
        target[fam[_isin(key, accepts)]] = member
    moved = target != name
    for member in ("quick",) if pt_to_inr else ("quick", "pt"):
        rows = target == member
        if not rows.any():
            continue
        from_inr = int((rows & moved).sum())
        why = schema.ANALYTES["inr"].not_converted["%" if member == "quick" else "s"]
        sentences.append(f"labs: {int(rows.sum())} prothrombin-time values in "
                         f"{schema.ANALYTES[member].unit} kept as analyte '{member}', not "
                         f"converted to INR ({why})"
                         + (f"; {from_inr} of them were named INR/PT but carry that unit"
                            if from_inr else ""))
    return labs.assign(analyte=target) if moved.any() else labs


def _contradictions(labs: pd.DataFrame, values: np.ndarray, factor: np.ndarray,
                    usable: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The rows whose values contradict their unit (:func:`contradicted_units`; ``values``
    converted by ``factor``), and per analyte a sentence: how many rows of which patients."""
    problem = contradicted_units(labs["patient_id"].to_numpy(object),
                                 labs["analyte"].to_numpy(object),
                                 labs["unit"].to_numpy(object), values, factor, usable)
    hit = (problem != "").to_numpy()
    if not hit.any():
        return hit, []
    return hit, _contradiction_sentences(labs.loc[hit, ["patient_id", "analyte"]],
                                         problem[np.flatnonzero(hit)[0]])


def _contradiction_sentences(sub: pd.DataFrame, example: str) -> list[str]:
    """Per analyte of the contradicted rows ``sub`` (patient_id, analyte), in the order they
    first appear, a sentence: how many rows of which patients (``example``: the first row's
    problem)."""
    out = []
    for a, g in sub.groupby("analyte", sort=False):
        ids = pd.unique(g["patient_id"].astype(str))
        shown = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
        out.append(f"labs: {len(g)} {a} values of {len(ids)} patient(s) ({shown}) contradict "
                   f"their unit (e.g. {example.split(':')[0]}): kept as "
                   "they are, not rescaled and not used for endpoints; correct the unit")
    return out


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
    cand = _isin(analytes, TYPICAL)
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
            fits = ((g["med"] * ratio >= lo) & (g["med"] * ratio <= hi)
                    & ((ratio >= DISTINCT_RATIO) | (ratio <= 1 / DISTINCT_RATIO)))
            alt = schema.fold_unit(alt)
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


def convert_dose_units(treatments: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The treatment table with doses of dosed drugs (:data:`DOSE_UNITS`; drug names as
    :func:`core.schema.drug_named` reads them, ``"RoActemra"`` is tocilizumab) in an accepted
    unit converted to the drug's canonical dose unit, and one sentence per drug and unit:
    converted, or not accepted (left as it is; the derivation lists those rows)."""
    if not {"drug", "dose", "unit"} <= set(treatments.columns) or not len(treatments):
        return treatments, []
    drug = per_unique(treatments["drug"].to_numpy(object), schema.drug_named)
    key = per_unique(treatments["unit"].to_numpy(object), _unit_key)
    factor = np.ones(len(treatments))
    sentences = []
    for name, table in DOSE_UNITS.items():
        canon = next(u for u, f in table.items() if u and f == 1.0)
        sel = drug == name
        for u in pd.unique(key[sel]):
            m = sel & (key == u)
            written = ", ".join(f"'{w}'" for w in pd.unique(treatments["unit"][m].astype(str)))
            if u not in table:
                accepted = ", ".join(repr(k) for k in table if k)
                sentences.append(f"treatments: {int(m.sum())} {name} doses in {written}: not a "
                                 f"dose unit of {name} ({accepted}); kept as they are, not used "
                                 "for endpoints")
            elif table[u] != 1.0:
                factor[m] = table[u]
                sentences.append(f"treatments: {int(m.sum())} {name} doses in {written} "
                                 f"converted to {canon} (x {table[u]:g})")
    conv = factor != 1.0
    if not conv.any():
        return treatments, sentences
    out = treatments.assign(dose=treatments["dose"] * factor)
    to = [next(u for u, f in DOSE_UNITS[d].items() if u and f == 1.0) for d in drug[conv]]
    if is_coded(out["unit"]):  # the ingest's Categorical: sorted categories, all used
        unit = out["unit"].to_numpy(dtype=object).copy()
        unit[conv] = to
        out["unit"] = pd.Series(pd.Categorical(unit), index=out.index)
    else:
        out.loc[conv, "unit"] = to
    return out, sentences


# --------------------------------------------------------------------------------------------
# the registry as a table (Data page, notebook)
# --------------------------------------------------------------------------------------------

def registry_table() -> pd.DataFrame:
    """Every analyte of :data:`core.schema.ANALYTES`: canonical unit, accepted units with
    their factors, approximate conversions, units not converted, and the reference range
    (both sexes and, where it differs, per sex) with its source."""
    rows = []
    for a in schema.ANALYTES.values():
        lln, uln, source = schema.reference_range(a.name)
        by_sex = "; ".join(f"{'women' if s == 'F' else 'men'} {_lim(*r)}"
                           for s, r in a.by_sex.items())
        rows.append({
            "analyte": a.name, "label": a.label, "canonical unit": a.unit or "(none)",
            "accepted units (factor into canonical)": ", ".join(
                f"{u or '(none)'} {factor_text(f)}" for u, f in a.units.items()),
            "approximate or assumed": "; ".join(f"{u}: {n}" for u, n in a.unit_notes.items()),
            "recognised, not converted": "; ".join(f"{u}: {n}"
                                                   for u, n in a.not_converted.items()),
            "reference range": _lim(lln, uln) + (f" ({by_sex})" if by_sex else ""),
            "source": source})
    return pd.DataFrame(rows)


def _lim(lln: float | None, uln: float | None) -> str:
    lo = "" if lln is None else f"{lln:g}"
    hi = "" if uln is None else f"{uln:g}"
    return f"{lo}-{hi}" if lo else f"< {hi}" if hi else ""


def is_caution(sentence: str) -> bool:
    """A load-report sentence about units that asks the user to look (approximate, not
    converted, not used, contradicted) rather than only reporting a conversion."""
    return any(w in sentence for w in ("approximate", "not converted", "not used",
                                       "contradict", "read as FEU"))
