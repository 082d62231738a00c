"""Survival page: Kaplan-Meier curves by group with numbers at risk, log-rank test, medians,
and a Cox model with the proportional-hazards check (the paper's Figure S1: PFS by
hypofibrinogenemia). The page's other two sections have rooms of their own:
:mod:`core.analyses.time_varying` (an exposure entered as it happens) and
:mod:`core.analyses.competing` (cumulative incidence with competing risks).

:func:`survival_analysis` returns a :class:`SurvivalResult`; a notebook gets the same object
as the page. A Cox model that cannot be fitted does not raise: ``cox`` is None and an error
note says why, so the curves still show.

Note kinds: ``"missing"`` (patients left out), ``"landmark"`` (who the landmark left out,
and how the groups were formed at the landmark), ``"km"`` (what the Kaplan-Meier estimate says
about itself), ``"cox"`` (the Cox model's own warnings, or why it could not be fitted),
``"ph"`` (a doubtful proportional-hazards assumption), ``"immortal_time"`` (warning: grouping
by something that happens after infusion, without a landmark).

Landmarks and immortal time
---------------------------
Hypofibrinogenemia, tocilizumab, corticosteroids, CRS and ICANS happen after infusion. A patient
who progresses on day 5 had no time to become hypofibrinogenemic on day 12, so "ever" versus
"never" groups favour the exposed group (immortal-time bias). A landmark analysis at day L
(Anderson, Cain & Gelber 1983) instead groups patients by their status *at* L (exposure on or
before day L, from the exposure's day column in :data:`EXPOSURE_DAYS`), keeps only the patients
still event-free and under observation at L, and counts time from L. Patients exposed after L
count as unexposed at L; exposed patients without a day have an unknown status at L and are
left out; :class:`LandmarkSummary` counts both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import pandas as pd

from core import schema
from core.analyses.columns import group_columns
from core.analyses.indicators import (
    HYPOFIB_GROUP,
    OutcomeSpec,
    Predictor,
    column_of,
    name_of,
    resolve_predictor,
    source_of,
)
from core.errors import CohortError, ColumnError
from core.notes import Note, of_kind
from core.stats import (
    CoxResult,
    KaplanMeierResult,
    cox,
    kaplan_meier,
)
from core.stats._common import require_columns

__all__ = [
    "EXPOSURE_DAYS",
    "Endpoint",
    "LandmarkSummary",
    "NoteKind",
    "SurvivalResult",
    "endpoints",
    "exposure_day",
    "group_options",
    "group_values",
    "post_infusion",
    "risk_times",
    "survival_analysis",
]

NoteKind = Literal["missing", "landmark", "km", "cox", "ph", "immortal_time"]
NOTE_KINDS: tuple[str, ...] = get_args(NoteKind)
_ENDPOINT_LABELS = {"pfs": "PFS", "os": "OS", "efs": "EFS", "dfs": "DFS", "rfs": "RFS",
                    "dor": "DOR"}

#: Exposures that start after infusion, with the column holding the day they start. The day
#: of an OutcomeSpec on a grade (e.g. grade >= 3) is the onset of any grade: see
#: :func:`_status_at_landmark`.
EXPOSURE_DAYS: dict[str, str] = {
    "hypofibrinogenemia_grade": "hypofibrinogenemia_onset_day",
    "tocilizumab": "tocilizumab_first_day",
    "tocilizumab_doses": "tocilizumab_first_day",
    "tocilizumab_cum_mg": "tocilizumab_first_day",
    "corticosteroids": "corticosteroids_first_day",
    "crs_grade": "crs_onset_day",
    "icans_grade": "icans_onset_day",
}
#: Further columns known only after infusion (no start day to form a status at a landmark).
_POST_INFUSION_OTHER = ("fibrinogen_nadir", "fibrinogen_nadir_day", "fibrinogen_recovery_day",
                        "hypofibrinogenemia_onset_day", "days_toci_to_hypofibrinogenemia",
                        "tocilizumab_duration_days", "tocilizumab_first_day",
                        "tocilizumab_last_day", "corticosteroids_first_day",
                        "crs_onset_day", "icans_onset_day", "crs_resolution_day",
                        "icans_resolution_day")


def post_infusion(p: Predictor) -> bool:
    """Whether a grouping or covariate is known only after infusion (immortal-time risk)."""
    src = source_of(p)
    return src in EXPOSURE_DAYS or src in _POST_INFUSION_OTHER or src.endswith(
        ("_onset_day", "_first_day", "_recovery_day"))


def exposure_day(df: pd.DataFrame, p: Predictor) -> str | None:
    """The day column giving when exposure ``p`` started, if ``df`` has it."""
    day = EXPOSURE_DAYS.get(source_of(p))
    return day if day is not None and day in df.columns else None


@dataclass(frozen=True)
class LandmarkSummary:
    """Who a landmark analysis kept and how it grouped them.

    Attributes
    ----------
    landmark : float
        The landmark day L.
    by_status : bool
        Groups by exposure status at L (True), or by the grouping as it is (False: the grouping
        is known at infusion, or has no day column).
    exposure_day : str or None
        The day column used for the status at L.
    n_before : int
        Patients left out: event or censoring before L.
    n_unknown_day : int
        Patients left out: exposed, followed at L, but without a day (status at L unknown).
    n_exposed_later : int
        Patients exposed only after L, counted as unexposed at L.
    """

    landmark: float
    by_status: bool
    exposure_day: str | None
    n_before: int
    n_unknown_day: int
    n_exposed_later: int


@dataclass(frozen=True)
class Endpoint:
    """A time-to-event pair of columns.

    Attributes
    ----------
    time : str
        Follow-up time column (days), e.g. ``pfs_days``.
    event : str
        0/1 event column, e.g. ``pfs_event``.
    label : str
        Short name, e.g. "PFS".
    """

    time: str
    event: str
    label: str


def endpoints(df: pd.DataFrame) -> list[Endpoint]:
    """Every (time, event) pair in ``df``: ``<x>_days`` or ``<x>_time`` with ``<x>_event``
    (or ``<x>_status``); PFS first, then OS, then the others in column order."""
    found: list[Endpoint] = []
    for c in df.columns:
        for suffix in ("_days", "_time"):
            if not c.endswith(suffix):
                continue
            stem = c[: -len(suffix)]
            for ev in (f"{stem}_event", f"{stem}_status"):
                if ev in df.columns:
                    found.append(Endpoint(c, ev, _ENDPOINT_LABELS.get(stem, stem)))
                    break
    rank = {"PFS": 0, "OS": 1}
    return sorted(found, key=lambda e: rank.get(e.label, 2))


def group_options(df: pd.DataFrame, max_groups: int = 6) -> list[str]:
    """Columns with 2 to ``max_groups`` distinct values (any type), for grouping curves;
    leaves out the id and time/event columns."""
    skip = [c for e in endpoints(df) for c in (e.time, e.event)]
    return group_columns(df, max_groups, min_levels=2, exclude=skip)


def risk_times(max_time: float, step: float | None = None, max_ticks: int = 12
               ) -> tuple[float, ...]:
    """Times for a numbers-at-risk table: 0, step, 2 step, ... up to ``max_time``.

    The default step is 90 days when that gives at most ``max_ticks`` columns, else the
    smallest of 7, 14, 30, 60, 90, 180, 365, 730 days that does.
    """
    if not max_time or max_time <= 0 or not math.isfinite(max_time):
        return (0.0,)
    if step is None:
        if max_time / 90 <= max_ticks and max_time >= 180:
            step = 90.0
        else:
            step = next((s for s in (7, 14, 30, 60, 90, 180, 365, 730)
                         if max_time / s <= max_ticks), math.ceil(max_time / max_ticks))
    n = int(math.floor(max_time / step + 1e-9))
    return tuple(float(i * step) for i in range(n + 1))


@dataclass(frozen=True)
class SurvivalResult:
    """Result of :func:`survival_analysis`.

    Attributes
    ----------
    endpoint : Endpoint
        Time and event columns (label "PFS", "OS", ... when known).
    group : str or None
        The grouping name (column name or the OutcomeSpec's label).
    landmark : float or None
        Landmark time (times are then counted from the landmark).
    km : KaplanMeierResult
        Curves, medians (group, n, events, median, ci_low, ci_high), logrank, pairwise (with
        a Holm column).
    times : tuple of float
        The times of the numbers-at-risk table.
    at_risk : DataFrame
        Columns group, time, survival, ci_low, ci_high, at_risk (one row per group and time;
        ``km.survival_at(times)``).
    cox : CoxResult or None
        table: term, ..., hazard_ratio, ci_low, ci_high, pvalue; ph_test: term, chisq, df,
        pvalue with a GLOBAL row.
    covariates : tuple of str
        The Cox covariates asked for (names).
    n_total : int
        Rows in the data.
    notes : tuple of Note
        Messages for the user (kinds in the module docstring).
    landmark_info : LandmarkSummary or None
        With a landmark: who was left out and how the groups were formed at L.
    """

    endpoint: Endpoint
    group: str | None
    landmark: float | None
    km: KaplanMeierResult
    times: tuple[float, ...]
    at_risk: pd.DataFrame
    cox: CoxResult | None
    covariates: tuple[str, ...]
    n_total: int
    notes: tuple[Note, ...] = field(default=())
    landmark_info: LandmarkSummary | None = None

    @property
    def logrank_p(self) -> float | None:
        """The log-rank p-value, or None without a test."""
        return None if self.km.logrank is None else float(self.km.logrank.pvalue)

    def notes_of(self, kind: NoteKind) -> list[Note]:
        """The notes of one kind (ValueError for a kind this analysis never emits)."""
        if kind not in NOTE_KINDS:
            raise ValueError(f"Unknown note kind {kind!r}; use one of {NOTE_KINDS}.")
        return list(of_kind(self.notes, kind))


def survival_analysis(df: pd.DataFrame, time: str = "pfs_days", event: str = "pfs_event",
                      group_spec: Predictor | None = HYPOFIB_GROUP,
                      landmark: float | None = None, times: Sequence[float] | None = None,
                      covariates: Sequence[Predictor] = (), step: float | None = None
                      ) -> SurvivalResult:
    """Kaplan-Meier curves by group, numbers at risk, log-rank test and an optional Cox model.

    Parameters
    ----------
    df : DataFrame
        Patient-level data.
    time, event : str
        Follow-up time (days, >= 0) and 0/1 event columns.
    group_spec : str or OutcomeSpec or None
        A column (each value a curve; numeric values labelled "<column> = <value>"), an
        :class:`~core.analyses.indicators.OutcomeSpec` (two curves, "<label>: no" and
        "<label>: yes"; default hypofibrinogenemia grade >= 1) or None.
    landmark : float, optional
        Landmark day L: keep patients still followed at L and count time from it; a grouping
        (or Cox covariate) that happens after infusion and has a day column
        (:data:`EXPOSURE_DAYS`) is then its status at L (module docstring).
    times : sequence of float, optional
        Times of the numbers-at-risk table (after the landmark); default :func:`risk_times`
        of the longest follow-up, every ``step`` days if given.
    covariates : sequence of str or OutcomeSpec
        Cox model covariates (columns, derived names or OutcomeSpecs); none: no Cox model.
    step : float, optional
        Step of the default at-risk times.

    Returns
    -------
    SurvivalResult
        km (curves, medians, logrank, pairwise), at_risk (group, time, survival, ci_low,
        ci_high, at_risk), cox (or None) and notes.

    Raises
    ------
    ColumnError
        A column is missing, time negative, event not 0/1, group column not 0/1 without a
        threshold, a landmark or step that is not a positive time.
    InsufficientDataError
        No usable patient (or none left at the landmark).

    Notes
    -----
    A Cox model that cannot be fitted (no events, constant or collinear covariates) does not
    raise: ``cox`` is None and an error note says why.
    """
    require_columns(df, [time, event])
    if landmark is not None and (not math.isfinite(landmark) or landmark < 0):
        raise ColumnError("The landmark must be a time of 0 days or later.")
    label = next((e.label for e in endpoints(df) if e.time == time and e.event == event), time)
    frame, gname = _km_frame(df, time, event, group_spec)
    info: LandmarkSummary | None = None
    lm_notes: list[Note] = []
    if landmark is not None:
        frame, info, lm_notes = _landmark_groups(df, frame, time, group_spec, gname, landmark)
    km = kaplan_meier(frame, time, event, gname, landmark=landmark)
    notes = _km_notes(km) + lm_notes
    if landmark is None and group_spec is not None and post_infusion(
            resolve_predictor(df, group_spec)):
        notes.append(_immortal_time_note(df, resolve_predictor(df, group_spec), gname or ""))
    times = _at_risk_times(km, times, step)
    cox_result, cov_names, cox_notes = _cox_part(df, time, event, covariates, landmark)
    return SurvivalResult(endpoint=Endpoint(time, event, label), group=gname,
                          landmark=landmark, km=km, times=times, at_risk=km.survival_at(times),
                          cox=cox_result, covariates=tuple(cov_names), n_total=len(df),
                          notes=tuple(notes + cox_notes), landmark_info=info)


# ============================================================================ steps

def _group_labels(spec: OutcomeSpec, values: pd.Series) -> pd.Series:
    return values.map({0.0: f"{spec.name}: no", 1.0: f"{spec.name}: yes"})


def _column_groups(s: pd.Series, column: str) -> pd.Series:
    """Numbers alone make poor curve labels ("0", "1"): a 0/1 column of the schema reads
    "<label>: no" / "<label>: yes" (as the Kaplan-Meier curves do), other numbers
    "<column> = <value>"."""
    if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
        return s
    v = pd.to_numeric(s, errors="coerce").astype(float)
    if column in schema.binary_columns("patients") and v.dropna().isin([0.0, 1.0]).all():
        label = schema.PATIENT_COLUMNS[column].label
        return v.map({0.0: f"{label}: no", 1.0: f"{label}: yes"})
    return v.map(lambda x: np.nan if pd.isna(x) else f"{column} = {x:g}")


def _km_frame(df: pd.DataFrame, time: str, event: str, group_spec: Predictor | None
              ) -> tuple[pd.DataFrame, str | None]:
    """Time, event and the curve labels (column named after the grouping), and that name."""
    frame = pd.DataFrame({time: df[time], event: df[event]}, index=df.index)
    if group_spec is None:
        return frame, None
    g = resolve_predictor(df, group_spec)
    gname = name_of(g)
    if gname in (time, event):
        raise ColumnError("Group by a column other than the time and event columns.")
    if isinstance(g, OutcomeSpec):
        frame[gname] = _group_labels(g, g.values(df))
    else:
        require_columns(df, [g])
        frame[gname] = _column_groups(df[g], g)
    return frame, gname


def _immortal_time_note(df: pd.DataFrame, g: Predictor, gname: str) -> Note:
    offer = ("turn on the landmark analysis, which groups patients by their status at the "
             "landmark day" if exposure_day(df, g) else "use a landmark analysis")
    return Note("warning", "immortal_time",
                f"'{gname}' happens after infusion: a patient has to stay event-free long "
                "enough to get it, so grouping by it 'ever' favours that group (immortal-time "
                f"bias). To compare fairly, {offer}"
                + (", or the time-varying Cox model below." if exposure_day(df, g) else "."))


def _status_at_landmark(df: pd.DataFrame, g: Predictor, landmark: float
                        ) -> tuple[pd.Series, pd.Series] | None:
    """(status at L as 0/1/NaN, exposed ever as 0/1/NaN) of a binary exposure with a day
    column, or None (no day column, or not a 0/1 exposure). Exposed with the day missing:
    status NaN (unknown)."""
    day = exposure_day(df, g)
    if day is None:
        return None
    ever = column_of(df, g)
    if not isinstance(g, OutcomeSpec):
        ever = pd.to_numeric(ever, errors="coerce")
        if not set(ever.dropna().unique()) <= {0.0, 1.0}:
            return None
    ever = ever.astype(float)
    d = pd.to_numeric(df[day], errors="coerce")
    status = pd.Series(np.where(ever == 1, np.where(d.isna(), np.nan, (d <= landmark) * 1.0),
                                ever), index=df.index)
    return status, ever


def _landmark_groups(df: pd.DataFrame, frame: pd.DataFrame, time: str,
                     group_spec: Predictor | None, gname: str | None, landmark: float
                     ) -> tuple[pd.DataFrame, LandmarkSummary, list[Note]]:
    """The KM frame with the groups formed at the landmark, the summary and its notes."""
    t = pd.to_numeric(frame[time], errors="coerce")
    followed = t >= landmark
    n_before = int((t < landmark).sum())
    g = None if group_spec is None else resolve_predictor(df, group_spec)
    at = None if g is None else _status_at_landmark(df, g, landmark)
    if g is None or gname is None or at is None:
        notes = []
        if g is not None and post_infusion(g):
            notes.append(Note("warning", "landmark",
                              f"'{gname}' happens after infusion but the data have no day it "
                              "started, so the groups still use what happened after day "
                              f"{landmark:g}: this landmark only removes patients followed for "
                              "less than it."))
        return frame, LandmarkSummary(landmark, False, None, n_before, 0, 0), notes
    status, ever = at
    unknown = followed & status.isna() & (ever == 1)
    later = followed & (ever == 1) & (status == 0)
    name = name_of(g)
    labels = status.map({0.0: f"{name} by day {landmark:g}: no",
                         1.0: f"{name} by day {landmark:g}: yes"})
    frame = frame.assign(**{gname: labels.where(~(status.isna() & (ever == 1)),
                                                f"{name}: day unknown")})
    frame = frame[~unknown]
    day = exposure_day(df, g)
    info = LandmarkSummary(landmark, True, day, n_before, int(unknown.sum()), int(later.sum()))
    parts = [f"Landmark analysis by status at day {landmark:g}: the groups are '{name}' on or "
             f"before day {landmark:g} (from {day}) among the patients still under observation "
             f"at day {landmark:g} (no event or censoring before it); time counts from day "
             f"{landmark:g}."]
    if info.n_exposed_later:
        parts.append(f"{info.n_exposed_later} patient(s) whose {name} began after day "
                     f"{landmark:g} are in the 'no' group, as they were at the landmark.")
    if info.n_unknown_day:
        parts.append(f"{info.n_unknown_day} patient(s) with {name} but no {day} are left out "
                     "(their status at the landmark is unknown).")
    if isinstance(g, OutcomeSpec) and g.column.endswith("_grade") and g.op in (">=", ">") \
            and isinstance(g.threshold, (int, float)) and float(g.threshold) > (
                1 if g.op == ">=" else 0):
        parts.append(f"The day a patient reached {name} is not recorded: {day} (onset of any "
                     "grade) is used, so a patient may count as exposed a little early.")
    return frame, info, [Note("info", "landmark", " ".join(parts))]


def _km_notes(km: KaplanMeierResult) -> list[Note]:
    notes = []
    if km.n_dropped:
        notes.append(Note("info", "missing", f"{km.n_dropped} patient(s) left out for a missing "
                                             "time, event or group."))
    notes += [Note("info", "landmark" if n.kind == "landmark" else "km", n.text)
              for n in km.notes]
    return notes


def _at_risk_times(km: KaplanMeierResult, times: Sequence[float] | None,
                   step: float | None) -> tuple[float, ...]:
    """The at-risk times asked for (finite, >= 0, sorted), or :func:`risk_times`."""
    if times is None:
        if step is not None and not (math.isfinite(step) and step > 0):
            raise ColumnError("The at-risk table step must be a positive number of days.")
        times = risk_times(float(km.curves["time"].max()), step)
    return tuple(sorted({float(t) for t in times if math.isfinite(float(t)) and t >= 0}))


def _cox_part(df: pd.DataFrame, time: str, event: str, covariates: Sequence[Predictor],
              landmark: float | None) -> tuple[CoxResult | None, list[str], list[Note]]:
    """The Cox model of ``covariates`` (None without covariates or when it cannot be fitted),
    the covariate names, and the notes."""
    if not covariates:
        return None, [], []
    cov = [resolve_predictor(df, c) for c in dict.fromkeys(covariates)]
    names = [name_of(c) for c in cov]
    try:
        cframe = _cox_frame(df, time, event, cov, landmark)
        result = cox(cframe, time, event, names)
    except CohortError as exc:
        return None, names, [Note("error", "cox", f"The Cox model could not be fitted: {exc}")]
    notes = [Note("warning", "cox", n.text) for n in result.notes]
    ph = result.ph_test
    bad = ph[(ph["term"] != "GLOBAL") & (ph["pvalue"] < 0.05)]
    if len(bad):
        notes.append(Note("warning", "ph",
                          f"The proportional-hazards assumption is doubtful for "
                          f"{', '.join(bad['term'])} (Schoenfeld residual test p < 0.05): the "
                          "hazard ratio changes over time, so read it as an average; consider "
                          "a landmark or stratifying."))
    return result, names, notes


def _cox_frame(df: pd.DataFrame, time: str, event: str, cov: Sequence[Predictor],
               landmark: float | None) -> pd.DataFrame:
    """Time, event and covariate columns; after a landmark, the patients still followed with
    time counted from it."""
    for c in cov:
        if source_of(c) not in df.columns:
            raise ColumnError(f"Covariate '{name_of(c)}' is not in the data.")
        if name_of(c) in (time, event):
            raise ColumnError("The time and event columns cannot be covariates.")
    cframe = pd.DataFrame({time: df[time], event: df[event],
                           **{name_of(c): column_of(df, c) for c in cov}}, index=df.index)
    if landmark is not None:
        for c in cov:  # an exposure after infusion: its status at the landmark
            at = _status_at_landmark(df, c, landmark)
            if at is not None:
                cframe[name_of(c)] = at[0]
        t = pd.to_numeric(cframe[time], errors="coerce")
        cframe = cframe[t >= landmark].assign(**{time: t[t >= landmark] - landmark})
    return cframe


def group_values(df: pd.DataFrame, group_spec: Predictor) -> tuple[pd.Series, str]:
    """Curve labels per row and the grouping's name (as the KM curves label them)."""
    g = resolve_predictor(df, group_spec)
    if isinstance(g, OutcomeSpec):
        return _group_labels(g, g.values(df)), name_of(g)
    require_columns(df, [g])
    return _column_groups(df[g], g), g
