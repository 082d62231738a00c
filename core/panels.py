"""Figure panels: the data and statistic behind one panel of the paper's Figures 1-3 and S3.

A page calls one function per panel and draws the result; nothing here imports streamlit, so a
notebook gets the same boxes, points and p-values as the app.

* :func:`group_panel`: Tukey box statistics computed in DuckDB (``quantile_cont``, R type 7), a
  capped, seeded sample of points that always keeps the outliers, and
  :func:`core.stats.compare_groups` (Kruskal-Wallis + Dunn-Holm, or Mann-Whitney).
* :func:`correlation_panel`: scatter data (sampled when large) with Pearson and Spearman.
* :func:`with_durations`, :func:`dose_panel`, :func:`tocilizumab_box_panel`,
  :func:`grade_by_doses`, :func:`crs12_tocilizumab`: the tocilizumab dose-response (Figure 3,
  Figure S3).
* :func:`reference_lines`, :func:`log_scale_default`: CTCAE grade lines and axis defaults from
  :mod:`core.schema`.

Results are raw numbers; rounding and wording belong to the page.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from core import schema
from core.errors import ColumnError, InsufficientDataError
from core.filters import CohortFilter, quote_ident
from core.stats import groups as gstats
from core.stats.groups import CompareResult, ContingencyResult, CorrelationResult
from core.store import CohortStore

DEFAULT_SEED = 20240328
DEFAULT_MAX_POINTS = 2000
Method = Literal["spearman", "pearson"]

#: Figure 1 (coagulation by CRS grade) and Figure 2 (liver by CRS grade) of the paper
FIGURE_1 = ("fibrinogen_nadir", "d_dimer_max", "platelets_min", "inr_max", "ptt_max")
FIGURE_2 = ("ggt_max", "alt_max", "che_min", "albumin_min")
#: the paper pools CRS grades 3 and 4 ("high-grade CRS")
POOL_CRS_34: dict[Any, str] = {3: "3-4", 4: "3-4"}
#: CTCAE v5 "fibrinogen decreased": grade limits as fractions of the LLN
CTCAE_FIBRINOGEN = ((1.0, "LLN"), (0.75, "G2 <"), (0.5, "G3 <"), (0.25, "G4 <"))

_SUFFIXES = ("_nadir", "_baseline", "_max", "_min")
RECOVERY_FROM_NADIR = "fibrinogen_recovery_from_nadir_days"
HYPOFIB_DURATION = "hypofibrinogenemia_duration_days"
DERIVED_LABELS = {
    RECOVERY_FROM_NADIR: "Fibrinogen recovery from nadir (days)",
    HYPOFIB_DURATION: "Duration of hypofibrinogenemia (days)",
}


# --------------------------------------------------------------------------------------------
# schema helpers
# --------------------------------------------------------------------------------------------

def analyte_of(column: str) -> schema.Analyte | None:
    """The lab analyte a patient column summarises: ``"d_dimer_max"`` -> D-dimer, else None."""
    for suffix in _SUFFIXES:
        if column.endswith(suffix):
            return schema.ANALYTES.get(column[: -len(suffix)])
    return schema.ANALYTES.get(column)


def log_scale_default(column: str) -> bool:
    """True for skewed analytes (``log_scale`` in :data:`core.schema.ANALYTES`)."""
    a = analyte_of(column)
    return bool(a and a.log_scale)


def reference_lines(column: str, lln: float | None = None) -> list[tuple[float, str]]:
    """CTCAE v5 grade limits of a fibrinogen column as ``[(value, label), ...]``.

    Parameters
    ----------
    column : a patient column; only fibrinogen columns get lines.
    lln : lower limit of normal in mg/dL; default the schema's (Clauss, 200 mg/dL).

    Returns
    -------
    list of (float, str)
        ``1.0, 0.75, 0.5, 0.25 x LLN`` labelled ``"LLN 200"``, ``"G2 < 150"``, ...; empty for
        other columns.
    """
    a = analyte_of(column)
    if a is None or a.name != "fibrinogen":
        return []
    lln = float(lln if lln is not None else a.lln)  # type: ignore[arg-type]
    return [(f * lln, f"{name} {f * lln:g}") for f, name in CTCAE_FIBRINOGEN]


def label(column: str) -> str:
    """Axis label for a patient column or a derived duration."""
    return DERIVED_LABELS.get(column) or schema.label(column)


# --------------------------------------------------------------------------------------------
# group panel (box statistics in SQL)
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GroupPanel:
    """One boxplot panel: a numeric column by a grouping column.

    Attributes
    ----------
    value, group : the columns.
    box : one row per group in display order; columns ``group, n, q1, median, q3,
        whisker_low, whisker_high, n_outliers`` (as :func:`core.stats.groups.tukey_box`).
    points : columns ``patient_id, group, value, outlier`` (bool): every outlier plus a seeded
        sample of the other values, at most ``max_points`` rows.
    comparison : Kruskal-Wallis (3+ groups, with Dunn-Holm) or Mann-Whitney (2 groups);
        None when only one group has data (see ``messages``).
    n : values used; n_dropped : filtered rows without a value or group.
    sampled : True when ``points`` holds fewer than ``n`` values.
    messages : notes for the user.
    """

    value: str
    group: str
    box: pd.DataFrame
    points: pd.DataFrame
    comparison: CompareResult | None
    n: int
    n_dropped: int
    sampled: bool
    messages: tuple[str, ...] = field(default_factory=tuple)


def _group_sql(group: str, pool: Mapping[Any, str] | None) -> tuple[str, str, list[Any]]:
    """(group expression, sort-key expression, params) for the patients table."""
    g = quote_ident(group)
    if not pool:
        return g, g, []
    whens, params = [], []
    for raw, lab in pool.items():
        whens.append("WHEN CAST({g} AS VARCHAR) = ? THEN ?".format(g=g))
        params += [str(raw), str(lab)]
    return f"(CASE {' '.join(whens)} ELSE CAST({g} AS VARCHAR) END)", g, params


def _base_cte(store: CohortStore, flt: CohortFilter | None, value: str, group: str,
              pool: Mapping[Any, str] | None) -> tuple[str, list[Any]]:
    for c in (value, group):
        if c not in store.columns():
            raise ColumnError(f"No column '{c}' in the patient table.")
    if value == group:
        raise ColumnError(f"Value and group are the same column ('{value}'); choose two columns.")
    if not store.is_numeric(value):
        raise ColumnError(f"'{value}' is not a numeric column; choose a lab value or number.")
    where, wparams = store.where(flt)
    gexpr, sort_expr, gparams = _group_sql(group, pool)
    v = quote_ident(value)
    sql = (f"base AS (SELECT CAST(patient_id AS VARCHAR) AS patient_id, "
           f"CAST({v} AS DOUBLE) AS value, {gexpr} AS grp, {sort_expr} AS sort_key "
           f"FROM patients WHERE ({where}) AND {v} IS NOT NULL AND {quote_ident(group)} "
           f"IS NOT NULL AND NOT isnan(CAST({v} AS DOUBLE))), "
           "q AS (SELECT grp, count(*) AS n, min(sort_key) AS sort_key, "
           "quantile_cont(value, 0.25) AS q1, quantile_cont(value, 0.5) AS median, "
           "quantile_cont(value, 0.75) AS q3 FROM base GROUP BY grp), "
           "f AS (SELECT *, q1 - 1.5 * (q3 - q1) AS lo, q3 + 1.5 * (q3 - q1) AS hi FROM q), "
           "b AS (SELECT base.*, (base.value < f.lo OR base.value > f.hi) AS outlier "
           "FROM base JOIN f USING (grp))")
    return "WITH " + sql, gparams + wparams


def box_stats(store: CohortStore, flt: CohortFilter | None, value: str, group: str, *,
              pool: Mapping[Any, str] | None = None,
              order: Sequence[Any] | None = None) -> pd.DataFrame:
    """Tukey box statistics per group, aggregated in DuckDB (no raw rows leave the database).

    Parameters
    ----------
    store, flt : the session's store and the cohort filter.
    value : numeric patient column.
    group : grouping column.
    pool : raw group value -> pooled label, e.g. :data:`POOL_CRS_34`; groups become text.
    order : display order (labels first, in this order; the rest by their smallest raw value).

    Returns
    -------
    DataFrame
        Columns ``group, n, q1, median, q3, whisker_low, whisker_high, n_outliers``; one row
        per group with data. Equals :func:`core.stats.groups.tukey_box` on the same rows.
    """
    head, params = _base_cte(store, flt, value, group, pool)
    sql = (head + " SELECT f.grp AS \"group\", f.n, f.q1, f.median, f.q3, "
           "min(b.value) FILTER (WHERE NOT b.outlier) AS whisker_low, "
           "max(b.value) FILTER (WHERE NOT b.outlier) AS whisker_high, "
           "count(*) FILTER (WHERE b.outlier) AS n_outliers, min(f.sort_key) AS sort_key "
           "FROM f JOIN b USING (grp) GROUP BY f.grp, f.n, f.q1, f.median, f.q3 "
           "ORDER BY min(f.sort_key), f.grp")
    box = store.query(sql, params)
    box["group"] = [_py(g) for g in box["group"]]
    box = box.astype({"n": int, "n_outliers": int})
    box = _reorder(box, order)
    return box.loc[:, list(gstats.TUKEY_BOX_COLUMNS)].reset_index(drop=True)


def _reorder(box: pd.DataFrame, order: Sequence[Any] | None) -> pd.DataFrame:
    if order is None:
        return box
    by_text = {str(g): i for i, g in enumerate(box["group"])}
    first = [by_text[str(o)] for o in order if str(o) in by_text]
    first = list(dict.fromkeys(first))
    rest = [i for i in range(len(box)) if i not in first]
    return box.iloc[first + rest]


def sample_points(store: CohortStore, flt: CohortFilter | None, value: str, group: str, *,
                  pool: Mapping[Any, str] | None = None, max_points: int = DEFAULT_MAX_POINTS,
                  seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Points to overlay on a boxplot: every outlier and a seeded sample of the rest.

    Returns
    -------
    DataFrame
        Columns ``patient_id, group, value, outlier``; at most ``max_points`` rows (outliers
        first: if they alone exceed the cap, a seeded sample of them). The sample is the rows
        with the smallest ``hash(patient_id, seed)``, so the same data give the same points.
    """
    if max_points < 1:
        raise ColumnError("max_points must be at least 1.")
    head, params = _base_cte(store, flt, value, group, pool)
    sql = (head + " SELECT patient_id, grp AS \"group\", value, outlier FROM b "
           "ORDER BY outlier DESC, hash(patient_id, ?::BIGINT) LIMIT ?")
    pts = store.query(sql, params + [int(seed), int(max_points)])
    pts["group"] = [_py(g) for g in pts["group"]]
    pts["outlier"] = pts["outlier"].astype(bool)
    return pts.loc[:, ["patient_id", "group", "value", "outlier"]]


