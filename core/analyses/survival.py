"""Survival page: Kaplan-Meier curves by group with numbers at risk, log-rank test, medians,
and a Cox model with the proportional-hazards check (the paper's Figure S1: PFS by
hypofibrinogenemia).

:func:`survival_analysis` returns a :class:`SurvivalResult`; a notebook gets the same object
as the page. A Cox model that cannot be fitted does not raise: ``cox`` is None and an error
note says why, so the curves still show.

Note kinds: ``"missing"`` (patients left out), ``"landmark"`` (who the landmark left out),
``"km"`` (what the Kaplan-Meier estimate says about itself), ``"cox"`` (the Cox model's own
warnings, or why it could not be fitted), ``"ph"`` (a doubtful proportional-hazards
assumption).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import pandas as pd

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
from core.stats import CoxResult, KaplanMeierResult, cox, kaplan_meier
from core.stats._common import require_columns

__all__ = [
    "Endpoint",
    "NoteKind",
    "SurvivalResult",
    "endpoints",
    "group_options",
    "risk_times",
    "survival_analysis",
]

NoteKind = Literal["missing", "landmark", "km", "cox", "ph"]
NOTE_KINDS: tuple[str, ...] = get_args(NoteKind)
_ENDPOINT_LABELS = {"pfs": "PFS", "os": "OS", "efs": "EFS", "dfs": "DFS", "rfs": "RFS",
                    "dor": "DOR"}


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
        Keep patients still followed at this time and count time from it.
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
    km = kaplan_meier(frame, time, event, gname, landmark=landmark)
    notes = _km_notes(km)
    times = _at_risk_times(km, times, step)
    cox_result, cov_names, cox_notes = _cox_part(df, time, event, covariates, landmark)
    return SurvivalResult(endpoint=Endpoint(time, event, label), group=gname,
                          landmark=landmark, km=km, times=times, at_risk=km.survival_at(times),
                          cox=cox_result, covariates=tuple(cov_names), n_total=len(df),
                          notes=tuple(notes + cox_notes))


# ============================================================================ steps

def _group_labels(spec: OutcomeSpec, values: pd.Series) -> pd.Series:
    return values.map({0.0: f"{spec.name}: no", 1.0: f"{spec.name}: yes"})


def _column_groups(s: pd.Series, column: str) -> pd.Series:
    """Numbers alone make poor curve labels ("0", "1"): label them "<column> = <value>"."""
    if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
        return s
    v = pd.to_numeric(s, errors="coerce").astype(float)
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
        t = pd.to_numeric(cframe[time], errors="coerce")
        cframe = cframe[t >= landmark].assign(**{time: t[t >= landmark] - landmark})
    return cframe
