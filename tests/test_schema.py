"""core.schema: the registry's look-ups (tables, 0/1 columns, analyte and drug names, units)."""

from __future__ import annotations

import pytest

from core import schema


def test_binary_columns_are_the_schemas_0_1_columns():
    assert schema.binary_columns() == ("bulky", "tocilizumab", "corticosteroids",
                                       "fibrinogen_recovered", "iec_hs", "pfs_event", "os_event")
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
