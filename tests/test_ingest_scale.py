"""The ingest at registry scale (issue 13) reads lab and treatment files dictionary-encoded
(``read_table(..., coded=True)``: pandas Categorical columns) and validates, normalises and
converts them per category. These tests pin that this gives exactly the tables and reports of
the cell-by-cell path (the csv module's object frames, the oracle), for random tables and for
a hand-built table with every unit rule in it, and that the key columns come out Categorical
with sorted categories."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_ingest_vectorised import KNOWN, SETTINGS, _csv, lab_tables

from core.ingest import Upload, delimited, load_upload, read_table
from core.ingest.coded import categorical
from core.ingest.cohort import normalise_labs
from core.ingest.mapping import merge_mapping
from core.ingest.report import LoadReport
from core.ingest.validate import validate


@contextmanager
def cell_by_cell() -> Iterator[None]:
    """No pyarrow path: every file is read by the csv module into object frames."""
    with mock.patch.object(delimited, "read_coded", lambda data, delimiter: None):
        yield


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns as object columns with None where missing (the object frames)."""
    out = {}
    for c in frame.columns:
        col = frame[c]
        if isinstance(col.dtype, pd.CategoricalDtype):
            values = col.astype(object).to_numpy(dtype=object)
            values[col.isna().to_numpy()] = None
            col = pd.Series(values, index=frame.index, dtype=object, name=c)
        out[c] = col
    return pd.DataFrame(out, index=frame.index)


def assert_same(new: tuple[pd.DataFrame, LoadReport], old: tuple[pd.DataFrame, LoadReport]
                ) -> None:
    (frame, rep), (frame0, rep0) = new, old
    pd.testing.assert_frame_equal(plain(frame), frame0, check_exact=True)
    for c in frame.columns:  # coded columns: sorted categories, every one used
        if isinstance(frame[c].dtype, pd.CategoricalDtype):
            cats = list(frame[c].cat.categories)
            assert cats == sorted(cats)
            assert set(cats) == set(frame[c].dropna())
    pd.testing.assert_frame_equal(rep.rejected, rep0.rejected, check_exact=True)
    pd.testing.assert_frame_equal(rep.cell_issues, rep0.cell_issues, check_exact=True)
    assert rep == replace(rep0, rejected=rep.rejected, cell_issues=rep.cell_issues)


@settings(SETTINGS, max_examples=60)
@given(lab_tables(), st.sampled_from([None, 12.0]))
def test_coded_labs_equal_the_cell_by_cell_path(table: tuple[bytes, str],
                                                  pt_normal: float | None) -> None:
    data, name = table
    coded = read_table(data, name, "labs", coded=True)
    with cell_by_cell():
        raw = read_table(data, name, "labs")
    assert all(pd.api.types.is_object_dtype(dt) for dt in raw.frame.dtypes)
    pd.testing.assert_frame_equal(plain(coded.frame), raw.frame)
    assert replace(coded, frame=raw.frame) == replace(raw, frame=raw.frame)
    mapping = merge_mapping(None, raw.headers, "labs")
    new = validate(coded, mapping, "labs", known_patients=KNOWN)
    old = validate(raw, mapping, "labs", known_patients=KNOWN)
    assert_same(new, old)
    if "analyte" in new[0]:
        assert_same(normalise_labs(*new, pt_normal_seconds=pt_normal),
                    normalise_labs(*old, pt_normal_seconds=pt_normal))


def _lab_rows(n: int, seed: int) -> list[list[str]]:
    """Lab rows with every unit rule at work: conversions (g/L, mg/L FEU, DDU, µg/L), Quick %
    and PT seconds named INR, PT seconds, a fibrinogen in g/L stated as mg/dL for one patient
    (contradicted), an unknown analyte and unit, censored and comma values, an unknown
    patient, white space around cells."""
    rng = np.random.default_rng(seed)
    kinds = [("fibrinogen", "mg/dL", 300), ("Fibrinogen", "g/L", 3), ("fibrinogen", " mg/dl ", 250),
             ("D-Dimer", "mg/L FEU", 2), ("d_dimer", "ng/mL DDU", 900), ("d_dimer", "µg/L", 700),
             ("INR", "", 1.1), ("INR", "%", 80), ("INR", "s", 13), ("PT", "s", 14),
             ("Quick", "%", 70), ("platelets", "10^9/L", 150), ("PLT", "/nl", 120),
             ("crp", "mg/L", 40), ("unknownase", "U/L", 5), ("ferritin", "furlongs", 3)]
    rows = []
    for i in range(n):
        pid = f"P{int(rng.integers(0, 40))}" if rng.random() > 0.002 else "NOBODY"
        a, u, centre = kinds[int(rng.integers(0, len(kinds)))]
        if pid == "P7" and a.lower() == "fibrinogen":
            u, centre = "mg/dL", 3.0  # g/L values stated as mg/dL: contradicted
        v = f"{centre * rng.uniform(0.5, 1.5):.2f}"
        r = rng.random()
        v = "<0.5" if r < 0.01 else v.replace(".", ",") if r < 0.02 else "n.a." if r < 0.03 else v
        rows.append([f" {pid}" if i % 97 == 0 else pid, str(int(rng.integers(-5, 60))), a, v, u])
    return rows


