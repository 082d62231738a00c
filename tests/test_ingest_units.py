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


# ------------------------------------------------ issue 11: header units, the unit registry

def _patients(text: str) -> tuple[pd.DataFrame, ingest.LoadReport]:
    c = ingest.load_upload(ingest.Upload("p.csv", text.encode("cp1252")))
    return c.patients.set_index("patient_id"), c.reports["patients"]


def test_a_header_unit_with_a_space_is_converted_and_large_values_are_kept():
    # 800 and 4500 ng/mL FEU = 0.8 and 4.5 mg/L FEU (HEAD once stored 800 mg/L and set 4500
    # missing as implausible)
    p, rep = _patients("patient_id;D-dimer max [ng/mL FEU]\nA;800\nB;4500\n")
    assert p["d_dimer_max"].tolist() == pytest.approx([0.8, 4.5])
    assert rep.cell_issues.empty
    assert rep.conversions == ("d_dimer_max: header says 'ng/mL FEU'; converted to mg/L FEU "
                               "(x 0.001)",)


def test_fibrinogen_in_g_per_dl_in_a_header_is_converted():
    # 0.15 g/dL = 150 mg/dL; 0,21 (decimal comma) = 210 mg/dL
    p, rep = _patients("patient_id;Fibrinogen nadir [g/dL]\nA;0,15\nB;0,21\n")
    assert p["fibrinogen_nadir"].tolist() == pytest.approx([150, 210])
    assert "converted to mg/dL (x 1000)" in rep.conversions[0]


def test_ddu_is_converted_to_feu_and_flagged_approximate():
    # 1.2 mg/L DDU ~ 2.4 mg/L FEU; 350 ng/mL DDU ~ 0.7 mg/L FEU
    p, rep = _patients("patient_id,D-dimer max [mg/L DDU]\nA,1.2\nB,3\n")
    assert p["d_dimer_max"].tolist() == pytest.approx([2.4, 6.0])
    assert "x 2" in rep.conversions[0] and "approximate" in rep.conversions[0]
    f, _ = units.lab_factors(["d_dimer"], ["ng/mL DDU"])
    assert 350 * f[0] == pytest.approx(0.7)


def test_unqualified_d_dimer_mass_unit_is_read_as_feu_and_said():
    p, rep = _patients("patient_id,D-dimer max [µg/mL]\nA,1.5\n")
    assert p["d_dimer_max"].tolist() == [1.5]
    assert "read as FEU" in rep.conversions[0]


def test_an_unknown_header_unit_lists_every_value_and_uses_none():
    p, rep = _patients("patient_id,Fibrinogen nadir [mmol/L],CRP max [mg/L]\nA,3,50\nB,,80\n")
    assert p["fibrinogen_nadir"].isna().all()
    assert p["crp_max"].tolist() == pytest.approx([5.0, 8.0])   # mg/L -> mg/dL
    listed = rep.cell_issues[rep.cell_issues["column"] == "fibrinogen_nadir"]
    assert listed["patient_id"].tolist() == ["A"]                # the empty cell is not listed
    assert "'mmol/L'" in listed["problem"].iloc[0] and "not one fibrinogen accepts" in \
        listed["problem"].iloc[0]
    assert any("values not used" in s for s in rep.conversions)


def test_a_header_unit_the_values_contradict_is_listed_not_rescaled():
    # header says mg/dL, values are g/L (median 1.6): not multiplied by 100, not used
    p, rep = _patients("patient_id,Fibrinogen nadir [mg/dL]\nA,1.2\nB,2.0\n")
    assert p["fibrinogen_nadir"].isna().all()
    assert len(rep.cell_issues) == 2
    assert rep.cell_issues["problem"].str.contains("look like g/L, not 'mg/dL'").all()
    # platelets 45000 and 12000 without a unit look like /uL: listed, not divided by 1000
    p, rep = _patients("patient_id,platelets_min\nA,45000\nB,12000\n")
    assert p["platelets_min"].isna().all()
    assert "look like /uL" in rep.cell_issues["problem"].iloc[0]


def test_quick_percent_in_a_header_of_the_inr_column_is_not_converted():
    p, rep = _patients("patient_id,INR max [%]\nA,70\n")
    assert p["inr_max"].isna().all()
    assert "calibration table" in rep.cell_issues["problem"].iloc[0]


@pytest.mark.parametrize("spelling", ["10^9/L", "10^9/l", "10e9/L", "x10^9/L", "10⁹/L",
                                      "109/L", "G/l", "g/L", "/nl", "/nL", "Tsd/µl", "Tsd/μL",
                                      "10^3/µL", "10e3/ul", " 10^9 / L "])
def test_platelet_unit_spellings_are_one_unit(spelling):
    assert units.lab_factors(["platelets"], [spelling])[0].tolist() == [1.0]


