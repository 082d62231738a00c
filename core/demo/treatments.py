"""The demo cohort's treatment table: tocilizumab, steroids, anakinra, fibrinogen
concentrate, on the days the timeline sets."""

from __future__ import annotations

import numpy as np
import pandas as pd


def treatments_table(a: pd.DataFrame, tl: pd.DataFrame, ids: np.ndarray,
                     rng: np.random.Generator) -> pd.DataFrame:
    """The long treatment table, sorted by patient, day and drug."""
    n = len(a)
    weight = np.clip(rng.normal(88, 14, n), 70, 140)
    mg = np.minimum(800, np.round(8 * weight / 20) * 20)
    parts = []

    def rows(pidx: np.ndarray, days: np.ndarray, drug: str, dose: np.ndarray, unit: str) -> None:
        parts.append(pd.DataFrame({"patient_id": ids[pidx], "day": days.astype(int),
                                   "drug": drug, "dose": dose, "unit": unit}))

    doses = a["doses"].to_numpy()
    t1 = tl["t1"].to_numpy()
    p = np.repeat(np.arange(n), doses)
    step = np.concatenate([np.arange(k) for k in doses]) if doses.sum() else np.array([], int)
    rows(p, t1[p] + step, "tocilizumab", mg[p], "mg")
    steroid = a["steroid"].to_numpy(object)
    start = np.nan_to_num(t1, nan=3) + 1
    for drug, per_day, ndays in (("dexamethasone", 40.0, 4), ("methylprednisolone", 1000.0, 3)):
        sel = np.flatnonzero(steroid == drug)
        p = np.repeat(sel, ndays)
        rows(p, start[p] + np.tile(np.arange(ndays), len(sel)), drug, np.full(len(p), per_day),
             "mg")
    ana = np.flatnonzero(a["anakinra"].to_numpy() == 1)
    p = np.repeat(ana, 7)
    nd = tl["Nd"].to_numpy()
    rows(p, np.nan_to_num(nd[p], nan=7) - 1 + np.tile(np.arange(7), len(ana)), "anakinra",
         np.full(len(p), 200.0), "mg")
    subst = a["subst"].to_numpy()
    sel = np.flatnonzero(subst > 0)
    per = [np.array([2.0] * int(s // 2) + ([1.0] if s % 2 else [])) for s in subst[sel]]
    p = np.repeat(sel, [len(x) for x in per])
    step = np.concatenate([np.arange(len(x)) for x in per]) if len(sel) else np.array([], int)
    rows(p, nd[p] + step if len(p) else np.array([]), "fibrinogen_concentrate",
         np.concatenate(per) if per else np.array([]), "g")
    tx = pd.concat(parts, ignore_index=True)
    tx = tx.sort_values(["patient_id", "day", "drug"], kind="stable").reset_index(drop=True)
    return tx
