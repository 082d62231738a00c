"""core.ingest.units: the one place where units are converted (headers, lab units, doses)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from ingest_cases import upload

from core import endpoints as ep
from core import ingest
from core.ingest import units


def test_labs_for_unknown_patient_rejected_units_converted_analytes_folded():
    cohort = ingest.load_upload(upload("patients_p1_p3.csv"), upload("labs_unknown_patient.csv"))
    labs, rep = cohort.labs, cohort.reports["labs"]
    assert rep.rejected["patient_id"].tolist() == ["P9"]
    assert "not in the patient table" in rep.rejected["reason"].iloc[0]
    assert rep.rows_read == 4 and rep.rows_loaded == 3
    fib = labs[labs["analyte"] == "fibrinogen"].set_index("patient_id")["value"]
    assert fib["P2"] == pytest.approx(210)   # "Fibrinogen" 2.1 g/L -> 210 mg/dL
    assert any("Quark" in n for n in rep.notes)   # unknown analyte kept and named


def test_fibrinogen_in_g_per_l_recognised_from_values_without_unit():
    raw = ingest.read_table(b"patient_id,fibrinogen_nadir\nA,1.5\nB,2.5\nC,0.9\n", "x.csv")
    df, rep = ingest.validate(raw, ingest.suggest_mapping(raw.headers, "patients"), "patients")
    assert df["fibrinogen_nadir"].tolist() == pytest.approx([150, 250, 90])
    assert "look like g/L" in rep.conversions[0]


# ------------------------------------------------------- one rule for loader and derivation

PATIENTS = ingest.Upload("p.csv", b"patient_id\nA\nB\n")


def test_micro_sign_and_greek_mu_are_the_same_unit_at_load_and_in_the_derivation():
    # 600 and 900 ug/L D-dimer = 0.6 and 0.9 mg/L FEU, whichever "micro" the export wrote
    labs = "patient_id,day,analyte,value,unit\nA,1,d_dimer,600,µg/L\nA,3,d_dimer,900,μg/L\n"
    c = ingest.load_upload(PATIENTS, ingest.Upload("l.csv", labs.encode()))
    assert c.labs["value"].tolist() == pytest.approx([0.6, 0.9])
    assert set(c.labs["unit"]) == {"mg/L FEU"}
    assert c.reports["labs"].conversions == (
        "labs: 2 d_dimer values in 'µg/L', 'μg/L' converted to mg/L FEU (x 0.001); no FEU/DDU "
        "given: read as FEU",)
    assert units.lab_factors(["d_dimer"] * 3, ["µg/L", "μg / l", "UG/L"])[0].tolist() == [
        0.001] * 3


def test_a_unit_the_values_contradict_is_listed_never_rescaled():
    # fibrinogen without a unit, median 2.1: g/L by the look of it. The loader keeps the
    # numbers as they are (no cohort-wide x100); the derivation lists the patient's rows.
    labs = (b"patient_id,day,analyte,value\nA,0,fibrinogen,3.1\nA,4,fibrinogen,1.2\n"
            b"B,0,fibrinogen,310\n")
    c = ingest.load_upload(PATIENTS, ingest.Upload("l.csv", labs))
    assert c.labs["value"].tolist() == [3.1, 1.2, 310]
    assert c.reports["labs"].conversions == ()
    res = ep.derive(c.labs, patients=c.patients)
    listed = res.issues[res.issues["patient_id"] == "A"]
    assert len(listed) == 2
    assert listed["problem"].str.contains("look like g/l").all()
    assert listed["problem"].str.contains("no unit given, canonical assumed").all()
    row = res.patients.set_index("patient_id")
    assert pd.isna(row.loc["A", "fibrinogen_baseline"])
    assert row.loc["B", "fibrinogen_baseline"] == 310


def test_header_units_use_the_same_folding():
    # "ng/mL FEU" names a unit with a space: converted to mg/L FEU (x 0.001)
    values = pd.Series([800.0, 1200.0])
    factor, sentence = units.header_factor("d_dimer_max", "D-Dimer max [ng/mL FEU]", values)
    assert factor == 0.001 and "converted to mg/L FEU" in (sentence or "")
    # 5 and 8 umol/L fibrinogen (~340 kDa) = 170 and 272 mg/dL
    fib = pd.Series([5.0, 8.0])
    assert units.header_factor("fibrinogen_nadir", "Fibrinogen [µmol/L]", fib)[0] == 34.0
    assert units.header_factor("age", "Age [years]", values) == (1.0, None)


def test_dose_units():
    drugs = np.array(["tocilizumab", "tocilizumab", "fibrinogen_concentrate", "tocilizumab",
                      "dexamethasone"], dtype=object)
    factor, bad = units.dose_factors(drugs, ["G", None, "mg", "ml", "mg"], np.ones(5, bool))
    assert factor.tolist() == [1000.0, 1.0, 0.001, 1.0, 1.0]
    assert bad.tolist() == [False, False, False, True, False]


def test_an_unknown_analyte_is_a_programming_error_for_the_registry_lookup():
    with pytest.raises(ValueError, match="unknown analyte"):
        units.unit_factors("unobtainium")
