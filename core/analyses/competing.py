"""Survival page, competing-risks section: cumulative incidence (Aalen-Johansen) with a
competing event, by group, with Gray's test, for the questions where 1 - Kaplan-Meier would
mislead (time to hypofibrinogenemia onset or recovery with death competing, progression
versus death without progression, death by cause).

Note kinds: ``"missing"`` (who was left out), ``"method"`` (how time and causes were formed),
``"km"`` (the estimate's own notes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.analyses.indicators import Predictor
from core.analyses.survival import group_values, risk_times
from core.errors import ColumnError
from core.notes import Note
from core.stats import CumulativeIncidenceResult, cumulative_incidence
from core.stats._common import require_columns

__all__ = ["COMPETING_QUESTIONS", "ONSET_WINDOW", "CompetingResult", "competing_analysis",
           "competing_questions"]


#: Competing-risks questions the page can ask, by key: (title, event, competing event).
COMPETING_QUESTIONS: dict[str, tuple[str, str, str]] = {
    "hypofib_onset": ("Time to hypofibrinogenemia onset", "hypofibrinogenemia",
                      "death before it"),
    "toci_to_onset": ("Time from the first tocilizumab dose to hypofibrinogenemia onset",
                      "hypofibrinogenemia", "death before it"),
    "fibrinogen_recovery": ("Time from hypofibrinogenemia onset to fibrinogen recovery",
                            "recovery", "death before recovery"),
    "progression": ("Progression and death without progression", "progression",
                    "death without progression"),
    "death_cause": ("Death by cause", "death from lymphoma", "non-relapse death"),
}
#: Days after infusion over which hypofibrinogenemia onset is followed (censored after it).
ONSET_WINDOW = 90.0
_QUESTION_COLUMNS: dict[str, tuple[str, ...]] = {
    "hypofib_onset": ("hypofibrinogenemia_grade", "hypofibrinogenemia_onset_day", "os_days",
                      "os_event"),
    "toci_to_onset": ("tocilizumab", "tocilizumab_first_day", "hypofibrinogenemia_grade",
                      "hypofibrinogenemia_onset_day", "os_days", "os_event"),
    "fibrinogen_recovery": ("hypofibrinogenemia_grade", "hypofibrinogenemia_onset_day",
                            "fibrinogen_recovery_day", "os_days", "os_event"),
    "progression": ("pfs_days", "pfs_cause"),
    "death_cause": ("os_days", "os_cause"),
}


@dataclass(frozen=True)
class CompetingResult:
    """Result of :func:`competing_analysis`.

    Attributes
    ----------
    question : str
        Key of :data:`COMPETING_QUESTIONS`.
    title, event_label, competing_label : str
        What is estimated and what competes with it.
    group : str or None
        The grouping name.
    cif : CumulativeIncidenceResult
        Curves (cause 1 = the event), summary, Gray's test.
    times : tuple of float
        The times of the numbers-at-risk table.
    at_risk : DataFrame
        ``cif.cif_at(times)``.
    data : DataFrame
        The rows analysed: time, cause (0 censored, 1 event, 2 competing) and the group.
    notes : tuple of Note
        Kinds ``"missing"`` (who was left out), ``"method"`` (how time and causes were
        formed), ``"km"`` (the estimate's own notes).
    """

    question: str
    title: str
    event_label: str
    competing_label: str
    group: str | None
    cif: CumulativeIncidenceResult
    times: tuple[float, ...]
    at_risk: pd.DataFrame
    data: pd.DataFrame
    notes: tuple[Note, ...] = field(default=())


def competing_questions(df: pd.DataFrame) -> list[str]:
    """The questions of :data:`COMPETING_QUESTIONS` whose columns ``df`` has (with values)."""
    return [q for q, cols in _QUESTION_COLUMNS.items()
            if all(c in df.columns and df[c].notna().any() for c in cols)]


def _competing_frame(df: pd.DataFrame, question: str) -> tuple[pd.DataFrame, list[Note]]:
    """time and cause per patient (index of df) for a question, and notes on how."""
    notes: list[Note] = []
    if question == "progression":
        return pd.DataFrame({"time": df["pfs_days"], "cause": df["pfs_cause"]}), notes
    if question == "death_cause":
        return pd.DataFrame({"time": df["os_days"], "cause": df["os_cause"]}), notes
    os_days = pd.to_numeric(df["os_days"], errors="coerce")
    died = pd.to_numeric(df["os_event"], errors="coerce") == 1
    grade = pd.to_numeric(df["hypofibrinogenemia_grade"], errors="coerce")
    onset = pd.to_numeric(df["hypofibrinogenemia_onset_day"], errors="coerce")
    ever = grade >= 1
    if question == "hypofib_onset":
        time = onset.where(ever, os_days)
        cause = pd.Series(np.where(ever, 1, np.where(died, 2, 0)), index=df.index, dtype=float)
        cause[grade.isna() | (ever & onset.isna())] = np.nan
        late = time > ONSET_WINDOW
        cause[late & cause.notna()] = 0.0
        notes.append(Note("info", "method",
                          "Time from infusion to hypofibrinogenemia onset over the first "
                          f"{ONSET_WINDOW:g} days; patients without it are followed to their last "
                          f"follow-up (os_days) or day {ONSET_WINDOW:g}, and death first is the "
                          "competing event."))
        return pd.DataFrame({"time": time.clip(lower=0, upper=ONSET_WINDOW), "cause": cause}), \
            notes
    if question == "toci_to_onset":
        first = pd.to_numeric(df["tocilizumab_first_day"], errors="coerce")
        treated = (pd.to_numeric(df["tocilizumab"], errors="coerce") == 1) & first.notna()
        end = onset.where(ever, os_days.clip(upper=ONSET_WINDOW))
        cause = pd.Series(np.where(ever, 1, np.where(died & (os_days <= ONSET_WINDOW), 2, 0)),
                          index=df.index, dtype=float)
        cause[grade.isna() | (ever & onset.isna())] = np.nan
        frame = pd.DataFrame({"time": end - first, "cause": cause})[treated]
        before = frame["time"] < 0
        if before.any():
            notes.append(Note("info", "missing",
                              f"{int(before.sum())} patient(s) left out: hypofibrinogenemia "
                              "began before their first tocilizumab dose."))
            frame = frame[~before]
        notes.append(Note("info", "method",
                          "Among patients given tocilizumab: days from the first dose to "
                          "hypofibrinogenemia onset; without it they are followed to their last "
                          f"follow-up or day {ONSET_WINDOW:g}, and death first is the "
                          "competing event."))
        return frame, notes
    # fibrinogen_recovery: among the hypofibrinogenemic patients, from onset
    recovery = pd.to_numeric(df["fibrinogen_recovery_day"], errors="coerce")
    recovered = recovery.notna()
    end = recovery.where(recovered, os_days)
    cause = pd.Series(np.where(recovered, 1, np.where(died, 2, 0)), index=df.index,
                      dtype=float)
    frame = pd.DataFrame({"time": end - onset, "cause": cause})[ever & onset.notna()]
    bad = frame["time"] < 0
    if bad.any():
        notes.append(Note("info", "missing", f"{int(bad.sum())} patient(s) left out: recovery "
                                             "or last follow-up before the onset day."))
        frame = frame[~bad]
    notes.append(Note("info", "method",
                      "Among patients with hypofibrinogenemia: days from onset to fibrinogen "
                      "recovery; without recovery they are followed to their last follow-up, "
                      "and death first is the competing event."))
    return frame, notes


def competing_analysis(df: pd.DataFrame, question: str = "hypofib_onset",
                       group_spec: Predictor | None = None,
                       times: Sequence[float] | None = None, step: float | None = None
                       ) -> CompetingResult:
    """Cumulative incidence of an event with a competing event (instead of 1 - Kaplan-Meier,
    which counts the competing event as censoring and overstates the incidence), per group,
    with Gray's test.

    Raises
    ------
    ValueError
        An unknown question (a programming error).
    ColumnError
        The data lack the question's columns, or a grouping column.
    InsufficientDataError
        No usable patient.
    """
    if question not in COMPETING_QUESTIONS:
        raise ValueError(f"Unknown question {question!r}; use one of "
                         f"{tuple(COMPETING_QUESTIONS)}.")
    require_columns(df, list(_QUESTION_COLUMNS[question]))
    title, event_label, competing_label = COMPETING_QUESTIONS[question]
    frame, notes = _competing_frame(df, question)
    gname = None
    if group_spec is not None:
        labels, gname = group_values(df, group_spec)
        frame = frame.assign(**{gname: labels.reindex(frame.index)})
    res = cumulative_incidence(frame, "time", "cause", gname, 1)
    if res.n_dropped:
        notes.insert(0, Note("info", "missing", f"{res.n_dropped} patient(s) left out for a "
                                                "missing time, cause or group."))
    notes += [Note("info", "km", n.text) for n in res.notes]
    if times is None:
        if step is not None and not (math.isfinite(step) and step > 0):
            raise ColumnError("The at-risk table step must be a positive number of days.")
        times = risk_times(float(res.curves["time"].max()), step)
    times = tuple(sorted({float(t) for t in times if math.isfinite(float(t)) and t >= 0}))
    return CompetingResult(question=question, title=title, event_label=event_label,
                           competing_label=competing_label, group=gname, cif=res, times=times,
                           at_risk=res.cif_at(times), data=frame, notes=tuple(notes))
