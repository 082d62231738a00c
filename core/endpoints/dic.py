"""ISTH overt DIC score (Taylor 2001) per patient and calendar day.

From the worst value of the day (``floor(day)``) in the window: platelets > 100 -> 0, 50-100 ->
1, < 50 -> 2 (x10^9/L); D-dimer <= moderate cut-off -> 0, above it -> 2, above the strong
cut-off -> 3; INR <= moderate cut-off -> 0, above -> 1, above the strong cut-off -> 2;
fibrinogen < 100 mg/dL -> 1. A component not measured that day adds 0 points (the score is
then a lower bound; ``n_components`` says how many were measured). Cut-offs are settings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.endpoints.analytes import ACODE, LabSeries
from core.endpoints.settings import EndpointSettings

DIC_COLUMNS = ("patient_id", "day", "platelets_pts", "d_dimer_pts", "pt_pts", "fibrinogen_pts",
               "score", "n_components")
#: analyte -> points column
COMPONENTS = {"platelets": "platelets_pts", "d_dimer": "d_dimer_pts", "inr": "pt_pts",
              "fibrinogen": "fibrinogen_pts"}


def dic_scores(labs: LabSeries, s: EndpointSettings) -> pd.DataFrame:
    """Points per component, score and number of components per patient position (``pid``)
    and calendar day; ``labs`` are the rows in the window."""
    sel = np.isin(labs.A, [ACODE[a] for a in COMPONENTS])
    P, A, D, V = labs.P[sel], labs.A[sel], labs.D[sel], labs.V[sel]
    if not len(P):
        return pd.DataFrame({"pid": pd.Series(dtype=np.int64),
                             **{c: pd.Series(dtype="Int64") for c in DIC_COLUMNS[2:6]},
                             "day": pd.Series(dtype=float), "score": pd.Series(dtype=np.int64),
                             "n_components": pd.Series(dtype=np.int64)})
    frame = pd.DataFrame({"pid": P, "day": np.floor(D), "a": A, "pts": _points(A, V, s)})
    # worst value of the day = most points (points are monotone in the value)
    w = frame.groupby(["pid", "day", "a"], sort=True)["pts"].max().unstack("a")
    res = pd.DataFrame({"pid": w.index.get_level_values(0).to_numpy(np.int64),
                        "day": w.index.get_level_values(1).to_numpy(float)})
    parts = []
    for a, c in COMPONENTS.items():
        v = w[ACODE[a]].to_numpy(float) if ACODE[a] in w.columns else np.full(len(w), np.nan)
        res[c] = pd.array(v, dtype="Float64").astype("Int64")
        parts.append(v)
    m = np.vstack(parts)
    res["score"] = np.nansum(m, axis=0).astype(int)
    res["n_components"] = (~np.isnan(m)).sum(axis=0).astype(int)
    return res


def _points(A: np.ndarray, V: np.ndarray, s: EndpointSettings) -> np.ndarray:
    """ISTH points of each value."""
    return np.select(
        [A == ACODE["platelets"], A == ACODE["d_dimer"], A == ACODE["inr"],
         A == ACODE["fibrinogen"]],
        [np.select([V > s.dic_platelets_mild, V >= s.dic_platelets_severe], [0, 1], 2),
         np.select([V > s.dic_d_dimer_strong, V > s.dic_d_dimer_moderate], [3, 2], 0),
         np.select([V > s.dic_inr_strong, V > s.dic_inr_moderate], [2, 1], 0),
         np.where(V < s.dic_fibrinogen, 1, 0)], 0)


def dic_score_max(dic: pd.DataFrame, n: int) -> np.ndarray:
    """The highest daily score per patient position (NaN: never scored)."""
    dmax = np.full(n, -1.0)
    if len(dic):
        np.maximum.at(dmax, dic["pid"].to_numpy(), dic["score"].to_numpy(float))
    return np.where(dmax >= 0, dmax, np.nan)
