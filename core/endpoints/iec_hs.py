"""IEC-HS laboratory screen (Hines 2023) per patient.

Positive when a fibrinogen value of grade >= 1, a ferritin above ``2 x max(ULN, baseline)`` and
an ALT or AST above ``5 x max(ULN, baseline)`` lie within ``iec_window_days`` (72 h) of each
other. Empty (not evaluable) when fibrinogen, ferritin or both transaminases were never
measured in the window. Factors, ULNs and the window are settings.

Tied to CRS timing (Hines 2023: IEC-HS begins after CRS has resolved, or with a worsening after
initial improvement): when the patient table has ``crs_resolution_day`` for a patient, only a
72-h window that starts after that day counts ("CRS timing"). A worsening cannot be seen in
onset/resolution days alone, so a patient without a resolution day keeps the laboratory screen
("laboratory screen"). Without the column every patient is screened on the laboratory alone.
"""

from __future__ import annotations

import numpy as np

from core.endpoints.analytes import ACODE, LabSeries, per_patient
from core.endpoints.settings import EndpointSettings

#: events are keyed ``patient x _SCALE + day + _OFFSET`` (days lie within -60..3650)
_SCALE, _OFFSET = 100000.0, 100.0


#: How each patient's IEC-HS value was reached.
TIED, LAB = "CRS timing", "laboratory screen"


def iec_hs(labs: LabSeries, low_patients: np.ndarray, low_days: np.ndarray,
           summary: dict[str, np.ndarray], n: int, s: EndpointSettings,
           crs_resolution: np.ndarray | None = None) -> np.ndarray:
    """1/0 per patient position, NaN when an ingredient was never measured.

    Parameters
    ----------
    labs : the lab rows in the window.
    low_patients, low_days : patients and days of fibrinogen values of grade >= 1.
    summary : :func:`core.endpoints.analytes.summarise_analytes` (for the baselines).
    n : number of patients.
    s : the settings.
    crs_resolution : CRS resolution day per patient position (NaN: none given); a positive
        window must then start after it.
    """
    P, A = labs.P, labs.A
    has = {a: np.bincount(P[A == ACODE[a]], minlength=n) > 0 for a in ("fibrinogen", "ferritin")}
    trans = np.bincount(P[np.isin(A, [ACODE["alt"], ACODE["ast"]])], minlength=n) > 0
    evaluable = has["fibrinogen"] & has["ferritin"] & trans
    result = np.where(evaluable, 0.0, np.nan)
    k_f = np.sort(low_patients * _SCALE + low_days + _OFFSET)
    k_fe = _events(labs, {"ferritin": s.ferritin_uln}, s.iec_ferritin_factor, summary, n)
    k_tr = _events(labs, {"alt": s.alt_uln, "ast": s.ast_uln}, s.iec_transaminase_factor,
                   summary, n)
    if len(k_f) and len(k_fe) and len(k_tr):
        positive = _all_within(k_f, k_fe, k_tr, s.iec_window_days)
        if crs_resolution is not None and len(positive):
            pp = (positive // _SCALE).astype(int)
            day = positive - pp * _SCALE - _OFFSET
            res = crs_resolution[pp]
            positive = positive[np.isnan(res) | (day > res + 1e-9)]
        result[(positive // _SCALE).astype(int)] = 1.0
    return result


def _events(labs: LabSeries, ulns: dict[str, float], factor: float,
            summary: dict[str, np.ndarray], n: int) -> np.ndarray:
    """Sorted keys of the values above ``factor x max(ULN, the patient's baseline)``."""
    keys = []
    for a, uln in ulns.items():
        rows = np.flatnonzero(labs.A == ACODE[a])   # the analyte's rows only
        ref = np.fmax(uln, per_patient(summary, a, "baseline", n))
        p = labs.P[rows]
        hit = labs.V[rows] > factor * ref[p]
        keys.append(p[hit] * _SCALE + labs.D[rows[hit]] + _OFFSET)
    return np.sort(np.concatenate(keys))


def _all_within(k_f: np.ndarray, k_fe: np.ndarray, k_tr: np.ndarray,
                window: float) -> np.ndarray:
    """The event keys that start a window of ``window`` days holding one event of each kind
    (all three within the window <=> some window starting at one of the events holds all)."""
    starts = np.unique(np.concatenate([k_f, k_fe, k_tr]))
    ok = np.ones(len(starts), bool)
    for keys in (k_f, k_fe, k_tr):
        i = np.searchsorted(keys, starts, side="left")
        nxt = np.where(i < len(keys), keys[np.minimum(i, len(keys) - 1)], np.inf)
        ok &= nxt <= starts + window + 1e-9
    return starts[ok]