@pytest.mark.parametrize("pt_normal", [None, 12.0])
def test_load_upload_coded_equals_the_cell_by_cell_path(pt_normal: float | None) -> None:
    patients = _csv(["patient_id", "age"], [[f"P{i}", str(40 + i)] for i in range(40)])
    labs = _csv(["patient_id", "day", "analyte", "value", "unit"], _lab_rows(6000, 1))
    treatments = _csv(["patient_id", "day", "drug", "dose", "unit"],
                      [[f"P{i}", "1", "tocilizumab" if i % 3 else "RoActemra",
                        "0.8" if i % 5 == 0 else "560", "g" if i % 5 == 0 else "mg"]
                       for i in range(40)])
    ups = (Upload("patients.csv", patients), Upload("labs.csv", labs),
           Upload("treatments.csv", treatments))
    new = load_upload(*ups, pt_normal_seconds=pt_normal)
    with cell_by_cell():
        old = load_upload(*ups, pt_normal_seconds=pt_normal)
    for table in ("labs", "treatments"):
        assert_same((getattr(new, table), new.reports[table]),
                    (getattr(old, table), old.reports[table]))
    pd.testing.assert_frame_equal(new.patients, old.patients)
    for c in ("patient_id", "analyte", "unit"):
        assert isinstance(new.labs[c].dtype, pd.CategoricalDtype), c
    for c in ("patient_id", "drug", "unit"):
        assert isinstance(new.treatments[c].dtype, pd.CategoricalDtype), c
    said = " ".join(new.reports["labs"].conversions)
    # the rules were at work (so the equality above is not vacuous)
    assert "contradict their unit" in said and "P7" in said
    assert "kept as analyte 'quick'" in said and "converted to mg/dL (x 100)" in said
    assert ("PT values in s converted to an INR approximation" in said) == (pt_normal is not None)
    assert len(new.reports["labs"].rejected) > 0 and len(new.reports["labs"].cell_issues) > 0


def test_categorical_equals_pandas_categorical_of_the_texts() -> None:
    per_code = np.array(["b", "a", None, "z", "a", "c"], dtype=object)  # "c" unused
    codes = np.array([0, 1, 2, 1, -1, 0, 4, 3])
    out = categorical(codes, per_code, pd.RangeIndex(8))
    # by hand: per_code[codes] with -1 missing; categories sorted, unused "c" left out
    expected = pd.Series(pd.Categorical(["b", "a", None, "a", None, "b", "a", "z"]))
    pd.testing.assert_series_equal(out, expected)
    assert list(out.cat.categories) == ["a", "b", "z"]


_DIGITS = st.text(st.sampled_from("0123456789"), min_size=1, max_size=25)
_NUMBER_TEXT = st.one_of(
    st.builds(lambda m, a, b: f"{m}{a}.{b}", st.sampled_from(["", "-", "+"]), _DIGITS, _DIGITS),
    st.builds(lambda m, a, b: f"{m}{a},{b}", st.sampled_from(["", "-"]), _DIGITS, _DIGITS),
    st.builds(lambda m, a: f"{m}{a}", st.sampled_from(["", "-"]), _DIGITS),
    st.sampled_from(["1e400", "9" * 400, "-0", "007", "1.234,5", "1,234.5", "<0.5", " 3.5",
                     "3.5\n", "٣", "NA", "", "1 000", "−3", "inf", "0.1", "12345678901234567890"]),
)


@settings(SETTINGS, max_examples=150)
@given(st.lists(_NUMBER_TEXT, min_size=64, max_size=200), st.sampled_from([".", ",", None]))
def test_plain_numbers_read_as_parse_numbers_reads_them(texts: list[str],
                                                        decimal: str | None) -> None:
    """The plain-number shortcut of read_numbers gives what the string methods give."""
    from core.ingest import parse

    cells = pd.Series(texts, dtype=object)
    fast = parse.read_numbers(cells, decimal)
    with mock.patch.object(parse, "_plain_numbers", lambda text, mark: np.zeros(len(text), bool)):
        slow = parse.read_numbers(cells, decimal)
    for a, b in zip((fast.values, fast.censored, fast.na, fast.failed),
                    (slow.values, slow.censored, slow.na, slow.failed)):
        np.testing.assert_array_equal(a, b)


