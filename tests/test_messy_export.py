"""A messy hospital export (core.demo.messy) loads: every row loaded or listed with its reason,
every unit conversion listed, and hand-checked values in canonical units and days."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import ingest, schema
from core.demo.messy import make_messy_export
from core.ingest import units

TABLES = ("patients", "labs", "treatments")


@pytest.fixture(scope="module")
def export():
    return make_messy_export(n_patients=12, seed=11)


def _csv_cohort(export) -> ingest.Cohort:
    return ingest.load_upload(*(ingest.Upload(f"{t}.csv", export.csv(t)) for t in TABLES))


@pytest.fixture(scope="module")
def cohort(export):
    return _csv_cohort(export)


@pytest.fixture(scope="module")
def xlsx_cohort(export):
    data = export.xlsx()
    return ingest.load_upload(*(ingest.Upload("export.xlsx", data) for _ in TABLES))


def test_the_export_is_german_excel_csv_and_seeded(export):
    raw = export.csv("labs")
    assert raw.startswith(b"Pat-ID;Abnahmedatum;Parameter;Ergebnis;Einheit\r\n")
    assert "µg/ml FEU".encode("cp1252") in raw and b";3,10;g/l" in raw
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")                      # cp1252, not UTF-8
    assert make_messy_export(12, 11).csv("labs") == raw
    assert make_messy_export(12, 12).csv("labs") != raw
    assert "Überweisung".encode("cp1252") in export.csv("patients")


def test_every_row_is_loaded_or_listed(export, cohort):
    for table in TABLES:
        rep = cohort.reports[table]
        assert rep.rows_read == len(getattr(export, table)), table
        assert rep.rows_read == rep.rows_loaded + rep.rows_rejected, table
        assert rep.rejected["reason"].str.len().gt(0).all(), table
    assert cohort.reports["labs"].detected == "CSV · ';' separated · decimal comma · cp1252"
    rej = cohort.reports["labs"].rejected
    # MX07 has no infusion date: its rows are listed, not guessed
    n_mx07 = int((export.labs["Pat-ID"] == "MX07").sum())
    assert (rej["patient_id"] == "MX07").sum() == n_mx07
    assert rej.loc[rej["patient_id"] == "MX07", "reason"].eq("no usable day").all()
    assert rej.loc[rej["patient_id"] == "MX99", "reason"].str.contains(
        "not in the patient table").all()
    # MX01's "n.a." fibrinogen and its blood group (text) are listed, rows 20 and 22
    mx01 = rej[rej["patient_id"] == "MX01"]
    assert mx01["row"].tolist() == [20, 22] and mx01["reason"].eq("no usable value").all()


def test_every_unit_in_the_export_is_canonical_or_listed(export, cohort):
    conversions = " | ".join(cohort.reports["labs"].conversions)
    for (name, unit), _ in export.labs.groupby(["Parameter", "Einheit"]):
        analyte = schema.analyte_named(name)
        if analyte is None or not unit:
            continue
        if analyte in units.PT_FAMILY and schema.fold_unit(unit) == "%":
            assert "kept as analyte 'quick', not converted to INR" in conversions
            continue
        factor = units.lab_factors([analyte], [unit])[0][0]
        # a synonym of the canonical unit (µg/ml FEU = mg/L FEU, /nl = 10^9/L) is no conversion
        if factor != 1.0 or units.unit_note(analyte, schema.fold_unit(unit)):
            assert f"'{unit}'" in conversions, (name, unit)
    assert "approximate" in conversions           # mg/l DDU
    assert "MX05" in conversions and "contradict" in conversions   # mg/dl labelled g/l
    patients = cohort.reports["patients"].conversions
    assert patients == ("d_dimer_max: header says 'ng/ml FEU'; converted to mg/L FEU (x 0.001)",
                        "fibrinogen_nadir: header says 'g/l'; converted to mg/dL (x 100)")
    assert cohort.reports["treatments"].conversions == (
        "treatments: 1 tocilizumab doses in 'g' converted to mg (x 1000)",)


def _lab(cohort, analyte, day, pid="MX01"):
    labs = cohort.labs
    hit = labs[(labs["patient_id"] == pid) & (labs["analyte"] == analyte)
               & np.isclose(labs["day"], day)]
    return hit["value"].tolist(), hit["unit"].tolist()


@pytest.mark.parametrize("analyte, day, value, unit", [
    # infusion 04.03.2024 00:00; 01.03.2024 07:30 is day -3 + 7.5/24 = -2.6875
    ("fibrinogen", -2.6875, 310.0, "mg/dL"),          # 3,10 g/l x 100
    ("platelets", -2.6875, 182.0, "10^9/L"),          # /nl = 10^9/L
    ("quick", -2.6875, 92.0, "%"),                    # Quick stays Quick
    ("inr", -2.6875, 1.05, None),
    ("crp", 1.25, 12.4, "mg/dL"),                     # 05.03. 06:00 = day 1.25
    ("d_dimer", 1.25, 2.8, "mg/L FEU"),               # µg/ml FEU = mg/L FEU
    ("fibrinogen", 3.75, 560.0, "mg/dL"),             # 07.03. 18:00 = day 3.75
    ("ferritin", 6.25, 2350.0, "ng/mL"),              # "2.350" µg/l: thousands dot
    ("creatinine", 7.25, 97 / 88.4, "mg/dL"),         # 97 µmol/l = 1.0973 mg/dL
    ("haemoglobin", 7.25, 5.4 * 1.611, "g/dL"),       # 5,4 mmol/l = 8.699 g/dL
    ("d_dimer", 8.25, 0.19, "mg/L FEU"),              # "<0,19": used at its bound
    ("fibrinogen", 10.25, 95.0, "mg/dL"),             # nadir of the first episode
    ("platelets", 10.25, 41.0, "10^9/L"),             # 41000 /µl
    ("fibrinogen", 32.25, 160.0, "mg/dL"),            # second episode, 05.04.
])
def test_hand_checked_values_in_canonical_units(cohort, xlsx_cohort, analyte, day, value,
                                                unit):
    for c in (cohort, xlsx_cohort):
        values, units_ = _lab(c, analyte, day)
        assert values == pytest.approx([value]), (analyte, day)
        assert units_ == [unit]


def test_a_duplicate_draw_is_kept_twice_at_load(cohort):
    # 10.03.2024 06:00 fibrinogen 1,45 g/l exported twice: both rows loaded (the endpoint
    # derivation counts exact duplicates once and says so)
    assert _lab(cohort, "fibrinogen", 6.25)[0] == [145.0, 145.0]


def test_censored_value_is_listed(cohort, xlsx_cohort):
    for c, problem in ((cohort, "censored value; used 0.19"),
                       (xlsx_cohort, "read with a decimal comma as 0.19; censored value, "
                                     "used at its bound")):
        cells = c.reports["labs"].cell_issues
        assert cells[["patient_id", "value", "problem"]].values.tolist() == [
            ["MX01", "<0,19", problem]]


def test_patient_table_hand_checked(cohort):
    p = cohort.patients.set_index("patient_id")
    assert p.loc["MX01", "d_dimer_max"] == pytest.approx(4.5)       # 4500 ng/ml FEU
    assert p.loc["MX01", "fibrinogen_nadir"] == pytest.approx(95.0)  # 0,95 g/l
    assert p.loc["MX01", "crs_grade"] == 2 and p.loc["MX01", "sex"] == "F"
    assert p.loc["MX01", "tocilizumab"] == 1
    assert "Infusionsdatum" not in p.columns                         # dates dropped
    worded = cohort.reports["patients"].cell_issues
    assert worded["problem"].str.startswith("read '").all()          # "Grad 2", "II"


def test_treatments_in_days_with_premedication_before_day_0(cohort):
    t = cohort.treatments[cohort.treatments["patient_id"] == "MX01"]
    rows = list(zip(t["drug"], t["day"].round(4), t["dose"], t["unit"]))
    assert rows == [
        ("Fortecortin", round(-1 + 8 / 24, 4), 8.0, "mg"),      # premedication, day -0.67
        ("RoActemra", round(2 + 10 / 24, 4), 640.0, "mg"),
        ("RoActemra", round(3 + 9 / 24, 4), 640.0, "mg"),        # 0,64 g
        ("Fortecortin", 3.5, 10.0, "mg"),
        ("Haemocomplettan", round(10 + 13 / 24, 4), 2.0, "g"),
        ("Kryopräzipitat", 11.375, 10.0, "E"),
    ]


def test_xlsx_and_csv_load_the_same_tables(cohort, xlsx_cohort):
    for table in TABLES:
        a, b = getattr(cohort, table), getattr(xlsx_cohort, table)
        assert len(a) == len(b), table
        assert cohort.reports[table].rows_rejected == xlsx_cohort.reports[table].rows_rejected
    key = ["patient_id", "analyte", "day", "value"]
    pd.testing.assert_frame_equal(
        cohort.labs[key].sort_values(key).reset_index(drop=True),
        xlsx_cohort.labs[key].sort_values(key).reset_index(drop=True), check_exact=False)


def test_two_episodes_and_substitutions_are_in_the_export(export):
    # MX04, MX08, MX12 were drawn with two episodes if tocilizumab was given; MX01 by hand
    fib = export.labs[export.labs["Parameter"] == "Fibrinogen (Clauss)"]
    mx01 = fib[fib["Pat-ID"] == "MX01"]["Ergebnis"].tolist()
    below = [v != "n.a." and float(v.replace(",", ".")) < 2.0 for v in mx01]
    # below LLN, recovered (two values >= 2.0 g/l), below again, recovered
    assert below == [False, False, True, True, True, False, False, True, False, False]
    drugs = set(export.treatments["Medikament"])
    assert {"RoActemra", "Fortecortin", "Haemocomplettan", "Kryopräzipitat"} <= drugs


def test_contradicted_rows_are_kept_as_written_and_the_derivation_lists_them(export, cohort):
    # MX05's fibrinogen is in mg/dl but labelled g/l: not multiplied by 100 at load, and the
    # endpoint derivation does not use it and says why
    from core import endpoints as ep

    labs = cohort.labs
    mx05 = labs[(labs["patient_id"] == "MX05") & (labs["analyte"] == "fibrinogen")]
    assert len(mx05) and mx05["unit"].eq("g/l").all()
    raw = export.labs[(export.labs["Pat-ID"] == "MX05")
                      & (export.labs["Parameter"] == "Fibrinogen (Clauss)")]
    written = sorted(float(v.replace(",", ".")) for v in raw["Ergebnis"])
    assert sorted(mx05["value"]) == pytest.approx(written)
    res = ep.derive(labs, cohort.treatments, patients=cohort.patients)
    listed = res.issues[res.issues["patient_id"] == "MX05"]
    assert listed["problem"].str.contains("look like mg/dl").sum() == len(mx05)
