"""Kaplan-Meier curves with log(-log) CIs and medians, and the input checks of time-to-event
data shared with :mod:`core.stats.cox_model`.

The curves come from lifelines' KaplanMeierFitter (the same numbers as R's ``survfit(conf.type =
"log-log")``); the medians and their CIs use R ``print.survfit``'s rule (the midpoint where a
curve sits exactly at 0.5), which lifelines does not: :func:`_first_below_half` is that small
adapter. The log-rank tests are in :mod:`core.stats.logrank`.

Conventions
-----------
* ``time`` is numeric and >= 0 (days from infusion, or from the landmark); ``event`` is 0/1 or
  boolean, 1 = event (progression, death), 0 = censored. R's 1/2 status coding is refused with a
  message rather than guessed.
* Group labels are text: the group column's values in sorted order, integral floats shown
  without ".0".
* Landmark analysis (``landmark=L``): only patients still under observation at L (time >= L)
  are kept, and time is measured from L (time - L). Patients with time < L are counted in a
  note, not in ``n_dropped`` (which counts missing values only).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter

from core.errors import ColumnError, InsufficientDataError
from core.notes import Note, WithNotes
from core.stats._common import check_time, complete_cases, numeric
from core.stats.logrank import LogRankResult, group_tests

_TOL = float(np.sqrt(np.finfo(float).eps))
ALL = "All"
CURVE_COLUMNS = ("group", "time", "survival", "ci_low", "ci_high", "at_risk", "events",
                 "censored")
MEDIAN_COLUMNS = ("group", "n", "events", "median", "ci_low", "ci_high")


# --------------------------------------------------------------------------- input checks

def event_indicator(series: pd.Series, name: str) -> np.ndarray:
    """The event indicator as a 0/1 float array, or a ColumnError saying how to recode it."""
    if pd.api.types.is_bool_dtype(series):
        return series.astype(float).to_numpy()
    values = pd.to_numeric(series, errors="coerce")
    bad = sorted(set(values.dropna().unique()) - {0.0, 1.0})
    if values.isna().any() or bad:
        found = ", ".join(map(str, sorted(series.astype(str).unique())[:5]))
        hint = (" (R's 1/2 coding? then 2 = event: subtract 1)"
                if set(values.dropna().unique()) == {1.0, 2.0} else "")
        raise ColumnError(f"Event column '{name}' must be 0/1 (1 = event, 0 = censored) or "
                          f"true/false; it holds {found}{hint}. Recode it.")
    return values.to_numpy(dtype=float)


def survival_times(series: pd.Series, name: str) -> np.ndarray:
    """Follow-up times as floats, or a ColumnError for negative or infinite ones."""
    t = numeric(series, name).to_numpy()
    if (t < 0).any():
        raise ColumnError(f"Time column '{name}' has {int((t < 0).sum())} negative value(s) "
                          f"(smallest {t.min():g}). Survival times count from day 0: fix them "
                          "or filter those patients out.")
    if not np.isfinite(t).all():
        raise ColumnError(f"Time column '{name}' holds infinite values; fix them.")
    return t


def group_labels(series: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Text labels per row and the sorted list of distinct labels."""
    values = series
    if pd.api.types.is_float_dtype(values) and (values == np.round(values)).all():
        values = values.astype(np.int64)
    order = sorted(values.unique(), key=lambda v: (str(type(v)), v))
    labels = values.astype(str).to_numpy()
    return labels, [str(v) for v in order]


def survival_data(df: pd.DataFrame, time: str, event: str, extra: Sequence[str]
                  ) -> tuple[pd.DataFrame, int, np.ndarray, np.ndarray]:
    """Complete cases of ``time, event, *extra``: (rows, n_dropped, times, events)."""
    cols = [time, event, *extra]
    if len(set(cols)) < len(cols):
        raise ColumnError("Time, event and the other columns must be different columns.")
    data, dropped = complete_cases(df, cols)
    if len(data) == 0:
        raise InsufficientDataError(f"No patient has values for all of {', '.join(cols)}.")
    return data, dropped, survival_times(data[time], time), event_indicator(data[event], event)


# --------------------------------------------------------------------------- Kaplan-Meier

