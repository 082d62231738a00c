"""Lab values page: a numeric column by a grouping column as Tukey boxplots with the group
comparison (the paper's Figures 1 and 2).

* :func:`box_stats`: Tukey box statistics computed in DuckDB (``quantile_cont``, R type 7); no
  raw rows leave the database.
* :func:`sample_points`: a capped, seeded sample of points that always keeps the outliers.
* :func:`group_panel`: both, plus :func:`core.stats.compare_groups` (Kruskal-Wallis with
  Dunn-Holm, or Mann-Whitney for two groups), as one :class:`GroupPanel`.

Results are raw numbers; rounding and wording belong to the page.

Note kinds of :attr:`GroupPanel.notes`: ``"dropped"`` (patients without a value or group),
``"one_group"`` (no comparison), ``"points_capped"`` (outliers beyond the point cap),
``"small_groups"`` (warning: a group with fewer than :data:`MIN_GROUP_N` patients, too small
for the test shown; :func:`small_group_notes`), and the comparison's own notes
(:func:`core.stats.compare_groups`: ``"groups"``, ``"constant"``, ...) except its
``"dropped"``, which the panel's says already, and its ``"small_sample"`` (single
observations), which ``"small_groups"`` covers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from core import stats as gstats
from core.analyses.common import DEFAULT_MAX_POINTS, POOL_CRS_34
from core.errors import ColumnError, InsufficientDataError
from core.filters import CohortFilter, quote_ident
from core.notes import Note, WithNotes
from core.stats import DEFAULT_SEED, CompareResult, python_value
from core.store import CohortStore

__all__ = [
    "FIGURE_1",
    "FIGURE_2",
    "POOL_CRS_34",
    "GroupPanel",
    "MIN_GROUP_N",
    "box_stats",
    "group_panel",
    "sample_points",
    "small_group_notes",
]

#: groups smaller than this are flagged: Kruskal-Wallis' chi-square approximation (and R's
#: kruskal.test) is unreliable with groups of 1-2, Dunn's pairwise z says little about them,
#: and Mann-Whitney with a group of 1-2 cannot reach p < 0.05 below 4-8 patients on the other
#: side (exact p >= 2 / C(n1 + n2, n1))
MIN_GROUP_N = 3

#: Figure 1 (coagulation by CRS grade) and Figure 2 (liver by CRS grade) of the paper
FIGURE_1 = ("fibrinogen_nadir", "d_dimer_max", "platelets_min", "inr_max", "ptt_max")
FIGURE_2 = ("ggt_max", "alt_max", "che_min", "albumin_min")


@dataclass(frozen=True)
class GroupPanel(WithNotes):
    """One boxplot panel: a numeric column by a grouping column.

    Attributes
    ----------
    value, group : str
        The columns.
    box : DataFrame
        One row per group in display order; columns ``group, n, q1, median, q3,
        whisker_low, whisker_high, n_outliers`` (as :func:`core.stats.groups.tukey_box`).
    points : DataFrame
        Columns ``patient_id, group, value, outlier`` (bool): every outlier plus a seeded
        sample of the other values, at most ``max_points`` rows.
    comparison : CompareResult or None
        Kruskal-Wallis (3+ groups, with Dunn-Holm) or Mann-Whitney (2 groups); None when only
        one group has data (see ``notes``).
    n : int
        Values used.
    n_dropped : int
        Filtered rows without a value or group.
    sampled : bool
        True when ``points`` holds fewer than ``n`` values.
    notes : tuple of Note
        What the user should know (kinds in the module docstring).
    """

    value: str
    group: str
    box: pd.DataFrame
    points: pd.DataFrame
    comparison: CompareResult | None
    n: int
    n_dropped: int
    sampled: bool
    notes: tuple[Note, ...] = field(default_factory=tuple)



# --------------------------------------------------------------------------------------------
# SQL
# --------------------------------------------------------------------------------------------

def _group_sql(group: str, pool: Mapping[Any, str] | None) -> tuple[str, str, list[Any]]:
    """(group expression, sort-key expression, params) for the patients table."""
    g = quote_ident(group)
    if not pool:
        return g, g, []
    whens, params = [], []
    for raw, lab in pool.items():
        whens.append(f"WHEN CAST({g} AS VARCHAR) = ? THEN ?")
        params += [str(raw), str(lab)]
    return f"(CASE {' '.join(whens)} ELSE CAST({g} AS VARCHAR) END)", g, params


def _check_columns(store: CohortStore, value: str, group: str) -> None:
    for c in (value, group):
        if c not in store.columns():
            raise ColumnError(f"No column '{c}' in the patient table.")
    if value == group:
        raise ColumnError(f"Value and group are the same column ('{value}'); choose two columns.")
    if not store.is_numeric(value):
        raise ColumnError(f"'{value}' is not a numeric column; choose a lab value or number.")


def _base_cte(store: CohortStore, flt: CohortFilter | None, value: str, group: str,
              pool: Mapping[Any, str] | None) -> tuple[str, list[Any]]:
    """CTEs ``base`` (rows with a value and a group), ``q`` (quartiles per group), ``f``
    (Tukey fences) and ``b`` (rows flagged as outliers), and their parameters."""
    _check_columns(store, value, group)
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
    store : CohortStore
        The session's store.
    flt : CohortFilter or None
        The cohort filter (None: every patient).
    value : str
        Numeric patient column.
    group : str
        Grouping column.
    pool : mapping, optional
        Raw group value -> pooled label, e.g. :data:`POOL_CRS_34`; groups become text.
    order : sequence, optional
        Display order (labels first, in this order; the rest by their smallest raw value).

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
    box["group"] = [python_value(g) for g in box["group"]]
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

    Raises
    ------
    ValueError
        ``max_points`` below 1.
    """
    if max_points < 1:
        raise ValueError("max_points must be at least 1.")
    head, params = _base_cte(store, flt, value, group, pool)
    sql = (head + " SELECT patient_id, grp AS \"group\", value, outlier FROM b "
           "ORDER BY outlier DESC, hash(patient_id, ?::BIGINT) LIMIT ?")
    pts = store.query(sql, params + [int(seed), int(max_points)])
    pts["group"] = [python_value(g) for g in pts["group"]]
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
    vals["group"] = [python_value(g) for g in vals["group"]]
    return vals, total - len(vals)


