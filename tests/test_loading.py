"""core.loading: reading, header mapping, validation, and the bad-input corpus.

The corpus lives in tests/fixtures/uploads (written by make_uploads.py there). Every bad file
must end in a CohortError whose message says what to fix, or load with every dropped row and
unusable cell listed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import loading
from core.errors import DataFormatError, ValidationError

UPLOADS = Path(__file__).parent / "fixtures" / "uploads"


def upload(name: str) -> loading.Upload:
    return loading.Upload(name, (UPLOADS / name).read_bytes())


def load_patients(name: str) -> tuple[pd.DataFrame, loading.LoadReport]:
    cohort = loading.load_upload(upload(name))
    return cohort.patients, cohort.reports["patients"]


def test_german_export_semicolon_decimal_comma_cp1252_and_units():
    raw = loading.read_table((UPLOADS / "german_cp1252.csv").read_bytes(), "german.csv")
    assert (raw.delimiter, raw.decimal, raw.encoding) == (";", ",", "cp1252")
    df, rep = load_patients("german_cp1252.csv")
    assert list(df["patient_id"]) == ["K-01", "K-02", "K-03", "K-04"]
    assert rep.mapping["Geschlecht"] == "sex" and rep.mapping["CRS Grad"] == "crs_grade"
    assert rep.mapping["Fibrinogen Nadir [g/l]"] == "fibrinogen_nadir"
    # g/L in the header -> mg/dL
    assert df["fibrinogen_baseline"].tolist() == pytest.approx([380, 310, 420, 290])
    assert df["fibrinogen_nadir"].iloc[0] == pytest.approx(120)
    assert any("g/l" in c and "mg/dL" in c for c in rep.conversions)
    # "<0,5" is a censored value: used as 0.5 g/L = 50 mg/dL and listed
    assert df["fibrinogen_nadir"].iloc[2] == pytest.approx(50)
    censored = rep.cell_issues[rep.cell_issues["column"] == "fibrinogen_nadir"]
    assert censored["value"].tolist() == ["<0,5"]
    assert df["sex"].tolist() == ["F", "M", "M", "F"]
    assert df["tocilizumab"].tolist() == [1, 0, 1, 0]
    assert pd.isna(df["icans_grade"].iloc[2])   # "n.a." is missing, not an error
    assert df["station"].iloc[0] == "Hämatologie 1"   # umlaut decoded, extra column kept
    assert rep.rows_read == rep.rows_loaded == 4


def test_utf8_bom_tsv_and_xlsx():
    df, _ = load_patients("utf8_bom.csv")
    assert list(df.columns[:2]) == ["patient_id", "age"] and len(df) == 2
    df, _ = load_patients("tab_separated.tsv")
    assert df["crs_grade"].tolist() == [0, 1, 2]
    df, rep = load_patients("excel_export.xlsx")
    assert rep.detected.startswith("Excel")
    assert df["patient_id"].tolist() == ["X1", "X2"]
    assert df["fibrinogen_nadir"].tolist() == pytest.approx([150.5, 90.0])


@pytest.mark.parametrize("name, fragment", [
    ("empty.csv", "is empty"),
    ("only_blank_lines.csv", "is empty"),
    ("not_a_table.csv", "not a table"),
])
def test_unreadable_files_say_why(name, fragment):
    with pytest.raises(DataFormatError, match=fragment):
        loading.load_upload(upload(name))


@pytest.mark.parametrize("name", ["prose.txt", "no_patient_id.csv"])
def test_no_patient_id_column_names_the_headers_found(name):
    with pytest.raises(ValidationError, match="no column for patient_id") as exc:
        loading.load_upload(upload(name))
    assert "Headers found" in str(exc.value)


def test_duplicate_ids_reject_every_copy_and_keep_the_rest():
    df, rep = load_patients("duplicate_ids.csv")
    assert df["patient_id"].tolist() == ["P2", "P3"]
    assert rep.rejected["row"].tolist() == [2, 4]
    assert rep.rejected["reason"].str.contains("appears in rows 2, 4").all()
    assert rep.rows_read == rep.rows_loaded + rep.rows_rejected


def test_crs_grade_7_is_listed_and_set_missing():
    df, rep = load_patients("crs_grade_7.csv")
    assert len(df) == 3 and pd.isna(df.loc[1, "crs_grade"])
    issue = rep.cell_issues.iloc[0]
    assert (issue["row"], issue["column"], issue["value"]) == (3, "crs_grade", "7")
    assert "0-4" in issue["problem"]


def test_text_in_numeric_column_lists_every_cell():
    df, rep = load_patients("text_in_numeric.csv")
    assert len(df) == 3
    assert rep.cell_issues[["row", "column", "value"]].values.tolist() == [
        [2, "age", "sixty"], [3, "tocilizumab_cum_mg", "viel"]]
    assert df["tocilizumab_cum_mg"].iloc[2] == 1600


def test_labs_for_unknown_patient_rejected_units_converted_analytes_folded():
    cohort = loading.load_upload(upload("patients_p1_p3.csv"), upload("labs_unknown_patient.csv"))
    labs, rep = cohort.labs, cohort.reports["labs"]
    assert rep.rejected["patient_id"].tolist() == ["P9"]
    assert "not in the patient table" in rep.rejected["reason"].iloc[0]
    assert rep.rows_read == 4 and rep.rows_loaded == 3
    fib = labs[labs["analyte"] == "fibrinogen"].set_index("patient_id")["value"]
    assert fib["P2"] == pytest.approx(210)   # "Fibrinogen" 2.1 g/L -> 210 mg/dL
    assert any("Quark" in n for n in rep.notes)   # unknown analyte kept and named


def test_every_row_is_loaded_or_listed():
    for name in ["german_cp1252.csv", "duplicate_ids.csv", "crs_grade_7.csv",
                 "text_in_numeric.csv"]:
        _, rep = load_patients(name)
        assert rep.rows_loaded + rep.rows_rejected == rep.rows_read, name


def test_suggest_mapping_ignores_case_space_units():
    m = loading.suggest_mapping(["PATIENT ID", "Fibrinogen [mg/dl]", "crs grad", "Alter (J)",
                                 "Something else"], "patients")
    assert m == {"PATIENT ID": "patient_id", "Fibrinogen [mg/dl]": None, "crs grad": "crs_grade",
                 "Alter (J)": "age", "Something else": None}


def test_user_mapping_overrides_suggestion_and_duplicates_are_refused():
    raw = loading.read_table(b"id,grade\nA,2\nB,3\n", "x.csv")
    df, _ = loading.validate(raw, {"id": "patient_id", "grade": "crs_grade"}, "patients")
    assert df["crs_grade"].tolist() == [2, 3]
    with pytest.raises(ValidationError, match="several headers"):
        loading.validate(raw, {"id": "patient_id", "grade": "patient_id"}, "patients")


def test_fibrinogen_in_g_per_l_recognised_from_values_without_unit():
    raw = loading.read_table(b"patient_id,fibrinogen_nadir\nA,1.5\nB,2.5\nC,0.9\n", "x.csv")
    df, rep = loading.validate(raw, loading.suggest_mapping(raw.headers, "patients"), "patients")
    assert df["fibrinogen_nadir"].tolist() == pytest.approx([150, 250, 90])
    assert "look like g/L" in rep.conversions[0]


def test_data_dictionary_and_templates_cover_the_schema():
    d = loading.data_dictionary()
    assert {"patients", "labs", "treatments"} <= set(d["table"])
    assert d.loc[d["column"] == "patient_id", "required"].all()
    for table in ("patients", "labs", "treatments"):
        tpl = loading.template(table)
        raw = loading.read_table(tpl.to_csv(index=False).encode(), f"{table}.csv")
        mapping = loading.suggest_mapping(raw.headers, table)
        assert all(mapping.values()), table   # a template maps onto itself completely


def test_dates_become_days_after_infusion_and_are_dropped():
    patients = (b"Patient ID,Infusion date,Progression date,age\n"
                b"A,01.03.2024,15.06.2024,60\nB,05.03.2024,,70\n")
    labs = (b"patient_id,Datum,analyte,value\nA,02.03.2024 06:00,fibrinogen,300\n"
            b"B,01.03.2024,fibrinogen,250\n")
    c = loading.load_upload(loading.Upload("p.csv", patients), loading.Upload("l.csv", labs))
    # 1 March -> 15 June 2024 is 106 days; 06:00 on the next day is day 1.25
    assert c.patients["progression_date_days_after_infusion"].tolist()[0] == 106
    assert c.labs.sort_values("patient_id")["day"].tolist() == [1.25, -4.0]
    no_dates = " ".join(map(str, c.patients.columns)) + " ".join(map(str, c.labs.columns))
    assert "Infusion date" not in no_dates and "Datum" not in no_dates
    assert any("dropped" in n for n in c.reports["patients"].notes)


def test_dates_without_an_infusion_date_are_dropped_with_a_note():
    c = loading.load_upload(loading.Upload("p.csv", b"patient_id,Progression date\nA,2024-01-02\n"))
    assert list(c.patients.columns) == ["patient_id"]
    assert "no infusion date" in c.reports["patients"].notes[0]


def test_committed_templates_match_the_code():
    d = Path(__file__).resolve().parent.parent / "data" / "templates"
    for table in ("patients", "labs", "treatments"):
        committed = pd.read_csv(d / f"{table}.csv")
        assert list(committed.columns) == list(loading.template(table).columns), table
        assert len(committed) == 2
    dictionary = pd.read_csv(d / "data_dictionary.csv", keep_default_na=False)
    assert dictionary["column"].tolist() == loading.data_dictionary()["column"].tolist()


# ---------------------------------------------------------------- the tester's clinic files

def test_a_cell_longer_than_the_csv_field_limit_loads():
    long = "x" * 300_000   # Python's csv module stops at 131,072 characters by default
    data = f"patient_id,age,comment\nP1,60,{long}\nP2,61,ok\n".encode()
    raw = loading.read_table(data, "long.csv")
    assert raw.delimiter == "," and len(raw.frame) == 2
    df, rep = load_patients_bytes(data)
    assert df["comment"].iloc[0] == long and rep.rows_loaded == 2


def load_patients_bytes(data: bytes, name: str = "x.csv"):
    cohort = loading.load_upload(loading.Upload(name, data))
    return cohort.patients, cohort.reports["patients"]


def test_a_row_with_another_delimiter_is_rejected_and_named():
    df, rep = load_patients("mixed_delimiter.csv")
    assert df["patient_id"].tolist() == ["P001", "P002", "P003", "P005"]
    assert rep.rejected.to_dict("records") == [{
        "row": 5, "patient_id": "P004;67;M;ide-cel;2;0;1;1;0;300;150;H1",
        "reason": "has 1 field where the header has 12; it looks ';'-separated — the rest of "
                  "the file uses ','"}]
    assert rep.rows_read == 5 == rep.rows_loaded + rep.rows_rejected


def test_rows_with_fewer_or_more_fields_are_listed_not_padded():
    df, rep = load_patients("ragged_rows.csv")
    # P4 has a trailing empty field (Excel writes those): it loads
    assert df["patient_id"].tolist() == ["P1", "P4", "P5"]
    reasons = dict(zip(rep.rejected["row"], rep.rejected["reason"]))
    assert reasons[3].startswith("has 2 fields where the header has 3")
    assert reasons[4].startswith("has 4 fields where the header has 3")
    assert "without quotes" in reasons[4]
    assert rep.rows_read == 5 == rep.rows_loaded + rep.rows_rejected


def test_an_unclosed_quote_is_named():
    _, rep = load_patients_bytes(b'patient_id,age,note\nP1,60,"oops\nP2,61,x\nP3,62,y\n')
    assert "quotation mark" in rep.rejected["reason"].iloc[0]


def test_table_on_the_second_sheet_is_found_and_named():
    raw = loading.read_table((UPLOADS / "table_on_sheet2.xlsx").read_bytes(), "k.xlsx",
                             "patients")
    assert raw.sheet == "Patienten" and raw.sheets == ("Info", "Patienten", "Labs")
    assert raw.describe() == "Excel workbook, sheet 'Patienten' (of 3: 'Info', 'Patienten', " \
                             "'Labs')"
    wb = upload("table_on_sheet2.xlsx")
    c = loading.load_upload(wb, wb)   # one workbook for both tables: each finds its sheet
    assert c.patients["patient_id"].tolist() == ["K-01", "K-02", "K-03"]
    assert c.labs["value"].tolist() == [380, 140]
    assert "sheet 'Labs'" in c.reports["labs"].detected


def test_single_sheet_workbook_names_its_sheet():
    _, rep = load_patients("excel_export.xlsx")
    assert rep.detected == "Excel workbook, sheet 'Sheet1' (its only sheet)"


def test_a_nul_byte_in_one_value_is_removed_and_listed():
    df, rep = load_patients("nul_in_value.csv")
    assert df["comment"].tolist()[:2] == ["ok", "seenote"]
    issue = rep.cell_issues.iloc[0]
    assert (issue["row"], issue["column"], issue["value"]) == (3, "comment", "seenote")
    assert "NUL" in issue["problem"]


def test_old_mac_line_endings_load():
    df, rep = load_patients("old_mac_cr.csv")
    assert df["patient_id"].tolist() == ["M1", "M2", "M3"] and rep.rows_rejected == 0
    assert df["crs_grade"].tolist() == [1, 2, 0]


def test_a_repeated_header_row_is_rejected_and_listed():
    df, rep = load_patients("repeated_header.csv")
    assert df["patient_id"].tolist() == ["P1", "P2", "P3"]
    assert rep.rejected["row"].tolist() == [4]
    assert rep.rejected["reason"].iloc[0].startswith("repeated header row")
    assert rep.rows_read == 4 == rep.rows_loaded + rep.rows_rejected


def test_worded_and_roman_grades_are_read_and_listed():
    df, rep = load_patients("worded_grades.csv")
    assert df["crs_grade"].tolist() == [2, 2, 2]
    assert df["icans_grade"].tolist() == [0, 1, 1]
    assert rep.cell_issues[["row", "column", "problem"]].values.tolist() == [
        [2, "crs_grade", "read 'Grad 2' as grade 2"],
        [3, "crs_grade", "read 'II' as grade 2"],
        [3, "icans_grade", "read 'grade I' as grade 1"],
        [4, "icans_grade", "read 'G1' as grade 1"]]


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
    raw = loading.read_table(b"patient_id,age,Age!\nP1,60,61\n", "x.csv")
    df, _ = loading.validate(raw, {"patient_id": "patient_id", "age": "age", "Age!": None},
                             "patients")
    assert list(df.columns) == ["patient_id", "age", "age_2"]


def test_every_new_fixture_loads_every_row_or_lists_it():
    for name in ["mixed_delimiter.csv", "ragged_rows.csv", "nul_in_value.csv",
                 "old_mac_cr.csv", "repeated_header.csv", "worded_grades.csv",
                 "emoji_headers.csv", "table_on_sheet2.xlsx"]:
        _, rep = load_patients(name)
        assert rep.rows_loaded + rep.rows_rejected == rep.rows_read, name
        assert rep.rejected["reason"].str.len().gt(0).all(), name


def test_extra_columns_are_typed_column_by_column_in_one_pass():
    """Numbers stay numbers (Int64 when whole), a column with any text stays text, NA tokens
    become missing, a column with no value at all stays text; decided per column although the
    cells are parsed as one block."""
    from core.loading import _extra_columns

    block = pd.DataFrame({
        "ints": ["1", "n.a.", "3"],
        "floats": ["1,5", "2", ""],
        "mixed": ["4", "high", "k.A."],
        "empty": ["", "n/a", "-"],
        "thousands": ["1.234", "12", "7"],
    })
    out = _extra_columns(block, decimal=",")
    assert str(out["ints"].dtype) == "Int64"
    assert out["ints"].tolist()[0] == 1 and pd.isna(out["ints"].iloc[1])
    assert out["floats"].dtype == float and out["floats"].iloc[0] == 1.5
    assert np.isnan(out["floats"].iloc[2])
    assert out["mixed"].dtype == object and out["mixed"].tolist() == ["4", "high", None]
    assert out["empty"].tolist() == [None, None, None]
    assert out["thousands"].tolist() == [1234, 12, 7]
