"""core.ingest.read (and filekind, delimited, workbook): bytes -> RawTable, the bad-input corpus.

The corpus lives in tests/fixtures/uploads (written by make_uploads.py there). Every bad file
must end in a CohortError whose message says what to fix, or load with every dropped row and
unusable cell listed.
"""

from __future__ import annotations

import pandas as pd
import pytest
from ingest_cases import UPLOADS, load_patients, load_patients_bytes, upload

from core import ingest
from core.errors import DataFormatError


def test_german_export_semicolon_decimal_comma_cp1252_and_units():
    raw = ingest.read_table((UPLOADS / "german_cp1252.csv").read_bytes(), "german.csv")
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
        ingest.load_upload(upload(name))


def test_a_cell_longer_than_the_csv_field_limit_loads():
    long = "x" * 300_000   # Python's csv module stops at 131,072 characters by default
    data = f"patient_id,age,comment\nP1,60,{long}\nP2,61,ok\n".encode()
    raw = ingest.read_table(data, "long.csv")
    assert raw.delimiter == "," and len(raw.frame) == 2
    df, rep = load_patients_bytes(data)
    assert df["comment"].iloc[0] == long and rep.rows_loaded == 2


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
    raw = ingest.read_table((UPLOADS / "table_on_sheet2.xlsx").read_bytes(), "k.xlsx",
                             "patients")
    assert raw.sheet == "Patienten" and raw.sheets == ("Info", "Patienten", "Labs")
    assert raw.describe() == "Excel workbook, sheet 'Patienten' (of 3: 'Info', 'Patienten', " \
                             "'Labs')"
    wb = upload("table_on_sheet2.xlsx")
    c = ingest.load_upload(wb, wb)   # one workbook for both tables: each finds its sheet
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


def test_every_new_fixture_loads_every_row_or_lists_it():
    for name in ["mixed_delimiter.csv", "ragged_rows.csv", "nul_in_value.csv",
                 "old_mac_cr.csv", "repeated_header.csv", "worded_grades.csv",
                 "emoji_headers.csv", "table_on_sheet2.xlsx"]:
        _, rep = load_patients(name)
        assert rep.rows_loaded + rep.rows_rejected == rep.rows_read, name
        assert rep.rejected["reason"].str.len().gt(0).all(), name