def _values(store: CohortStore, flt: CohortFilter | None, value: str, group: str,
            pool: Mapping[Any, str] | None) -> tuple[pd.DataFrame, int]:
    """(group, value) of the filtered rows with both present, and the count left out."""
    head, params = _base_cte(store, flt, value, group, pool)
    where, wparams = store.where(flt)
    vals = store.query(head + " SELECT grp AS \"group\", value FROM base", params)
    total = int(store.query(f"SELECT count(*) AS n FROM patients WHERE {where}",
                            wparams)["n"].iloc[0])
    vals["group"] = [_py(g) for g in vals["group"]]
    return vals, total - len(vals)


def group_panel(store: CohortStore, flt: CohortFilter | None, value: str, group: str, *,
                max_points: int = DEFAULT_MAX_POINTS, order: Sequence[Any] | None = None,
                pool: Mapping[Any, str] | None = None,
                seed: int = DEFAULT_SEED) -> GroupPanel:
    """A boxplot panel: box statistics from SQL, capped points, and the group comparison.

    Parameters
    ----------
    store : the session's :class:`CohortStore`.
    flt : the cohort filter (None: every patient).
    value : numeric patient column, e.g. ``"d_dimer_max"``.
    group : grouping column, e.g. ``"crs_grade"``.
    max_points : cap on the points returned (outliers are always kept first).
    order : display order of the groups.
    pool : raw group value -> label to pool groups, e.g. :data:`POOL_CRS_34` (CRS 3-4).
    seed : seed of the point sample.

    Returns
    -------
    GroupPanel
        ``box`` (``group, n, q1, median, q3, whisker_low, whisker_high, n_outliers``),
        ``points`` (``patient_id, group, value, outlier``), ``comparison``
        (:class:`~core.stats.groups.CompareResult` or None), ``n``, ``n_dropped``,
        ``sampled``, ``messages``.

    Raises
    ------
    ColumnError
        Unknown column, text in ``value``, or ``value == group``.
    InsufficientDataError
        No filtered row has both a value and a group.
    """
    box = box_stats(store, flt, value, group, pool=pool, order=order)
    if box.empty:
        raise InsufficientDataError(
            f"No patient in view has both '{value}' and '{group}'. Choose other columns or "
            "widen the filter.")
    points = sample_points(store, flt, value, group, pool=pool, max_points=max_points,
                           seed=seed)
    vals, n_dropped = _values(store, flt, value, group, pool)
    n = int(box["n"].sum())
    messages: list[str] = []
    if n_dropped:
        messages.append(f"{n_dropped} patient(s) without a '{value}' or '{group}' value were "
                        "left out.")
    comparison = None
    if len(box) >= 2:
        comparison = gstats.compare_groups(vals, "value", "group", order=list(box["group"]))
        messages += [m for m in comparison.messages if "left out" not in m]
    else:
        messages.append(f"Only one group ({box['group'].iloc[0]}) has data, so there is no "
                        "comparison; widen the filter or choose another grouping.")
    if int(box["n_outliers"].sum()) > max_points:
        messages.append(f"{int(box['n_outliers'].sum())} outliers exceed the cap of "
                        f"{max_points} points; a sample of them is drawn.")
    return GroupPanel(value, group, box, points, comparison, n, n_dropped, len(points) < n,
                      tuple(messages))