def km_table(t: np.ndarray, e: np.ndarray) -> pd.DataFrame:
    """Kaplan-Meier table at each distinct time, with R's log(-log) 95% CI (lifelines'
    KaplanMeierFitter; its limits are set to 1 while survival is 1 and missing once it is 0,
    as R's ``survfit``)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        fit = KaplanMeierFitter(alpha=0.05).fit(t, e)
    table = fit.event_table
    table = table[table["removed"] > 0]
    times = table.index.to_numpy(dtype=float)
    surv = fit.survival_function_.iloc[:, 0].reindex(times).to_numpy(dtype=float)
    ci = fit.confidence_interval_.reindex(times).to_numpy(dtype=float)
    low = np.where(surv == 1, 1.0, np.where(surv == 0, np.nan, ci[:, 0]))
    high = np.where(surv == 1, 1.0, np.where(surv == 0, np.nan, ci[:, 1]))
    return pd.DataFrame({"time": times, "survival": surv, "ci_low": low, "ci_high": high,
                         "at_risk": table["at_risk"].to_numpy(dtype=int),
                         "events": table["observed"].to_numpy(dtype=int),
                         "censored": table["censored"].to_numpy(dtype=int)})


def _first_below_half(y: np.ndarray, x: np.ndarray) -> float:
    """R survival:::survmean's ``minmin``: first x where y < 0.5, midpoint on a flat 0.5."""
    keep = ~np.isnan(y) & (y < 0.5 + _TOL)
    if not keep.any():
        return float("nan")
    x, y = x[keep], y[keep]
    if abs(y[0] - 0.5) < _TOL and (y < y[0]).any():
        return float((x[0] + x[np.argmax(y < y[0])]) / 2)
    return float(x[0])


@dataclass(frozen=True)
class KaplanMeierResult(WithNotes):
    """Result of :func:`kaplan_meier`.

    Attributes
    ----------
    curves : DataFrame
        Columns group, time, survival, ci_low, ci_high, at_risk, events, censored. Per group a
        start row (time 0, survival 1, at_risk = n) and one row per distinct time (event or
        censoring). ci_low/ci_high are the log(-log) 95% limits; they are 1 while survival is 1
        and missing once survival is 0 (R gives NA for both).
    medians : DataFrame
        Columns group, n, events, median, ci_low, ci_high (missing when not reached).
    logrank : LogRankResult or None
        Log-rank test over all groups, or None for a single group. Its statistic and p are
        missing (with a note) when fewer than two groups have events or the event times carry
        no information to compare the groups.
    pairwise : DataFrame
        Columns group_a, group_b, statistic, pvalue, pvalue_holm (one log-rank per pair; empty
        unless there are more than two groups).
    n, n_dropped, events : int
        Patients used, rows left out for a missing value, events.
    group : str or None
        The grouping column (None: one curve labelled "All").
    landmark : float or None
        The landmark time, or None.
    notes : tuple of Note
        By kind: ``"landmark"`` (info: patients left out before the landmark),
        ``"small_sample"`` (info: a group of a single patient), ``"median"`` (info: median not
        reached), ``"logrank"`` (info/warning: no log-rank test, and why), ``"no_events"``
        (warning: all patients censored).
    messages : tuple of str
        The texts of ``notes`` (for display).
    """

    curves: pd.DataFrame
    medians: pd.DataFrame
    logrank: LogRankResult | None
    pairwise: pd.DataFrame
    n: int
    n_dropped: int
    events: int
    group: str | None = None
    landmark: float | None = None
    notes: tuple[Note, ...] = field(default=())


    @property
    def groups(self) -> list[str]:
        """Group labels in display order."""
        return list(dict.fromkeys(self.curves["group"]))

    def survival_at(self, times: Sequence[float]) -> pd.DataFrame:
        """Survival and numbers at risk at given times, as R ``summary(fit, times = ...)``.

        Returns
        -------
        DataFrame
            Columns group, time, survival, ci_low, ci_high, at_risk: one row per group and
            time. ``at_risk`` counts patients with time >= t. After a group's last follow-up
            time the curve is undefined: survival and CI are missing and at_risk is 0.
        """
        rows = []
        for lv in self.groups:
            c = self.curves[self.curves["group"] == lv]
            ct = c["time"].to_numpy()
            for t in times:
                i = np.searchsorted(ct, t, side="right") - 1  # last row with time <= t
                later = np.searchsorted(ct, t, side="left")   # first row with time >= t
                at_risk = int(c["at_risk"].iloc[later]) if later < len(c) else 0
                beyond = t > ct[-1]
                row = c.iloc[max(int(i), 0)]
                rows.append({"group": lv, "time": float(t),
                             "survival": np.nan if beyond else float(row["survival"]),
                             "ci_low": np.nan if beyond else float(row["ci_low"]),
                             "ci_high": np.nan if beyond else float(row["ci_high"]),
                             "at_risk": at_risk})
        return pd.DataFrame(rows, columns=["group", "time", "survival", "ci_low", "ci_high",
                                           "at_risk"])


# --------------------------------------------------------------------------- steps

