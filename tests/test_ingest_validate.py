"""core.ingest.validate (and columns): typing, required columns, row rejection, cell problems."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from ingest_cases import load_patients, upload

from core import ingest
from core.errors import ValidationError


@pytest.mark.parametrize("name", ["prose.txt", "no_patient_id.csv"])
def test_no_patient_id_column_names_the_headers_found(name):
    with pytest.raises(ValidationError, match="no column for patient_id") as exc:
        ingest.load_upload(upload(name))
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


def test_every_row_is_loaded_or_listed():
    for name in ["german_cp1252.csv", "duplicate_ids.csv", "crs_grade_7.csv",
                 "text_in_numeric.csv"]:
        _, rep = load_patients(name)
        assert rep.rows_loaded + rep.rows_rejected == rep.rows_read, name


def test_user_mapping_overrides_suggestion_and_duplicates_are_refused():
    raw = ingest.read_table(b"id,grade\nA,2\nB,3\n", "x.csv")
    df, _ = ingest.validate(raw, {"id": "patient_id", "grade": "crs_grade"}, "patients")
    assert df["crs_grade"].tolist() == [2, 3]
    with pytest.raises(ValidationError, match="several headers"):
        ingest.validate(raw, {"id": "patient_id", "grade": "patient_id"}, "patients")


def test_worded_and_roman_grades_are_read_and_listed():
    df, rep = load_patients("worded_grades.csv")
    assert df["crs_grade"].tolist() == [2, 2, 2]
    assert df["icans_grade"].tolist() == [0, 1, 1]
    assert rep.cell_issues[["row", "column", "problem"]].values.tolist() == [
        [2, "crs_grade", "read 'Grad 2' as grade 2"],
        [3, "crs_grade", "read 'II' as grade 2"],
        [3, "icans_grade", "read 'grade I' as grade 1"],
        [4, "icans_grade", "read 'G1' as grade 1"]]


def test_extra_columns_are_typed_column_by_column_in_one_pass():
    """Numbers stay numbers (Int64 when whole), a column with any text stays text, NA tokens
    become missing, a column with no value at all stays text; decided per column although the
    cells are parsed as one block."""
    from core.ingest.columns import extra_columns

    block = pd.DataFrame({
        "ints": ["1", "n.a.", "3"],
        "floats": ["1,5", "2", ""],
        "mixed": ["4", "high", "k.A."],
        "empty": ["", "n/a", "-"],
        "thousands": ["1.234", "12", "7"],
    })
    out = extra_columns(block, decimal=",")
    assert str(out["ints"].dtype) == "Int64"
    assert out["ints"].tolist()[0] == 1 and pd.isna(out["ints"].iloc[1])
    assert out["floats"].dtype == float and out["floats"].iloc[0] == 1.5
    assert np.isnan(out["floats"].iloc[2])
    assert out["mixed"].dtype == object and out["mixed"].tolist() == ["4", "high", None]
    assert out["empty"].tolist() == [None, None, None]
    assert out["thousands"].tolist() == [1234, 12, 7]


def test_bad_arguments_are_programming_errors_not_the_users():
    raw = ingest.read_table(b"patient_id\nA\n", "x.csv")
    with pytest.raises(TypeError, match="bytes"):
        ingest.read_table("patient_id\nA\n", "x.csv")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="table must be one of"):
        ingest.read_table(b"patient_id\nA\n", "x.csv", "patient")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="table must be one of"):
        ingest.validate(raw, {"patient_id": "patient_id"}, "lab")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="RawTable"):
        ingest.validate(raw.frame, {}, "patients")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="table must be one of"):
        ingest.template("drugs")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Upload"):
        ingest.load_upload(b"patient_id\nA\n")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="DataFrame"):
        ingest.load_frames({"patient_id": ["A"]})  # type: ignore[arg-type]
    # what a user's file caused stays a CohortError
    with pytest.raises(ValidationError, match="patient_id"):
        ingest.load_frames(pd.DataFrame({"id": ["A"]}))