def _py(v: Any) -> Any:
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


# --------------------------------------------------------------------------------------------
# correlation panel
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CorrelationPanel:
    """Scatter data and both correlation coefficients of two numeric columns.

    Attributes
    ----------
    x, y, color : the columns (``color`` may be None).
    points : the complete pairs to draw (columns ``patient_id`` if present, ``x``, ``y``,
        ``color``; under the original names), a seeded sample when there are more than
        ``max_points``.
    pearson, spearman : :class:`~core.stats.groups.CorrelationResult` on all complete pairs.
    n : complete pairs; sampled : True when ``points`` is a sample.
    """

    x: str
    y: str
    color: str | None
    points: pd.DataFrame
    pearson: CorrelationResult
    spearman: CorrelationResult
    n: int
    sampled: bool

    def result(self, method: Method) -> CorrelationResult:
        """The result of ``method``."""
        return self.pearson if method == "pearson" else self.spearman


def correlation_panel(df: pd.DataFrame, x: str, y: str, *, color: str | None = None,
                      max_points: int = DEFAULT_MAX_POINTS,
                      seed: int = DEFAULT_SEED) -> CorrelationPanel:
    """Scatter data plus Pearson and Spearman correlations (the paper's Figures 1C, 3B, 3C).

    Parameters
    ----------
    df : the filtered cohort (one row per patient); may hold derived columns
        (:func:`with_durations`).
    x, y : numeric columns.
    color : optional grouping column for the point colour.
    max_points : points drawn at most (a seeded sample beyond); the statistics use every pair.

    Returns
    -------
    CorrelationPanel
        ``points`` (columns ``patient_id``, ``x``, ``y``, ``color`` when present), ``pearson``,
        ``spearman``, ``n``, ``sampled``.

    Raises
    ------
    ColumnError, InsufficientDataError
        As :func:`core.stats.groups.correlate` (fewer than 4 pairs, a constant column).
    """
    if x == y:
        raise ColumnError("Choose two different columns for a correlation.")
    spearman = gstats.correlate(df, x, y, "spearman")
    pearson = gstats.correlate(df, x, y, "pearson")
    keep = [c for c in dict.fromkeys(["patient_id", x, y, color]) if c and c in df.columns]
    data = df.loc[df[x].notna() & df[y].notna(), keep]
    sampled = len(data) > max_points
    if sampled:
        data = data.sample(n=max_points, random_state=seed).sort_index()
    return CorrelationPanel(x, y, color, data.reset_index(drop=True), pearson, spearman,
                            spearman.n, sampled)