def _apply_landmark(data: pd.DataFrame, t: np.ndarray, e: np.ndarray, landmark: float
                    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, Note]:
    """Keep patients with time >= landmark, time counted from it, and the "landmark" note."""
    keep = t >= landmark
    if not keep.any():
        raise InsufficientDataError(f"No patient is still under observation at the "
                                    f"landmark ({landmark:g}). Choose an earlier landmark.")
    note = Note("info", "landmark",
                f"Landmark analysis at {landmark:g}: {int((~keep).sum())} patient(s) with an "
                "event or censoring before it are left out; time is counted from the landmark.")
    return data[keep], t[keep] - landmark, e[keep], note


def _curve(lv: str, tg: np.ndarray, eg: np.ndarray) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One group's curve (with its start row) and its median row."""
    km = km_table(tg, eg)
    x = km["time"].to_numpy()
    median = {"group": lv, "n": len(tg), "events": int(eg.sum()),
              "median": _first_below_half(km["survival"].to_numpy(), x),
              "ci_low": _first_below_half(km["ci_low"].to_numpy(), x),
              "ci_high": _first_below_half(km["ci_high"].to_numpy(), x)}
    start = pd.DataFrame({"time": [0.0], "survival": [1.0], "ci_low": [1.0], "ci_high": [1.0],
                          "at_risk": [len(tg)], "events": [0], "censored": [0]})
    return pd.concat([start, km], ignore_index=True).assign(group=lv), median


def _group_notes(lv: str, n: int, median: float, grouped: bool) -> list[Note]:
    name = f"group {lv}" if grouped else "the cohort"
    out = []
    if n == 1:
        out.append(Note("info", "small_sample", f"{name[0].upper()}{name[1:]} has a single "
                                                "patient; its curve is a single step."))
    if np.isnan(median):
        out.append(Note("info", "median",
                        f"Median not reached in {name} (survival stays above 50%)."))
    return out


def kaplan_meier(df: pd.DataFrame, time: str, event: str, group: str | None = None, *,
                 landmark: float | None = None) -> KaplanMeierResult:
    """Kaplan-Meier estimate per group with log(-log) CIs, medians and log-rank tests.

    Parameters
    ----------
    df : DataFrame
        Patient-level data.
    time : str
        Follow-up time (>= 0), e.g. ``pfs_days``.
    event : str
        0/1 or boolean, 1 = event.
    group : str, optional
        Grouping column (any type); None for one curve.
    landmark : float, optional
        Landmark time: keep patients with time >= landmark and measure time from the landmark.

    Returns
    -------
    KaplanMeierResult
        curves (group, time, survival, ci_low, ci_high, at_risk, events, censored), medians
        (group, n, events, median, ci_low, ci_high), logrank (statistic, df, pvalue) or None,
        pairwise (group_a, group_b, statistic, pvalue, pvalue_holm), notes and
        ``survival_at``.

    Raises
    ------
    TypeError, ValueError
        ``landmark`` is not a number, or not a finite time >= 0 (a programmer error: the
        analyses check a user's landmark first).
    ColumnError
        Missing column, negative time, event not 0/1.
    InsufficientDataError
        No usable patient (or none left after the landmark).

    Notes
    -----
    Validated against R 4.2, survival 3.x: ``survfit(Surv(time, status) ~ g, conf.type =
    "log-log")`` with ``summary(fit, times = ...)``; medians and their CIs as ``print.survfit``
    (``summary(fit)$table``); ``survdiff`` for the log-rank test (pairwise: ``survdiff`` on each
    pair, ``p.adjust(method = "holm")``).
    """
    check_time("landmark", landmark)
    data, dropped, t, e = survival_data(df, time, event, [group] if group else [])
    notes: list[Note] = []
    if landmark is not None:
        data, t, e, note = _apply_landmark(data, t, e, landmark)
        notes.append(note)
    if group:
        g, levels = group_labels(data[group])
    else:
        g, levels = np.full(len(t), ALL, dtype=object), [ALL]
    curves, medians = [], []
    for lv in levels:
        curve, median = _curve(lv, t[g == lv], e[g == lv])
        curves.append(curve)
        medians.append(median)
        notes += _group_notes(lv, median["n"], median["median"], group is not None)
    logrank, pairwise, test_notes = group_tests(t, e, g, levels, bool(group))
    notes += test_notes
    if e.sum() == 0:
        notes.append(Note("warning", "no_events", "There are no events (all patients censored):"
                                                  " survival stays at 1, medians are not "
                                                  "reached and no test can be done."))
    return KaplanMeierResult(
        curves=pd.concat(curves, ignore_index=True)[list(CURVE_COLUMNS)],
        medians=pd.DataFrame(medians), logrank=logrank, pairwise=pairwise, n=len(t),
        n_dropped=dropped, events=int(e.sum()), group=group, landmark=landmark,
        notes=tuple(notes))
