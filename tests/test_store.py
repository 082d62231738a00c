"""core.store.CohortStore: a real in-memory DuckDB per cohort, locked down."""

from __future__ import annotations

import threading

import duckdb
import pandas as pd
import pytest

from core import ingest
from core.filters import CohortFilter
from core.store import CohortStore


@pytest.fixture()
def store() -> CohortStore:
    patients = pd.DataFrame({"patient_id": ["A", "B", "C", "D"], "crs_grade": [0, 1, 2, None],
                             "product": ["axi-cel", "tisa-cel", "axi-cel", None],
                             "age": [50.0, 60.0, 70.0, 80.0], "ward": ["x", "y", "x", "y"]})
    labs = pd.DataFrame({"patient_id": ["A", "A", "C"], "day": [0.0, 1.0, 2.0],
                         "analyte": ["fibrinogen"] * 3, "value": [300.0, 250.0, 90.0]})
    return CohortStore(ingest.load_frames(patients, labs))


def test_filter_counts_and_rows(store):
    f = CohortFilter().where("product", ["axi-cel"]).between("age", 55, 90)
    assert store.count(f) == 1
    assert store.patients(f)["patient_id"].tolist() == ["C"]
    assert store.labs(f)["value"].tolist() == [90.0]
    assert store.count() == 4


def test_dtypes_survive_the_round_trip(store):
    df = store.patients()
    assert str(df["crs_grade"].dtype) == "Int64" and pd.isna(df["crs_grade"].iloc[3])
    assert df["product"].iloc[3] is None


def test_missing_values_fall_out_of_a_condition(store):
    assert store.count(CohortFilter().where("crs_grade", [0, 1, 2])) == 3


def test_distinct_and_range(store):
    assert store.distinct("crs_grade") == [0, 1, 2]
    assert store.distinct("ward") == ["x", "y"]
    assert store.value_range("age") == (50.0, 80.0)


@pytest.mark.parametrize("sql", [
    "SELECT * FROM read_csv('/etc/passwd')",
    "COPY patients TO '/tmp/leak.csv'",
    "ATTACH '/tmp/other.db' AS other",
    "INSTALL httpfs",
    "SET enable_external_access = true",
])
def test_external_access_and_config_are_locked(store, sql):
    with pytest.raises(duckdb.Error):
        store.query(sql)


def test_each_store_is_its_own_database():
    a = CohortStore(ingest.load_frames(pd.DataFrame({"patient_id": ["A"]})))
    b = CohortStore(ingest.load_frames(pd.DataFrame({"patient_id": ["B", "C"]})))
    assert a.count() == 1 and b.count() == 2


def test_concurrent_queries_are_serialised(store):
    errors: list[Exception] = []

    def work() -> None:
        try:
            for _ in range(50):
                assert store.count(CohortFilter().where("ward", ["x"])) == 2
        except Exception as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


# --------------------------------------------------------------------------------------------
# registry scale (issue 13): frames read in place, integer keys, cached tables
# --------------------------------------------------------------------------------------------

def _cohort(categorical: bool) -> ingest.Cohort:
    """Four patients; lab rows out of patient order, one of a patient not in the table."""
    patients = pd.DataFrame({"patient_id": ["A", "B", "C", "D"], "crs_grade": [0, 1, 2, None],
                             "ward": ["x", "y", None, "y"]})
    labs = pd.DataFrame({"patient_id": ["C", "A", "Z", "B", "A"],
                         "day": [2.0, 0.0, 1.0, 3.0, 1.0],
                         "analyte": ["fibrinogen", "fibrinogen", "d_dimer", "d_dimer",
                                     "fibrinogen"],
                         "value": [90.0, 300.0, 1.0, 2.5, 250.0]})
    cohort = ingest.load_frames(patients, labs)
    if categorical:  # as the ingest delivers long tables at scale
        import dataclasses
        cohort = dataclasses.replace(cohort, labs=cohort.labs.astype(
            {"patient_id": "category", "analyte": "category"}))
    return cohort


@pytest.mark.parametrize("categorical", [False, True])
def test_labs_of_filtered_patients_in_table_order(categorical):
    s = CohortStore(_cohort(categorical))
    rows = s.labs(CohortFilter().where("ward", ["x", "y"]))  # A, B, D
    # by hand: rows 2 (A day 0), 4 (B), 5 (A day 1) of the table, in that order
    assert rows["patient_id"].astype(str).tolist() == ["A", "B", "A"]
    assert rows["value"].tolist() == [300.0, 2.5, 250.0]
    assert rows.index.tolist() == [0, 1, 2]
    # no filter: every row of a patient in the table (Z has none)
    assert sorted(s.labs()["patient_id"].astype(str)) == ["A", "A", "B", "C"]


