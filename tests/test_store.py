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