@pytest.mark.parametrize("analyte, unit, value, expected", [
    ("fibrinogen", "g/L", 2.5, 250.0),            # x 100
    ("fibrinogen", "g/dl", 0.25, 250.0),          # x 1000
    ("fibrinogen", "µmol/L", 10.0, 340.0),        # ~340 kDa: 1 umol/L = 34 mg/dL
    ("fibrinogen", "mg%", 250.0, 250.0),          # old name of mg/dL
    ("d_dimer", "µg/mL FEU", 2.0, 2.0),
    ("d_dimer", "mcg/mL FEU", 2.0, 2.0),
    ("d_dimer", "ng/ml (FEU)", 2000.0, 2.0),
    ("d_dimer", "µg/L DDU", 500.0, 1.0),          # 0.5 mg/L DDU ~ 1.0 mg/L FEU
    ("platelets", "/µl", 150000.0, 150.0),
    ("anc", "/nl", 1.2, 1.2),
    ("anc", "/uL", 1200.0, 1.2),
    ("crp", "mg/L", 45.0, 4.5),
    ("albumin", "g/L", 35.0, 3.5),
    ("che", "U/L", 5300.0, 5.3),
    ("che", "µkat/L", 100.0, 6.0),                 # 1 ukat/L = 60 U/L = 0.06 kU/L
    ("alt", "µkat/l", 1.0, 60.0),
    ("ldh", "µkat/L", 4.0, 240.0),
    ("ferritin", "µg/L", 850.0, 850.0),
    ("creatinine", "µmol/L", 88.4, 1.0),           # 1 mg/dL = 88.4 umol/L
    ("haemoglobin", "g/L", 125.0, 12.5),
    ("haemoglobin", "mmol/L", 8.0, 12.888),        # 1 mmol/L = 1.611 g/dL
])
def test_registry_factors(analyte, unit, value, expected):
    assert value * units.lab_factors([analyte], [unit])[0][0] == pytest.approx(expected)


def _labs(rows: str) -> tuple[pd.DataFrame, ingest.LoadReport]:
    c = ingest.load_upload(PATIENTS, ingest.Upload("l.csv", ("patient_id,day,analyte,value,unit\n"
                                                             + rows).encode()))
    return c.labs, c.reports["labs"]


def test_quick_and_pt_seconds_stay_apart_from_inr_and_are_listed_as_not_converted():
    labs, rep = _labs("A,1,Quick,70,%\nA,1,INR,1.3,\nA,2,PT,14.2,s\nB,1,INR,65,%\n")
    assert labs["analyte"].tolist() == ["quick", "inr", "pt", "quick"]
    assert labs["value"].tolist() == [70, 1.3, 14.2, 65]
    quick = next(s for s in rep.conversions if "'quick'" in s)
    assert quick.startswith("labs: 2 prothrombin-time values in % kept as analyte 'quick', "
                            "not converted to INR") and "1 of them were named INR" in quick
    assert any("'pt'" in s and "normal PT" in s for s in rep.conversions)


def test_an_unknown_lab_unit_and_contradicting_values_are_in_the_load_report():
    labs, rep = _labs("A,1,fibrinogen,250,mg/hL\nB,0,fibrinogen,2.1,mg/dL\nB,3,fibrinogen,1.1,"
                      "mg/dL\n")
    assert labs["value"].tolist() == [250, 2.1, 1.1]           # nothing rescaled
    assert any("'mg/hL': a unit fibrinogen does not accept" in s for s in rep.conversions)
    contra = next(s for s in rep.conversions if "contradict" in s)
    assert contra.startswith("labs: 2 fibrinogen values of 1 patient(s) (B) contradict")


def test_pt_seconds_become_an_inr_approximation_only_with_the_labs_normal_pt():
    rows = (b"patient_id,day,analyte,value,unit\nA,1,PT,18,s\nA,2,Prothrombinzeit,12,sec\n"
            b"A,2,Quick,70,%\n")
    c = ingest.load_upload(PATIENTS, ingest.Upload("l.csv", rows), pt_normal_seconds=12.0)
    labs, rep = c.labs, c.reports["labs"]
    # 18 s / 12 s = 1.5; 12 s / 12 s = 1.0 (ISI assumed 1.0); Quick stays Quick
    assert labs["analyte"].tolist() == ["inr", "inr", "quick"]
    assert labs["value"].tolist() == pytest.approx([1.5, 1.0, 70])
    pt = next(s for s in rep.conversions if s.startswith("labs: 2 PT values"))
    assert "normal PT 12 s (ISI assumed 1.0): approximate" in pt
    assert not any("kept as analyte 'pt'" in s for s in rep.conversions)
    # with an ISI: (18 / 12) ** 1.2 = 1.6266
    out, said = units.convert_lab_units(
        pd.DataFrame({"patient_id": ["A"], "day": [1.0], "analyte": ["pt"], "value": [18.0],
                      "unit": ["s"]}), pt_normal_seconds=12.0, pt_isi=1.2)
    assert out["value"].iloc[0] == pytest.approx(1.5 ** 1.2) and "^ 1.2" in said[0]
    # without the normal PT: kept as 'pt', listed as not converted
    c = ingest.load_upload(PATIENTS, ingest.Upload("l.csv", rows))
    assert c.labs["analyte"].tolist() == ["pt", "pt", "quick"]
    assert any("kept as analyte 'pt', not converted to INR" in s
               for s in c.reports["labs"].conversions)
    with pytest.raises(ValueError, match="pt_normal_seconds"):
        units.convert_lab_units(c.labs, pt_normal_seconds=0)


def test_a_bare_feu_or_ddu_header_reads_mg_per_l_and_says_so():
    p, rep = _patients("patient_id,D-dimer max (FEU),\nA,3.5,\n")
    assert p["d_dimer_max"].tolist() == [3.5]
    assert "no mass unit given: read as mg/L FEU" in rep.conversions[0]
    p, rep = _patients("patient_id,D-dimer max [DDU]\nA,1.5\n")
    assert p["d_dimer_max"].tolist() == [3.0]                    # ~ FEU, approximate
    assert "approximate" in rep.conversions[0]
    # ng/mL-sized values under a bare FEU contradict mg/L: listed, not used
    p, rep = _patients("patient_id,D-dimer max (FEU)\nA,3500\nB,800\n")
    assert p["d_dimer_max"].isna().all()
    assert rep.cell_issues["problem"].str.contains("look like ng/mL").all()