@pytest.mark.parametrize("categorical", [False, True])
def test_keyed_views_join_lab_rows_to_their_patient_row(categorical):
    s = CohortStore(_cohort(categorical))
    pk = s.query("SELECT patient_id, _pk FROM patients_keyed ORDER BY _pk")
    assert pk["patient_id"].tolist() == ["A", "B", "C", "D"] and pk["_pk"].tolist() == [0, 1, 2, 3]
    labs = s.query("SELECT CAST(patient_id AS VARCHAR) AS p, _pk FROM labs_keyed")
    # C -> row 2, A -> row 0, Z -> no patient (NULL), B -> row 1
    assert labs["p"].tolist() == ["C", "A", "Z", "B", "A"]
    assert [None if pd.isna(v) else int(v) for v in labs["_pk"]] == [2, 0, None, 1, 0]
    # the text key reads the same either way (Categorical is a dictionary read as VARCHAR)
    assert s.query("SELECT count(*) AS n FROM labs WHERE patient_id = 'A'")["n"].iloc[0] == 2


def test_patients_equal_the_sql_result_for_every_common_dtype():
    import numpy as np

    n = 6
    patients = pd.DataFrame({
        "patient_id": [f"P{i}" for i in range(n)],
        "text": ["a", None, "b", float("nan"), "c", "a"],
        "mixed": [1, "x", 2.5, None, "y", 3],
        "string": pd.array(["u", None, "v", "u", None, "v"], dtype="string"),
        "cat": pd.Categorical(["k", "l", None, "k", "l", "k"]),
        "f": [1.0, np.nan, 3.0, 4.0, 5.0, 6.0], "i": [1, 2, 3, 4, 5, 6],
        "I": pd.array([1, None, 3, 4, None, 6], dtype="Int64"),
        "b": [True, False, True, True, False, True],
        "B": pd.array([True, None, False, True, True, False], dtype="boolean"),
        "g": [0, 1, 1, 2, 2, 1]})
    s = CohortStore(ingest.Cohort(patients, ingest.empty_table("labs"),
                                  ingest.empty_table("treatments"), "test", False))
    f = CohortFilter().where("g", [1, 2])
    got = s.patients(f)
    # by hand: rows 1, 2, 3, 4, 5; text as VARCHAR gives it (str of the value, None missing)
    assert got["patient_id"].tolist() == ["P1", "P2", "P3", "P4", "P5"]
    assert got["text"].tolist() == [None, "b", None, "c", "a"]
    assert got["mixed"].tolist() == ["x", "2.5", None, "y", "3"]
    assert got["string"].tolist() == [None, "v", "u", None, "v"]
    assert got["cat"].tolist() == ["l", None, "k", "l", "k"]
    assert {c: str(got[c].dtype) for c in ("text", "mixed", "string", "cat", "I", "B")} == {
        "text": "object", "mixed": "object", "string": "object", "cat": "object",
        "I": "Int64", "B": "boolean"}
    # and the same frame the SQL result gives, value for value and type for type
    where, params = s.where(f)
    sql = s.query(f"SELECT * FROM patients WHERE {where}", params)
    from core.store import _restore
    sql = _restore(sql, patients)
    sql.columns = got.columns  # DuckDB names are case-insensitive: "I" came back as "I_1"
    pd.testing.assert_frame_equal(got, sql)
    # a BOOLEAN column without NULLs among the rows comes back as numpy bool, as from DuckDB
    assert str(s.patients(CohortFilter().where("g", [2]))["B"].dtype) == "bool"


def test_cached_tables_are_computed_once_and_dropped_least_recently_used():
    s = CohortStore(_cohort(False))
    sql = "SELECT _pk, count(*) AS n FROM labs_keyed WHERE _pk IS NOT NULL GROUP BY _pk"
    a = s.cached(("count",), sql)
    assert s.cached(("count",), sql) == a  # the same table, not recomputed
    got = s.query(f"SELECT * FROM {a} ORDER BY _pk")
    assert got["n"].tolist() == [2, 1, 1]  # A twice, B, C; Z has no patient row
    names = [s.cached(("other", i), "SELECT 1 AS one", keep=2) for i in range(3)]
    assert len(set(names)) == 3
    tables = set(s.query("SELECT table_name FROM duckdb_tables()")["table_name"])
    assert names[0] not in tables and {names[1], names[2]} <= tables  # keep=2: oldest dropped
