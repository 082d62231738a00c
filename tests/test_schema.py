"""core.schema: the registry's look-ups (tables, 0/1 columns, analyte and drug names, units)."""

from __future__ import annotations

import pytest

from core import schema


def test_binary_columns_are_the_schemas_0_1_columns():
    assert schema.binary_columns() == ("bulky", "tocilizumab", "corticosteroids",
                                       "fibrinogen_recovered", "iec_hs", "car_hematotox_high",
                                       "pfs_event", "os_event")
    assert schema.binary_columns("labs") == ()


def test_an_unknown_table_is_a_programming_error():
    with pytest.raises(ValueError, match="table must be one of"):
        schema.columns_of("patient")


@pytest.mark.parametrize("column, analyte", [
    ("d_dimer_max", "d_dimer"), ("fibrinogen_nadir", "fibrinogen"),
    ("fibrinogen_baseline", "fibrinogen"), ("platelets_min", "platelets"), ("crp", "crp"),
    ("fibrinogen_nadir_day", None), ("age", None), ("foo_max", None),
])
def test_analyte_of_a_patient_column(column, analyte):
    a = schema.analyte_of(column)
    assert (a.name if a else None) == analyte


def test_analyte_and_drug_names_fold_case_punctuation_and_aliases():
    assert schema.analyte_named("D-Dimer") == "d_dimer"
    assert schema.analyte_named("Thrombozyten") == "platelets"
    assert schema.analyte_named("GPT") == "alt"
    assert schema.analyte_named("Quark") is None and schema.analyte_named(3.0) is None
    assert schema.drug_named("RoActemra") == "tocilizumab"
    assert schema.drug_named("Fibrinogen concentrate") == "fibrinogen_concentrate"
    assert schema.drug_named("vitamin K") is None
    assert schema.column_index("patients")["crsgrad"] == "crs_grade"


def test_units_fold_case_space_and_both_micro_signs():
    assert schema.fold_unit("µmol / L") == schema.fold_unit("μmol/l") == "umol/l"
    assert schema.header_unit("Fibrinogen [g/L]") == "g/l"
    assert schema.header_unit("D-dimer (ng/mL FEU)") == "ng/mlfeu"
    assert schema.header_unit("Fibrinogen") is None


def test_every_analyte_has_a_reference_range_with_a_source_and_accepts_its_own_unit():
    for name, a in schema.ANALYTES.items():
        lln, uln, source = schema.reference_range(name)
        assert lln is not None or uln is not None, name
        assert source, name
        assert {schema.fold_unit(u): f for u, f in a.units.items()}.get(
            schema.fold_unit(a.unit)) == 1.0, name
        if lln is not None and uln is not None:
            assert lln < uln, name


def test_reference_ranges_are_sex_specific_where_it_matters():
    assert schema.reference_range("haemoglobin", "F")[:2] == (12.0, 16.0)
    assert schema.reference_range("Hb", "männlich")[:2] == (13.0, 17.5)
    assert schema.reference_range("creatinine", "m")[:2] == (0.7, 1.2)
    assert schema.reference_range("ferritin", "female")[:2] == (15, 150)
    # without a sex (or an unknown one): the range spanning both
    assert schema.reference_range("haemoglobin")[:2] == (12.0, 17.5)
    assert schema.reference_range("haemoglobin", "x")[:2] == (12.0, 17.5)
    assert "women" in schema.reference_range("ferritin", "F")[2]
    # no LLN for CRP; fibrinogen's LLN is the CTCAE anchor
    assert schema.reference_range("crp")[:2] == (None, 0.5)
    assert schema.reference_range("fibrinogen", "F")[:2] == (200, 400)
    with pytest.raises(ValueError, match="unknown analyte"):
        schema.reference_range("unobtainium")


@pytest.mark.parametrize("text, folded", [
    ("10e9/L", "10^9/l"), ("x10^9/l", "10^9/l"), ("10⁹/L", "10^9/l"), ("109/L", "10^9/l"),
    ("mcg/mL", "ug/ml"), ("µg/mL FEU", "ug/mlfeu"), ("mg/L (FEU)", "mg/lfeu"),
    ("Tsd/µl", "tsd/ul"), ("G/l", "g/l"),
])
def test_unit_spellings_fold_to_one_key(text, folded):
    assert schema.fold_unit(text) == folded


@pytest.mark.parametrize("header, unit", [
    ("Fibrinogen (Clauss) [g/L]", "g/l"), ("Fibrinogen (Clauss)", None),
    ("D-dimer max [ng/mL (FEU)]", "ng/mlfeu"), ("PTT max (s)", "s"), ("INR max [%]", "%"),
])
def test_header_units_and_qualifiers(header, unit):
    assert schema.header_unit(header) == unit


@pytest.mark.parametrize("spelling, analyte", [
    ("Neutrophile abs.", "anc"), ("Neutrophile absolut", "anc"), ("ANC", "anc"),
    ("NEUT#", "anc"), ("Hb", "haemoglobin"), ("Hämoglobin", "haemoglobin"),
    ("Hemoglobin", "haemoglobin"), ("LDH", "ldh"), ("Laktatdehydrogenase", "ldh"),
    ("Kreatinin", "creatinine"), ("Krea", "creatinine"), ("Creatinine [µmol/L]", "creatinine"),
])
def test_risk_score_analytes_have_german_and_lis_aliases(spelling, analyte):
    assert schema.analyte_named(spelling) == analyte


def test_risk_score_analytes_units_and_conversions():
    """Canonical units of the risk-score components and the factors into them, worked by hand:
    creatinine 113.12 g/mol, 1 mg/dL = 10 mg/L = 10000 ug/L / 113.12 = 88.4 umol/L;
    LDH 1 ukat/L = 10^-6 mol/s/L = 60 x 10^-6 mol/min/L = 60 U/L; haemoglobin per Fe
    16.11 g/mol x 1 mmol/L = 16.11 g/L = 1.611 g/dL; cells 1/uL = 10^6/L = 10^-3 x 10^9/L."""
    a = schema.ANALYTES
    assert (a["anc"].unit, a["haemoglobin"].unit, a["ldh"].unit, a["creatinine"].unit,
            a["crp"].unit, a["platelets"].unit) == ("10^9/L", "g/dL", "U/L", "mg/dL", "mg/dL",
                                                    "10^9/L")
    assert a["creatinine"].units["umol/L"] * 88.4 == pytest.approx(1.0)
    assert a["ldh"].units["ukat/L"] == 60.0
    assert a["haemoglobin"].units["mmol/L"] == 1.611 and a["haemoglobin"].units["g/L"] == 0.1
    assert a["anc"].units["/uL"] == 0.001 and a["anc"].units["G/L"] == 1.0
    assert a["crp"].units["mg/L"] == 0.1


def test_risk_score_columns_are_in_the_patient_schema():
    cols = schema.PATIENT_COLUMNS
    assert cols["car_hematotox"].kind == "integer"
    assert (cols["car_hematotox"].lo, cols["car_hematotox"].hi) == (0, 7)
    assert cols["car_hematotox_high"].kind == "binary"
    assert cols["easix"].kind == cols["m_easix"].kind == "numeric"
    assert cols["score_baseline_rule"].kind == cols["score_missing"].kind == "category"
    assert schema.column_index("patients")["modifiedeasix"] == "m_easix"
