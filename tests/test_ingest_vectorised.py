"""The vectorised validation (work per distinct cell text, problems collected in batches) gives
exactly what the row-by-row implementation gave: typed frames (dtypes too), rejected rows,
cell issues, conversions and notes, for random long and patient tables (Hypothesis).

The previous implementation is kept below as the oracle (``_old_*``): it ran pandas string
methods over every cell and listed problems one cell at a time through
:class:`core.ingest.report.Collector`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import core.ingest.units as units_module
from core import schema
from core.ingest import parse, units
from core.ingest.cohort import normalise_labs
from core.ingest.columns import BatchCollector, Distinct, convert_column, extra_columns, per_text
from core.ingest.mapping import merge_mapping, safe_extra_name
from core.ingest.read import RawTable, read_table
from core.ingest.report import Collector, LoadReport
from core.ingest.validate import _check_required, _renamed_note, _usable_mapping, validate
from core.ingest.wording import short

SETTINGS = settings(derandomize=True, deadline=None, max_examples=150, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --------------------------------------------------------------------------------------------
# the oracle: the row-by-row implementation before the vectorised one
# --------------------------------------------------------------------------------------------

def _old_convert_column(raw: pd.Series, spec: schema.Column, header: str, decimal: str,
                        c: Collector, conversions: list[str]) -> pd.Series:
    name = spec.name
    if spec.kind == "id":
        return raw.str.strip()
    if spec.kind == "binary":
        values, bad = parse.parse_binary(raw)
        for pos in np.flatnonzero(bad):
            c.cell(pos, name, raw.iloc[pos], "expected 0/1 (yes/no); set missing")
        return values
    if spec.kind == "grade":
        return _old_grade(raw, name, spec.lo or 0, spec.hi or 4, c)
    if spec.kind == "category":
        if name == "sex":
            values, bad = parse.parse_sex(raw)
            for pos in np.flatnonzero(bad):
                c.cell(pos, "sex", raw.iloc[pos], "expected F or M; set missing")
            return values
        out = parse.none_where(raw, ~parse.is_na(raw)).str.strip()
        return parse.none_where(out, out.notna())
    values = _old_numbers(raw, name, decimal, c)
    h = units.header_unit(name, header, values)
    if h.sentence:
        conversions.append(h.sentence)
    if h.problem:
        for pos in np.flatnonzero(values.notna().to_numpy()):
            c.cell(pos, name, raw.iloc[pos], h.problem)
        values = values.where(pd.Series(False, index=values.index))
    elif h.factor != 1.0:
        values = values * h.factor
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
        c.cell(pos, spec.name, raw.iloc[pos],
               f"outside the plausible range {lo:g}-{hi:g}{unit}; set missing")
    values = values.where(~out_of_range)
    return values.round().astype("Int64") if spec.kind == "integer" else values


def _old_numbers(raw: pd.Series, column: str, decimal: str, c: Collector) -> pd.Series:
    n = parse.read_numbers(raw, decimal)
    values, failed, censored = n.values.copy(), n.failed.copy(), n.censored
    comma = np.zeros(len(raw), bool)
    if decimal == "." and failed.any():
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


def _old_grade(raw: pd.Series, column: str, lo: float, hi: float, c: Collector) -> pd.Series:
    g = parse.parse_grades(raw, lo, hi)
    for pos in np.flatnonzero(g.unparsed):
        c.cell(pos, column, raw.iloc[pos], f"expected a grade {lo:g}-{hi:g}; set missing")
    for pos in np.flatnonzero(g.out_of_range):
        c.cell(pos, column, raw.iloc[pos], f"grade out of range {lo:g}-{hi:g}; set missing")
    for pos in np.flatnonzero(g.worded):
        c.cell(pos, column, raw.iloc[pos],
               f"read '{short(raw.iloc[pos], 40)}' as grade {int(g.values.iloc[pos])}")
    return g.in_range()


def _old_validate(raw: RawTable, mapping: Mapping[str, str | None], table: schema.TableName,
                  *, known_patients: set[str] | None = None
                  ) -> tuple[pd.DataFrame, LoadReport]:
    mapping, notes = _usable_mapping(raw, mapping, table)
    _check_required(raw, mapping, table)
    rows = np.arange(len(raw.frame)) + raw.first_row
    id_header = next(h for h, t in mapping.items() if t == "patient_id")
    ids = raw.frame[id_header].str.strip()
    c = Collector(rows, ids)
    conversions: list[str] = []
    columns = schema.columns_of(table)
    out: dict[str, pd.Series] = {}
    names: dict[str, str] = {}
    used = {t for t in mapping.values() if t}
    reserved = set(schema.PATIENT_COLUMNS) | set(columns)
    extras: list[str] = []
    for i, header in enumerate(raw.headers):
        target = mapping.get(header)
        if target:
            out[target] = _old_convert_column(raw.frame[header], columns[target], header,
                                              raw.decimal, c, conversions)
            names[header] = target
        else:
            name = safe_extra_name(header, used | reserved, i + 1)
            used.add(name)
            names[header] = name
            extras.append(header)
    converted = extra_columns(raw.frame[extras], raw.decimal)
    for header in extras:
        out[names[header]] = converted[header]
    typed = pd.DataFrame({names[h]: out[names[h]] for h in raw.headers}, index=raw.frame.index)
    notes += _renamed_note(names, mapping)
    for at, header, value, problem in raw.cell_notes:
        c.cell(at, names.get(header, header), value, problem)
    if not len(raw.frame):
        notes.append(f"{raw.label} has a header row but no data rows.")
    # rows
    for row, reason in raw.row_problems.items():
        c.reject(row, reason)
    other = np.zeros(len(raw.frame), dtype=bool)
    other[list(raw.row_problems)] = True
    blank = (raw.frame == "").all(axis=1).to_numpy() & ~other
    for pos in np.flatnonzero(blank):
        c.reject(pos, "blank row")
    no_id = (parse.is_na(ids).to_numpy() & ~blank & ~other)
    for pos in np.flatnonzero(no_id):
        c.reject(pos, "no patient_id")
    has_id = ~(blank | other | no_id)
    if table == "patients":
        valid = pd.Series(has_id, index=ids.index)
        dup = valid & ids.where(valid).duplicated(keep=False)
        for pid, group in ids[dup].groupby(ids[dup]):
            where = ", ".join(str(rows[i]) for i in group.index)
            for pos in group.index:
                c.reject(pos, f"patient_id '{short(pid)}' appears in rows {where}; keep one "
                              "row per patient")
    else:
        for req in ("day", "analyte", "value", "drug"):
            if req in typed and columns.get(req) is not None and columns[req].required:
                for pos in np.flatnonzero(typed[req].isna().to_numpy() & has_id):
                    c.reject(pos, f"no usable {req}")
        if known_patients is not None:
            unknown = ~ids.isin(known_patients).to_numpy() & has_id
            for pos in np.flatnonzero(unknown):
                c.reject(pos, f"patient_id '{short(ids.iloc[pos])}' is not in the patient "
                              "table")
    # loaded
    keep = np.ones(len(raw.frame), dtype=bool)
    keep[list(c.rejected)] = False
    loaded = typed[keep].reset_index(drop=True)
    rejected = pd.DataFrame(
        [{"row": int(rows[p]), "patient_id": short(c.ids.iloc[p]) or None, "reason": r}
         for p, r in sorted(c.rejected.items())], columns=["row", "patient_id", "reason"])
    kept_rows = set(rows[keep].tolist())
    cells = pd.DataFrame([x for x in c.cells if x["row"] in kept_rows],
                         columns=["row", "patient_id", "column", "value", "problem"])
    report = LoadReport(table, raw.filename, raw.describe(), len(raw.frame), len(loaded),
                        rejected, cells, dict(mapping), tuple(conversions), (*raw.notes, *notes))
    return loaded, report


def _old_normalise_labs(labs: pd.DataFrame, report: LoadReport, *,
                        pt_normal_seconds: float | None = None
                        ) -> tuple[pd.DataFrame, LoadReport]:
    canon = labs["analyte"].astype(str).map(schema.analyte_named)
    notes = list(report.notes)
    unknown = sorted(set(labs.loc[canon.isna(), "analyte"].astype(str)))
    if unknown:
        notes.append("Analytes not recognised (kept under their own names, not used for "
                     "derived endpoints): " + ", ".join(unknown[:20]))
    labs = labs.assign(analyte=canon.fillna(labs["analyte"]))
    labs, conversions = _old_convert_lab_units(labs, pt_normal_seconds)
    return labs, replace(report, conversions=report.conversions + tuple(conversions),
                         notes=tuple(notes))


def _old_convert_lab_units(labs: pd.DataFrame, pt_normal_seconds: float | None
                           ) -> tuple[pd.DataFrame, list[str]]:
    if "unit" not in labs or not len(labs):
        return labs, []
    sentences: list[str] = []
    labs = _old_route_pt_family(labs, sentences, pt_to_inr=pt_normal_seconds is not None)
    if pt_normal_seconds is not None:
        labs = units._pt_to_inr(labs, pt_normal_seconds, 1.0, sentences)
    analytes = labs["analyte"].to_numpy(object)
    factor, given = _old_lab_factors(analytes, labs["unit"].to_numpy(object))
    key = parse.per_unique(labs["unit"].to_numpy(object), units._unit_key)
    sub = pd.DataFrame({"analyte": analytes, "key": key, "factor": factor,
                        "written": labs["unit"].astype(str).to_numpy(object)})[given]
    for (a, k), g in sub.groupby(["analyte", "key"], sort=False):
        if a not in schema.ANALYTES:
            continue
        sentences.append(units._lab_sentence(str(a), str(k), g))
    ok = given & ~np.isnan(factor)
    applied = np.where(ok, factor, 1.0)
    wrong, said = _old_contradictions(labs, labs["value"].to_numpy(float) * applied, applied,
                                      ~given | ok)
    ok &= ~wrong
    out = labs.assign(value=labs["value"] * np.where(ok, factor, 1.0))
    out.loc[ok, "unit"] = out.loc[ok, "analyte"].map(lambda n: schema.ANALYTES[n].unit)
    return out, [s for s in sentences + said if s]


def _old_lab_factors(analytes: pd.Series | np.ndarray,
                     units: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    key = parse.per_unique(np.asarray(units, dtype=object), units_module._unit_key)
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
    table = np.array([units_module._factor(names[int(q) // width], uu[int(q) % width])
                      for q in pu])
    factor[given] = table[pc]
    return factor, given


def _old_route_pt_family(labs: pd.DataFrame, sentences: list[str], *,
                         pt_to_inr: bool = False) -> pd.DataFrame:
    name = labs["analyte"].to_numpy(object)
    fam = np.isin(name, units_module.PT_FAMILY)
    if not fam.any():
        return labs
    key = parse.per_unique(labs["unit"].to_numpy(object), units_module._unit_key)
    target = name.copy()
    for member in units_module.PT_FAMILY:
        accepts = [u for u in units_module.unit_factors(member) if u]
        target[fam & np.isin(key, accepts)] = member
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


def _old_contradictions(labs: pd.DataFrame, values: np.ndarray, factor: np.ndarray,
                        usable: np.ndarray) -> tuple[np.ndarray, list[str]]:
    problem = _old_contradicted_units(labs["patient_id"].to_numpy(object),
                                      labs["analyte"].to_numpy(object),
                                      labs["unit"].to_numpy(object), values, factor, usable)
    hit = (problem != "").to_numpy()
    if not hit.any():
        return hit, []
    out = []
    sub = labs.loc[hit, ["patient_id", "analyte"]]
    for a, g in sub.groupby("analyte", sort=False):
        ids = pd.unique(g["patient_id"].astype(str))
        shown = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
        out.append(f"labs: {len(g)} {a} values of {len(ids)} patient(s) ({shown}) contradict "
                   f"their unit (e.g. {problem[np.flatnonzero(hit)[0]].split(':')[0]}): kept as "
                   "they are, not rescaled and not used for endpoints; correct the unit")
    return hit, out


def _old_contradicted_units(patients: np.ndarray, analytes: np.ndarray, units: np.ndarray,
                            values: np.ndarray, factors: np.ndarray,
                            usable: np.ndarray | None = None) -> pd.Series:
    problem = pd.Series("", index=range(len(values)), dtype=object)
    cand = np.isin(np.asarray(analytes, dtype=object), list(units_module.TYPICAL))
    if usable is not None:
        cand &= usable
    if not cand.any():
        return problem
    sub = pd.DataFrame({"pid": np.asarray(patients, dtype=object)[cand],
                        "analyte": np.asarray(analytes, dtype=object)[cand],
                        "value": np.asarray(values, dtype=float)[cand],
                        "factor": np.asarray(factors, dtype=float)[cand]},
                       index=np.flatnonzero(cand))
    sub["u"] = parse.per_unique(np.asarray(units, dtype=object)[cand],
                                lambda u: "" if units_module._missing(u) else str(u))
    med = sub.groupby(["pid", "analyte", "u"], sort=False)["value"].transform("median")
    for (key, u), g in sub.assign(med=med).groupby(["analyte", "u"], sort=False):
        a = str(key)
        lo, hi = units_module.TYPICAL[a]
        g = g[(g["med"] < lo) | (g["med"] > hi)]
        if g.empty:
            continue
        for alt, fac in schema.ANALYTES[a].units.items():
            ratio = fac / g["factor"]
            fits = ((g["med"] * ratio >= lo) & (g["med"] * ratio <= hi)
                    & ((ratio >= units_module.DISTINCT_RATIO)
                       | (ratio <= 1 / units_module.DISTINCT_RATIO)))
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
# random tables
# --------------------------------------------------------------------------------------------

IDS = ["P1", "P2", " P3 ", "P10", "p1", "", "  ", "NA", "n.a.", "X9", "P2 ", "Ärger-7"]
KNOWN = {"P1", "P2", "P3", "P10", "Ärger-7"}
ANALYTE_NAMES = ["fibrinogen", "Fibrinogen", " FIBRINOGEN ", "D-Dimer", "d_dimer", "Platelets",
                 "PLT", "INR", "Quick", "PT", "CRP", "IL-6", "ferritin", "Hb", "creatinine",
                 "albumin", "CHE", "unknownase", "", "n/a", "Fibrinogen [mg/dl]", "Thrombos"]
UNITS = ["", "mg/dL", "g/L", "mg/dl", " g/l ", "mg/L FEU", "ug/mL FEU", "µg/L", "ng/mL FEU",
         "ng/mL DDU", "10^9/L", "/nl", "G/L", "%", "s", "INR", "mg/L", "U/L", "furlongs",
         "umol/L", "µmol/l", "g/dL", "kU/L", "NA"]
VALUES = ["1", "2.5", "310", "0.4", "1.234,5", "1,234.5", "<0.5", "> 1000", "≤3", "<0,19",
          "2,5", "viel", "", "n.a.", "-", "−3", "1 000", "1e3", "inf", "nan", "12345678901",
          "0", "-0", "<x", "3.0", "450", "4.5", "0.05", "99999999", "1,500"]
DAYS = ["0", "1", "-5", "7", "2.5", "2,5", "", "NA", "x", "30", "1000", "-400", "14.0", "3,0"]
GRADES = ["0", "1", "2", "3", "4", "5", "G2", "Grad 3", "II", "grade IV", "", "na", "x", "2.0",
          "2,0", "-1", "iii"]
BINARY = ["0", "1", "yes", "no", "ja", "Nein", "", "NA", "maybe", "1.0", "x", "+", "TRUE"]
SEX = ["F", "M", "f", "male", "weiblich", "", "NA", "d", "Mann", " w "]
TEXT = ["", "abc", "NA", " x ", "DLBCL", "tisa-cel", "1", "2.5", "none", "  "]
NUMS = ["", "1", "2", "3.5", "NA", "70", "55", "1,5", "abc", "-", "120"]


def _csv(headers: list[str], rows: list[list[str]], delimiter: str = ",") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    w.writerow(headers)
    w.writerows(rows)
    return buf.getvalue().encode()


@st.composite
def lab_tables(draw: st.DrawFn) -> tuple[bytes, str]:
    """A long lab table: patient, day, analyte, value, unit (and maybe an extra column), with
    few distinct IDs, analytes and units over many rows, blank rows and mixed spellings."""
    n = draw(st.integers(0, 60))
    pick = st.sampled_from
    ids = draw(st.lists(pick(IDS), min_size=1, max_size=4, unique=True))
    names = draw(st.lists(pick(ANALYTE_NAMES), min_size=1, max_size=5, unique=True))
    units_ = draw(st.lists(pick(UNITS), min_size=1, max_size=4, unique=True))
    extra = draw(st.booleans())
    decimal = draw(st.sampled_from([",", ";"]))  # ';': a German export, decimal comma
    rows = []
    for _ in range(n):
        if draw(st.integers(0, 15)) == 0:
            rows.append([""] * (5 + extra))
            continue
        row = [draw(pick(ids)), draw(pick(DAYS)), draw(pick(names)),
               draw(pick(VALUES)), draw(pick(units_))]
        if extra:
            row.append(draw(pick(TEXT + NUMS)))
        rows.append(row)
    headers = ["patient_id", "day", "analyte", "value", "unit"] + (["comment"] if extra else [])
    return _csv(headers, rows, decimal), "labs.csv"


@st.composite
def patient_tables(draw: st.DrawFn) -> bytes:
    """A patient table with every kind of column: id, integer, numeric (an analyte summary
    with a unit in the header), grade, 0/1, sex, category, and an extra column."""
    n = draw(st.integers(0, 30))
    pick = st.sampled_from
    headers = ["patient_id", "age", "sex", "crs_grade", "tocilizumab", "diagnosis",
               draw(pick(["fibrinogen_nadir", "Fibrinogen nadir [g/L]", "fibrinogen_nadir [%]",
                          "D-dimer max [ng/mL FEU]"])), "notes"]
    rows = []
    for _ in range(n):
        if draw(st.integers(0, 15)) == 0:
            rows.append([""] * len(headers))
            continue
        rows.append([draw(pick(IDS)), draw(pick(NUMS + ["69", "69.5", "200"])),
                     draw(pick(SEX)), draw(pick(GRADES)), draw(pick(BINARY)),
                     draw(pick(TEXT)), draw(pick(VALUES)), draw(pick(TEXT + NUMS))])
    return _csv(headers, rows)


def _assert_same(new: tuple[pd.DataFrame, LoadReport], old: tuple[pd.DataFrame, LoadReport]
                 ) -> None:
    (frame, rep), (frame0, rep0) = new, old
    pd.testing.assert_frame_equal(frame, frame0, check_exact=True)
    assert list(frame.dtypes) == list(frame0.dtypes)
    pd.testing.assert_frame_equal(rep.rejected, rep0.rejected, check_exact=True)
    pd.testing.assert_frame_equal(rep.cell_issues, rep0.cell_issues, check_exact=True)
    assert rep == replace(rep0, rejected=rep.rejected, cell_issues=rep.cell_issues)
    assert rep.conversions == rep0.conversions and rep.notes == rep0.notes


def _known(patients: bytes) -> set[str]:
    raw = read_table(patients, "patients.csv", "patients")
    frame, _ = _old_validate(raw, merge_mapping(None, raw.headers, "patients"), "patients")
    return set(frame["patient_id"])


# --------------------------------------------------------------------------------------------
# the differential tests
# --------------------------------------------------------------------------------------------

@SETTINGS
@given(lab_tables(), st.sampled_from([None, 12.0]), st.booleans())
def test_labs_validate_and_normalise_equal_the_row_by_row_implementation(
        table: tuple[bytes, str], pt_normal: float | None, known: bool) -> None:
    data, name = table
    raw = read_table(data, name, "labs")
    mapping = merge_mapping(None, raw.headers, "labs")
    patients = KNOWN if known else None
    new = validate(raw, mapping, "labs", known_patients=patients)
    old = _old_validate(raw, mapping, "labs", known_patients=patients)
    _assert_same(new, old)
    if "analyte" in new[0]:
        _assert_same(normalise_labs(*new, pt_normal_seconds=pt_normal),
                     _old_normalise_labs(*old, pt_normal_seconds=pt_normal))


@settings(SETTINGS, max_examples=60)
@given(patient_tables())
def test_patients_validate_equals_the_row_by_row_implementation(data: bytes) -> None:
    raw = read_table(data, "patients.csv", "patients")
    mapping = merge_mapping(None, raw.headers, "patients")
    _assert_same(validate(raw, mapping, "patients"), _old_validate(raw, mapping, "patients"))


def test_cell_notes_row_problems_and_several_reasons_are_kept_in_order() -> None:
    frame = pd.DataFrame({"patient_id": ["P1", "", "P9", "P1", "P2"],
                          "day": ["1", "x", "", "2", "3"],
                          "analyte": ["crp", "crp", "", "crp", "crp"],
                          "value": ["1", "", "x", "<0,5", "2"]}, dtype=object)
    raw = RawTable(frame, tuple(frame.columns), "labs.csv", "csv", ",", ".", "utf-8", 2,
                   "0" * 64,
                   row_problems={4: "row has 6 cells, the header 4"},
                   cell_notes=((0, "value", "1\x00", "NUL removed"),
                               (4, "value", "2\x00", "NUL removed"),
                               (3, "unknown", "z", "odd")))
    mapping = merge_mapping(None, raw.headers, "labs")
    new = validate(raw, mapping, "labs", known_patients={"P1"})
    old = _old_validate(raw, mapping, "labs", known_patients={"P1"})
    _assert_same(new, old)
    assert new[1].rejected["reason"].tolist()[1] == ("no usable day; no usable analyte; no "
                                                     "usable value; patient_id 'P9' is not in "
                                                     "the patient table")


def test_a_column_that_is_not_all_text_is_read_cell_by_cell() -> None:
    col = pd.Series(["1", None, np.nan, "2"], dtype=object)
    d = Distinct.of(col)
    assert d.codes.tolist() == [0, 1, 2, 3] and d.uniq.iloc[1] is None
    text = pd.Series(["a", "b", "a", "a"], dtype=object)
    assert Distinct.of(text).uniq.tolist() == ["a", "b"]
    assert per_text(np.array([1, True, "1"], dtype=object), str).tolist() == ["1", "True", "1"]


def test_one_cell_methods_and_empty_tables_give_the_old_frames() -> None:
    c = BatchCollector(np.arange(3) + 2, pd.Series(["P1", "", "P3"]))
    assert c.rejected_frame().equals(pd.DataFrame([], columns=["row", "patient_id", "reason"]))
    assert c.cells_frame(np.ones(3, bool)).equals(
        pd.DataFrame([], columns=["row", "patient_id", "column", "value", "problem"]))
    c.reject(1, "a")
    c.reject(1, "b")
    c.cell(2, "x", "v", "p")
    out = c.rejected_frame()
    assert out.to_dict("records") == [{"row": 3, "patient_id": None, "reason": "a; b"}]
    assert c.cells_frame(np.array([True, False, True])).to_dict("records") == [
        {"row": 4, "patient_id": "P3", "column": "x", "value": "v", "problem": "p"}]
    spec = schema.columns_of("labs")["value"]
    plain = Collector(np.arange(2) + 2, pd.Series(["P1", "P2"]))
    convert_column(pd.Series(["<1", "x"]), spec, "value", ".", plain, [])
    assert [x["problem"] for x in plain.cells] == ["censored value; used 1",
                                                   "not a number; set missing"]
