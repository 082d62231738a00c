"""Hypofibrinogenemia: CTCAE v5 grade of every fibrinogen value, and per patient the baseline,
nadir, grade, onset and recovery.

CTCAE v5.0 "Fibrinogen decreased", LLN = ``fibrinogen_lln``: G1 ``0.75 x LLN <= v < LLN``;
G2 ``0.5 x LLN <= v < 0.75 x LLN``; G3 ``0.25 x LLN <= v < 0.5 x LLN``; G4 ``v < 0.25 x LLN``
or ``v < 50 mg/dL`` (:data:`core.schema.CTCAE_FIBRINOGEN_FRACTIONS`). Abnormal baseline
(below the LLN, ``abnormal_baseline="relative"``), CTCAE's "if abnormal" column, by the fall
from baseline ``b``: G0 ``v >= b``; G1 ``v > 0.75 b``; G2 ``0.5 b < v <= 0.75 b``; G3
``0.25 b < v <= 0.5 b``; G4 ``v <= 0.25 b`` or ``v < 50 mg/dL``. The patient's grade is the
worst of any value in the window.

Episodes. An episode starts at the first value of grade >= 1 (below the LLN; below baseline for
the relative variant) and ends at sustained recovery: the first of ``recovery_values`` (default
2) consecutive values ``>= LLN`` (``>= baseline`` for the relative variant). A value drawn within
``substitution_days`` after fibrinogen concentrate, cryoprecipitate or FFP does not count alone:
the run of values >= LLN must also hold a value drawn outside that time (the recovery day is
still the run's first day). The next value below the LLN after a recovery starts a new
episode. Per episode: onset, nadir (value, day), worst grade, recovery day (or none).

Per patient: onset = the first episode's onset; nadir and grade over the whole window;
``hypofibrinogenemia_episodes`` = the number of episodes; ``fibrinogen_recovered = 1`` when the
last episode ended, its recovery day is ``fibrinogen_recovery_day``; otherwise
``fibrinogen_recovered = 0`` and ``fibrinogen_recovery_day`` is the last fibrinogen day in the
window (censored there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.endpoints.analytes import ACODE, LabSeries, per_patient
from core.endpoints.settings import EndpointSettings
from core.schema import CTCAE_FIBRINOGEN_FRACTIONS


def grades(v: np.ndarray, base: np.ndarray,
           s: EndpointSettings) -> tuple[np.ndarray, np.ndarray]:
    """CTCAE v5 grade of each fibrinogen value, and the recovery threshold per value.

    Parameters
    ----------
    v : fibrinogen values (mg/dL).
    base : each value's patient baseline (NaN: none).
    s : the settings (LLN, baseline variant, absolute grade-4 limit).
    """
    lln = s.fibrinogen_lln
    rel = (s.abnormal_baseline == "relative") & ~np.isnan(base) & (base < lln)
    # below fraction x LLN: at least that grade
    g_lln = sum((v < f * lln).astype(int) for _, f in CTCAE_FIBRINOGEN_FRACTIONS)
    with np.errstate(invalid="ignore"):
        # the fall from baseline: "< 25 %" is grade 1, so each limit itself is the next grade
        g_rel = (v < base).astype(int) + sum((v <= f * base).astype(int)
                                             for _, f in CTCAE_FIBRINOGEN_FRACTIONS[1:])
    g = np.where(rel, g_rel, g_lln)
    g = np.where(v < s.g4_absolute, 4, g)
    thr = np.where(rel, base, lln)
    return np.asarray(g).astype(int), thr


EPISODE_COLUMNS = ("patient_id", "episode", "onset_day", "nadir", "nadir_day", "grade",
                   "recovery_day", "recovered", "last_day")


@dataclass(frozen=True)
class Fibrinogen:
    """Per-patient fibrinogen endpoints (arrays over patient positions), the episodes and the
    low values.

    Attributes
    ----------
    columns : endpoint column -> array (baseline, nadir, nadir day, grade, onset, recovery
        day, recovered, episodes).
    episodes : one row per episode: ``pid`` (patient position), ``episode`` (1, 2, ...),
        ``onset_day, nadir, nadir_day, grade, recovery_day`` (NaN: not ended),
        ``recovered`` (0/1), ``last_day`` (the patient's last fibrinogen day in the window).
    low_patients, low_days : patient position and day of every value of grade >= 1 in the
        window (the IEC-HS screen's hypofibrinogenemia events).
    """

    columns: dict[str, np.ndarray]
    episodes: pd.DataFrame
    low_patients: np.ndarray
    low_days: np.ndarray


def substituted(P: np.ndarray, D: np.ndarray, sub_p: np.ndarray, sub_d: np.ndarray,
                days: float) -> np.ndarray:
    """True for each value (patient ``P``, day ``D``) drawn on the day of a substitution of the
    same patient or within ``days`` after it (``0 <= D - t <= days``)."""
    out = np.zeros(len(P), bool)
    if not len(sub_p) or not len(P):
        return out
    scale, offset = 1e5, 100.0          # days lie within -60..3650: a key's patient is k // scale
    keys = np.sort(sub_p * scale + sub_d + offset)
    k = P * scale + D + offset
    i = np.searchsorted(keys, k + 1e-9, side="right") - 1   # last substitution on or before
    last = keys[np.maximum(i, 0)]
    return (i >= 0) & (last // scale == P) & (k - last <= days + 1e-9)


def _sustained_starts(P: np.ndarray, hi: np.ndarray, affected: np.ndarray,
                      k: int) -> np.ndarray:
    """True at each value that starts a sustained recovery: it and the next ``k - 1`` values of
    the patient are >= the threshold (``hi``), and the run of such values holds at least one
    value not ``affected`` by a substitution."""
    n = len(P)
    if not n:
        return np.zeros(0, bool)
    idx = np.arange(n)
    # end of the run of consecutive hi values (same patient) each row belongs to
    brk = np.r_[(P[1:] != P[:-1]) | (hi[1:] != hi[:-1]), True]
    run_end = np.minimum.accumulate(np.where(brk, idx, n)[::-1])[::-1]
    # first unaffected value at or after each row
    nxt_ok = np.minimum.accumulate(np.where(~affected, idx, n)[::-1])[::-1]
    return hi & (run_end - idx + 1 >= k) & (nxt_ok <= run_end)


def fibrinogen_endpoints(labs: LabSeries, summary: pd.DataFrame, n: int,
                         s: EndpointSettings, sub_p: np.ndarray | None = None,
                         sub_d: np.ndarray | None = None) -> Fibrinogen:
    """Baseline, nadir, grade, episodes, onset and recovery of ``n`` patients (module
    docstring); ``sub_p, sub_d``: patient positions and days of fibrinogen concentrate,
    cryoprecipitate and FFP."""
    base = per_patient(summary, "fibrinogen", "baseline", n)
    fsel = labs.inwin & (labs.A == ACODE["fibrinogen"])
    Pf, Df, Vf = labs.P[fsel], labs.D[fsel], labs.V[fsel]
    g, thr = grades(Vf, base[Pf], s)
    grade = np.full(n, -1)
    np.maximum.at(grade, Pf, g)
    low = g >= 1
    hi = (Vf >= thr) & ~low
    sp = np.array([], np.int64) if sub_p is None else np.asarray(sub_p, np.int64)
    sd = np.array([], float) if sub_d is None else np.asarray(sub_d, float)
    affected = substituted(Pf, Df, sp, sd, s.substitution_days)
    rec_start = _sustained_starts(Pf, hi, affected, int(s.recovery_values))
    episodes = _episodes(Pf, Df, Vf, g, low, rec_start, n)
    nadir = per_patient(summary, "fibrinogen", "min", n)
    nadir_day = per_patient(summary, "fibrinogen", "min_day", n)
    last_fib = per_patient(summary, "fibrinogen", "last_day", n)
    count = np.bincount(episodes["pid"].to_numpy(np.int64), minlength=n).astype(float)
    first = episodes.drop_duplicates("pid", keep="first")
    last = episodes.drop_duplicates("pid", keep="last")
    onset = np.full(n, np.nan)
    onset[first["pid"].to_numpy(np.int64)] = first["onset_day"].to_numpy(float)
    rec = np.full(n, np.nan)
    rec[last["pid"].to_numpy(np.int64)] = last["recovery_day"].to_numpy(float)
    hypo = count > 0
    columns = {
        "fibrinogen_baseline": base,
        "fibrinogen_nadir": nadir,
        "fibrinogen_nadir_day": nadir_day,
        "hypofibrinogenemia_grade": np.where(grade >= 0, grade, np.nan),
        "hypofibrinogenemia_onset_day": onset,
        "hypofibrinogenemia_episodes": np.where(grade >= 0, count, np.nan),
        "fibrinogen_recovery_day": np.where(hypo, np.where(np.isnan(rec), last_fib, rec),
                                            np.nan),
        "fibrinogen_recovered": np.where(hypo, (~np.isnan(rec)).astype(float), np.nan),
    }
    episodes["last_day"] = last_fib[episodes["pid"].to_numpy(np.int64)]
    return Fibrinogen(columns, episodes, Pf[low], Df[low])


def _episodes(P: np.ndarray, D: np.ndarray, V: np.ndarray, g: np.ndarray, low: np.ndarray,
              rec_start: np.ndarray, n: int) -> pd.DataFrame:
    """One row per episode (see :class:`Fibrinogen`), from the values sorted by patient and
    day: an episode opens at a low value not preceded (within the patient) by another low
    value since the last recovery start, and closes at the next recovery start."""
    ev = np.flatnonzero(low | rec_start)
    ep_cols = ["pid", "episode", "onset_day", "nadir", "nadir_day", "grade", "recovery_day",
               "recovered"]
    if not len(ev):
        return pd.DataFrame({c: pd.Series(dtype=float) for c in ep_cols}).astype(
            {"pid": np.int64, "episode": np.int64})
    is_low = low[ev]
    same = np.r_[False, P[ev][1:] == P[ev][:-1]]
    prev_low = np.r_[False, is_low[:-1]] & same
    opens = is_low & ~prev_low
    closes = ~is_low & prev_low
    # each value's state: the last open/close marker of its patient at or before it
    marker = np.full(len(P), -1)               # -1 none, 1 open, 0 closed
    marker[ev[opens]] = 1
    marker[ev[closes]] = 0
    idx = np.arange(len(P))
    has = marker >= 0
    last_mark = np.maximum.accumulate(np.where(has, idx, -1))
    start = np.r_[True, P[1:] != P[:-1]]
    pstart = np.maximum.accumulate(np.where(start, idx, 0))
    valid = last_mark >= pstart
    inside = valid & (marker[np.maximum(last_mark, 0)] == 1)
    opened = np.zeros(len(P), np.int64)
    opened[ev[opens]] = 1
    cum = np.cumsum(opened)
    before = np.where(start, cum - opened, 0)
    epno_all = cum - np.maximum.accumulate(np.where(start, before, 0))
    ins = np.flatnonzero(inside)
    frame = pd.DataFrame({"pid": P[ins], "episode": epno_all[ins], "day": D[ins],
                          "value": V[ins], "g": g[ins]})
    grp = frame.groupby(["pid", "episode"], sort=True)
    out = grp.agg(onset_day=("day", "first"), grade=("g", "max"),
                  nadir=("value", "min")).reset_index()
    nad = frame.loc[frame["value"] == frame.groupby(["pid", "episode"])["value"].transform("min")]
    nad = nad.drop_duplicates(["pid", "episode"], keep="first")
    out = out.merge(nad[["pid", "episode", "day"]].rename(columns={"day": "nadir_day"}),
                    on=["pid", "episode"], how="left")
    cl = ev[closes]
    ends = pd.DataFrame({"pid": P[cl], "episode": epno_all[cl], "recovery_day": D[cl]})
    out = out.merge(ends, on=["pid", "episode"], how="left")
    out["recovered"] = out["recovery_day"].notna().astype(np.int64)
    out["pid"] = out["pid"].astype(np.int64)
    out["episode"] = out["episode"].astype(np.int64)
    return out.loc[:, ep_cols].sort_values(["pid", "episode"]).reset_index(drop=True)
