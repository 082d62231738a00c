"""The per-session DuckDB database.

One :class:`CohortStore` per browser session (never shared through a global cache). The
validated frames are copied into tables ``patients``, ``labs`` and ``treatments`` of an
in-memory database with external file access disabled and the configuration locked, so SQL
cannot read or write files, attach databases or install extensions. Queries run under a lock:
one DuckDB connection is not thread-safe, and Streamlit can start a rerun while the last one is
still running.

Pages never write SQL; core modules call :meth:`CohortStore.query` with parameters.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pandas as pd

from core.errors import ColumnError
from core.filters import CohortFilter, Scalar, python_value, quote_ident
from core.ingest import Cohort

SAFE_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "lock_configuration": True,
    "threads": 2,
}


class CohortStore:
    """An in-memory DuckDB holding one cohort.

    Parameters
    ----------
    cohort : the validated cohort.

    Attributes
    ----------
    cohort : the cohort it was built from (its frames are not modified).
    fingerprint : content hash of the cohort; part of every cache key.
    """

    def __init__(self, cohort: Cohort) -> None:
        import duckdb

        self.cohort = cohort
        self.fingerprint = cohort.fingerprint
        self._lock = threading.RLock()
        # distinct values and ranges per column, unfiltered (a store's data never change)
        self._distinct_cache: dict[str, list[object]] = {}
        self._range_cache: dict[str, tuple[float, float] | None] = {}
        self._con = duckdb.connect(":memory:", config=SAFE_CONFIG)
        for name, frame in (("patients", cohort.patients), ("labs", cohort.labs),
                            ("treatments", cohort.treatments)):
            self._con.register("_incoming", _for_duckdb(frame))
            self._con.execute(f"CREATE TABLE {name} AS SELECT * FROM _incoming")
            self._con.unregister("_incoming")
        self._columns = {t: [r[0] for r in self._con.execute(f"DESCRIBE {t}").fetchall()]
                         for t in ("patients", "labs", "treatments")}
        self._types = dict(self._con.execute("SELECT column_name, data_type FROM "
                                             "information_schema.columns WHERE table_name = "
                                             "'patients'").fetchall())

    # ----------------------------------------------------------------------------------------
    def query(self, sql: str, params: Sequence[object] | None = None) -> pd.DataFrame:
        """Run a parameterised query under the store's lock and return a DataFrame."""
        with self._lock:
            return self._con.execute(sql, list(params or [])).df()

    def columns(self, table: str = "patients") -> list[str]:
        return list(self._columns[table])

    def is_numeric(self, column: str) -> bool:
        t = self._types.get(column, "")
        return any(k in t for k in ("INT", "DOUBLE", "FLOAT", "DECIMAL", "REAL"))

    def column_kinds(self) -> dict[str, str]:
        """Patient column -> "numeric" or "text" (for rebuilding a filter from a URL)."""
        return {c: "numeric" if self.is_numeric(c) else "text" for c in self._columns["patients"]}

    def where(self, flt: CohortFilter | None) -> tuple[str, list[Scalar]]:
        """The filter's WHERE body for the patients table, identifiers checked."""
        if flt is None:
            return "TRUE", []
        return flt.to_sql(self._columns["patients"])

    def patients(self, flt: CohortFilter | None = None) -> pd.DataFrame:
        """Filtered patient rows, in the table's order."""
        where, params = self.where(flt)
        return _restore(self.query(f"SELECT * FROM patients WHERE {where}", params),
                        self.cohort.patients)

    def count(self, flt: CohortFilter | None = None) -> int:
        where, params = self.where(flt)
        return int(self.query(f"SELECT count(*) AS n FROM patients WHERE {where}",
                              params)["n"].iloc[0])

    def _long(self, table: str, flt: CohortFilter | None) -> pd.DataFrame:
        where, params = self.where(flt)
        sql = (f"SELECT t.* FROM {table} t WHERE t.patient_id IN "
               f"(SELECT patient_id FROM patients WHERE {where})")
        return _restore(self.query(sql, params), getattr(self.cohort, table))

    def labs(self, flt: CohortFilter | None = None) -> pd.DataFrame:
        """Lab rows of the filtered patients."""
        return self._long("labs", flt)

    def treatments(self, flt: CohortFilter | None = None) -> pd.DataFrame:
        """Treatment rows of the filtered patients."""
        return self._long("treatments", flt)

    def distinct(self, column: str, flt: CohortFilter | None = None) -> list[object]:
        """Sorted distinct non-missing values of a patient column (cached when unfiltered: a
        store's data never changes, and the sidebar asks for every column on every rerun)."""
        self._check(column)
        if flt is None or flt.is_empty:
            if column not in self._distinct_cache:
                self._distinct_cache[column] = self._distinct(column, None)
            return list(self._distinct_cache[column])
        return self._distinct(column, flt)

    def _distinct(self, column: str, flt: CohortFilter | None) -> list[object]:
        where, params = self.where(flt)
        c = quote_ident(column)
        df = self.query(f"SELECT DISTINCT {c} AS v FROM patients WHERE {where} AND {c} IS NOT "
                        f"NULL ORDER BY 1", params)
        return [python_value(v) for v in df["v"]]

    def value_range(self, column: str) -> tuple[float, float] | None:
        """(min, max) of a numeric patient column, None when it has no values."""
        self._check(column)
        if column not in self._range_cache:
            c = quote_ident(column)
            row = self.query(f"SELECT min({c}) AS lo, max({c}) AS hi FROM patients").iloc[0]
            self._range_cache[column] = (None if pd.isna(row["lo"])
                                         else (float(row["lo"]), float(row["hi"])))
        return self._range_cache[column]

    def _check(self, column: str) -> None:
        if column not in self._columns["patients"]:
            raise ColumnError(f"No column '{column}' in the patient table.")

    def close(self) -> None:
        with self._lock:
            self._con.close()


def _for_duckdb(frame: pd.DataFrame) -> pd.DataFrame:
    """Nullable pandas dtypes travel to DuckDB as they are; object columns become strings."""
    out = frame.copy()
    for c in out.columns:
        if out[c].dtype == object:
            out[c] = out[c].astype("string")
    return out


def _restore(result: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """Give query results the original frame's dtypes (Int64 stays Int64, text stays object)."""
    for c in result.columns:
        if c in like.columns:
            dt = like[c].dtype
            try:
                if str(dt) == "Int64":
                    result[c] = result[c].astype("Int64")
                elif pd.api.types.is_object_dtype(dt):
                    text = result[c].astype(object)
                    text[text.isna()] = None
                    result[c] = text
            except (TypeError, ValueError):
                pass
    return result
