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

from typing import Any

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


def dic_scores(labs: LabSeries, s: EndpointSettings) -> dict[str, Any]:
    """Points per component, score and number of components per patient position (``pid``)
    and draw time (``day``); ``labs`` are the rows in the window.

    Returns
    -------
    dict of str -> array
        ``pid`` (int64), ``day`` (float), ``platelets_pts, d_dimer_pts, pt_pts,
        fibrinogen_pts`` (``Int64`` arrays, missing: no value in the window), ``score`` and
        ``n_components`` (int64); one entry per patient and draw time, sorted by both.

    Notes
    -----
    Whole-number days (as exports have them) take a path without sorting: the draw times are
    marked in a patients x days table, and each component's last draw at or before a time is
    carried forward by one ``maximum.accumulate``. Other days take the float-key path (keys
    ``patient x 1e5 + day + 100``, one sort and a ``searchsorted`` per component). Both give
    the same values (the float keys are exact for whole days).
    """
    # per component its rows (sorted by patient and day) and points
    comps = {}
    for a in COMPONENTS:
        m = np.flatnonzero(labs.A == ACODE[a])
        if len(m):
            comps[a] = (labs.P.take(m).astype(np.int64, copy=False), labs.D.take(m),
                        _component_points(a, labs.V.take(m), s).astype(np.int64))
    if not comps:
        return {"pid": np.zeros(0, np.int64), "day": np.zeros(0),
                **{c: int64_array(np.zeros(0)) for c in DIC_COLUMNS[2:6]},
                "score": np.zeros(0, np.int64), "n_components": np.zeros(0, np.int64)}
    window = s.dic_window_hours / 24.0
    fast = _day_grid(comps)
    if fast is None:
        return _float_key_scores(comps, window)
    tp, tday, at = fast
    nt = len(tp)
    out: dict[str, Any] = {"pid": tp, "day": tday}
    score = np.zeros(nt, np.int64)
    n_comp = np.zeros(nt, np.int64)
    for a, c in COMPONENTS.items():
        if a not in comps:   # never drawn: missing throughout
            out[c] = pd.arrays.IntegerArray(np.zeros(nt, np.int64), np.ones(nt, bool))
            continue
        p, d, pa = comps[a]
        # the component's last draw at or before each time: its row number carried forward
        last = np.full(nt, -1, np.int64)
        last[at[a]] = np.arange(len(p))
        np.maximum.accumulate(last, out=last)
        j = np.maximum(last, 0)
        ok = (last >= 0) & (p[j] == tp) & (tday - d[j] <= window + 1e-9)
        pts = np.where(ok, pa[j], 0)
        out[c] = pd.arrays.IntegerArray(pts, ~ok)
        score += pts
        n_comp += ok
    out["score"], out["n_components"] = score, n_comp
    return out


def _day_grid(comps: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
              ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]] | None:
    """With whole-number days and a patients x days table not much larger than the rows:
    the distinct (patient, day) draw times sorted (patient positions, days) and each
    component row's position among them. None otherwise."""
    days = [d for _, d, _ in comps.values()]
    lo = min(float(d.min()) for d in days)
    hi = max(float(d.max()) for d in days)
    if any((d != np.floor(d)).any() for d in days):
        return None
    nd = int(hi - lo) + 1
    top = (max(int(p.max()) for p, _, _ in comps.values()) + 1) * nd
    rows = sum(len(d) for d in days)
    if top > 8 * rows + 1_000_000 or top >= 2**31:
        return None
    keys = {a: p * nd + (d - lo).astype(np.int64) for a, (p, d, _) in comps.items()}
    seen = np.zeros(top, bool)
    for k in keys.values():
        seen[k] = True
    grid = np.flatnonzero(seen)
    rank = np.empty(top, np.int32)   # read only at marked cells (a cumsum is 10x slower)
    rank[grid] = np.arange(len(grid), dtype=np.int32)
    tp, dd = np.divmod(grid, nd)
    return tp, dd + lo, {a: rank[k] for a, k in keys.items()}


def _float_key_scores(comps: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
                      window: float) -> dict[str, Any]:
    """:func:`dic_scores` on keys ``patient x _SCALE + day + _OFFSET`` (any days)."""
    keyed = {a: (p * _SCALE + d + _OFFSET, pa.astype(float)) for a, (p, d, pa) in comps.items()}
    tkeys = np.unique(np.concatenate([k for k, _ in keyed.values()]))
    tp = (tkeys // _SCALE).astype(np.int64)
    out: dict[str, Any] = {"pid": tp,
                                  "day": np.round(tkeys - tp * _SCALE - _OFFSET, 9)}
    score = np.zeros(len(tkeys), np.int64)
    n_comp = np.zeros(len(tkeys), np.int64)
    for a, c in COMPONENTS.items():
        v = np.full(len(tkeys), np.nan)
        if a in keyed:
            k, pa = keyed[a]
            i = np.searchsorted(k, tkeys + 1e-9, side="right") - 1   # last draw at or before
            j = np.maximum(i, 0)
            ok = (i >= 0) & (k[j] // _SCALE == tp) & (tkeys - k[j] <= window + 1e-9)
            v = np.where(ok, pa[j], np.nan)
            score += np.where(ok, pa[j], 0.0).astype(np.int64)
            n_comp += ok
        out[c] = int64_array(v)
    out["score"], out["n_components"] = score, n_comp
    return out


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


def dic_score_max(dic: dict[str, Any], n: int) -> tuple[np.ndarray, np.ndarray]:
    """The highest score per patient position (NaN: never scored), and the most components
    behind a score equal to it (``dic``: :func:`dic_scores`, sorted by patient)."""
    dmax = np.full(n, -1.0)
    comp = np.full(n, -1.0)
    pid = dic["pid"]
    if len(pid):
        score = dic["score"].astype(float)
        st = np.flatnonzero(np.r_[True, pid[1:] != pid[:-1]])   # rows sorted by patient
        dmax[pid[st]] = np.maximum.reduceat(score, st)
        at_max = score == dmax[pid]
        nc = np.where(at_max, dic["n_components"].astype(float), -1.0)
        comp[pid[st]] = np.maximum.reduceat(nc, st)
    return np.where(dmax >= 0, dmax, np.nan), np.where(comp >= 0, comp, np.nan)
