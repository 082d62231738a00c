"""Swimmer plot: one lane per patient with follow-up, CRS, ICANS and hypofibrinogenemia
periods, the anti-cytokine, corticosteroid and fibrinogen-substitution doses, progression and
death (issue 14).

The lanes are the patients in view, ordered by a sort key (follow-up, CRS grade, another grade
or a score column such as ``car_hematotox``), highest first. A large cohort is capped: at most
``max_lanes`` lanes, either the first ones by the sort key or a seeded random sample (kept in
sort order); :attr:`Swimmer.shown` says which.

Every step is a column operation over all patients (sorting, ``isin``, ``get_indexer``): there
is no Python loop over patients, so 100,000 patients cost a sort, and only the shown lanes'
treatments and episodes are turned into marks.

Sources of each mark
--------------------
* Follow-up: ``os_days`` (time to death or last contact); else ``pfs_days``; else the last day
  of the lane's marks ("last event").
* CRS / ICANS: ``crs_onset_day`` to ``crs_resolution_day`` (``icans_...``) with the maximum
  grade ``crs_grade`` (``icans_grade``); an empty resolution day is "not resolved" (the schema's
  meaning): the period runs to the end of follow-up.
* Hypofibrinogenemia: the derived episodes (:attr:`core.endpoints.Endpoints.episodes`: onset
  to recovery, or to the last fibrinogen day when not recovered, each with its CTCAE v5 grade);
  without them one period from ``hypofibrinogenemia_onset_day`` to ``fibrinogen_recovery_day``
  with ``hypofibrinogenemia_grade``.
* Doses: the treatment rows, drug names read by :func:`core.schema.drug_named` (trade names and
  abbreviations included): tocilizumab, corticosteroids (:data:`core.schema.CORTICOSTEROIDS`),
  anakinra, fibrinogen concentrate, cryoprecipitate, FFP.
* Progression: ``pfs_cause == 1`` where given; else ``pfs_event == 1`` unless the PFS event is
  the death itself (``os_event == 1`` on the same day). Death: ``os_event == 1`` at ``os_days``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from core import schema
from core.analyses import columns
from core.errors import ColumnError
from core.notes import Note, WithNotes
from core.stats import DEFAULT_SEED

if TYPE_CHECKING:
    from core.endpoints import EndpointSettings
    from core.store import CohortStore

Sample = Literal["first", "random"]
SAMPLES: tuple[str, ...] = ("first", "random")
FOLLOW_UP = "follow_up"
#: sort keys offered when the column has a value (``follow_up`` always)
SORT_KEYS: tuple[str, ...] = (FOLLOW_UP, "crs_grade", "icans_grade", "hypofibrinogenemia_grade",
                              "car_hematotox", "easix", "m_easix")
SORT_LABELS = {FOLLOW_UP: "Follow-up", "car_hematotox": "CAR-HEMATOTOX score",
               "easix": "EASIX", "m_easix": "m-EASIX"}
#: lanes shown by default, and the most a chart holds (beyond that a lane is < 10 px)
DEFAULT_MAX_LANES = 50
MAX_LANES = 200

#: period kinds, in lane order (top to bottom within a lane)
PERIOD_KINDS: tuple[str, ...] = ("CRS", "ICANS", "Hypofibrinogenemia")
#: canonical drug -> event kind
DRUG_KINDS: dict[str, str] = {
    "tocilizumab": "Tocilizumab",
    **{d: "Corticosteroid" for d in schema.CORTICOSTEROIDS},
    "anakinra": "Anakinra",
    "fibrinogen_concentrate": "Fibrinogen concentrate",
    "cryoprecipitate": "Cryoprecipitate",
    "ffp": "FFP",
}
#: event kinds, in legend order
EVENT_KINDS: tuple[str, ...] = ("Tocilizumab", "Corticosteroid", "Anakinra",
                                "Fibrinogen concentrate", "Cryoprecipitate", "FFP",
                                "Progression", "Death")

LANE_COLUMNS = ("patient_id", "lane", "sort_value", "follow_up", "follow_up_source", "status",
                "crs_grade", "icans_grade")
PERIOD_COLUMNS = ("patient_id", "lane", "kind", "episode", "start", "end", "grade", "resolved")
EVENT_COLUMNS = ("patient_id", "lane", "kind", "day", "drug", "dose", "unit")

#: what a mark needs -> (columns, human name) for the "not in the data" note
_NEEDS: dict[str, tuple[tuple[str, ...], str]] = {
    "CRS": (("crs_onset_day",), "CRS onset/resolution days (crs_onset_day, crs_resolution_day)"),
    "ICANS": (("icans_onset_day",),
              "ICANS onset/resolution days (icans_onset_day, icans_resolution_day)"),
    "Progression": (("pfs_days", "pfs_event"), "progression (pfs_days, pfs_event)"),
    "Death": (("os_days", "os_event"), "death (os_days, os_event)"),
}


def sort_label(key: str) -> str:
    """Human label of a sort key (``"follow_up"`` -> ``"Follow-up"``)."""
    return SORT_LABELS.get(key) or columns.label(key)


def sort_options(patients: pd.DataFrame) -> list[str]:
    """The sort keys of :data:`SORT_KEYS` this patient table can sort by.

    Parameters
    ----------
    patients : DataFrame
        The patients in view.

    Returns
    -------
    list of str
        ``"follow_up"`` first, then each key of :data:`SORT_KEYS` whose column is present with
        at least one number (a score column such as ``car_hematotox`` appears once derived).
    """
    out = [FOLLOW_UP]
    for key in SORT_KEYS[1:]:
        if key in patients.columns and _num(patients, key).notna().any():
            out.append(key)
    return out


@dataclass(frozen=True)
class Swimmer(WithNotes):
    """The data behind a swimmer plot.

    Attributes
    ----------
    lanes : DataFrame
        One row per shown patient, top lane first: ``patient_id`` (text), ``lane`` (0 = top),
        ``sort_value`` (the sort key's value; NaN sorts last), ``follow_up`` (days; NaN when
        nothing at all is known), ``follow_up_source`` ("os_days", "pfs_days", "last event" or
        ""), ``status`` ("died", "alive at last contact", "unknown"), ``crs_grade``,
        ``icans_grade`` (NaN: not given).
    periods : DataFrame
        ``patient_id, lane, kind`` (:data:`PERIOD_KINDS`), ``episode`` (1, 2, ... for
        hypofibrinogenemia; 1 otherwise), ``start, end`` (days), ``grade`` (NaN: not given),
        ``resolved`` (False: ran to the end of follow-up or of the fibrinogen series).
    events : DataFrame
        ``patient_id, lane, kind`` (:data:`EVENT_KINDS`), ``day``, ``drug`` (canonical name;
        "" for progression and death), ``dose`` (NaN: not given), ``unit`` ("" when none).
    n_total : int
        Patients in view.
    n_shown : int
        Lanes drawn.
    sort_by : str
        The sort key.
    sample : {"first", "random"}
        How lanes were chosen when ``n_total > max_lanes``.
    shown : str
        What is shown, for the page and the figure caption, e.g. "50 of 1812 patients: the
        first 50 by follow-up (longest first)".
    missing : tuple of str
        Marks the data cannot give (e.g. "CRS onset/resolution days (crs_onset_day, ...)").
    notes : tuple of Note
        Kinds: ``"missing"`` (info: what is not in the data), ``"capped"`` (info: lanes
        capped), ``"episodes_fallback"`` (info: one hypofibrinogenemia period per patient
        from the patient table), ``"no_follow_up"`` (info: lanes end at the last mark).
    """

    lanes: pd.DataFrame
    periods: pd.DataFrame
    events: pd.DataFrame
    n_total: int
    n_shown: int
    sort_by: str
    sample: str
    shown: str
    missing: tuple[str, ...]
    notes: tuple[Note, ...] = ()


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def _num(frame: pd.DataFrame, column: str) -> pd.Series:
    """``frame[column]`` as float (NaN for missing or text); all-NaN when absent."""
    if column not in frame.columns:
        return pd.Series(np.nan, index=frame.index, dtype=float)
    return pd.to_numeric(frame[column], errors="coerce").astype(float)


def _ids(values: pd.Series) -> np.ndarray:
    """Patient IDs as text (Categorical or object columns alike)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = values.cat.categories.astype(str).to_numpy(object)
        codes = values.cat.codes.to_numpy()
        out = cats[np.maximum(codes, 0)]
        out[codes < 0] = None
        return out
    return values.astype(str).to_numpy(object)


