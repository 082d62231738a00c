"""Hypofibrinogenemia: CTCAE v5 grade of every fibrinogen value, and per patient the baseline,
nadir, grade, onset and recovery.

CTCAE v5.0 "Fibrinogen decreased", LLN = ``fibrinogen_lln``: G1 ``0.75 x LLN <= v < LLN``;
G2 ``0.5 x LLN <= v < 0.75 x LLN``; G3 ``0.25 x LLN <= v < 0.5 x LLN``; G4 ``v < 0.25 x LLN``
or ``v < 50 mg/dL`` (:data:`core.schema.CTCAE_FIBRINOGEN_FRACTIONS`). Abnormal baseline
(below the LLN, ``abnormal_baseline="relative"``), CTCAE's "if abnormal" column, by the fall
from baseline ``b``: G0 ``v >= b``; G1 ``v > 0.75 b``; G2 ``0.5 b < v <= 0.75 b``; G3
``0.25 b < v <= 0.5 b``; G4 ``v <= 0.25 b`` or ``v < 50 mg/dL``. The patient's grade is the
worst of any value in the window. Onset: the first day in the window with grade >= 1.
Recovery: the first day after the nadir day with ``v >= LLN`` (``>= baseline`` for the
relative variant); none: the last fibrinogen day in the window, ``fibrinogen_recovered = 0``
(censored).
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


@dataclass(frozen=True)
class Fibrinogen:
    """Per-patient fibrinogen endpoints (arrays over patient positions) and the low values.

    Attributes
    ----------
    columns : endpoint column -> array (baseline, nadir, nadir day, grade, onset, recovery
        day, recovered).
    low_patients, low_days : patient position and day of every value of grade >= 1 in the
        window (the IEC-HS screen's hypofibrinogenemia events).
    """

    columns: dict[str, np.ndarray]
    low_patients: np.ndarray
    low_days: np.ndarray


def fibrinogen_endpoints(labs: LabSeries, summary: pd.DataFrame, n: int,
                         s: EndpointSettings) -> Fibrinogen:
    """Baseline, nadir, grade, onset and recovery of ``n`` patients (module docstring)."""
    base = per_patient(summary, "fibrinogen", "baseline", n)
    fsel = labs.inwin & (labs.A == ACODE["fibrinogen"])
    Pf, Df, Vf = labs.P[fsel], labs.D[fsel], labs.V[fsel]
    g, thr = grades(Vf, base[Pf], s)
    grade = np.full(n, -1)
    np.maximum.at(grade, Pf, g)
    onset = np.full(n, np.inf)
    np.minimum.at(onset, Pf[g >= 1], Df[g >= 1])
    nadir = per_patient(summary, "fibrinogen", "min", n)
    nadir_day = per_patient(summary, "fibrinogen", "min_day", n)
    last_fib = per_patient(summary, "fibrinogen", "last_day", n)
    back = (Df > nadir_day[Pf]) & (Vf >= thr)
    rec = np.full(n, np.inf)
    np.minimum.at(rec, Pf[back], Df[back])
    hypo = grade >= 1
    columns = {
        "fibrinogen_baseline": base,
        "fibrinogen_nadir": nadir,
        "fibrinogen_nadir_day": nadir_day,
        "hypofibrinogenemia_grade": np.where(grade >= 0, grade, np.nan),
        "hypofibrinogenemia_onset_day": np.where(np.isfinite(onset), onset, np.nan),
        "fibrinogen_recovery_day": np.where(hypo, np.where(np.isfinite(rec), rec, last_fib),
                                            np.nan),
        "fibrinogen_recovered": np.where(hypo, np.isfinite(rec).astype(float), np.nan),
    }
    return Fibrinogen(columns, Pf[g >= 1], Df[g >= 1])
