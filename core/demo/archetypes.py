"""The 41 archetypes of the demo cohort: joint toxicity targets per patient (CRS/ICANS grade,
tocilizumab doses, hypofibrinogenemia grade, DIC, IEC-HS, steroids, substitution, recovery) and
the paper's lists of recovery and onset days; tiled for any ``n``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.schema import ANALYTES

DEFAULT_N = 41
DEFAULT_SEED = 20240328
LLN = float(ANALYTES["fibrinogen"].lln)  # type: ignore[arg-type]

# ----------------------------------------------------------------------------------------------
# the 41 archetypes: joint toxicity targets
# crs icans doses grade dic iec steroid anakinra subst_g never_lf death abnormal bleed thromb

_ARCH = """
0 0 0 0 0 0 - 0 0 - 0 0 0 0
0 0 0 0 0 0 - 0 0 - 0 0 0 0
0 0 0 0 0 0 - 0 0 - 0 0 0 0
1 1 1 1 0 0 - 0 0 - 0 0 0 0
1 0 2 1 0 0 - 0 0 - 0 0 0 0
1 0 2 1 1 0 - 0 0 - 0 0 0 0
1 1 1 2 0 0 - 0 0 - 0 0 0 0
1 0 2 2 1 0 - 0 0 - 0 0 0 0
1 0 0 0 0 0 - 0 0 - 0 1 0 0
1 1 0 0 0 0 - 0 0 - 0 0 0 0
1 0 0 0 0 0 - 0 0 - 0 0 0 0
1 0 0 0 0 0 - 0 0 - 0 0 0 3
1 0 0 0 0 0 - 0 0 - 0 0 0 0
1 0 0 0 0 0 - 0 0 - 0 0 0 0
1 0 0 0 0 0 - 0 0 - 0 0 0 0
1 0 0 0 0 0 - 0 0 - 0 0 0 0
2 1 1 1 0 0 - 0 0 - 0 0 0 0
2 1 3 1 0 0 - 0 0 - 0 0 0 0
2 0 2 1 0 0 - 0 0 - 0 0 0 0
2 0 3 1 0 0 - 0 0 - 0 0 0 0
2 2 3 2 0 0 dexamethasone 0 0 - 0 0 0 0
2 1 2 2 0 0 - 0 0 - 0 0 1 0
2 0 1 2 0 0 - 0 0 - 0 0 0 0
2 2 4 2 0 0 dexamethasone 0 0 - 0 0 0 0
2 0 3 2 0 0 - 0 0 - 0 0 0 0
2 0 2 2 0 0 - 0 0 130 0 0 0 0
2 0 3 3 1 1 methylprednisolone 1 3 - 0 0 0 0
2 0 3 3 1 1 dexamethasone 0 0 - 0 0 0 0
2 1 2 3 1 0 - 0 0 - 0 0 0 0
2 2 3 3 1 0 dexamethasone 0 0 - 0 0 0 0
2 0 4 3 1 0 dexamethasone 0 2 - 0 0 0 0
2 0 1 3 1 0 dexamethasone 0 0 100 0 0 0 0
2 0 3 4 1 1 dexamethasone 0 6 48 1 0 0 0
2 0 4 4 1 0 dexamethasone 0 4 - 0 0 0 0
2 0 1 0 0 0 - 0 0 - 0 0 0 0
2 0 0 0 0 0 - 0 0 - 0 0 0 0
3 4 3 3 1 0 methylprednisolone 0 3 62 1 0 0 0
3 0 4 3 1 0 dexamethasone 0 2 - 0 0 3 2
3 0 2 0 1 0 dexamethasone 0 0 - 0 0 0 0
4 4 4 4 1 1 methylprednisolone 0 9 14 1 0 0 0
4 0 2 2 1 0 dexamethasone 0 1 11 1 0 0 0
"""


_ARCH_COLS = ["crs", "icans", "doses", "grade", "dic", "iec", "steroid", "anakinra", "subst",
              "never_lf", "death", "abnormal", "bleeding", "thrombosis"]


# Recovery days (after infusion) of the 21 recovered patients, by grade group: median 44, 9-181.
_RECOVERY = {(1,): [9, 14, 18, 22, 26, 30, 35], (2,): [38, 41, 43, 44, 47, 52, 58],
             (3, 4): [63, 70, 82, 95, 120, 150, 181]}
# Days from the first tocilizumab dose to onset of the 27 hypofibrinogenemias: median 6, 2-27.
_ONSET_AFTER_TOCI = [2, 3, 3, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 8, 8, 9, 10, 11, 12, 14,
                     17, 21, 27]
# Nadir band per target grade (mg/dL, LLN 200): inclusive integer bounds.
NADIR = {1: (151, 198), 2: (101, 149), 3: (51, 99), 4: (25, 49)}


def template() -> pd.DataFrame:
    """The 41 archetypes as a frame (one row each, the columns of the table above)."""
    rows = [line.split() for line in _ARCH.strip().splitlines()]
    t = pd.DataFrame(rows, columns=_ARCH_COLS)
    for c in _ARCH_COLS:
        if c == "steroid":
            t[c] = t[c].replace("-", None)
        elif c == "never_lf":
            t[c] = pd.to_numeric(t[c], errors="coerce")
        else:
            t[c] = t[c].astype(int)
    return t


def assign_times(t: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Recovery day and onset offset of the 41 archetypes (exact lists of the paper)."""
    t = t.copy()
    t["R"] = np.nan
    hyp = t["grade"] >= 1
    for grades, days in _RECOVERY.items():
        sel = t.index[hyp & t["grade"].isin(grades) & t["never_lf"].isna()]
        assert len(sel) == len(days), (grades, len(sel))
        t.loc[sel, "R"] = rng.permutation(days)
    key = t["R"].fillna(t["never_lf"])
    order = key[hyp].sort_values(kind="stable").index
    t["k"] = np.nan
    t.loc[order, "k"] = _ONSET_AFTER_TOCI
    return t


def expand(t: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` patients from the archetypes: a permutation of the 41 for ``n = 41``, else whole
    copies and a sample of the rest, with jittered days."""
    if n == len(t):
        return t.iloc[rng.permutation(len(t))].reset_index(drop=True)
    reps = np.concatenate([np.tile(np.arange(len(t)), n // len(t)),
                           rng.choice(len(t), n % len(t), replace=False)])
    out = t.iloc[rng.permutation(reps)].reset_index(drop=True)
    jit = rng.uniform(0.85, 1.15, n)
    out["R"] = np.round(out["R"] * jit)
    out["k"] = np.maximum(1, out["k"] + rng.integers(-1, 2, n))
    out["never_lf"] = np.round(out["never_lf"] * rng.uniform(0.9, 1.1, n))
    return out
