"""core.ingest.units: the one place where units are converted (headers, lab units, doses)."""

from __future__ import annotations

import pytest
from ingest_cases import upload

from core import ingest


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
