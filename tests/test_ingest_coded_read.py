"""The coded read of UTF-8 text (core.ingest.delimited.read_coded) on the cases its shortcuts
rest on gives the table the csv module gives (the oracle: ``read_table`` with the coded read
switched off): a file without quotation marks (read without looking for quotes), a header
whose text no data row holds (its code unused), blank rows after the last data row, files of
several pyarrow blocks with Windows line breaks, and the files it must decline (an unclosed
quotation mark, a lone carriage return, a value with a line break)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from unittest import mock

import numpy as np
import pandas as pd
import pytest

from core.ingest import delimited, read_table


@contextmanager
def cell_by_cell() -> Iterator[None]:
    with mock.patch.object(delimited, "read_coded", lambda data, delimiter: None):
        yield


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({c: np.asarray(frame[c].astype(object), dtype=object)
                         for c in frame.columns}, index=frame.index)


def assert_coded_as_csv_module(data: bytes) -> None:
    coded = read_table(data, "labs.csv", "labs", coded=True)
    assert all(isinstance(dt, pd.CategoricalDtype) for dt in coded.frame.dtypes)
    for c in coded.frame.columns:  # sorted categories, every one used by a row
        cats = list(coded.frame[c].cat.categories)
        assert cats == sorted(cats)
        assert set(cats) == set(coded.frame[c])
    with cell_by_cell():
        raw = read_table(data, "labs.csv", "labs", coded=True)
    pd.testing.assert_frame_equal(plain(coded.frame), raw.frame)
    assert replace(coded, frame=raw.frame) == replace(raw, frame=raw.frame)


ROWS = [["P1", "0", "fibrinogen", " 2.5", "g/L"], ["P2", "1", "crp ", "12", "mg/L"],
        ["P1", "2", "fibrinogen", "1.9", "g/L"], ["P3", "-1", "ferritin", "", "µg/L"]]


def _csv(rows: list[list[str]], quote: bool = False, eol: str = "\n") -> bytes:
    header = ["patient_id", "day", "analyte", "value", "unit"]
    cell = (lambda c: '"' + c.replace('"', '""') + '"') if quote else (lambda c: c)
    return "".join(",".join(cell(c) for c in r) + eol for r in [header, *rows]).encode()


@pytest.mark.parametrize("quote", [False, True])
@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_quoted_and_unquoted_files_read_alike(quote: bool, eol: str) -> None:
    data = _csv(ROWS, quote, eol)
    assert (b'"' in data) == quote
    assert_coded_as_csv_module(data)
    coded = read_table(data, "labs.csv", "labs", coded=True)
    assert list(coded.frame["analyte"].cat.categories) == ["crp", "ferritin", "fibrinogen"]
    assert coded.frame["value"].tolist() == ["2.5", "12", "1.9", ""]


def test_header_text_held_by_a_data_row_or_none() -> None:
    assert_coded_as_csv_module(_csv(ROWS))  # no row holds "analyte": its code is unused
    again = [*ROWS, ["P4", "3", "analyte", "1", "unit"]]  # a row holds it: a category
    assert_coded_as_csv_module(_csv(again))
    coded = read_table(_csv(again), "labs.csv", "labs", coded=True)
    assert "analyte" in list(coded.frame["analyte"].cat.categories)
    assert "patient_id" not in list(coded.frame["patient_id"].cat.categories)


def test_blank_rows_after_the_last_data_row() -> None:
    data = _csv(ROWS) + b",,,,\n , ,,,\n"
    assert_coded_as_csv_module(data)
    assert len(read_table(data, "labs.csv", "labs", coded=True).frame) == 4


@pytest.mark.parametrize("quote", [False, True])
def test_file_of_several_blocks(quote: bool) -> None:
    rows = [[f"P{i % 997}", str(i % 30 - 5), ["crp", "fibrinogen", " ldh"][i % 3],
             f"{(i * 7919) % 1000 / 10:g}", ["mg/L", "g/L", "U/L "][i % 3]]
            for i in range(120_000)]  # ~3 MB: several of pyarrow's 1 MB blocks
    data = _csv(rows, quote, "\r\n")
    assert len(data) > 2_500_000
    assert_coded_as_csv_module(data)


@pytest.mark.parametrize("data", [
    b'patient_id,day,analyte,value,unit\nP1,0,crp,"12,mg/L\nP2,1,crp,3,mg/L\n',
    b"patient_id,day,analyte,value,unit\rP1,0,crp,12,mg/L\nP2,1,crp,3,mg/L\n",
    b'patient_id,day,analyte,value,unit\nP1,0,"c\nrp",12,mg/L\nP2,1,crp,3,mg/L\n',
])
def test_declined_files(data: bytes) -> None:
    assert delimited.read_coded(data, ",") is None
