"""Per-patient event days of the demo cohort (CRS onset, tocilizumab, onset, nadir, recovery,
follow-up) and the ward's sampling grid they are inserted into."""

from __future__ import annotations

import numpy as np
import pandas as pd

_BASE_DAYS = np.array(list(range(-5, 15)) + [
    16, 18, 21, 23, 25, 28, 30, 32, 35, 38, 42, 45, 49, 52, 56, 60, 63, 67, 70, 77, 84, 91, 98,
    105, 119, 133, 147, 161, 181, 196, 210, 238, 266, 300, 330, 365], dtype=float)


def timeline(a: pd.DataFrame, demo: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Per-patient CRS onset, tocilizumab start, event days and follow-up."""
    n = len(a)
    cd28 = (demo["costimulation"] == "CD28").to_numpy()
    c0 = np.where(cd28, rng.integers(1, 3, n), rng.integers(1, 5, n)).astype(float)
    c0[a["crs"].to_numpy() == 0] = np.nan
    treated = a["doses"].to_numpy() > 0
    t1 = np.where(treated, c0 + rng.integers(0, 2, n), np.nan)
    grade = a["grade"].to_numpy()
    hyp = grade >= 1
    R = a["R"].to_numpy(float)
    never = a["never_lf"].to_numpy(float)
    k = a["k"].to_numpy(float)
    # onset: t1 + k, but before recovery / last follow-up
    limit = np.where(np.isnan(R), never, R - 1)
    O = np.where(hyp, t1 + k, np.nan)
    over = hyp & (O > limit)
    t1 = np.where(over, np.maximum(1, limit - k), t1)
    O = np.where(hyp, np.minimum(t1 + k, limit), np.nan)
    j = np.where(grade >= 3, rng.integers(1, 6, n), rng.integers(0, 4, n)).astype(float)
    # without overt DIC the nadir may come late: a slow fall, then a slow recovery
    slow = hyp & (a["dic"].to_numpy() == 0) & ~np.isnan(R)
    j = np.where(slow, np.maximum(j, np.round(rng.uniform(0.2, 0.6, n) * (R - 1 - O))), j)
    Nd = np.where(hyp, np.minimum(O + j, limit), np.nan)
    # follow-up of the lab series
    lf = np.where(hyp & ~np.isnan(R), np.maximum(R + rng.integers(14, 60, n),
                                                 rng.integers(90, 240, n)),
                  rng.integers(60, 300, n)).astype(float)
    lf = np.where(hyp & np.isnan(R), never, lf)
    R = np.where(hyp & ~np.isnan(R), np.maximum(R, Nd + 1), np.nan)
    lf = np.where(~np.isnan(R), np.maximum(lf, R + 7), lf)
    lf = np.maximum(lf, np.nan_to_num(Nd, nan=0) + 1)
    lf = np.where(hyp & np.isnan(R), np.maximum(never, Nd), lf)
    # peak of the acute phase; DIC day
    pk = np.where(treated, t1, c0 + rng.integers(2, 5, n))
    dic_day = np.where(hyp, Nd, np.where(treated, t1 + 2, pk))
    return pd.DataFrame({"c0": c0, "t1": t1, "O": O, "Nd": Nd, "R": R, "lf": lf, "pk": pk,
                         "dic_day": dic_day})


def grid(tl: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Sampling days per patient (rows padded with inf) and the valid mask."""
    n = len(tl)
    extra = tl[["O", "Nd", "R", "lf", "dic_day"]].to_numpy(float)
    D = np.concatenate([np.tile(_BASE_DAYS, (n, 1)), extra], axis=1)
    D = np.where(np.isnan(D), np.inf, D)
    D.sort(axis=1)
    dup = np.zeros_like(D, bool)
    dup[:, 1:] = D[:, 1:] == D[:, :-1]
    D[dup] = np.inf
    D.sort(axis=1)
    valid = D <= tl["lf"].to_numpy()[:, None]
    keep = valid.any(axis=0)
    return D[:, keep], valid[:, keep]
