"""Tocilizumab page: the dose-response of hypofibrinogenemia (the paper's Figure 3 and S3).

* :func:`with_durations`: the two durations of Figures 3C and S3B (recovered patients only).
* :func:`subset`: the patients of a panel ("all", "treated", "recovered", "crs12"), the one
  definition the Tocilizumab and Paper figures pages share.
* :func:`dose_panel`: one dose-response correlation (3B, 3C, S3A, S3B, S3C).
* :func:`tocilizumab_box_panel`: Figure 3A, nadir by CRS grade within tocilizumab yes / no.
* :func:`crs12_tocilizumab`: CRS 1-2, tocilizumab versus none (nadir and hypofibrinogenemia).
* :func:`grade_by_doses`: Figure 3D, hypofibrinogenemia grade by number of doses.

Results are raw numbers; rounding and wording belong to the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from core import stats as gstats
from core.analyses.columns import HYPOFIB_DURATION, RECOVERY_FROM_NADIR, only
from core.analyses.common import DEFAULT_MAX_POINTS, POOL_CRS_34
from core.analyses.correlations import CorrelationPanel, check_method, correlation_panel
from core.analyses.lab_values import small_group_notes
from core.errors import ColumnError, InsufficientDataError
from core.notes import Note
from core.stats import (
    DEFAULT_SEED,
    CompareResult,
    ContingencyResult,
    CorrelationMethod,
    CorrelationResult,
    python_value,
)

__all__ = [
    "DOSE_COLUMNS",
    "DOSE_PANELS",
    "DURATION_INPUTS",
    "HYPOFIB_DURATION",
    "POOL_CRS_34",
    "RECOVERY_FROM_NADIR",
    "SUBSETS",
    "Crs12Comparison",
    "DosePanel",
    "DoseSpec",
    "GradeByDoses",
    "Subset",
    "ToziBox",
    "crs12_tocilizumab",
    "dose_panel",
    "grade_by_doses",
    "subset",
    "tocilizumab_box_panel",
    "with_durations",
]

#: the columns :func:`with_durations` reads
DURATION_INPUTS = ("fibrinogen_recovered", "hypofibrinogenemia_grade", "fibrinogen_recovery_day",
                   "fibrinogen_nadir_day", "hypofibrinogenemia_onset_day")
#: every column a Figure 3 / S3 panel reads (the Tocilizumab page needs no other)
DOSE_COLUMNS = ("patient_id", "tocilizumab", "crs_grade", "fibrinogen_nadir",
                "tocilizumab_cum_mg", "tocilizumab_doses", "tocilizumab_duration_days",
                *DURATION_INPUTS)

Subset = Literal["all", "treated", "recovered", "crs12"]
SUBSETS: tuple[str, ...] = get_args(Subset)


# --------------------------------------------------------------------------------------------
# patients of a panel
# --------------------------------------------------------------------------------------------

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


def subset(df: pd.DataFrame, which: Subset) -> pd.DataFrame:
    """The patients of a panel.

    Parameters
    ----------
    df : DataFrame
        The cohort; for ``"recovered"`` with the :func:`with_durations` columns.
    which : {"all", "treated", "recovered", "crs12"}
        Everyone; tocilizumab = 1; hypofibrinogenemia that recovered (a recovery time is
        known); CRS grade 1 or 2.

    Raises
    ------
    ValueError
        ``which`` is not one of :data:`SUBSETS`.
    ColumnError
        The column the subset needs is missing.
    """
    if which not in SUBSETS:
        raise ValueError(f"Unknown subset {which!r}; use one of {SUBSETS}.")
    needs = {"treated": "tocilizumab", "recovered": RECOVERY_FROM_NADIR, "crs12": "crs_grade"}
    if which in needs and needs[which] not in df.columns:
        raise ColumnError(f"The data have no '{needs[which]}' column, which this panel's "
                          "patients are selected by.")
    if which == "treated":
        return df[pd.to_numeric(df["tocilizumab"], errors="coerce") == 1]
    if which == "recovered":
        return df[df[RECOVERY_FROM_NADIR].notna()]
    if which == "crs12":
        return df[pd.to_numeric(df["crs_grade"], errors="coerce").isin([1, 2])]
    return df


# --------------------------------------------------------------------------------------------
# dose-response correlations
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DoseSpec:
    """A dose-response correlation of the paper.

    Attributes
    ----------
    id : str
        Figure panel, e.g. ``"3B"``.
    x, y : str
        Columns (``y`` may be a :func:`with_durations` column).
    subset : {"all", "treated", "recovered"}
        The patients (:func:`subset`).
    title : str
        Panel title.
    note : str
        Which patients and why.
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
    spec : DoseSpec
        The panel.
    method : {"spearman", "pearson"}
        The method of ``result``.
    panel : CorrelationPanel
        Points, Pearson and Spearman.
    result : CorrelationResult
        The chosen method's result.
    n_eligible : int
        Patients in the subset before missing values were dropped.
    """

    spec: DoseSpec
    method: CorrelationMethod
    panel: CorrelationPanel
    result: CorrelationResult
    n_eligible: int


def dose_panel(df: pd.DataFrame, panel_id: str, *, method: CorrelationMethod = "spearman",
               treated_only: bool = False, max_points: int = DEFAULT_MAX_POINTS) -> DosePanel:
    """One dose-response panel of Figure 3 (B, C) or S3 (A, B, C).

    Parameters
    ----------
    df : DataFrame
        The filtered cohort.
    panel_id : str
        A key of :data:`DOSE_PANELS`.
    method : {"spearman", "pearson"}
        Coefficient reported in ``result`` (both are computed).
    treated_only : bool
        Restrict ``"all"`` panels to tocilizumab-treated patients.
    max_points : int
        Points returned at most.

    Returns
    -------
    DosePanel
        ``spec, method, panel, result, n_eligible``.

    Raises
    ------
    ValueError
        Unknown ``panel_id`` or ``method``.
    ColumnError, InsufficientDataError
        Missing columns; fewer than 4 complete pairs.
    """
    if panel_id not in DOSE_PANELS:
        raise ValueError(f"Unknown dose panel {panel_id!r}; use one of {tuple(DOSE_PANELS)}.")
    check_method(method)
    spec = DOSE_PANELS[panel_id]
    data = subset(with_durations(only(df, (spec.x, spec.y, *DOSE_COLUMNS))), spec.subset)
    if treated_only and spec.subset == "all":
        data = subset(data, "treated")
    panel = correlation_panel(data, spec.x, spec.y, max_points=max_points)
    return DosePanel(spec, method, panel, panel.result(method), len(data))


# --------------------------------------------------------------------------------------------
# Figure 3A and the CRS 1-2 comparison
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ToziBox:
    """Figure 3A: a value by CRS grade, split by tocilizumab.

    Attributes
    ----------
    box : DataFrame
        Columns ``group, tocilizumab`` ("yes"/"no") and the Tukey columns.
    points : DataFrame
        Columns ``patient_id, group, tocilizumab, value``.
    by_arm : dict
        ``{"yes": CompareResult | None, "no": ...}`` across CRS grades within each arm.
    n : int
        Values used.
    notes : tuple of Note
        ``"small_groups"`` warnings: a CRS grade with fewer than 3 patients in an arm
        (:func:`core.analyses.lab_values.small_group_notes`).
    """

    box: pd.DataFrame
    points: pd.DataFrame
    by_arm: dict[str, CompareResult | None]
    n: int
    notes: tuple[Note, ...] = ()


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
    data = _arms(df, value, group, pool)
    order = list(dict.fromkeys(data.sort_values(group)["_g"]))
    boxes: list[pd.DataFrame] = []
    by_arm: dict[str, CompareResult | None] = {}
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
    notes = tuple(Note(n.level, n.kind, f"{'Tocilizumab' if arm == 'yes' else 'No tocilizumab'}"
                                        f", CRS grades: {n.text}")
                  for arm, res in by_arm.items() for n in small_group_notes(res))
    return ToziBox(box, pts.reset_index(drop=True), by_arm, len(data), notes)


def _arms(df: pd.DataFrame, value: str, group: str,
          pool: Mapping[Any, str] | None) -> pd.DataFrame:
    """Complete rows with ``_v`` (value), ``_g`` (group label, pooled) and ``_arm`` (yes/no)."""
    for c in (value, group, "tocilizumab"):
        if c not in df.columns:
            raise ColumnError(f"Figure 3A needs the column '{c}'.")
    data = df.assign(_v=pd.to_numeric(df[value], errors="coerce"),
                     _t=pd.to_numeric(df["tocilizumab"], errors="coerce"))
    data = data[data["_v"].notna() & data["_t"].notna() & data[group].notna()]
    if data.empty:
        raise InsufficientDataError(f"No patient has '{value}', '{group}' and tocilizumab.")
    g = (data[group].map(lambda v: pool.get(python_value(v), python_value(v))) if pool
         else data[group].map(python_value))
    return data.assign(_g=g.astype(object), _arm=np.where(data["_t"] == 1, "yes", "no"))


@dataclass(frozen=True)
class Crs12Comparison:
    """Figure 3A, CRS grades 1-2: tocilizumab versus none.

    Attributes
    ----------
    nadir : CompareResult
        Mann-Whitney of ``fibrinogen_nadir`` by tocilizumab (groups 0, 1).
    hypofibrinogenemia : ContingencyResult or None
        Chi-square / Fisher of hypofibrinogenemia (grade >= 1) by tocilizumab, the test the
        paper's sentence describes; None without a grade column or with too few data.
    n : int
        Patients with CRS 1-2 in view.
    notes : tuple of Note
        ``"small_groups"``: an arm with fewer than 3 patients.
    """

    nadir: CompareResult
    hypofibrinogenemia: ContingencyResult | None
    n: int
    notes: tuple[Note, ...] = ()


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
    sub = subset(df, "crs12")
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
            table = None  # the nadir comparison still stands; the page says the table is missing
    return Crs12Comparison(nadir, table, len(sub), tuple(small_group_notes(nadir)))


# --------------------------------------------------------------------------------------------
# Figure 3D
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GradeByDoses:
    """Figure 3D: hypofibrinogenemia grade by number of tocilizumab doses.

    Attributes
    ----------
    counts : DataFrame
        Columns ``doses, grade, n, share`` (share of the doses group), every combination.
    summary : DataFrame
        Columns ``doses, n, mean_grade, median_grade, severe`` (patients with grade >= 3).
    comparison : CompareResult
        Kruskal-Wallis of the grade across dose groups.
    n : int
        Patients used.
    notes : tuple of Note
        ``"small_groups"``: a dose group with fewer than 3 patients.
    """

    counts: pd.DataFrame
    summary: pd.DataFrame
    comparison: CompareResult
    n: int
    notes: tuple[Note, ...] = ()


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
    grid = pd.MultiIndex.from_product([sorted(data["doses"].unique()), range(5)],
                                      names=["doses", "grade"])
    counts = data.value_counts(["doses", "grade"]).reindex(grid, fill_value=0) \
        .rename("n").reset_index()
    counts["share"] = counts["n"] / counts.groupby("doses")["n"].transform("sum")
    summary = data.groupby("doses")["grade"].agg(
        n="size", mean_grade="mean", median_grade="median",
        severe=lambda s: int((s >= 3).sum())).reset_index()
    return GradeByDoses(counts, summary, comparison, len(data),
                        tuple(small_group_notes(comparison)))