# the cell-by-cell date recognition before the per-distinct one (the oracle)
def _old_date_like_columns(frame: pd.DataFrame) -> list[str]:
    from core.ingest.dates import _DATE_LIKE
    from core.ingest.parse import is_na

    cells = pd.Series(frame.to_numpy(dtype=object).ravel(order="F"), dtype=object).astype(str)
    shape = frame.shape
    known = (~is_na(cells)).to_numpy().reshape(shape, order="F")
    dated = cells.str.match(_DATE_LIKE).to_numpy().reshape(shape, order="F") & known
    n_known = known.sum(axis=0)
    ratio = np.divide(dated.sum(axis=0), n_known, out=np.zeros(shape[1]), where=n_known > 0)
    return [c for c, r in zip(frame.columns, ratio) if r >= 0.8]


def _old_parse_dates(raw: pd.Series) -> pd.Series | None:
    from core.ingest.dates import _DATE_FORMATS, _DATE_LIKE
    from core.ingest.parse import is_na

    cells = raw[~is_na(raw)]
    if cells.empty or not cells.str.match(_DATE_LIKE).mean() >= 0.8:
        return None
    parsed = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    for fmt in _DATE_FORMATS:
        parsed = parsed.fillna(pd.to_datetime(raw.where(~is_na(raw)), format=fmt,
                                              errors="coerce"))
    return parsed if parsed[cells.index].notna().mean() >= 0.8 else None


_DATE_CELL = st.sampled_from(["2024-01-05", "05.01.2024", "5/1/2024", "05.01.24", "", "NA",
                              "2024-01-05T10:00:00", "2024-01-05 10:00", "31.02.2024", "x",
                              "2024-13-01", "12", "n.a.", "2024-01-05 10:00:00", "1.2.3"])


@settings(SETTINGS, max_examples=150)
@given(st.lists(st.lists(_DATE_CELL, min_size=3, max_size=3), min_size=1, max_size=30),
       st.booleans())
def test_dates_per_distinct_text_equal_the_cell_by_cell_reading(rows: list[list[str]],
                                                                coded: bool) -> None:
    from core.ingest.dates import _date_like_columns, parse_dates

    frame = pd.DataFrame(rows, columns=["a", "b", "c"], dtype=object)
    if coded:
        frame = frame.astype("category")
    assert _date_like_columns(frame) == _old_date_like_columns(frame.astype(object))
    for name in frame.columns:
        new, old = parse_dates(frame[name]), _old_parse_dates(frame[name].astype(object))
        assert (new is None) == (old is None)
        if new is not None and old is not None:
            pd.testing.assert_series_equal(new, old)


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16", "utf-8-sig"])
def test_coded_read_of_other_encodings_equals_the_cell_by_cell_path(encoding: str) -> None:
    """UTF-8 (with or without BOM) is read coded; other encodings as before (object cells)."""
    rows = [[f"Pä{i % 7}", str(i % 30), "Fibrinogen" if i % 2 else "CRP", f"{i % 500},5",
             "mg/dL"] for i in range(300)]
    text = _csv(["patient_id", "Tag", "analyte", "Wert", "Einheit"], rows, ";").decode()
    data = text.encode(encoding)
    coded = read_table(data, "labs.csv", "labs", coded=True)
    categorical_ = [isinstance(dt, pd.CategoricalDtype) for dt in coded.frame.dtypes]
    assert all(categorical_) if encoding == "utf-8-sig" else not any(categorical_)
    with cell_by_cell():
        raw = read_table(data, "labs.csv", "labs")
    pd.testing.assert_frame_equal(plain(coded.frame), raw.frame)
    assert replace(coded, frame=raw.frame) == raw
    assert coded.encoding == {"cp1252": "cp1252", "utf-16": "UTF-16",
                              "utf-8-sig": "UTF-8 with BOM"}[encoding]


def test_lab_dates_become_days_as_on_the_cell_by_cell_path() -> None:
    patients = _csv(["patient_id", "infusion date"],
                    [[f"P{i}", f"2024-01-{i % 28 + 1:02d}"] for i in range(40) if i != 3])
    rng = np.random.default_rng(2)
    rows = [[f"P{int(rng.integers(0, 40))}",
             f"2024-02-{int(rng.integers(1, 29)):02d} {int(rng.integers(0, 24)):02d}:30",
             "fibrinogen", f"{rng.uniform(100, 400):.1f}", "mg/dL"] for _ in range(3000)]
    labs = _csv(["patient_id", "date", "analyte", "value", "unit"], rows, ";")
    ups = (Upload("patients.csv", patients), Upload("labs.csv", labs))
    new = load_upload(*ups)
    with cell_by_cell():
        old = load_upload(*ups)
    assert_same((new.labs, new.reports["labs"]), (old.labs, old.reports["labs"]))
    # by hand: P1's infusion on 2024-01-02; a sample on 2024-02-01 12:30 is day 30.520833
    assert "rows whose patient has no infusion date" in " ".join(new.reports["labs"].notes)
    first = new.labs[new.labs["patient_id"] == "P1"].iloc[0]
    taken = pd.Timestamp(rows[[r[0] for r in rows].index("P1")][1])
    assert first["day"] == round((taken - pd.Timestamp("2024-01-02")).total_seconds() / 86400, 6)