# --------------------------------------------------------------------------------------------
# the panel
# --------------------------------------------------------------------------------------------

def group_panel(store: CohortStore, flt: CohortFilter | None, value: str, group: str, *,
                max_points: int = DEFAULT_MAX_POINTS, order: Sequence[Any] | None = None,
                pool: Mapping[Any, str] | None = None,
                seed: int = DEFAULT_SEED) -> GroupPanel:
    """A boxplot panel: box statistics from SQL, capped points, and the group comparison.

    Parameters
    ----------
    store : CohortStore
        The session's store.
    flt : CohortFilter or None
        The cohort filter (None: every patient).
    value : str
        Numeric patient column, e.g. ``"d_dimer_max"``.
    group : str
        Grouping column, e.g. ``"crs_grade"``.
    max_points : int
        Cap on the points returned (outliers are always kept first).
    order : sequence, optional
        Display order of the groups.
    pool : mapping, optional
        Raw group value -> label to pool groups, e.g. :data:`POOL_CRS_34` (CRS 3-4).
    seed : int
        Seed of the point sample.

    Returns
    -------
    GroupPanel
        ``box``, ``points``, ``comparison`` (or None), ``n``, ``n_dropped``, ``sampled``,
        ``notes``.

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
    comparison = (gstats.compare_groups(vals, "value", "group", order=list(box["group"]))
                  if len(box) >= 2 else None)
    notes = _notes(value, group, box, comparison, n_dropped, max_points)
    n = int(box["n"].sum())
    return GroupPanel(value, group, box, points, comparison, n, n_dropped, len(points) < n,
                      tuple(notes))


def small_group_notes(comparison: CompareResult | None, min_n: int = MIN_GROUP_N
                      ) -> list[Note]:
    """A ``"small_groups"`` warning when a group of the comparison has fewer than ``min_n``
    values (e.g. CRS grade 4 with 2 patients under a Kruskal-Wallis test), else []."""
    if comparison is None or not len(comparison.summary):
        return []
    small = comparison.summary[comparison.summary["n"] < min_n]
    if small.empty:
        return []
    which = ", ".join(f"{g} (n = {int(k)})" for g, k in zip(small["group"], small["n"]))
    which, verb = (f"Groups {which}", "have") if len(small) > 1 else (f"Group {which}", "has")
    test = comparison.test
    why = ("its chi-square p-value is unreliable with groups this small and the Dunn "
           "comparisons involving them say little" if test.startswith("Kruskal")
           else "it has almost no power with a group this small")
    return [Note("warning", "small_groups",
                 f"{which} {verb} fewer than {min_n} patients, too few for the {test} "
                 f"test shown: {why}. Pool groups (e.g. CRS 3-4) or read the p-value with "
                 "care.")]


def _notes(value: str, group: str, box: pd.DataFrame, comparison: CompareResult | None,
           n_dropped: int, max_points: int) -> list[Note]:
    notes: list[Note] = []
    if n_dropped:
        notes.append(Note("info", "dropped", f"{n_dropped} patient(s) without a '{value}' or "
                                             f"'{group}' value were left out."))
    if comparison is not None:
        # the panel says who was left out (above); the test's own count of them is the same;
        # single observations are part of the small-groups warning
        small = small_group_notes(comparison)
        notes += [n for n in comparison.notes
                  if n.kind != "dropped" and not (small and n.kind == "small_sample")]
        notes += small
    else:
        notes.append(Note("info", "one_group",
                          f"Only one group ({box['group'].iloc[0]}) has data, so there is no "
                          "comparison; widen the filter or choose another grouping."))
    n_outliers = int(box["n_outliers"].sum())
    if n_outliers > max_points:
        notes.append(Note("info", "points_capped",
                          f"{n_outliers} outliers exceed the cap of {max_points} points; a "
                          "sample of them is drawn."))
    return notes
