"""core.ingest.mapping: headers -> canonical columns, names for extra columns."""

from __future__ import annotations

from ingest_cases import load_patients

from core import ingest


def test_suggest_mapping_ignores_case_space_units():
    m = ingest.suggest_mapping(["PATIENT ID", "Fibrinogen [mg/dl]", "crs grad", "Alter (J)",
                                 "Something else"], "patients")
    assert m == {"PATIENT ID": "patient_id", "Fibrinogen [mg/dl]": None, "crs grad": "crs_grade",
                 "Alter (J)": "age", "Something else": None}


def test_unrecognised_headers_get_distinct_names_and_a_note():
    df, rep = load_patients("emoji_headers.csv")
    extras = list(df.columns[1:])
    assert extras == ["bemerkung", "column_3", "column_4", "groesse_cm", "bemerkung_2"]
    assert len(set(df.columns)) == len(df.columns)
    note = next(n for n in rep.notes if "kept as column" in n)
    for part in ("'Bemerkung 📝' kept as column 'bemerkung'",
                 "'备注' kept as column 'column_3'",
                 "'Größe (cm)' kept as column 'groesse_cm'",
                 "'bemerkung' kept as column 'bemerkung_2'"):
        assert part in note


def test_extra_column_names_never_take_a_canonical_name():
    raw = ingest.read_table(b"patient_id,age,Age!\nP1,60,61\n", "x.csv")
    df, _ = ingest.validate(raw, {"patient_id": "patient_id", "age": "age", "Age!": None},
                             "patients")
    assert list(df.columns) == ["patient_id", "age", "age_2"]
