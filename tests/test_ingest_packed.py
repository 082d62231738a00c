"""Compressed and columnar uploads (issue 13): gzip-compressed CSV, a ZIP archive holding one
table, and Parquet load exactly as the plain CSV of the same table does; a ZIP of several
tables, a damaged gzip or Parquet file get a message that says so. Every file is built here,
in memory."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from core.errors import DataFormatError
from core.ingest import DATA_DIR, Upload, load_upload, read_table


def _demo(name: str) -> bytes:
    return (DATA_DIR / f"demo_{name}.csv").read_bytes()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for n, d in members.items():
            z.writestr(n, d)
    return buf.getvalue()


def _parquet(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def _assert_same_cohort(a: object, b: object) -> None:
    for t in ("patients", "labs", "treatments"):
        pd.testing.assert_frame_equal(getattr(a, t), getattr(b, t), check_exact=True)
        ra, rb = a.reports[t], b.reports[t]  # type: ignore[attr-defined]
        pd.testing.assert_frame_equal(ra.rejected, rb.rejected)
        pd.testing.assert_frame_equal(ra.cell_issues, rb.cell_issues)
        assert (ra.rows_read, ra.rows_loaded, ra.conversions) == \
            (rb.rows_read, rb.rows_loaded, rb.conversions)


@pytest.fixture(scope="module")
def plain() -> object:
    return load_upload(Upload("patients.csv", _demo("patients")), Upload("labs.csv", _demo("labs")),
                       Upload("treatments.csv", _demo("treatments")))


@pytest.mark.parametrize("labs_name", ["labs.csv.gz", "labs.csv"])  # by magic bytes, any name
def test_gzip_compressed_csv_loads_as_the_csv(plain: object, labs_name: str) -> None:
    packed = gzip.compress(_demo("labs"))
    assert packed[:2] == b"\x1f\x8b"
    got = load_upload(Upload("patients.csv.gz", gzip.compress(_demo("patients"))),
                      Upload(labs_name, packed), Upload("treatments.csv", _demo("treatments")))
    _assert_same_cohort(got, plain)


def test_zip_of_one_csv_loads_as_the_csv(plain: object) -> None:
    labs = _zip({"export/labs.csv": _demo("labs"), "__MACOSX/export/._labs.csv": b"\x00\x05",
                 ".DS_Store": b"\x00"})
    got = load_upload(Upload("patients.zip", _zip({"patients.csv": _demo("patients")})),
                      Upload("labs.zip", labs), Upload("treatments.csv", _demo("treatments")))
    _assert_same_cohort(got, plain)
    assert got.reports["labs"].filename == "labs.csv (in labs.zip)"


def test_zip_of_one_workbook_loads_its_sheet() -> None:
    buf = io.BytesIO()
    pd.DataFrame({"patient_id": ["P1", "P2"], "age": [61, 70]}).to_excel(buf, index=False)
    got = load_upload(Upload("patients.zip", _zip({"patients.xlsx": buf.getvalue()})))
    assert got.patients["patient_id"].tolist() == ["P1", "P2"]
    assert got.patients["age"].tolist() == [61, 70]


def test_zip_of_several_tables_names_them() -> None:
    data = _zip({"patients.csv": b"patient_id\nP1\n", "labs.csv": b"patient_id,day\nP1,1\n"})
    with pytest.raises(DataFormatError) as exc:
        read_table(data, "export.zip")
    text = str(exc.value)
    assert "'export.zip' is a ZIP archive (2 files: 'patients.csv', 'labs.csv')" in text
    assert "exactly one table" in text and "unpack it" in text


def test_damaged_gzip_says_so() -> None:
    with pytest.raises(DataFormatError) as exc:
        read_table(gzip.compress(b"patient_id\nP1\n")[:-6], "p.csv.gz")
    assert "gzip-compressed" in str(exc.value) and "damaged or was cut short" in str(exc.value)


def test_parquet_loads_as_the_csv_of_the_same_frames(plain: object) -> None:
    frames = {t: pd.read_csv(DATA_DIR / f"demo_{t}.csv") for t in ("patients", "labs",
                                                                     "treatments")}
    got = load_upload(*(Upload(f"{t}.parquet", _parquet(f)) for t, f in frames.items()))
    _assert_same_cohort(got, plain)
    assert got.reports["labs"].detected == "Parquet"


def test_parquet_types_become_the_cells_a_csv_would_hold() -> None:
    # by hand: 61 and 70.5 are numbers, None is missing, True is 1, the infusion date is day 0
    # and a lab taken 3 days and 12 hours later is on day 3.5
    patients = pd.DataFrame({"patient_id": ["P1", " P2 "], "age": [61, 70.5],
                             "tocilizumab": [True, False], "diagnosis": ["DLBCL", None],
                             "infusion date": [dt.date(2024, 1, 5), dt.date(2024, 2, 1)]})
    labs = pd.DataFrame({"patient_id": ["P1", "P2", "P2"], "date": pd.to_datetime(
        ["2024-01-08 12:00:00", "2024-02-01 00:00:00", "2024-02-02 00:00:00"]),
        "analyte": ["fibrinogen", "crp", "crp"], "value": [150.0, 50.0, np.nan],
        "unit": pd.Categorical(["mg/dL", "mg/L", "mg/L"])})
    got = load_upload(Upload("p.parquet", _parquet(patients)), Upload("l.parquet", _parquet(labs)))
    p = got.patients
    assert p["patient_id"].tolist() == ["P1", "P2"]
    assert p["age"].tolist() == [61.0, 70.5] and p["tocilizumab"].tolist() == [1, 0]
    assert p["disease"].tolist() == ["DLBCL", None]  # "diagnosis" is an alias of disease
    assert got.labs["day"].tolist() == [3.5, 0.0]
    assert got.labs["value"].tolist() == [150.0, 5.0]  # 50 mg/L is 5 mg/dL
    rejected = got.reports["labs"].rejected  # the missing value: row 4 of the table
    assert rejected["row"].tolist() == [4] and rejected["reason"].tolist() == ["no usable value"]


def test_damaged_parquet_says_so() -> None:
    data = _parquet(pd.DataFrame({"patient_id": ["P1"]}))
    with pytest.raises(DataFormatError) as exc:
        read_table(data[:40] + data[-4:], "p.parquet")
    assert "starts like a Parquet file but cannot be read" in str(exc.value)