def correlation_matrix(df: pd.DataFrame, columns: Sequence[str],
                       method: Method = "spearman") -> pd.DataFrame:
    """Pairwise correlations (columns ``x, y, r, pvalue, n``; see
    :func:`core.stats.groups.correlation_matrix_frame`)."""
    return gstats.correlation_matrix_frame(df, columns, method)


# --------------------------------------------------------------------------------------------
# tocilizumab dose-response
# --------------------------------------------------------------------------------------------

#: the columns :func:`with_durations` reads
DURATION_INPUTS = ("fibrinogen_recovered", "hypofibrinogenemia_grade", "fibrinogen_recovery_day",
                   "fibrinogen_nadir_day", "hypofibrinogenemia_onset_day")
#: every column a Figure 3 / S3 panel reads (the Tocilizumab page needs no other)
DOSE_COLUMNS = ("patient_id", "tocilizumab", "crs_grade", "fibrinogen_nadir",
                "tocilizumab_cum_mg", "tocilizumab_doses", "tocilizumab_duration_days",
                *DURATION_INPUTS)


def only(df: pd.DataFrame, columns: Sequence[str | None]) -> pd.DataFrame:
    """The columns of ``df`` among ``columns`` (absent ones and None skipped), in df's order.

    A wide upload (thousands of columns) then costs a page nothing beyond the columns it
    uses: copies, content hashes for memoisation and column scans stay small.
    """
    wanted = set(c for c in columns if c)
    return df.loc[:, [c for c in df.columns if c in wanted]]


