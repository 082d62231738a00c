"""ISTH overt DIC score (Taylor 2001) per patient and draw time.

At every time a component (platelets, D-dimer, INR, fibrinogen) was drawn in the window, each
component contributes its last value drawn within ``dic_window_hours`` (default 24 h, inclusive)
before or at that time (last value carried forward): platelets > 100 -> 0, 50-100 -> 1, < 50 ->
2 (x10^9/L); D-dimer <= moderate cut-off -> 0, above it -> 2, above the strong cut-off -> 3;
INR <= moderate cut-off -> 0, above -> 1, above the strong cut-off -> 2; fibrinogen < 100 mg/dL
-> 1. A component with no value within the window adds 0 points: the score is then a lower
bound, and ``n_components`` says how many of the four were behind it. The patient's maximum is
the highest score; ``dic_score_components`` the largest number of components behind a score
equal to that maximum. Cut-offs and the window are settings.

After CAR-T the score runs high without DIC: D-dimer rises with CRS, and lymphodepletion and
the CAR-T itself lower platelets (cytopenia), so two of the four components score without
consumption coagulopathy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.endpoints.analytes import ACODE, LabSeries, int64_array
from core.endpoints.settings import EndpointSettings

DIC_COLUMNS = ("patient_id", "day", "platelets_pts", "d_dimer_pts", "pt_pts", "fibrinogen_pts",
               "score", "n_components")
#: analyte -> points column
COMPONENTS = {"platelets": "platelets_pts", "d_dimer": "d_dimer_pts", "inr": "pt_pts",
              "fibrinogen": "fibrinogen_pts"}
#: keys ``patient x _SCALE + day + _OFFSET`` (days lie within -60..3650, so a key's patient
#: is ``key // _SCALE``)
_SCALE, _OFFSET = 1e5, 100.0


def dic_scores(labs: LabSeries, s: EndpointSettings) -> pd.DataFrame:
    """Points per component, score and number of components per patient position (``pid``)
    and draw time (``day``); ``labs`` are the rows in the window."""
    # per component its rows (sorted by patient and day: its keys are sorted) and points
    comps = {}
    for a in COMPONENTS:
        m = labs.A == ACODE[a]
        if m.any():
            comps[a] = (labs.P[m] * _SCALE + labs.D[m] + _OFFSET,
                        _component_points(a, labs.V[m], s).astype(float))
    if not comps:
        return pd.DataFrame({"pid": pd.Series(dtype=np.int64),
                             **{c: pd.Series(dtype="Int64") for c in DIC_COLUMNS[2:6]},
                             "day": pd.Series(dtype=float), "score": pd.Series(dtype=np.int64),
                             "n_components": pd.Series(dtype=np.int64)})
    tkeys = np.unique(np.concatenate([k for k, _ in comps.values()]))
    tp = (tkeys // _SCALE).astype(np.int64)
    res = pd.DataFrame({"pid": tp, "day": np.round(tkeys - tp * _SCALE - _OFFSET, 9)})
    window = s.dic_window_hours / 24.0
    score = np.zeros(len(tkeys), int)
    n_comp = np.zeros(len(tkeys), int)
    for a, c in COMPONENTS.items():
        v = np.full(len(tkeys), np.nan)
        if a in comps:
            k, pa = comps[a]
            i = np.searchsorted(k, tkeys + 1e-9, side="right") - 1   # last draw at or before
            j = np.maximum(i, 0)
            ok = (i >= 0) & (k[j] // _SCALE == tp) & (tkeys - k[j] <= window + 1e-9)
            v = np.where(ok, pa[j], np.nan)
            score += np.where(ok, pa[j], 0.0).astype(int)
            n_comp += ok
        res[c] = int64_array(v)
    res["score"] = score
    res["n_components"] = n_comp
    return res


def _component_points(a: str, V: np.ndarray, s: EndpointSettings) -> np.ndarray:
    """ISTH points of values of one component (as :func:`_points`)."""
    if a == "platelets":
        return np.select([V > s.dic_platelets_mild, V >= s.dic_platelets_severe], [0, 1], 2)
    if a == "d_dimer":
        return np.select([V > s.dic_d_dimer_strong, V > s.dic_d_dimer_moderate], [3, 2], 0)
    if a == "inr":
        return np.select([V > s.dic_inr_strong, V > s.dic_inr_moderate], [2, 1], 0)
    return np.where(V < s.dic_fibrinogen, 1, 0)


def _points(A: np.ndarray, V: np.ndarray, s: EndpointSettings) -> np.ndarray:
    """ISTH points of each value."""
    return np.select(
        [A == ACODE["platelets"], A == ACODE["d_dimer"], A == ACODE["inr"],
         A == ACODE["fibrinogen"]],
        [np.select([V > s.dic_platelets_mild, V >= s.dic_platelets_severe], [0, 1], 2),
         np.select([V > s.dic_d_dimer_strong, V > s.dic_d_dimer_moderate], [3, 2], 0),
         np.select([V > s.dic_inr_strong, V > s.dic_inr_moderate], [2, 1], 0),
         np.where(V < s.dic_fibrinogen, 1, 0)], 0)


def dic_score_max(dic: pd.DataFrame, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The highest score per patient position (NaN: never scored), and the most components
    behind a score equal to it."""
    dmax = np.full(n, -1.0)
    comp = np.full(n, -1.0)
    if len(dic):
        pid = dic["pid"].to_numpy()
        score = dic["score"].to_numpy(float)
        np.maximum.at(dmax, pid, score)
        at_max = score == dmax[pid]
        np.maximum.at(comp, pid[at_max], dic["n_components"].to_numpy(float)[at_max])
    return np.where(dmax >= 0, dmax, np.nan), np.where(comp >= 0, comp, np.nan)
