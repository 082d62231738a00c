"""Time course page: per-patient lab time courses (the paper's Supplementary Figure S2),
computed in DuckDB.

A page calls :func:`time_course` once and draws the result with :mod:`core.charts.time_course`;
nothing here imports streamlit, so a notebook gets the same curves and bands as the app.

* x is days after CAR-T infusion (``align="infusion"``) or days after the first tocilizumab
  dose (``align="tocilizumab"``: ``x = day - tocilizumab_first_day``; patients without a first
  tocilizumab day are left out and counted).
* The group band (:func:`band`) is computed in SQL: each patient's values are averaged per
  day bin (so a patient measured daily does not outweigh one measured weekly), then the
  median and quartiles across patients (``quantile_cont``, linear interpolation = pandas'
  default and R type 7) per group and bin, with ``n`` = patients in the bin. Bins are daily
  up to ``daily_until - 1`` and ``width``-day wide from ``daily_until`` on
  (:func:`bin_start`); the band is drawn at the bin's centre day (:func:`bin_x`).
* Individual curves (:func:`curves`) are a seeded sample of the patients (smallest
  ``hash(patient_id, seed)`` first, so the sample is stable across reruns and a larger
  sample contains the smaller one), or the patients picked by name; capped at
  ``max_rows`` rows by dropping whole curves from the end of the sample.
* Doses (:func:`doses`): tocilizumab and corticosteroid doses of the drawn patients, placed on
  each patient's curve (linear interpolation of the curve at the dose day).

Results are raw numbers; wording and rounding belong to the page.

Note kinds of :attr:`TimeCourse.notes`: ``"not_drawn"`` (picked patients without values in
view), ``"rows_capped"`` (curves left out to keep the chart small).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import pandas as pd

from core import schema
from core.errors import ColumnError, InsufficientDataError
from core.filters import CohortFilter, quote_ident
from core.notes import Note, WithNotes
from core.stats import DEFAULT_SEED
from core.store import CohortStore

Align = Literal["infusion", "tocilizumab"]
ALIGNS: tuple[str, ...] = get_args(Align)
DEFAULT_SAMPLE = 30
MAX_SAMPLE = 200
MAX_CURVE_ROWS = 4000
DAILY_UNTIL = 14
BIN_WIDTH = 7
X_RANGE = (-7.0, 60.0)
TOCILIZUMAB = "tocilizumab"
DOSE_DRUGS: tuple[str, ...] = (TOCILIZUMAB, *schema.CORTICOSTEROIDS)
ALL = "All patients"

CURVE_COLUMNS = ("patient_id", "x", "value", "group")
BAND_COLUMNS = ("group", "bin", "x", "median", "q1", "q3", "n")
DOSE_COLUMNS = ("patient_id", "x", "drug", "dose", "kind", "value", "group")
LINE_COLUMNS = ("value", "label")


# --------------------------------------------------------------------------------------------
# bins
# --------------------------------------------------------------------------------------------

def bin_start(x: np.ndarray | Sequence[float], daily_until: int = DAILY_UNTIL,
              width: int = BIN_WIDTH) -> np.ndarray:
    """First day of each value's bin: ``floor(x)`` below ``daily_until``, then ``width``-day
    bins ``[daily_until, daily_until + width)``, ... (days may be fractional or negative)."""
    x = np.asarray(x, dtype=float)
    return np.where(x < daily_until, np.floor(x),
                    daily_until + width * np.floor((x - daily_until) / width))


def bin_x(start: np.ndarray | Sequence[float], daily_until: int = DAILY_UNTIL,
          width: int = BIN_WIDTH) -> np.ndarray:
    """Where a bin is drawn: its day for daily bins, its centre day for wide bins
    (``[14, 21)`` -> 17)."""
    s = np.asarray(start, dtype=float)
    return np.where(s < daily_until, s, s + (width - 1) / 2)


def describe_bins(daily_until: int = DAILY_UNTIL, width: int = BIN_WIDTH) -> str:
    """The bins in words, e.g. ``"daily to day 13, then 7-day bins (14-20, 21-27, ...)"``."""
    a, b = daily_until, daily_until + width
    return (f"daily to day {a - 1}, then {width}-day bins ({a}-{b - 1}, {b}-{b + width - 1}, "
            "...)")


def _bin_sql(expr: str, daily_until: int, width: int) -> tuple[str, list[object]]:
    sql = (f"(CASE WHEN {expr} < ? THEN floor({expr}) "
           f"ELSE ? + ? * floor(({expr} - ?) / ?) END)")
    return sql, [float(daily_until), float(daily_until), float(width), float(daily_until),
                 float(width)]


# --------------------------------------------------------------------------------------------
# shared SQL
# --------------------------------------------------------------------------------------------

def _check(store: CohortStore, analyte: str, align: Align, group: str | None) -> None:
    if align not in ALIGNS:
        raise ValueError(f"Unknown alignment {align!r}: use one of {ALIGNS}.")
    if align == "tocilizumab" and "tocilizumab_first_day" not in store.columns():
        raise ColumnError("Aligning to tocilizumab needs the day of the first dose: upload a "
                          "treatments table with tocilizumab doses, or a patient column "
                          "tocilizumab_first_day.")
    if group is not None and group not in store.columns():
        raise ColumnError(f"No column '{group}' in the patient table to group by.")
    if not analyte:
        raise ColumnError("Choose an analyte.")


_VALID = ("l.value IS NOT NULL AND NOT isnan(CAST(l.value AS DOUBLE)) AND l.day IS NOT NULL")


def _t0(align: Align) -> str:
    return "0.0" if align == "infusion" else "CAST(tocilizumab_first_day AS DOUBLE)"


def _patients(store: CohortStore, flt: CohortFilter | None, align: Align,
              group: str | None) -> tuple[str, list[object]]:
    """SELECT of the filtered patients: ``_pk`` (the store's integer patient key),
    ``patient_id`` (text), ``grp`` (the group's text, 'missing' when missing; 'all' without a
    group) and ``t0`` (the day x counts from; NULL: not alignable)."""
    where, wparams = store.where(flt)
    gexpr = ("'all'" if group is None
             else f"COALESCE(CAST({quote_ident(group)} AS VARCHAR), 'missing')")
    return (f"SELECT _pk, CAST(patient_id AS VARCHAR) AS patient_id, {gexpr} AS grp, "
            f"{_t0(align)} AS t0 FROM patients_keyed WHERE {where}", list(wparams))


def _presence(store: CohortStore) -> str:
    """Per-store table ``_pk, analyte, valued``: each patient's analytes, and whether one of
    the rows has a value and a day (computed once per store, whatever the filter)."""
    return store.cached(("time_course.presence",),
                        f"SELECT l._pk, CAST(l.analyte AS VARCHAR) AS analyte, bool_or({_VALID}) "
                        "AS valued FROM labs_keyed l WHERE l._pk IS NOT NULL AND l.analyte IS "
                        "NOT NULL GROUP BY l._pk, l.analyte")


def _binned(store: CohortStore, analyte: str, align: Align, x_range: tuple[float, float],
            daily_until: int = DAILY_UNTIL, width: int = BIN_WIDTH) -> str:
    """Per-store table ``_pk, bin, v``: each patient's mean of the analyte per day bin, over
    the values with a day and ``x`` inside ``x_range`` (patients without ``t0`` left out).

    Every patient's, whatever the filter: computed once per store and arguments, so a filter
    change joins the filtered patients to it instead of reading every lab row again."""
    bsql, bparams = _bin_sql("x", daily_until, width)
    lo, hi = float(x_range[0]), float(x_range[1])
    sql = (f"WITH p AS (SELECT _pk, {_t0(align)} AS t0 FROM patients_keyed), "
           "l AS (SELECT l._pk, CAST(l.day AS DOUBLE) - p.t0 AS x, CAST(l.value AS DOUBLE) "
           f"AS value FROM labs_keyed l JOIN p ON l._pk = p._pk WHERE l.analyte = ? AND "
           f"{_VALID} AND p.t0 IS NOT NULL) "
           f"SELECT _pk, {bsql} AS bin, avg(value) AS v FROM l WHERE x BETWEEN ? AND ? "
           "GROUP BY _pk, bin")
    return store.cached(("time_course.binned", analyte, align, lo, hi, daily_until, width),
                        sql, [analyte, *bparams, lo, hi])


def _binned_arrays(store: CohortStore, analyte: str, align: Align,
                   x_range: tuple[float, float], daily_until: int,
                   width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_binned` as numpy arrays ``_pk, bin, v`` (read once per store and arguments)."""
    def load() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with store.lock:
            name = _binned(store, analyte, align, x_range, daily_until, width)
            df = store.query(f"SELECT _pk, bin, v FROM {name}")
        # bins are whole days (exact in float32); the means stay float64
        return (df["_pk"].to_numpy(np.int32), df["bin"].to_numpy(np.float32),
                df["v"].to_numpy(float))

    key = ("time_course.binned_arrays", analyte, align, float(x_range[0]), float(x_range[1]),
           daily_until, width)
    return store.memo(key, load)


def _quartiles(store: CohortStore, pk: np.ndarray, bins: np.ndarray, values: np.ndarray,
               p_pk: np.ndarray, p_grp: np.ndarray) -> pd.DataFrame:
    """Median, q1, q3 and n of the bin means per group and bin (``grp, bin, median, q1, q3,
    n``, sorted by grp then bin), for the patients ``p_pk`` in groups ``p_grp``.

    The filtered patients' rows are picked with numpy (a lookup by the integer key), then
    DuckDB's ``quantile_cont`` aggregates them: the same function on the same values as a
    join in SQL, without the join."""
    groups = np.array(sorted(set(p_grp)), dtype=object)
    code = np.full(len(store.cohort.patients), -1, dtype=np.int32)
    code[p_pk] = pd.Categorical(p_grp, categories=groups).codes
    g = code[pk]
    keep = g >= 0
    rows = pd.DataFrame({"g": g[keep], "bin": bins[keep], "v": values[keep]})
    # the three quantiles in one call: one sort per group and bin, not three (same values)
    df = store.query_with({"_band_rows": rows},
                          "SELECT g, bin, qs[1] AS median, qs[2] AS q1, qs[3] AS q3, n FROM "
                          "(SELECT g, bin, quantile_cont(v, [0.5, 0.25, 0.75]) AS qs, "
                          "count(*) AS n FROM _band_rows GROUP BY g, bin) ORDER BY g, bin")
    df.insert(0, "grp", groups[df.pop("g").to_numpy(np.int64)] if len(df) else
              pd.Series(dtype=object))
    return df


def group_label(group: str | None, raw: object) -> str:
    """Legend label of a group value: ``"Tocilizumab given: yes"``, ``"CRS grade: 2"``."""
    if group is None:
        return ALL
    text = str(raw)
    spec = schema.PATIENT_COLUMNS.get(group)
    if spec is not None and spec.kind == "binary":
        text = {"1": "yes", "0": "no", "1.0": "yes", "0.0": "no"}.get(text, text)
    elif text.endswith(".0") and text[:-2].lstrip("-").isdigit():
        text = text[:-2]
    return f"{schema.label(group)}: {text}"


def _sort_key(raw: object) -> tuple[int, float, str]:
    t = str(raw)
    try:
        return (0, float(t), t)
    except ValueError:
        return (1 if t != "missing" else 2, 0.0, t)


def _relabel(frame: pd.DataFrame, group: str | None) -> pd.DataFrame:
    raw = frame.pop("grp") if "grp" in frame else pd.Series(dtype=object)
    order = sorted(set(raw), key=_sort_key)
    labels = {r: group_label(group, r) for r in order}
    frame["group"] = pd.Categorical([labels[r] for r in raw],
                                    categories=list(dict.fromkeys(labels.values())))
    return frame


# --------------------------------------------------------------------------------------------
# public functions
# --------------------------------------------------------------------------------------------

def analytes(store: CohortStore, flt: CohortFilter | None = None) -> list[str]:
    """Analytes with at least one value among the filtered patients; schema order first."""
    with store.lock:
        where, params = store.where(flt)
        df = store.query(f"SELECT DISTINCT c.analyte FROM {_presence(store)} c JOIN "
                         f"(SELECT _pk FROM patients_keyed WHERE {where}) p ON c._pk = p._pk",
                         params)
    found = set(df["analyte"].astype(str))
    return [a for a in schema.ANALYTES if a in found] + sorted(found - set(schema.ANALYTES))


def counts(store: CohortStore, flt: CohortFilter | None, analyte: str, align: Align,
           x_range: tuple[float, float] = X_RANGE) -> dict[str, int]:
    """Patients behind a time course.

    Returns
    -------
    dict
        ``with_values``: filtered patients with a value of the analyte; ``unaligned``: of
        those, left out for lacking a first tocilizumab day (0 for ``"infusion"``);
        ``in_range``: patients with a value inside ``x_range``.
    """
    _check(store, analyte, align, None)
    with store.lock:
        ps, params = _patients(store, flt, align, None)
        df = store.query(f"WITH p AS ({ps}) SELECT count(*) AS n_all, count(*) FILTER (WHERE "
                         f"p.t0 IS NOT NULL) AS n FROM {_presence(store)} c JOIN p ON "
                         "c._pk = p._pk WHERE c.analyte = ? AND c.valued", params + [analyte])
        r = store.query(f"WITH p AS ({ps}) SELECT count(DISTINCT b._pk) AS r FROM "
                        f"{_binned(store, analyte, align, x_range)} b JOIN p ON b._pk = p._pk",
                        params)
    n_all = int(df["n_all"].iloc[0])
    return {"with_values": n_all, "unaligned": n_all - int(df["n"].iloc[0]),
            "in_range": int(r["r"].iloc[0])}


def band(store: CohortStore, flt: CohortFilter | None, analyte: str, *,
         align: Align = "infusion", group: str | None = TOCILIZUMAB,
         x_range: tuple[float, float] = X_RANGE, daily_until: int = DAILY_UNTIL,
         width: int = BIN_WIDTH) -> pd.DataFrame:
    """Median and interquartile range per group and day bin, aggregated in DuckDB.

    Parameters
    ----------
    store, flt : the session's store and the cohort filter.
    analyte : ``labs.analyte`` value, e.g. ``"fibrinogen"``.
    align : ``"infusion"`` (x = day) or ``"tocilizumab"`` (x = day - tocilizumab_first_day).
    group : patient column to group by (None: one group, :data:`ALL`).
    x_range : (lo, hi) of x; values outside are not used.
    daily_until, width : the bins (:func:`bin_start`).

    Returns
    -------
    DataFrame
        ``group`` (label, categorical in group order), ``bin`` (first day of the bin), ``x``
        (:func:`bin_x`), ``median``, ``q1``, ``q3`` (of the per-patient bin means), ``n``
        (patients in the bin); sorted by group and bin.
    """
    _check(store, analyte, align, group)
    pk, bins, values = _binned_arrays(store, analyte, align, x_range, daily_until, width)
    ps, params = _patients(store, flt, align, group)
    p = store.query(f"SELECT _pk, grp FROM ({ps})", params)
    df = _quartiles(store, pk, bins, values, p["_pk"].to_numpy(np.int64),
                    p["grp"].astype(str).to_numpy(dtype=object))
    df["bin"] = df["bin"].astype(float)
    df["x"] = bin_x(df["bin"].to_numpy(), daily_until, width)
    df["n"] = df["n"].astype(int)
    df = _relabel(df, group)
    df = df.sort_values(["group", "bin"], kind="stable").reset_index(drop=True)
    return df.loc[:, list(BAND_COLUMNS)]


def sample_patients(store: CohortStore, flt: CohortFilter | None, analyte: str, *,
                    align: Align = "infusion", x_range: tuple[float, float] = X_RANGE,
                    size: int = DEFAULT_SAMPLE, seed: int = DEFAULT_SEED) -> list[str]:
    """A seeded sample of the patients with values of the analyte inside ``x_range``.

    The ``size`` patients with the smallest ``hash(patient_id, seed)``: the same data and seed
    give the same patients, and a larger sample contains a smaller one.
    """
    if size < 1:
        raise ColumnError("The sample needs at least 1 patient.")
    _check(store, analyte, align, None)
    with store.lock:
        ps, params = _patients(store, flt, align, None)
        df = store.query(f"WITH p AS ({ps}) SELECT DISTINCT p.patient_id FROM "
                         f"{_binned(store, analyte, align, x_range)} b JOIN p ON b._pk = p._pk "
                         "ORDER BY hash(p.patient_id, ?::BIGINT), p.patient_id LIMIT ?",
                         params + [int(seed), int(size)])
    return df["patient_id"].astype(str).tolist()


def patient_options(store: CohortStore, flt: CohortFilter | None, analyte: str, *,
                    align: Align = "infusion") -> list[str]:
    """Sorted IDs of the filtered patients with values of the analyte (for a picker)."""
    _check(store, analyte, align, None)
    with store.lock:
        ps, params = _patients(store, flt, align, None)
        df = store.query(f"WITH p AS ({ps}) SELECT DISTINCT p.patient_id FROM "
                         f"{_presence(store)} c JOIN p ON c._pk = p._pk WHERE c.analyte = ? "
                         "AND c.valued AND p.t0 IS NOT NULL ORDER BY p.patient_id",
                         params + [analyte])
    return df["patient_id"].astype(str).tolist()


def curves(store: CohortStore, flt: CohortFilter | None, analyte: str, patient_ids:
           Sequence[str], *, align: Align = "infusion", group: str | None = TOCILIZUMAB,
           x_range: tuple[float, float] = X_RANGE,
           max_rows: int = MAX_CURVE_ROWS) -> tuple[pd.DataFrame, list[str]]:
    """The values of the given patients, as tidy rows for line charts.

    Returns
    -------
    (DataFrame, list of str)
        Rows ``patient_id, x, value, group`` sorted by the order of ``patient_ids`` then x,
        at most ``max_rows`` rows: whole curves are dropped from the end of ``patient_ids``
        until the rest fits; and the IDs of the curves dropped.
    """
    ids = [str(p) for p in patient_ids]
    if not ids:
        return pd.DataFrame({c: pd.Series(dtype=object if c in ("patient_id", "group")
                                          else float) for c in CURVE_COLUMNS}), []
    _check(store, analyte, align, group)
    ps, params = _patients(store, flt, align, group)
    df = store.query(f"WITH p AS (SELECT * FROM ({ps}) WHERE list_contains(?::VARCHAR[], "
                     "patient_id) AND t0 IS NOT NULL), "
                     "l AS (SELECT p.patient_id, p.grp, CAST(l.day AS DOUBLE) - p.t0 AS x, "
                     "CAST(l.value AS DOUBLE) AS value FROM labs_keyed l JOIN p ON l._pk = p._pk "
                     f"WHERE l.analyte = ? AND {_VALID}) "
                     "SELECT patient_id, grp, x, value FROM l WHERE x BETWEEN ? AND ?",
                     params + [ids, analyte, float(x_range[0]), float(x_range[1])])
    order = {p: i for i, p in enumerate(ids)}
    df["_o"] = df["patient_id"].map(order)
    df = df.sort_values(["_o", "x"], kind="stable")
    sizes = df.groupby("_o", sort=True).size()
    keep = sizes.index[sizes.cumsum() <= max_rows]
    dropped = [ids[i] for i in sizes.index if i not in set(keep)]
    df = df[df["_o"].isin(keep)].drop(columns="_o").reset_index(drop=True)
    df = _relabel(df, group)
    return df.loc[:, list(CURVE_COLUMNS)], dropped


def doses(store: CohortStore, flt: CohortFilter | None, curve_rows: pd.DataFrame, *,
          align: Align = "infusion", x_range: tuple[float, float] = X_RANGE,
          drugs: Sequence[str] = DOSE_DRUGS) -> pd.DataFrame:
    """Tocilizumab and corticosteroid doses of the patients in ``curve_rows``, on their curves.

    Parameters
    ----------
    curve_rows : a :func:`curves` frame (``patient_id, x, value, group``).

    Returns
    -------
    DataFrame
        ``patient_id, x, drug, dose, kind`` (``"Tocilizumab"`` or ``"Corticosteroid"``),
        ``value`` (the curve's value at x, linearly interpolated; the nearest end outside the
        curve) and ``group`` (the patient's curve group).
    """
    ids = sorted(set(curve_rows["patient_id"].astype(str)))
    empty = pd.DataFrame({c: pd.Series(dtype=float if c in ("x", "dose", "value") else object)
                          for c in DOSE_COLUMNS})
    if not ids or not len(store.columns("treatments")):
        return empty
    _check(store, "-", align, None)
    where, wparams = store.where(flt)
    t0 = "0.0" if align == "infusion" else "CAST(tocilizumab_first_day AS DOUBLE)"
    sql = (f"WITH p AS (SELECT CAST(patient_id AS VARCHAR) AS patient_id, {t0} AS t0 "
           f"FROM patients WHERE {where}) SELECT p.patient_id, CAST(t.day AS DOUBLE) - p.t0 "
           "AS x, CAST(t.drug AS VARCHAR) AS drug, CAST(t.dose AS DOUBLE) AS dose "
           "FROM treatments t JOIN p ON CAST(t.patient_id AS VARCHAR) = p.patient_id "
           "WHERE p.t0 IS NOT NULL AND t.day IS NOT NULL AND list_contains(?::VARCHAR[], "
           "p.patient_id) AND list_contains(?::VARCHAR[], CAST(t.drug AS VARCHAR)) "
           "AND CAST(t.day AS DOUBLE) - p.t0 BETWEEN ? AND ? ORDER BY p.patient_id, x")
    df = store.query(sql, wparams + [ids, list(drugs), float(x_range[0]), float(x_range[1])])
    if df.empty:
        return empty
    df["kind"] = np.where(df["drug"] == TOCILIZUMAB, "Tocilizumab", "Corticosteroid")
    values = np.full(len(df), np.nan)
    groups = np.empty(len(df), dtype=object)
    for pid, rows in curve_rows.groupby("patient_id", sort=False, observed=True):
        m = (df["patient_id"] == pid).to_numpy()
        if not m.any():
            continue
        r = rows.groupby("x", sort=True)["value"].mean()
        values[m] = np.interp(df.loc[m, "x"].to_numpy(float), r.index.to_numpy(float),
                              r.to_numpy(float))
        groups[m] = rows["group"].iloc[0]
    df["value"] = values
    df["group"] = groups
    return df.loc[:, list(DOSE_COLUMNS)].reset_index(drop=True)


def ctcae_lines(lln: float) -> pd.DataFrame:
    """CTCAE v5 fibrinogen grade boundaries: ``value`` (1.0, 0.75, 0.5, 0.25 x LLN) and
    ``label`` (``"G1 < 200"``, ... : values below the line are at least that grade), from
    :func:`core.schema.ctcae_fibrinogen_limits`."""
    limits = schema.ctcae_fibrinogen_limits(lln)
    return pd.DataFrame({"value": [v for v, _ in limits], "label": [t for _, t in limits]})


# --------------------------------------------------------------------------------------------
# one call for the page
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TimeCourse(WithNotes):
    """Everything the time-course page draws.

    Attributes
    ----------
    analyte, align, group : the choices.
    curves : ``patient_id, x, value, group`` of the drawn patients.
    band : ``group, bin, x, median, q1, q3, n`` (:func:`band`).
    doses : ``patient_id, x, drug, dose, kind, value, group`` (:func:`doses`).
    n_with_values : filtered patients with a value of the analyte.
    n_unaligned : of those, left out for lacking a first tocilizumab day.
    n_in_range : patients with a value inside ``x_range``.
    n_curves : curves drawn; sampled : True when they are a sample of ``n_in_range``.
    dropped : picked/sampled patients not drawn because of the row cap.
    bins : the bins in words.
    notes : what the user should know (kinds in the module docstring).
    """

    analyte: str
    align: Align
    group: str | None
    curves: pd.DataFrame
    band: pd.DataFrame
    doses: pd.DataFrame
    n_with_values: int
    n_unaligned: int
    n_in_range: int
    n_curves: int
    sampled: bool
    dropped: tuple[str, ...]
    bins: str
    notes: tuple[Note, ...] = field(default_factory=tuple)



def time_course(store: CohortStore, flt: CohortFilter | None, analyte: str, *,
                align: Align = "infusion", group: str | None = TOCILIZUMAB,
                x_range: tuple[float, float] = X_RANGE, sample: int = DEFAULT_SAMPLE,
                seed: int = DEFAULT_SEED, patients: Sequence[str] | None = None,
                max_rows: int = MAX_CURVE_ROWS, daily_until: int = DAILY_UNTIL,
                width: int = BIN_WIDTH) -> TimeCourse:
    """Curves, group band and doses of one analyte for the filtered cohort.

    Parameters
    ----------
    store, flt : the session's store and the cohort filter.
    analyte : ``labs.analyte`` value.
    align : ``"infusion"`` or ``"tocilizumab"``.
    group : patient column for the band and the curve colours (None: one group).
    x_range : (lo, hi) days shown.
    sample, seed : size and seed of the curve sample (ignored when ``patients`` are given).
    patients : draw exactly these patients (a picker); None or empty: the sample.
    max_rows : cap of curve rows.
    daily_until, width : the band's bins.

    Returns
    -------
    TimeCourse

    Raises
    ------
    InsufficientDataError
        No filtered patient has a value of the analyte (in the range, with the alignment).
    ColumnError
        Alignment to tocilizumab without a first-dose day; unknown group column.
    """
    lo, hi = float(x_range[0]), float(x_range[1])
    if hi <= lo:
        raise ColumnError(f"The day range is empty ({lo:g} to {hi:g}); widen it.")
    name = schema.ANALYTES[analyte].label if analyte in schema.ANALYTES else analyte
    c = _require_values(store, flt, analyte, align, (lo, hi), name)
    notes: list[Note] = []
    if patients:
        ids, gone = _picked(store, flt, analyte, align, patients)
        if gone:
            notes.append(Note("info", "not_drawn",
                              f"Not drawn (not in view, no {name} value or no tocilizumab): "
                              + ", ".join(gone[:10]) + (" ..." if len(gone) > 10 else "")))
        sampled = False
    else:
        ids = sample_patients(store, flt, analyte, align=align, x_range=(lo, hi),
                              size=max(1, min(int(sample), MAX_SAMPLE)), seed=seed)
        sampled = len(ids) < c["in_range"]
    rows, dropped = curves(store, flt, analyte, ids, align=align, group=group,
                           x_range=(lo, hi), max_rows=max_rows)
    if dropped:
        notes.append(Note("info", "rows_capped",
                          f"{len(dropped)} curve(s) not drawn to keep the chart under "
                          f"{max_rows} points; draw fewer patients or a shorter range."))
    bnd = band(store, flt, analyte, align=align, group=group, x_range=(lo, hi),
               daily_until=daily_until, width=width)
    dz = doses(store, flt, rows, align=align, x_range=(lo, hi))
    return TimeCourse(analyte, align, group, rows, bnd, dz, c["with_values"], c["unaligned"],
                      c["in_range"], int(rows["patient_id"].nunique()), sampled,
                      tuple(dropped), describe_bins(daily_until, width), tuple(notes))


def _require_values(store: CohortStore, flt: CohortFilter | None, analyte: str, align: Align,
                    x_range: tuple[float, float], name: str) -> dict[str, int]:
    """:func:`counts`, or InsufficientDataError when no value is left to draw."""
    c = counts(store, flt, analyte, align, x_range)
    if c["with_values"] == 0:
        raise InsufficientDataError(f"No patient in view has a {name} value. Choose another "
                                    "analyte or widen the filter.")
    if c["in_range"] == 0:
        why = (f" ({c['unaligned']} without tocilizumab left out)" if c["unaligned"] else "")
        raise InsufficientDataError(f"No {name} value lies in days {x_range[0]:g} to "
                                    f"{x_range[1]:g}{why}. Widen the day range or change the "
                                    "alignment.")
    return c


def _picked(store: CohortStore, flt: CohortFilter | None, analyte: str, align: Align,
            patients: Sequence[str]) -> tuple[list[str], list[str]]:
    """The picked patients that can be drawn, and those that cannot (not in view, no value)."""
    options = set(patient_options(store, flt, analyte, align=align))
    ids = [str(p) for p in patients if str(p) in options]
    gone = [str(p) for p in patients if str(p) not in options]
    return ids, gone