def with_durations(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with the two durations of Figures 3C and S3B (recovered patients only).

    Returns
    -------
    DataFrame
        ``df`` plus ``fibrinogen_recovery_from_nadir_days`` = ``fibrinogen_recovery_day -
        fibrinogen_nadir_day`` and ``hypofibrinogenemia_duration_days`` =
        ``fibrinogen_recovery_day - hypofibrinogenemia_onset_day``, both only where
        hypofibrinogenemia occurred (grade >= 1) and fibrinogen recovered
        (``fibrinogen_recovered == 1``); NaN otherwise (a censored recovery day is the last lab
        day, not a recovery). Columns that are absent give NaN.
    """
    out = df.copy()

    def col(name: str) -> pd.Series:
        if name in out.columns:
            return pd.to_numeric(out[name], errors="coerce").astype(float)
        return pd.Series(np.nan, index=out.index)

    recovered = (col("fibrinogen_recovered") == 1) & (col("hypofibrinogenemia_grade") >= 1)
    rec_day = col("fibrinogen_recovery_day").where(recovered)
    out[RECOVERY_FROM_NADIR] = rec_day - col("fibrinogen_nadir_day")
    out[HYPOFIB_DURATION] = rec_day - col("hypofibrinogenemia_onset_day")
    return out


Subset = Literal["all", "treated", "recovered"]


@dataclass(frozen=True)
class DoseSpec:
    """A dose-response correlation of the paper.

    Attributes
    ----------
    id : figure panel, e.g. ``"3B"``.
    x, y : columns (``y`` may be a :func:`with_durations` column).
    subset : ``"all"`` patients, ``"treated"`` (tocilizumab = 1) or ``"recovered"``
        (hypofibrinogenemia that recovered; set by the NaN durations).
    title : panel title; note : which patients and why.
    """

    id: str
    x: str
    y: str
    subset: Subset
    title: str
    note: str


DOSE_PANELS: dict[str, DoseSpec] = {s.id: s for s in [
    DoseSpec("3B", "tocilizumab_cum_mg", "fibrinogen_nadir", "all",
             "Cumulative tocilizumab dose vs fibrinogen nadir",
             "All patients (untreated: 0 mg), as the paper's n = 41 implies."),
    DoseSpec("3C", "tocilizumab_cum_mg", RECOVERY_FROM_NADIR, "recovered",
             "Cumulative tocilizumab dose vs recovery from the nadir",
             "Patients whose hypofibrinogenemia recovered (back >= LLN) only; recovery time = "
             "recovery day - nadir day."),
    DoseSpec("S3A", "tocilizumab_doses", "hypofibrinogenemia_grade", "all",
             "Number of tocilizumab doses vs hypofibrinogenemia grade",
             "All patients (untreated: 0 doses), CTCAE v5 grade 0-4."),
    DoseSpec("S3B", "tocilizumab_doses", HYPOFIB_DURATION, "recovered",
             "Number of tocilizumab doses vs duration of hypofibrinogenemia",
             "Patients whose hypofibrinogenemia recovered only; duration = recovery day - "
             "onset day."),
    DoseSpec("S3C", "tocilizumab_duration_days", "fibrinogen_nadir", "treated",
             "Tocilizumab treatment duration vs fibrinogen nadir",
             "Tocilizumab-treated patients only; duration = last - first dose day."),
]}


@dataclass(frozen=True)
class DosePanel:
    """A dose-response correlation panel.

    Attributes
    ----------
    spec : the :class:`DoseSpec`; method : the method of ``result``.
    panel : :class:`CorrelationPanel` (points, Pearson and Spearman).
    result : the chosen method's :class:`~core.stats.groups.CorrelationResult`.
    n_eligible : patients in the subset before missing values were dropped.
    """

    spec: DoseSpec
    method: Method
    panel: CorrelationPanel
    result: CorrelationResult
    n_eligible: int


def _subset(df: pd.DataFrame, subset: Subset) -> pd.DataFrame:
    if subset == "treated":
        if "tocilizumab" not in df.columns:
            raise ColumnError("The data have no 'tocilizumab' (0/1) column.")
        return df[pd.to_numeric(df["tocilizumab"], errors="coerce") == 1]
    if subset == "recovered":
        return df[df[RECOVERY_FROM_NADIR].notna()]
    return df


def dose_panel(df: pd.DataFrame, panel_id: str, *, method: Method = "spearman",
               treated_only: bool = False, max_points: int = DEFAULT_MAX_POINTS) -> DosePanel:
    """One dose-response panel of Figure 3 (B, C) or S3 (A, B, C).

    Parameters
    ----------
    df : the filtered cohort.
    panel_id : a key of :data:`DOSE_PANELS`.
    method : coefficient reported in ``result`` (both are computed).
    treated_only : restrict ``"all"`` panels to tocilizumab-treated patients.

    Returns
    -------
    DosePanel
        ``spec, method, panel, result, n_eligible``.

    Raises
    ------
    ColumnError, InsufficientDataError
        Missing columns; fewer than 4 complete pairs.
    """
    spec = DOSE_PANELS[panel_id]
    data = _subset(with_durations(only(df, (spec.x, spec.y, *DOSE_COLUMNS))), spec.subset)
    if treated_only and spec.subset == "all":
        data = _subset(data, "treated")
    panel = correlation_panel(data, spec.x, spec.y, max_points=max_points)
    return DosePanel(spec, method, panel, panel.result(method), len(data))


@dataclass(frozen=True)
class ToziBox:
    """Figure 3A: a value by CRS grade, split by tocilizumab.

    Attributes
    ----------
    box : columns ``group, tocilizumab`` ("yes"/"no") and the Tukey columns.
    points : columns ``patient_id, group, tocilizumab, value``.
    by_arm : ``{"yes": CompareResult | None, "no": ...}`` across CRS grades within each arm.
    n : values used.
    """

    box: pd.DataFrame
    points: pd.DataFrame
    by_arm: dict[str, CompareResult | None]
    n: int


def tocilizumab_box_panel(df: pd.DataFrame, value: str = "fibrinogen_nadir",
                          group: str = "crs_grade", *, pool: Mapping[Any, str] | None = None,
                          max_points: int = DEFAULT_MAX_POINTS,
                          seed: int = DEFAULT_SEED) -> ToziBox:
    """Figure 3A: ``value`` by ``group`` within tocilizumab yes / no.

    Returns
    -------
    ToziBox
        ``box`` (``group, tocilizumab, n, q1, median, q3, whisker_low, whisker_high,
        n_outliers``), ``points`` (``patient_id, group, tocilizumab, value``), ``by_arm``, ``n``.

    Raises
    ------
    ColumnError, InsufficientDataError
        No ``tocilizumab`` column; no complete rows.
    """
    for c in (value, group, "tocilizumab"):
        if c not in df.columns:
            raise ColumnError(f"Figure 3A needs the column '{c}'.")
    data = df.assign(_v=pd.to_numeric(df[value], errors="coerce"),
                     _t=pd.to_numeric(df["tocilizumab"], errors="coerce"))
    data = data[data["_v"].notna() & data["_t"].notna() & data[group].notna()]
    if data.empty:
        raise InsufficientDataError(f"No patient has '{value}', '{group}' and tocilizumab.")
    g = data[group].map(lambda v: pool.get(_py(v), _py(v))) if pool else data[group].map(_py)
    data = data.assign(_g=g.astype(object), _arm=np.where(data["_t"] == 1, "yes", "no"))
    order = list(dict.fromkeys(data.sort_values(group)["_g"]))
    boxes, by_arm = [], {}
    for arm in ("no", "yes"):
        part = data[data["_arm"] == arm]
        if part.empty:
            by_arm[arm] = None
            continue
        b = gstats.tukey_box(part, "_v", "_g", order=[o for o in order
                                                      if o in set(part["_g"])])
        boxes.append(b.assign(tocilizumab=arm))
        by_arm[arm] = (gstats.compare_groups(part, "_v", "_g", order=list(b["group"]))
                       if len(b) >= 2 else None)
    box = pd.concat(boxes, ignore_index=True)
    box = box.loc[:, ["group", "tocilizumab"] + list(gstats.TUKEY_BOX_COLUMNS[1:])]
    keep = [c for c in ("patient_id", "_g", "_arm", "_v") if c in data.columns]
    pts = data.loc[:, keep].rename(columns={"_g": "group", "_arm": "tocilizumab", "_v": "value"})
    if len(pts) > max_points:
        pts = pts.sample(n=max_points, random_state=seed)
    return ToziBox(box, pts.reset_index(drop=True), by_arm, len(data))


@dataclass(frozen=True)
class Crs12Comparison:
    """Figure 3A, CRS grades 1-2: tocilizumab versus none.

    Attributes
    ----------
    nadir : Mann-Whitney of ``fibrinogen_nadir`` by tocilizumab (groups 0, 1).
    hypofibrinogenemia : chi-square / Fisher of hypofibrinogenemia (grade >= 1) by tocilizumab,
        the test the paper's sentence describes; None without a grade column.
    n : patients with CRS 1-2 in view.
    """

    nadir: CompareResult
    hypofibrinogenemia: ContingencyResult | None
    n: int


def crs12_tocilizumab(df: pd.DataFrame) -> Crs12Comparison:
    """Patients with CRS grade 1-2: fibrinogen nadir and hypofibrinogenemia by tocilizumab.

    Returns
    -------
    Crs12Comparison
        ``nadir`` (Mann-Whitney, groups 0 = no, 1 = yes), ``hypofibrinogenemia`` (Fisher or
        chi-square table hypofibrinogenemia x tocilizumab), ``n``.

    Raises
    ------
    ColumnError, InsufficientDataError
        Missing columns; fewer than two tocilizumab groups among CRS 1-2 patients.
    """
    for c in ("crs_grade", "tocilizumab", "fibrinogen_nadir"):
        if c not in df.columns:
            raise ColumnError(f"The CRS 1-2 comparison needs the column '{c}'.")
    sub = df[pd.to_numeric(df["crs_grade"], errors="coerce").isin([1, 2])]
    if sub.empty:
        raise InsufficientDataError("No patient with CRS grade 1-2 in view.")
    nadir = gstats.compare_groups(sub, "fibrinogen_nadir", "tocilizumab", order=[0, 1])
    table = None
    if "hypofibrinogenemia_grade" in sub.columns:
        grade = pd.to_numeric(sub["hypofibrinogenemia_grade"], errors="coerce")
        hyp = sub.assign(hypofibrinogenemia=(grade >= 1).astype(float).where(grade.notna()))
        try:
            table = gstats.contingency(hyp, "hypofibrinogenemia", "tocilizumab")
        except InsufficientDataError:
            table = None
    return Crs12Comparison(nadir, table, len(sub))


@dataclass(frozen=True)
class GradeByDoses:
    """Figure 3D: hypofibrinogenemia grade by number of tocilizumab doses.

    Attributes
    ----------
    counts : columns ``doses, grade, n, share`` (share of the doses group), every combination.
    summary : columns ``doses, n, mean_grade, median_grade, severe`` (patients with grade >= 3).
    comparison : Kruskal-Wallis of the grade across dose groups.
    n : patients used.
    """

    counts: pd.DataFrame
    summary: pd.DataFrame
    comparison: CompareResult
    n: int


def grade_by_doses(df: pd.DataFrame, *, doses: str = "tocilizumab_doses",
                   grade: str = "hypofibrinogenemia_grade") -> GradeByDoses:
    """Figure 3D: hypofibrinogenemia grade by number of tocilizumab doses (Kruskal-Wallis).

    Returns
    -------
    GradeByDoses
        ``counts`` (``doses, grade, n, share``), ``summary`` (``doses, n, mean_grade,
        median_grade, severe``), ``comparison``, ``n``.

    Raises
    ------
    ColumnError, InsufficientDataError
        Missing columns; fewer than two dose groups.
    """
    comparison = gstats.compare_groups(df, grade, doses)
    data = pd.DataFrame({"doses": pd.to_numeric(df[doses], errors="coerce"),
                         "grade": pd.to_numeric(df[grade], errors="coerce")}).dropna()
    data = data.astype(int)
    grid = pd.MultiIndex.from_product([sorted(data["doses"].unique()), range(0, 5)],
                                      names=["doses", "grade"])
    counts = data.value_counts(["doses", "grade"]).reindex(grid, fill_value=0)
    counts = counts.rename("n").reset_index()
    counts["share"] = counts["n"] / counts.groupby("doses")["n"].transform("sum")
    summary = data.groupby("doses")["grade"].agg(
        n="size", mean_grade="mean", median_grade="median",
        severe=lambda s: int((s >= 3).sum())).reset_index()
    return GradeByDoses(counts, summary, comparison, len(data))



# --------------------------------------------------------------------------------------------
# column choices
# --------------------------------------------------------------------------------------------

def numeric_columns(df: pd.DataFrame) -> list[str]:
    """Numeric patient columns with at least two distinct values (not the id), table order."""
    numeric = [c for c, t in df.dtypes.items() if c != "patient_id"
               and pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t)]
    n = df.loc[:, numeric].nunique(dropna=True)
    return n.index[n >= 2].tolist()


def group_columns(df: pd.DataFrame, max_levels: int = 12) -> list[str]:
    """Columns usable as a grouping: 1 to ``max_levels`` distinct values (any type; one level
    is kept so a filter that leaves one group says so instead of dropping the choice)."""
    n = df.drop(columns="patient_id", errors="ignore").nunique(dropna=True)
    return n.index[(n >= 1) & (n <= max_levels)].tolist()
