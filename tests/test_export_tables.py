"""Tests of core.export.tables: CSV and XLSX that a spreadsheet opens without running formulas."""

from __future__ import annotations

import io

import numpy as np
import openpyxl
import pandas as pd
import pytest

from core.export import safe_csv, table_xlsx

# ---------------------------------------------------------------------------------------------
# safe CSV
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def nasty() -> pd.DataFrame:
    return pd.DataFrame({
        "text": ["=1+1", "+49 30 1234", "-cmd", "@SUM(A1)", "\tTAB", "\rCR", "M\u00fcller",
                 "tisa-cel", None],
        "number": [-3, 2, -0.5, 1e-12, 0, 7, 8, 9, 10],
        "mixed": ["=HYPERLINK(\"x\")", -3, 4.25, "plain", "", None, "a,b", 'q"uote', "x\ny"],
        "cat": pd.Categorical(["=x", "ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok"]),
    })


def test_safe_csv_neutralises_formula_cells(nasty):
    raw = safe_csv(nasty)
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for Excel
    back = pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig", keep_default_na=False)
    assert list(back.columns) == ["text", "number", "mixed", "cat"]
    assert list(back["text"][:6]) == ["'=1+1", "'+49 30 1234", "'-cmd", "'@SUM(A1)", "'\tTAB",
                                      "'\rCR"]
    assert back["text"][6] == "M\u00fcller" and back["text"][7] == "tisa-cel"
    assert back["mixed"][0] == "'=HYPERLINK(\"x\")"
    assert back["mixed"][1] == "-3"  # a number in a text column is not a formula
    assert list(back["mixed"][6:]) == ["a,b", 'q"uote', "x\ny"]
    assert back["cat"][0] == "'=x"


def test_safe_csv_keeps_numbers_numbers(nasty):
    back = pd.read_csv(io.BytesIO(safe_csv(nasty)))
    assert pd.api.types.is_numeric_dtype(back["number"])
    assert back["number"].tolist() == nasty["number"].tolist()  # full precision, -3 stays -3
    assert b"'-3" not in safe_csv(nasty)
    assert b"'-0.5" not in safe_csv(nasty)


def test_safe_csv_no_cell_starts_with_a_trigger(nasty):
    import csv as csvmod

    text = safe_csv(nasty.drop(columns=["number", "mixed"])).decode("utf-8-sig")
    for row in csvmod.reader(io.StringIO(text, newline="")):
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_safe_csv_neutralises_headers_and_supports_semicolons():
    df = pd.DataFrame({"=evil": ["a"], "Fibrinogen [mg/dl]": [1.5]})
    back = pd.read_csv(io.BytesIO(safe_csv(df, sep=";", decimal=",")), sep=";", decimal=",")
    assert list(back.columns) == ["'=evil", "Fibrinogen [mg/dl]"]
    assert back.iloc[0, 1] == 1.5

# ---------------------------------------------------------------------------------------------
# XLSX
# ---------------------------------------------------------------------------------------------

def test_xlsx_stores_formula_text_as_string(nasty):
    wb = openpyxl.load_workbook(io.BytesIO(table_xlsx(nasty, sheet="patients")))
    ws = wb["patients"]
    assert [c.value for c in ws[1]] == ["text", "number", "mixed", "cat"]
    a2 = ws["A2"]
    assert a2.value == "=1+1" and a2.data_type == "s" and a2.quotePrefix
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            assert cell.data_type != "f", cell.coordinate
    assert ws["B2"].value == -3 and ws["B2"].data_type == "n"
    assert ws["C3"].value == -3 and ws["C3"].data_type == "n"
    assert ws["A8"].value == "M\u00fcller" and not ws["A8"].quotePrefix
    assert ws["A10"].value is None  # missing stays empty


def test_xlsx_sheet_name_is_made_valid():
    wb = openpyxl.load_workbook(io.BytesIO(table_xlsx(pd.DataFrame({"a": [1]}),
                                                      sheet="CRS [1/2]: a very long sheet name")))
    assert len(wb.sheetnames[0]) <= 31 and "/" not in wb.sheetnames[0]


def test_xlsx_keeps_types_and_drops_time_zones():
    df = pd.DataFrame({"flag": [True], "n": [np.int64(3)], "x": [np.float64(-0.25)],
                       "t": [pd.Timestamp("2026-01-02 03:04", tz="Europe/Berlin")]})
    ws = openpyxl.load_workbook(io.BytesIO(table_xlsx(df))).active
    assert [c.value for c in ws[2]][:3] == [True, 3, -0.25]
    assert ws["D2"].value.hour == 3


def test_categorical_text_is_neutralised_like_object_text():
    """A lab table's categorical columns: the same bytes as the same column as object text,
    also when neutralising would merge two categories ("=a" and "'=a")."""
    for values in (["=a", "b", "-c", "b", None], ["=a", "'=a", "b", "=a", None]):
        obj = pd.DataFrame({"x": pd.Series(values, dtype=object), "v": [1.5, -2, 3, 4, 5]})
        cat = obj.assign(x=obj["x"].astype("category"))
        assert safe_csv(cat) == safe_csv(obj)
        # "=a" gets its quote; "b" and "'=a" (starts with a quote, not a trigger) stay
        assert pd.read_csv(io.BytesIO(safe_csv(cat)))["x"].tolist()[:2] == ["'=a", values[1]]
