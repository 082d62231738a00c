"""Lab series as integer-coded arrays, and the per-patient, per-analyte summary (baseline,
minimum, maximum, days) every endpoint starts from.

Analytes are coded by their position in :data:`core.schema.ANALYTES` (:data:`ACODE`); patients
by their position in the output's patient index. All work is O(rows) with numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.schema import ANALYTES

#: Analyte names by code, and code by name.
ANAMES: tuple[str, ...] = tuple(ANALYTES)
ACODE: dict[str, int] = {a: i for i, a in enumerate(ANAMES)}
SUMMARY_COLUMNS = ("patient_id", "analyte", "n", "baseline", "baseline_day", "min", "min_day",
                   "max", "max_day", "last_day")


@dataclass(frozen=True)
class LabSeries:
    """Cleaned lab rows as arrays, sorted by patient, analyte and day.

    Attributes
    ----------
    P : patient position (into the output's patient index).
    A : analyte code (:data:`ACODE`).
    D : day after infusion.
    V : value in the canonical unit.
    inwin : True for rows inside the settings' window.
    """

    P: np.ndarray
    A: np.ndarray
    D: np.ndarray
    V: np.ndarray
    inwin: np.ndarray

    def in_window(self) -> LabSeries:
        """Only the rows inside the window (worked out once; the arrays are never changed
        in place)."""
        cached = self.__dict__.get("_in_window")
        if cached is None:
            i = np.flatnonzero(self.inwin)   # one nonzero, then takes (twice as fast)
            cached = LabSeries(self.P.take(i), self.A.take(i), self.D.take(i),
                               self.V.take(i), np.ones(len(i), bool))
            object.__setattr__(self, "_in_window", cached)
        return cached


def summarise_analytes(labs: LabSeries) -> dict[str, np.ndarray]:
    """Per (patient position, analyte code): n, baseline, min, max (first day), last day.

    Rows must be contiguous per (patient, analyte) and sorted by day within (as returned by
    :func:`core.endpoints.clean.clean_labs`); everything is then O(rows) with ``reduceat``.

    Returns
    -------
    dict of str -> ndarray
        Columns ``key, baseline, baseline_day, n, last_day, min, min_day, max, max_day,
        pid, analyte`` (``pid`` a patient position, ``analyte`` a code), sorted by key; arrays,
        not a frame (the endpoints read a few columns; :func:`summary_frame` builds the one
        frame the user sees). ``n``,
        ``min`` ... count the rows in the window; the baseline is the last value on or
        before day 0, in the window or not.
    """
    na = len(ANAMES)
    w = labs.in_window()
    wide = np.dtype(np.int32 if (int(labs.P.max(initial=0)) + 1) * na < 2**31 else np.int64)
    kw: np.ndarray = w.P.astype(wide)   # key = patient x na + analyte, built in place
    kw *= na
    kw += w.A
    win = _window_stats(kw, w.D, w.V)
    pre = np.flatnonzero(labs.D <= 0)
    base = _baselines(labs.P[pre].astype(np.int64) * na + labs.A[pre], labs.D[pre], labs.V[pre])
    # the outer join of the two on key, sorted by key (each key once on either side)
    kb, kw = np.asarray(base["key"], np.int64), np.asarray(win["key"], np.int64)
    keys, ib, iw = _union(kb, kw)
    out: dict[str, np.ndarray] = {"key": keys}
    for side, at, cols in ((base, ib, ("baseline", "baseline_day")),
                           (win, iw, ("n", "last_day", "min", "min_day", "max", "max_day"))):
        for c in cols:
            col = np.zeros(len(keys), int) if c == "n" else np.full(len(keys), np.nan)
            col[at] = np.asarray(side[c], col.dtype)
            out[c] = col
    out["pid"], out["analyte"] = keys // na, keys % na
    return out


def _union(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sorted distinct keys of ``a`` and ``b`` (non-negative, each distinct within its
    array) and where each key of ``a`` and of ``b`` lies in them. Marks in a table when the
    keys are dense (patients x analytes), else one sort (not np.union1d: numpy 2.4 hashes
    integers, 100 times slower than sorting them)."""
    top = int(max(a.max(initial=-1), b.max(initial=-1))) + 1
    if top <= 4 * (len(a) + len(b)) + 1_000_000:
        seen = np.zeros(top, bool)
        seen[a] = True
        seen[b] = True
        keys = np.flatnonzero(seen)
        at = np.cumsum(seen) - 1
        return keys, at[a], at[b]
    keys = np.sort(np.concatenate([a, b]))
    keys = keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys
    return keys, np.searchsorted(keys, a), np.searchsorted(keys, b)


def _starts(k: np.ndarray) -> np.ndarray:
    """Start of each run of equal keys."""
    if not len(k):
        return np.zeros(0, np.int64)
    edge = np.empty(len(k), bool)
    edge[0] = True
    np.not_equal(k[1:], k[:-1], out=edge[1:])
    return np.flatnonzero(edge)


def _window_stats(kw: np.ndarray, dw: np.ndarray, vw: np.ndarray) -> dict[str, np.ndarray]:
    """n, last day, min and max with the first day each occurred, per key."""
    st = _starts(kw)
    if not len(st):
        return {c: np.zeros(0) for c in (
            "key", "n", "last_day", "min", "min_day", "max", "max_day")}
    n = np.diff(np.r_[st, len(kw)])
    stats = {"key": kw[st], "n": n, "last_day": dw[st + n - 1]}
    run = np.zeros(len(kw), np.int32 if len(st) < 2**31 else np.int64)   # each row's run
    run[st[1:]] = 1
    np.cumsum(run, out=run)
    for name, red in (("min", np.minimum), ("max", np.maximum)):
        ext = red.reduceat(vw, st)
        idx = np.flatnonzero(vw == ext[run])   # where a run's extreme occurs
        first = idx[np.searchsorted(idx, st)]   # each run holds its extreme: the first one
        stats[name], stats[name + "_day"] = ext, dw[first]
    return stats


def _baselines(kb: np.ndarray, db: np.ndarray, vb: np.ndarray) -> dict[str, np.ndarray]:
    """The last value (and its day) per key of rows on or before day 0."""
    sb = _starts(kb)
    last = np.r_[sb[1:], len(kb)] - 1 if len(sb) else np.zeros(0, np.int64)
    return {"key": kb[last], "baseline": vb[last], "baseline_day": db[last]}


def int64_array(values: np.ndarray) -> pd.api.extensions.ExtensionArray | np.ndarray:
    """Whole numbers held as floats (NaN: missing) as a pandas ``Int64`` array: what
    ``pd.array(values, dtype="Float64").astype("Int64")`` gives, built directly (that
    conversion checks every value in Python-level chunks); a value with a fraction is
    passed to that conversion, which refuses it."""
    v = np.asarray(values, dtype=float)
    missing = np.isnan(v)
    filled = np.where(missing, 0.0, v)
    if not np.array_equal(filled, np.trunc(filled)) or (np.abs(filled) >= 2**53).any():
        return pd.array(v, dtype="Float64").astype("Int64")
    return pd.arrays.IntegerArray(filled.astype(np.int64), missing)


def per_patient(summary: dict[str, np.ndarray], analyte: str, column: str,
                n: int) -> np.ndarray:
    """One column of :func:`summarise_analytes` for one analyte as an array over the ``n``
    patient positions (NaN where the patient has no value)."""
    arr = np.full(n, np.nan)
    sel = np.flatnonzero(summary["analyte"] == ACODE[analyte])
    arr[summary["pid"][sel]] = np.asarray(summary[column], float)[sel]
    return arr


def summary_frame(summary: dict[str, np.ndarray], patient_ids: np.ndarray) -> pd.DataFrame:
    """:func:`summarise_analytes` with patient IDs and analyte names, in
    :data:`SUMMARY_COLUMNS` order, sorted by patient and analyte."""
    pid, aco = summary["pid"], summary["analyte"]
    names = np.asarray(ANAMES, dtype=object)
    ids = np.asarray(patient_ids, dtype=object)
    if pd.api.types.infer_dtype(ids, skipna=False) not in ("string", "empty"):
        out = pd.DataFrame(summary).assign(patient_id=ids[pid], analyte=names[aco])
        return out.loc[:, list(SUMMARY_COLUMNS)].sort_values(
            ["patient_id", "analyte"]).reset_index(drop=True)
    # sorted by the texts: each ID and name ranked once (patient and analyte pairs are unique)
    rank = text_ranks(ids)[pid] * len(names) + text_ranks(names)[aco]   # distinct per row
    o = np.argsort(rank) if len(rank) and (np.diff(rank) < 0).any() else np.arange(len(rank))
    cols = {c: summary[c][o] for c in SUMMARY_COLUMNS[2:]}
    # copy=False: the fresh columns are not stacked into blocks (2M rows: a 128 MB copy)
    return pd.DataFrame({"patient_id": ids[pid[o]], "analyte": names[aco[o]], **cols},
                        copy=False)


def text_ranks(texts: np.ndarray) -> np.ndarray:
    """Each text's position in the sorted texts (ties keep their order): ``0, 1, ...`` when
    they are in order already (one pass of comparisons, no sort of 100,000 texts)."""
    t = np.asarray(texts, dtype=object)
    if len(t) < 2 or bool((t[1:] >= t[:-1]).all()):
        return np.arange(len(t), dtype=np.int64)
    rank = np.empty(len(texts), np.int64)
    rank[np.argsort(texts, kind="stable")] = np.arange(len(texts))
    return rank
