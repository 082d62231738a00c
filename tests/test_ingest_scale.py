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
