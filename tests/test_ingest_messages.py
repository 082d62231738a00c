"""What the loader tells a user about a file it cannot use as it is.

Each case is one thing a clinic export did. A message must say what the file is and what to do;
never a traceback, never an empty "Reasons: ". Fixtures are in tests/fixtures/uploads (written by
make_uploads.py there); large or generated inputs are built here.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from core import ingest
from core.errors import CohortError, DataFormatError, ValidationError

UPLOADS = Path(__file__).parent / "fixtures" / "uploads"


def upload(name: str) -> ingest.Upload:
    return ingest.Upload(name, (UPLOADS / name).read_bytes())


def message(data: bytes, name: str = "export.csv") -> str:
    with pytest.raises(CohortError) as exc:
        ingest.load_upload(ingest.Upload(name, data))
    text = str(exc.value)
    assert text.strip() and "Traceback" not in text
    return text


# ---------------------------------------------------------------- not a table at all

@pytest.mark.parametrize("name, says, does", [
    ("json_export.csv", "is a JSON file", "Export the table again as CSV or Excel"),
    ("html_download.csv", "is a web page (HTML)", "Download the export again"),
    ("not_a_table.csv", "binary file", "Upload a CSV, TSV or XLSX export"),
])
def test_fixture_files_that_are_not_tables_say_what_they_are(name, says, does):
    with pytest.raises(DataFormatError) as exc:
        ingest.load_upload(upload(name))
    assert says in str(exc.value) and does in str(exc.value)
    assert "Rename a header" not in str(exc.value)   # the old, misleading advice


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n, d in members.items():
            z.writestr(n, d)
    return buf.getvalue()


@pytest.mark.parametrize("data, says", [
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "is a PDF document, not a table"),
    (b'<?xml version="1.0"?>\n<patients><p id="1"/></patients>', "is an XML file"),
    (b'<?xml version="1.0"?>\n<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet">',
     "Excel 2003 XML spreadsheet"),
    (b"{\\rtf1\\ansi Dear colleague}", "Rich Text (RTF) document"),
    (b'{"patients": [1, 2', "is a JSON file"),                 # truncated JSON
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is a PNG image"),
    (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "gzip-compressed file (unpack it first)"),
    (b"SQLite format 3\x00" + b"\x00" * 100, "an SQLite database"),
    (_zip({"a.csv": b"patient_id\nP1\n", "b.pdf": b"%PDF"}), "is a ZIP archive (2 files: "
                                                               "'a.csv', 'b.pdf')"),
    (_zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b""}),
     "OpenDocument spreadsheet (.ods)"),
    (_zip({"word/document.xml": b"<w/>"}), "word-processor document"),
    (b"PK\x03\x04 this is not really a zip", "is damaged"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old Excel 97-2003 (.xls)"),
])
def test_other_formats_are_named(data, says):
    assert says in message(data)


def test_encrypted_workbook_is_named():
    text = message(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "cohort.xlsx")
    assert "password-protected" in text and "Remove the password" in text


def test_damaged_utf16_says_so():
    assert "cannot be decoded" in message(b"\xff\xfep\x00a\x00t\x00\x00\xd8x")


def test_a_csv_named_xlsx_is_read_as_csv_with_a_note():
    c = ingest.load_upload(ingest.Upload("p.xlsx", b"patient_id,age\nP1,60\n"))
    assert c.patients["patient_id"].tolist() == ["P1"]
    assert "read as CSV" in c.reports["patients"].notes[0]


# ---------------------------------------------------------------- tables with a problem

def test_header_only_file_says_there_are_no_data_rows():
    with pytest.raises(ValidationError) as exc:
        ingest.load_upload(upload("header_only.csv"))
    text = str(exc.value)
    assert "'header_only.csv' has a header row but no data rows" in text
    assert "Add one row per patient" in text and "Reasons: " not in text


def test_header_only_labs_file_loads_empty_with_a_note():
    c = ingest.load_upload(upload("patients_p1_p3.csv"),
                            ingest.Upload("labs.csv", b"patient_id,day,analyte,value\n"))
    assert c.labs.empty and "has a header row but no data rows" in c.reports["labs"].notes[-1]


def test_all_rows_rejected_lists_reasons_and_what_to_do():
    text = message(b"patient_id,age\n,60\n,61\n,62\n,63\n")
    assert "no patient row could be loaded (4 rows, all rejected)" in text
    assert "Reasons: row 2: no patient_id; row 3: no patient_id; row 4: no patient_id " \
           "(and 1 more row)" in text
    assert "Correct these rows" in text


def test_a_workbook_without_the_table_names_its_sheets():
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as w:
        pd.DataFrame({"Hinweis": ["Export"]}).to_excel(w, sheet_name="Info", index=False)
        pd.DataFrame({"Name": ["K1"]}).to_excel(w, sheet_name="Daten", index=False)
    text = message(buf.getvalue(), "k.xlsx")
    assert "'k.xlsx', sheet 'Info' (of 2: 'Info', 'Daten')" in text
    assert "no column for patient_id" in text and "another sheet" in text


def test_an_empty_workbook_names_its_sheets():
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as w:
        pd.DataFrame().to_excel(w, sheet_name="Tabelle1", index=False)
        pd.DataFrame().to_excel(w, sheet_name="Tabelle2", index=False)
    text = message(buf.getvalue(), "leer.xlsx")
    assert "its 2 sheets ('Tabelle1', 'Tabelle2') are empty" in text


def test_a_saved_mapping_for_another_file_is_ignored_with_a_note():
    c = ingest.load_upload(upload("patients_p1_p3.csv"),
                            mappings={"patients": {"Pat.-Nr.": "patient_id", "age": "age",
                                                   "crs_grade": "no_such_column"}})
    rep = c.reports["patients"]
    assert c.patients["patient_id"].tolist() == ["P1", "P2", "P3"]
    assert any("'Pat.-Nr.'" in n and "ignored" in n for n in rep.notes)
    assert any("no column 'no_such_column'" in n for n in rep.notes)
