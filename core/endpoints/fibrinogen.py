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
    # below fraction x LLN: at least that grade (the number of limits above the value)
    limits = np.sort([f * lln for _, f in CTCAE_FIBRINOGEN_FRACTIONS])
    g = len(limits) - np.searchsorted(limits, v, side="right")
    r = np.flatnonzero(rel)
    if len(r):
        vr, br = v[r], base[r]
        # the fall from baseline: "< 25 %" is grade 1, so each limit itself is the next grade
        g[r] = (vr < br).astype(int) + sum((vr <= f * br).astype(int)
                                           for _, f in CTCAE_FIBRINOGEN_FRACTIONS[1:])
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
    # only the values of patients with a substitution can be affected
    top = int(max(P.max(), sub_p.max())) + 1
    has = np.zeros(top, bool)
    has[sub_p] = True
    rows = np.flatnonzero(has[P])
    P, D = P[rows], D[rows]
    scale, offset = 1e5, 100.0          # days lie within -60..3650: a key's patient is k // scale
    keys = np.sort(sub_p * scale + sub_d + offset)
    k = P * scale + D + offset
    i = np.searchsorted(keys, k + 1e-9, side="right") - 1   # last substitution on or before
    last = keys[np.maximum(i, 0)]
    out[rows] = (i >= 0) & (last // scale == P) & (k - last <= days + 1e-9)
    return out


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


def fibrinogen_endpoints(labs: LabSeries, summary: dict[str, np.ndarray], n: int,
                         s: EndpointSettings, sub_p: np.ndarray | None = None,
                         sub_d: np.ndarray | None = None) -> Fibrinogen:
    """Baseline, nadir, grade, episodes, onset and recovery of ``n`` patients (module
    docstring); ``sub_p, sub_d``: patient positions and days of fibrinogen concentrate,
    cryoprecipitate and FFP."""
    base = per_patient(summary, "fibrinogen", "baseline", n)
    fsel = np.flatnonzero(labs.inwin & (labs.A == ACODE["fibrinogen"]))
    Pf, Df, Vf = labs.P.take(fsel), labs.D.take(fsel), labs.V.take(fsel)
    g, thr = grades(Vf, base[Pf], s)
    grade = np.full(n, -1)
    if len(Pf):   # rows sorted by patient: one run each
        st = np.flatnonzero(np.r_[True, Pf[1:] != Pf[:-1]])
        grade[Pf[st]] = np.maximum.reduceat(g, st)
    low = g >= 1
    hi = (Vf >= thr) & ~low
    sp = np.array([], np.int64) if sub_p is None else np.asarray(sub_p, np.int64)
    sd = np.array([], float) if sub_d is None else np.asarray(sub_d, float)
    # episodes: only the values of patients with a low value (each patient's rows whole)
    lowp = np.zeros(n, bool)
    lowp[Pf[low]] = True
    e = np.flatnonzero(lowp[Pf])
    Pe, De = Pf.take(e), Df.take(e)
    affected = substituted(Pe, De, sp, sd, s.substitution_days)
    rec_start = _sustained_starts(Pe, hi.take(e), affected, int(s.recovery_values))
    episodes = _episodes(Pe, De, Vf.take(e), g.take(e), low.take(e), rec_start, n)
    nadir = per_patient(summary, "fibrinogen", "min", n)
    nadir_day = per_patient(summary, "fibrinogen", "min_day", n)
    last_fib = per_patient(summary, "fibrinogen", "last_day", n)
    ep_pid = episodes["pid"]
    count = np.bincount(ep_pid, minlength=n).astype(float)
    onset = np.full(n, np.nan)
    rec = np.full(n, np.nan)
    if len(ep_pid):   # episodes sorted by patient and number: the first and last of each
        new = np.r_[True, ep_pid[1:] != ep_pid[:-1]]
        end = np.r_[new[1:], True]
        onset[ep_pid[new]] = episodes["onset_day"][new]
        rec[ep_pid[end]] = episodes["recovery_day"][end]
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
    episodes["last_day"] = last_fib[ep_pid]
    return Fibrinogen(columns, pd.DataFrame(episodes), Pf[low], Df[low])


def _episodes(P: np.ndarray, D: np.ndarray, V: np.ndarray, g: np.ndarray, low: np.ndarray,
              rec_start: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """One entry per episode (the columns of :attr:`Fibrinogen.episodes` but ``last_day``),
    sorted by patient and episode, from the values sorted by patient and day: an episode opens
    at a low value not preceded (within the patient) by another low value since the last
    recovery start, and closes at the next recovery start. Each episode's values are one run
    of rows: its figures are ``reduceat`` over the runs."""
    ev = np.flatnonzero(low | rec_start)
    if not low.any():
        return {"pid": np.zeros(0, np.int64), "episode": np.zeros(0, np.int64),
                **{c: np.zeros(0) for c in ("onset_day", "nadir", "nadir_day", "grade",
                                             "recovery_day", "recovered")}}
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
    p, ep, d, v = P[ins].astype(np.int64), epno_all[ins], D[ins], V[ins]
    # runs of one patient's episode (episode numbers never fall within a patient)
    gst = np.flatnonzero(np.r_[True, (p[1:] != p[:-1]) | (ep[1:] != ep[:-1])])
    nadir = np.minimum.reduceat(v, gst)
    at_min = np.flatnonzero(v == np.repeat(nadir, np.diff(np.r_[gst, len(v)])))
    first_min = at_min[np.searchsorted(at_min, gst)]   # each run holds its minimum
    # the recovery (close) of an episode: its patient's and number's run
    width = int(ep.max()) + 1
    gkey = p[gst] * width + ep[gst]
    cl = ev[closes]
    recovery = np.full(len(gst), np.nan)
    recovery[np.searchsorted(gkey, P[cl].astype(np.int64) * width + epno_all[cl])] = D[cl]
    return {"pid": p[gst], "episode": ep[gst], "onset_day": d[gst], "nadir": nadir,
            "nadir_day": d[first_min], "grade": np.maximum.reduceat(g[ins], gst),
            "recovery_day": recovery, "recovered": (~np.isnan(recovery)).astype(np.int64)}