def _empty(columns: Sequence[str], floats: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=float if c in floats else object)
                         for c in columns})


def _follow_up(patients: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Follow-up days and their source per patient (NaN / "" when neither OS nor PFS time)."""
    os_d, pfs_d = _num(patients, "os_days").to_numpy(), _num(patients, "pfs_days").to_numpy()
    fu = np.where(np.isnan(os_d), pfs_d, os_d)
    src = np.where(~np.isnan(os_d), "os_days", np.where(~np.isnan(pfs_d), "pfs_days", ""))
    return fu, src.astype(object)


def _sort_value(patients: pd.DataFrame, sort_by: str, fu: np.ndarray) -> np.ndarray:
    if sort_by == FOLLOW_UP:
        return fu
    if sort_by not in patients.columns:
        raise ColumnError(f"No column '{sort_by}' to sort the swimmer lanes by; choose one of "
                          f"{', '.join(sort_options(patients))}.")
    return _num(patients, sort_by).to_numpy()


# --------------------------------------------------------------------------------------------
# lanes
# --------------------------------------------------------------------------------------------

def select_lanes(patients: pd.DataFrame, sort_by: str = FOLLOW_UP, *,
                 max_lanes: int = DEFAULT_MAX_LANES, sample: Sample = "first",
                 seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """The patients that get a lane, in lane order.

    Parameters
    ----------
    patients : DataFrame
        The patients in view (``patient_id`` and any of ``os_days, pfs_days`` and the sort
        column).
    sort_by : str
        ``"follow_up"`` or a numeric patient column (:func:`sort_options`).
    max_lanes : int
        At most this many lanes (>= 1).
    sample : {"first", "random"}
        Beyond ``max_lanes`` patients: the first ``max_lanes`` in lane order, or a random
        sample of ``max_lanes`` patients (rows of ``patients`` drawn by
        ``numpy.random.default_rng(seed).choice``, without replacement), shown in lane order.
    seed : int

    Returns
    -------
    DataFrame
        ``patient_id`` (text), ``lane`` (0 = top), ``sort_value``, ``follow_up``,
        ``follow_up_source``, and ``row`` (the patient's position in ``patients``). Order:
        ``sort_value`` descending (missing last), then follow-up descending (missing last),
        then ``patient_id`` ascending.

    Raises
    ------
    ColumnError
        ``sort_by`` is not a column of ``patients``.
    """
    if sample not in SAMPLES:
        raise ValueError(f"sample must be one of {SAMPLES}; got {sample!r}")
    if int(max_lanes) < 1:
        raise ValueError(f"max_lanes must be at least 1; got {max_lanes!r}")
    if "patient_id" not in patients.columns:
        raise ColumnError("The patient table has no patient_id column.")
    fu, src = _follow_up(patients)
    key = _sort_value(patients, sort_by, fu)
    n = len(patients)
    k = min(int(max_lanes), n)
    if k < n and sample == "random":
        cand = np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))
    else:
        cand = _first_candidates(key, fu, k)
    order = pd.DataFrame({"sort_value": key[cand], "follow_up": fu[cand],
                          "patient_id": _ids(patients["patient_id"].iloc[cand]), "row": cand})
    order = order.sort_values(["sort_value", "follow_up", "patient_id"],
                              ascending=[False, False, True], na_position="last",
                              kind="stable").iloc[:k]
    rows = order["row"].to_numpy(np.int64)
    return pd.DataFrame({"patient_id": order["patient_id"].to_numpy(object),
                         "lane": np.arange(k, dtype=np.int64),
                         "sort_value": order["sort_value"].to_numpy(float),
                         "follow_up": order["follow_up"].to_numpy(float),
                         "follow_up_source": src[rows], "row": rows})


def _first_candidates(key: np.ndarray, fu: np.ndarray, k: int) -> np.ndarray:
    """Rows that can be among the first ``k`` by (key descending, follow-up descending, ID),
    missing values last: every row above the k-th key, and of the rows tied with it those up
    to the needed follow-up (two partial selections, O(n); only these are sorted in full)."""
    n = len(key)
    if k >= n:
        return np.arange(n)
    a = np.where(np.isnan(key), np.inf, -key)
    t = np.partition(a, k - 1)[k - 1]
    sure = np.flatnonzero(a < t)
    tied = np.flatnonzero(a == t)
    need = k - len(sure)
    if need < len(tied):
        b = np.where(np.isnan(fu[tied]), np.inf, -fu[tied])
        tied = tied[b <= np.partition(b, need - 1)[need - 1]]
    return np.sort(np.concatenate([sure, tied]))


# --------------------------------------------------------------------------------------------
# marks
# --------------------------------------------------------------------------------------------

def _symptom_periods(p: pd.DataFrame, lanes: pd.DataFrame, kind: str, prefix: str,
                     end_of_lane: np.ndarray) -> pd.DataFrame:
    onset = _num(p, f"{prefix}_onset_day").to_numpy()
    resolution = _num(p, f"{prefix}_resolution_day").to_numpy()
    grade = _num(p, f"{prefix}_grade").to_numpy()
    has = ~np.isnan(onset)
    resolved = ~np.isnan(resolution)
    end = np.where(resolved, resolution, np.fmax(end_of_lane, onset))
    return pd.DataFrame({"patient_id": lanes["patient_id"].to_numpy(object)[has],
                         "lane": lanes["lane"].to_numpy()[has], "kind": kind, "episode": 1,
                         "start": onset[has], "end": end[has], "grade": grade[has],
                         "resolved": resolved[has]})


def _episode_periods(episodes: pd.DataFrame, lanes: pd.DataFrame) -> pd.DataFrame:
    need = ("patient_id", "onset_day", "grade")
    missing = [c for c in need if c not in episodes.columns]
    if missing:
        raise ColumnError(f"The episodes table lacks column(s) {', '.join(missing)}.")
    pos = pd.Index(lanes["patient_id"]).get_indexer(pd.Index(_ids(episodes["patient_id"])))
    e = episodes.loc[pos >= 0]
    pos = pos[pos >= 0]
    rec = _num(e, "recovery_day").to_numpy()
    last = _num(e, "last_day").to_numpy()
    onset = _num(e, "onset_day").to_numpy()
    resolved = ~np.isnan(rec)
    end = np.where(resolved, rec, np.fmax(last, onset))
    epno = (_num(e, "episode").fillna(1).to_numpy().astype(np.int64) if "episode" in e
            else np.ones(len(e), np.int64))
    return pd.DataFrame({"patient_id": lanes["patient_id"].to_numpy(object)[pos],
                         "lane": lanes["lane"].to_numpy()[pos], "kind": "Hypofibrinogenemia",
                         "episode": epno, "start": onset, "end": end,
                         "grade": _num(e, "grade").to_numpy(), "resolved": resolved})


def _patient_hypofib(p: pd.DataFrame, lanes: pd.DataFrame) -> pd.DataFrame:
    """One period per patient from the patient table (no episodes table)."""
    onset = _num(p, "hypofibrinogenemia_onset_day").to_numpy()
    rec = _num(p, "fibrinogen_recovery_day").to_numpy()
    grade = _num(p, "hypofibrinogenemia_grade").to_numpy()
    recovered = _num(p, "fibrinogen_recovered").to_numpy()
    has = ~np.isnan(onset) & ~(grade == 0)
    return pd.DataFrame({"patient_id": lanes["patient_id"].to_numpy(object)[has],
                         "lane": lanes["lane"].to_numpy()[has], "kind": "Hypofibrinogenemia",
                         "episode": 1, "start": onset[has],
                         "end": np.fmax(rec, onset)[has], "grade": grade[has],
                         "resolved": (recovered == 1)[has]})


def _dose_events(treatments: pd.DataFrame, lanes: pd.DataFrame) -> pd.DataFrame:
    for c in ("patient_id", "day", "drug"):
        if c not in treatments.columns:
            raise ColumnError(f"The treatment table lacks the column {c}.")
    from core.ingest.parse import per_unique

    pos = pd.Index(lanes["patient_id"]).get_indexer(pd.Index(_ids(treatments["patient_id"])))
    t = treatments.loc[pos >= 0]
    pos = pos[pos >= 0]

    drug = per_unique(t["drug"].astype(object).to_numpy(object), schema.drug_named)
    kind = pd.Series(drug, dtype=object).map(DRUG_KINDS).to_numpy(object)
    day = _num(t, "day").to_numpy()
    ok = pd.notna(kind) & ~np.isnan(day)
    unit = (t["unit"].astype(object).where(t["unit"].notna(), "").astype(str).to_numpy(object)
            if "unit" in t.columns else np.full(len(t), "", dtype=object))
    return pd.DataFrame({"patient_id": lanes["patient_id"].to_numpy(object)[pos[ok]],
                         "lane": lanes["lane"].to_numpy()[pos[ok]], "kind": kind[ok],
                         "day": day[ok], "drug": drug[ok],
                         "dose": _num(t, "dose").to_numpy()[ok], "unit": unit[ok]})


def _outcome_events(p: pd.DataFrame, lanes: pd.DataFrame) -> pd.DataFrame:
    pfs_d, pfs_e = _num(p, "pfs_days").to_numpy(), _num(p, "pfs_event").to_numpy()
    os_d, os_e = _num(p, "os_days").to_numpy(), _num(p, "os_event").to_numpy()
    cause = _num(p, "pfs_cause").to_numpy()
    death_first = (os_e == 1) & np.isclose(os_d, pfs_d)
    progressed = np.where(np.isnan(cause), (pfs_e == 1) & ~death_first, cause == 1)
    progressed &= ~np.isnan(pfs_d)
    died = (os_e == 1) & ~np.isnan(os_d)
    ids, lane = lanes["patient_id"].to_numpy(object), lanes["lane"].to_numpy()
    parts = [pd.DataFrame({"patient_id": ids[m], "lane": lane[m], "kind": k, "day": d[m],
                           "drug": "", "dose": np.nan, "unit": ""})
             for k, m, d in (("Progression", progressed, pfs_d), ("Death", died, os_d))]
    return pd.concat(parts, ignore_index=True)


def _concat(parts: list[pd.DataFrame], columns: Sequence[str],
            floats: Sequence[str]) -> pd.DataFrame:
    parts = [x for x in parts if len(x)]
    if not parts:
        return _empty(columns, floats)
    return pd.concat(parts, ignore_index=True).loc[:, list(columns)]


# --------------------------------------------------------------------------------------------
# the swimmer
# --------------------------------------------------------------------------------------------

def swimmer(patients: pd.DataFrame, treatments: pd.DataFrame | None = None,
            episodes: pd.DataFrame | None = None, *, sort_by: str = FOLLOW_UP,
            max_lanes: int = DEFAULT_MAX_LANES, sample: Sample = "first",
            seed: int = DEFAULT_SEED) -> Swimmer:
    """Lanes, periods and events of a swimmer plot of ``patients``.

    Parameters
    ----------
    patients : DataFrame
        The patients in view (``patient_id``; any of the columns in the module docstring).
    treatments : DataFrame, optional
        Treatment rows (``patient_id, day, drug`` and optionally ``dose, unit``), any patients
        (rows of patients without a lane are ignored). None: no treatment table (said in
        :attr:`Swimmer.missing`).
    episodes : DataFrame, optional
        Hypofibrinogenemia episodes (``patient_id, episode, onset_day, grade, recovery_day,
        last_day``, :attr:`core.endpoints.Endpoints.episodes`). None: the patient table's
        onset, recovery and grade (one period per patient).
    sort_by, max_lanes, sample, seed
        See :func:`select_lanes`.

    Returns
    -------
    Swimmer
        ``lanes``, ``periods``, ``events`` (columns in :class:`Swimmer`), the counts, what is
        shown and what is missing.

    Raises
    ------
    ColumnError
        ``sort_by`` is not a column, or a given table lacks a required column.

    Notes
    -----
    Validated on hand-built patients whose marks are written out in
    ``tests/test_swimmer.py``; the rules are in the module docstring.
    """
    sel = select_lanes(patients, sort_by, max_lanes=max_lanes, sample=sample, seed=seed)
    p = patients.iloc[sel["row"].to_numpy(np.int64)].reset_index(drop=True)
    fu = sel["follow_up"].to_numpy(float)
    notes: list[Note] = []
    missing: list[str] = []
    # periods (CRS/ICANS need an end for unresolved ones: the lane end, known after events)
    parts_e: list[pd.DataFrame] = []
    if treatments is not None:
        parts_e.append(_dose_events(treatments, sel))
    else:
        missing.append("doses (no treatment table)")
    parts_e.append(_outcome_events(p, sel))
    events = _concat(parts_e, EVENT_COLUMNS, ("day", "dose"))
    if episodes is not None:
        hypo = _episode_periods(episodes, sel)
    elif "hypofibrinogenemia_onset_day" in p.columns:
        hypo = _patient_hypofib(p, sel)
        if len(hypo):
            notes.append(Note("info", "episodes_fallback", "Hypofibrinogenemia: one period per "
                              "patient, from hypofibrinogenemia_onset_day to "
                              "fibrinogen_recovery_day (no lab series to split it into "
                              "episodes)."))
    else:
        hypo = _empty(PERIOD_COLUMNS, ("start", "end", "grade"))
        missing.append("hypofibrinogenemia episodes (no fibrinogen series and no "
                       "hypofibrinogenemia_onset_day)")
    # lane end: follow-up, else the last day of any mark
    last_mark = np.full(len(sel), -np.inf)
    for frame, col in ((events, "day"), (hypo, "end"), (hypo, "start")):
        if len(frame):
            np.maximum.at(last_mark, frame["lane"].to_numpy(np.int64), frame[col].to_numpy(float))
    for prefix in ("crs", "icans"):
        for c in (f"{prefix}_onset_day", f"{prefix}_resolution_day"):
            v = _num(p, c).to_numpy()
            last_mark = np.fmax(last_mark, np.where(np.isnan(v), -np.inf, v))
    no_fu = np.isnan(fu) & np.isfinite(last_mark)
    end = np.where(no_fu, last_mark, fu)
    src = np.where(no_fu, "last event", sel["follow_up_source"].to_numpy(object))
    if np.isnan(fu).any():
        bare = int((np.isnan(fu) & ~no_fu).sum())
        notes.append(Note("info", "no_follow_up", f"{int(np.isnan(fu).sum())} lane(s) without "
                          "os_days or pfs_days: they end at their last mark"
                          + (f" ({bare} without any mark show only their ID)." if bare
                             else ".")))
    periods = _concat([_symptom_periods(p, sel, "CRS", "crs", end),
                       _symptom_periods(p, sel, "ICANS", "icans", end), hypo],
                      PERIOD_COLUMNS, ("start", "end", "grade"))
    periods["episode"] = periods["episode"].astype(np.int64)
    periods["resolved"] = periods["resolved"].astype(bool)
    for cols, name in _NEEDS.values():
        if cols[0] not in patients.columns:
            missing.append(name)
    os_e = _num(p, "os_event").to_numpy()
    status = np.where(os_e == 1, "died", np.where(os_e == 0, "alive at last contact",
                                                  "unknown"))
    lanes = pd.DataFrame({"patient_id": sel["patient_id"].to_numpy(object),
                          "lane": sel["lane"].to_numpy(np.int64),
                          "sort_value": sel["sort_value"].to_numpy(float), "follow_up": end,
                          "follow_up_source": src, "status": status,
                          "crs_grade": _num(p, "crs_grade").to_numpy(),
                          "icans_grade": _num(p, "icans_grade").to_numpy()})
    n_total, n_shown = len(patients), len(lanes)
    shown = _shown(n_total, n_shown, sort_by, sample, seed)
    if n_shown < n_total:
        notes.append(Note("info", "capped", shown + "."))
    if missing:
        notes.append(Note("info", "missing", "Not in the data, so not drawn: "
                          + "; ".join(missing) + "."))
    return Swimmer(lanes, _ordered(periods, ["lane", "kind", "episode", "start"],
                                   PERIOD_KINDS),
                   _ordered(events, ["lane", "day", "kind", "drug", "dose"], EVENT_KINDS),
                   n_total, n_shown, sort_by, sample, shown, tuple(missing), tuple(notes))


def _ordered(frame: pd.DataFrame, by: list[str], kinds: Sequence[str]) -> pd.DataFrame:
    """``frame`` sorted by ``by`` with ``kind`` in the order of ``kinds`` (rows in the same
    order whatever order the input tables came in)."""
    key = frame.assign(kind=pd.Categorical(frame["kind"], categories=list(kinds),
                                           ordered=True))
    order = key.sort_values(by, kind="stable", na_position="last").index
    return frame.loc[order].reset_index(drop=True)


def _shown(n_total: int, n_shown: int, sort_by: str, sample: str, seed: int) -> str:
    order = f"{sort_label(sort_by)}, highest first" if sort_by != FOLLOW_UP else \
        "follow-up, longest first"
    if n_shown >= n_total:
        return (f"All {n_total} patients, by {order}" if n_total != 1
                else f"1 patient, by {order}")
    if sample == "random":
        return (f"{n_shown} of {n_total} patients: a random sample (seed {seed}), by {order}")
    return f"{n_shown} of {n_total} patients: the first {n_shown} by {order}"


def _rows_of(store: CohortStore, table: str, ids: Sequence[str]) -> pd.DataFrame | None:
    """The rows of ``table`` (labs or treatments) of the patients ``ids``, as stored; None when
    the table is absent or empty. A semi-join on the IDs: one hash probe per stored row."""
    cols = store.columns(table)
    if "patient_id" not in cols or not len(store.query(f"SELECT 1 FROM {table} LIMIT 1")):
        return None
    sql = (f"SELECT t.* FROM {table} t SEMI JOIN (SELECT unnest(?::VARCHAR[]) AS id) i "
           "ON CAST(t.patient_id AS VARCHAR) = i.id")
    out = store.query(sql, [list(map(str, ids))])
    for c in out.columns:   # DuckDB ENUM/VARCHAR -> text; Categorical would carry every ID
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype(object)
    return out


def lane_treatments(store: CohortStore, ids: Sequence[str]) -> pd.DataFrame | None:
    """The treatment rows of the patients ``ids`` from a :class:`core.store.CohortStore`.

    Parameters
    ----------
    store : CohortStore
    ids : sequence of str
        Patient IDs (the shown lanes).

    Returns
    -------
    DataFrame or None
        The stored treatment rows (``patient_id, day, drug``, ``dose, unit`` when present) of
        ``ids`` only; None when the cohort has no treatment table (or an empty one) or it
        lacks ``day`` or ``drug``.
    """
    if not {"day", "drug"} <= set(store.columns("treatments")):
        return None
    return _rows_of(store, "treatments", ids)


def swimmer_of(patients: pd.DataFrame, store: CohortStore,
               settings: EndpointSettings | None = None, *, sort_by: str = FOLLOW_UP,
               max_lanes: int = DEFAULT_MAX_LANES, sample: Sample = "first",
               seed: int = DEFAULT_SEED) -> Swimmer:
    """The swimmer of ``patients`` with the shown lanes' doses and hypofibrinogenemia episodes
    read from ``store`` (what the page and a notebook call).

    Parameters
    ----------
    patients : DataFrame
        The patients in view (filtered patient table of ``store``).
    store : CohortStore
        The cohort's store: the lanes' treatment and lab rows are fetched by ID.
    settings : EndpointSettings, optional
        Endpoint settings for the episodes (default ``EndpointSettings()``).
    sort_by, max_lanes, sample, seed
        See :func:`select_lanes`.

    Returns
    -------
    Swimmer
        As :func:`swimmer`, with ``episodes`` = :func:`core.endpoints.derive` on the lanes'
        fibrinogen values and treatments (per-patient endpoints from the fibrinogen series and
        the substitutions: the same episodes as the derivation over the whole cohort), or the
        patient table's onset and recovery when there are no fibrinogen values.

    Notes
    -----
    Only the shown lanes' rows are read and derived (at most :data:`MAX_LANES` patients), so a
    registry-sized cohort costs one sort of the patient table and two ID lookups.
    """
    from core.endpoints import derive

    sel = select_lanes(patients, sort_by, max_lanes=max_lanes, sample=sample, seed=seed)
    ids = list(sel["patient_id"])
    tx = lane_treatments(store, ids)
    labs = _rows_of(store, "labs", ids) if {"day", "analyte", "value"} <= set(
        store.columns("labs")) else None
    episodes = None
    if labs is not None and len(labs):   # the episodes need the fibrinogen series only
        from core.ingest.parse import per_unique

        labs = labs[per_unique(labs["analyte"].astype(object).to_numpy(object),
                               schema.analyte_named) == "fibrinogen"]
    if labs is not None and len(labs):
        rows = patients.iloc[sel["row"].to_numpy(np.int64)]
        episodes = derive(labs, tx, settings, patients=rows.assign(
            patient_id=_ids(rows["patient_id"]))).episodes
    return swimmer(patients, tx, episodes, sort_by=sort_by, max_lanes=max_lanes, sample=sample,
                   seed=seed)
