"""The per-session DuckDB database.

One :class:`CohortStore` per browser session (never shared through a global cache). The
validated frames are registered as views ``patients``, ``labs`` and ``treatments`` of an
in-memory database with external file access disabled and the configuration locked, so SQL
cannot read or write files, attach databases or install extensions.

The frames are handed to DuckDB as Arrow tables, not copied into DuckDB's own storage: numeric
columns are shared with the pandas arrays, and Categorical columns (the long tables' keys after
the ingest: ``patient_id``, ``analyte``, ``unit``, ``drug``) travel as dictionary arrays (their
integer codes and one copy of each distinct string), which DuckDB reads as VARCHAR. So a 10M-row
lab table is held once, the store builds in well under a second, and queries return the same
types as before (text as object strings). Object columns are converted to Arrow strings (the
patients table, hand-built frames). Queries run under a lock:
one DuckDB connection is not thread-safe, and Streamlit can start a rerun while the last one is
still running.

Pages never write SQL; core modules call :meth:`CohortStore.query` with parameters.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]

from core.errors import ColumnError
from core.filters import CohortFilter, Scalar, python_value, quote_ident
from core.ingest import Cohort

T = TypeVar("T")

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
        # the Arrow tables must live as long as the connection reads them
        self._arrow = {name: _for_duckdb(frame) for name, frame in (
            ("patients", cohort.patients), ("labs", cohort.labs),
            ("treatments", cohort.treatments))}
        for name, table in self._arrow.items():
            self._con.register(name, table)
        self._register_keyed()
        # per-store derived tables (see cached()), most recently used last
        self._cached: dict[tuple[object, ...], str] = {}
        self._cached_n = 0
        self._memo: dict[tuple[object, ...], object] = {}
        self._columns = {t: [r[0] for r in self._con.execute(f"DESCRIBE {t}").fetchall()]
                         for t in ("patients", "labs", "treatments")}
        self._types = dict(self._con.execute("SELECT column_name, data_type FROM "
                                             "information_schema.columns WHERE table_name = "
                                             "'patients'").fetchall())

    def _register_keyed(self) -> None:
        """Views ``patients_keyed`` and ``labs_keyed``: the tables plus an integer patient key
        ``_pk`` (the patient's row in the patients table; NULL for lab rows of no patient), so
        that core modules join 10M lab rows on integers instead of text. No copy: the Arrow
        columns are shared, only the key column is new."""
        import pyarrow as pa

        patients, labs = self.cohort.patients, self.cohort.labs
        self._arrow["patients_keyed"] = self._arrow["patients"].append_column(
            "_pk", pa.array(np.arange(len(patients), dtype=np.int32)))
        ids = pd.Index(patients["patient_id"].astype("string").astype(object))
        first = np.flatnonzero(~ids.duplicated())  # a lab row joins its patient's first row
        ids = ids[first]

        def rows_of(values: pd.Index) -> np.ndarray:
            at = ids.get_indexer(values)
            return np.where(at < 0, -1, first[at]).astype(np.int32)

        key = labs.get("patient_id")
        if key is None:
            codes = np.full(len(labs), -1, dtype=np.int32)
        elif isinstance(key.dtype, pd.CategoricalDtype):
            lookup = np.append(rows_of(pd.Index(key.cat.categories.astype(str))), -1)
            codes = lookup[key.cat.codes.to_numpy()]
        else:
            codes = rows_of(pd.Index(key.astype("string").astype(object)))
        pk = pa.array(codes, mask=codes < 0)
        self._arrow["labs_keyed"] = self._arrow["labs"].append_column("_pk", pk)
        for name in ("patients_keyed", "labs_keyed"):
            self._con.register(name, self._arrow[name])

    @property
    def lock(self) -> threading.RLock:
        """The store's (re-entrant) lock: hold it across :meth:`cached` and the queries that
        read the cached table, so no other thread drops the table in between."""
        return self._lock

    def cached(self, key: tuple[object, ...], sql: str, params: Sequence[object] | None = None,
               keep: int = 8) -> str:
        """The name of a table holding ``sql``'s result, computed once per store and ``key``.

        For per-store intermediate results that do not depend on the filter (e.g. each
        patient's bin means of one analyte), so a filter change reads them instead of every lab
        row. ``key`` must identify the query and its parameters; at most ``keep`` tables are
        kept (the least recently used is dropped).
        """
        with self._lock:
            name = self._cached.pop(key, None)
            if name is None:
                self._cached_n += 1
                name = f"_cached_{self._cached_n}"
                self._con.execute(f"CREATE TEMP TABLE {name} AS {sql}", list(params or []))
            self._cached[key] = name
            while len(self._cached) > keep:
                old = next(iter(self._cached))
                self._con.execute(f"DROP TABLE IF EXISTS {self._cached.pop(old)}")
            return name

    def memo(self, key: tuple[object, ...], compute: Callable[[], T], keep: int = 4) -> T:
        """``compute()``, computed once per store and ``key`` and kept in Python (at most
        ``keep`` values, least recently used dropped): for arrays that several filter changes
        reuse, e.g. a cached table read once into numpy."""
        with self._lock:
            value = self._memo.pop(key) if key in self._memo else compute()
            self._memo[key] = value
            while len(self._memo) > keep:
                del self._memo[next(iter(self._memo))]
            return value  # type: ignore[return-value]

    # ----------------------------------------------------------------------------------------
    def query(self, sql: str, params: Sequence[object] | None = None) -> pd.DataFrame:
        """Run a parameterised query under the store's lock and return a DataFrame."""
        with self._lock:
            return self._con.execute(sql, list(params or [])).df()

    def query_with(self, frames: dict[str, pd.DataFrame], sql: str,
                   params: Sequence[object] | None = None) -> pd.DataFrame:
        """:meth:`query` with ``frames`` readable under their names for this query only (e.g.
        rows a core module selected with numpy, for an aggregate DuckDB computes)."""
        with self._lock:
            for name, frame in frames.items():
                self._con.register(name, frame)
            try:
                return self._con.execute(sql, list(params or [])).df()
            finally:
                for name in frames:
                    self._con.unregister(name)

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
        """Filtered patient rows, in the table's order.

        The filter runs in SQL; the rows are taken from the cohort's frame by position and
        given the types the SQL result had (text as object strings, missing text as None;
        Int64 stays Int64), which for 100k patients is several times faster than converting
        the result back from DuckDB. Frames with other column types go through SQL.
        """
        frame = self.cohort.patients
        where, params = self.where(flt)
        if not all(_same_from_sql(frame[c]) for c in frame.columns):
            return _restore(self.query(f"SELECT * FROM patients WHERE {where}", params), frame)
        rows = self.query(f"SELECT _pk FROM patients_keyed WHERE {where} ORDER BY _pk",
                          params)["_pk"].to_numpy()
        out = frame.iloc[rows].reset_index(drop=True)
        for c in out.columns:
            if str(out[c].dtype) == "boolean" and not out[c].isna().any():
                out[c] = out[c].astype(bool)  # as DuckDB returns a BOOLEAN without NULLs
            elif not _numeric_as_is(out[c].dtype):
                out[c] = _text(out[c])
        return out

    def count(self, flt: CohortFilter | None = None) -> int:
        where, params = self.where(flt)
        return int(self.query(f"SELECT count(*) AS n FROM patients WHERE {where}",
                              params)["n"].iloc[0])

    def _long(self, table: str, flt: CohortFilter | None) -> pd.DataFrame:
        """Rows of a long table whose patient passes the filter, in the table's order.

        The filter runs in SQL on the patients table; the rows are then taken from the
        cohort's own frame by patient (over the codes of a Categorical ``patient_id``), not
        converted back from DuckDB, so Categorical key columns stay Categorical and a
        10M-row table costs one boolean mask. Text columns come out as the SQL query gave them
        (``patient_id IN (SELECT patient_id FROM patients WHERE ...)``, the values' text,
        missing as None).
        """
        frame = getattr(self.cohort, table)
        if "patient_id" not in frame.columns:
            return _restore(frame.iloc[:0].reset_index(drop=True), frame, as_text=True)
        where, params = self.where(flt)
        ids = self.query(f"SELECT DISTINCT patient_id FROM patients WHERE {where} AND "
                         "patient_id IS NOT NULL", params)["patient_id"]
        keep = _rows_of(frame["patient_id"], set(ids.astype(str)))
        return _restore(_take(frame, np.flatnonzero(keep)), frame, as_text=True)

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


def _for_duckdb(frame: pd.DataFrame) -> pa.Table:
    """The frame as an Arrow table for DuckDB to read in place.

    Numeric columns are shared, not copied; Categorical columns become dictionary arrays (codes
    plus the distinct values); object columns become strings (as ``astype("string")``: any
    value is written as its text, missing values as NULL). Nullable pandas dtypes keep their
    NULLs. DuckDB reads the dictionary and string columns as VARCHAR.
    """
    import pyarrow as pa

    arrays, names = [], []
    for c in frame.columns:
        col = frame[c]
        if col.dtype == object and pd.api.types.infer_dtype(col, skipna=True) == "string":
            # text and missing values only: straight to Arrow strings (what astype gives)
            arrays.append(pa.array(col.to_numpy(), type=pa.string(), from_pandas=True))
        else:
            arrays.append(pa.Array.from_pandas(col.astype("string") if col.dtype == object
                                               else col))
        names.append(str(c))
    return pa.Table.from_arrays(arrays, names=names)


def _numeric_as_is(dt: object) -> bool:
    """True for dtypes a DuckDB round trip returns unchanged (values and dtype)."""
    return str(dt) in ("float64", "float32", "int64", "int32", "int16", "int8", "bool",
                       "boolean", "Int64", "datetime64[ns]")


def _same_from_sql(col: pd.Series) -> bool:
    """Whether :func:`_text` or the column itself gives what ``SELECT`` + :func:`_restore`
    would: numeric types above, object/string text, Categorical of text."""
    dt = col.dtype
    if isinstance(dt, pd.CategoricalDtype):
        return pd.api.types.infer_dtype(dt.categories, skipna=True) in ("string", "empty")
    return _numeric_as_is(dt) or pd.api.types.is_object_dtype(dt) or isinstance(
        dt, pd.StringDtype)


def _text(col: pd.Series) -> pd.Series:
    """A text column as a VARCHAR result gives it: each value's text (``astype("string")``),
    missing values None, dtype object."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        col = col.astype(object)
    if pd.api.types.infer_dtype(col, skipna=True) != "string":
        col = col.astype("string").astype(object)
    values = col.to_numpy(dtype=object, copy=True)
    values[pd.isna(values)] = None
    return pd.Series(values, index=col.index, name=col.name, dtype=object)


def _take(frame: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """``frame.iloc[rows]`` with a fresh RangeIndex, column by column on the arrays
    (Categorical by its codes): several times faster than ``iloc`` on 10M rows."""
    cols: dict[str, object] = {}
    for c in frame.columns:
        col = frame[c]
        if isinstance(col.dtype, pd.CategoricalDtype):
            cols[c] = pd.Categorical.from_codes(  # type: ignore[call-arg]
                col.cat.codes.to_numpy()[rows], dtype=col.dtype, validate=False)
        elif isinstance(col.dtype, np.dtype):
            cols[c] = col.to_numpy()[rows]
        else:
            cols[c] = col.array.take(rows)
    return pd.DataFrame(cols, columns=frame.columns, copy=False)


def _rows_of(key: pd.Series, ids: set[str]) -> np.ndarray:
    """Boolean mask of the rows whose key, as text (what DuckDB compares), is in ``ids``."""
    if isinstance(key.dtype, pd.CategoricalDtype):
        cats = key.cat.categories
        hit = np.fromiter((str(c) in ids for c in cats), dtype=bool, count=len(cats))
        lookup = np.append(hit, False)  # code -1 (missing) -> False
        return lookup[key.cat.codes.to_numpy()]
    text = key.astype("string")
    return text.isin(ids).fillna(False).to_numpy(dtype=bool)


def _restore(result: pd.DataFrame, like: pd.DataFrame, as_text: bool = False) -> pd.DataFrame:
    """Give query results the original frame's dtypes (Int64 stays Int64, text stays object).

    ``as_text``: ``result`` holds the original values (not DuckDB's): text columns (object or
    pandas string) become each value's text, as a VARCHAR column would give them.
    """
    for c in result.columns:
        if c in like.columns:
            dt = like[c].dtype
            try:
                if str(dt) == "Int64":
                    result[c] = result[c].astype("Int64")
                elif pd.api.types.is_object_dtype(dt) or (
                        as_text and isinstance(dt, pd.StringDtype)):
                    text = (result[c].astype("string") if as_text else result[c]).astype(object)
                    text[text.isna()] = None
                    result[c] = text
            except (TypeError, ValueError):
                pass
    return result
