""":func:`derive`: the patient-level endpoints of a cohort, from its lab series and treatments.

A sequence of named steps: clean the input (:mod:`core.endpoints.clean`), lay the lab rows out
as arrays over the output's patients (:mod:`core.endpoints.analytes`), then compute the
fibrinogen, treatment, DIC and IEC-HS endpoints (one module each) and assemble them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from core.endpoints.analytes import (
    LabSeries,
    int64_array,
    per_patient,
    summarise_analytes,
    summary_frame,
)
from core.endpoints.clean import (
    Issues,
    LabRows,
    clean_labs,
    clean_treatments,
    patient_ids,
    require_columns,
)
from core.endpoints.dic import DIC_COLUMNS, dic_score_max, dic_scores
from core.endpoints.fibrinogen import EPISODE_COLUMNS, Fibrinogen, fibrinogen_endpoints
from core.endpoints.iec_hs import LAB, TIED, iec_hs
from core.endpoints.scores import (
    SCORE_COLUMNS,
    SCORE_INTEGER_COLUMNS,
    SCORE_TEXT_COLUMNS,
    score_columns,
)
from core.endpoints.settings import SUBSTITUTES, EndpointSettings
from core.endpoints.treatments import days_to_onset, steroid_table, treatment_endpoints
from core.ingest.parse import read_numbers

#: Per-patient min/max columns: column -> (analyte, "min" | "max").
ANALYTE_ENDPOINTS: dict[str, tuple[str, Literal["min", "max"]]] = {
    "fibrinogen_max": ("fibrinogen", "max"),
    "d_dimer_max": ("d_dimer", "max"),
    "platelets_min": ("platelets", "min"),
    "inr_max": ("inr", "max"),
    "ptt_max": ("ptt", "max"),
    "ggt_max": ("ggt", "max"),
    "alt_max": ("alt", "max"),
    "ast_max": ("ast", "max"),
    "che_min": ("che", "min"),
    "albumin_min": ("albumin", "min"),
    "ferritin_max": ("ferritin", "max"),
    "crp_max": ("crp", "max"),
    "il6_max": ("il6", "max"),
}

#: Every column :func:`derive` fills, in the order of core.schema.PATIENT_COLUMNS.
ENDPOINT_COLUMNS: tuple[str, ...] = (
    "tocilizumab", "tocilizumab_doses", "tocilizumab_cum_mg", "tocilizumab_first_day",
    "tocilizumab_last_day", "tocilizumab_duration_days", "corticosteroids",
    "fibrinogen_baseline", "fibrinogen_nadir", "fibrinogen_nadir_day", "hypofibrinogenemia_grade",
    "hypofibrinogenemia_onset_day", "fibrinogen_recovery_day", "hypofibrinogenemia_episodes",
    "fibrinogen_recovered",
    "days_toci_to_hypofibrinogenemia", "corticosteroids_first_day",
    "days_corticosteroids_to_hypofibrinogenemia", "fibrinogen_max", "d_dimer_max",
    "platelets_min", "inr_max", "ptt_max", "ggt_max", "alt_max", "ast_max", "che_min",
    "albumin_min", "ferritin_max", "crp_max", "il6_max", "dic_score_max", "dic_score_components",
    "iec_hs",
    "fibrinogen_substitution_g",
) + SCORE_COLUMNS
_INTEGER_COLUMNS = ("tocilizumab", "tocilizumab_doses", "corticosteroids",
                    "hypofibrinogenemia_grade", "fibrinogen_recovered", "dic_score_max", "iec_hs",
                    "hypofibrinogenemia_episodes", "dic_score_components") + SCORE_INTEGER_COLUMNS


@dataclass(frozen=True)
class Endpoints:
    """Result of :func:`derive`.

    Attributes
    ----------
    patients : DataFrame
        One row per patient: ``patient_id`` and :data:`ENDPOINT_COLUMNS`.
    dic : DataFrame
        Per patient and calendar day in the window: ``patient_id, day, platelets_pts,
        d_dimer_pts, pt_pts, fibrinogen_pts, score, n_components``.
    analytes : DataFrame
        Per patient and analyte: ``patient_id, analyte, n`` (values in window), ``baseline,
        baseline_day, min, min_day, max, max_day, last_day``.
    issues : DataFrame
        Input rows not used as given: ``table, row, patient_id, analyte, day, value, problem``
        (``analyte`` holds the drug for treatment rows; ``row`` is the input frame's index).
    messages : tuple of str
        Summary sentences for the user (one per kind of problem, plus notes).
    settings : EndpointSettings
        The settings used.
    episodes : DataFrame
        One row per hypofibrinogenemia episode: ``patient_id, episode, onset_day, nadir,
        nadir_day, grade, recovery_day`` (empty: not ended), ``recovered``, ``last_day``.
    steroids : DataFrame
        Every corticosteroid row with its dexamethasone equivalent and whether it counts
        (premedication before day 0 and doses below the threshold listed apart).
    iec_basis : str
        How the IEC-HS values were reached: "laboratory screen", "CRS timing", or both with
        counts ("CRS timing for 3 patients, laboratory screen for 38").
    """

    patients: pd.DataFrame
    dic: pd.DataFrame
    analytes: pd.DataFrame
    issues: pd.DataFrame
    messages: tuple[str, ...]
    settings: EndpointSettings
    episodes: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=list(EPISODE_COLUMNS)))
    steroids: pd.DataFrame = field(default_factory=pd.DataFrame)
    iec_basis: str = LAB


def derive(labs: pd.DataFrame | None, treatments: pd.DataFrame | None = None,
           settings: EndpointSettings | None = None,
           patients: pd.DataFrame | None = None) -> Endpoints:
    """Derive the patient-level endpoints from lab series and treatments.

    Parameters
    ----------
    labs : DataFrame or None
        Long lab table: ``patient_id, day, analyte, value`` and optionally ``unit``. Values may
        be text (``"<0.5"``, ``"2,5"``); analytes and units may use the aliases of
        :data:`core.schema.ANALYTES`.
    treatments : DataFrame or None
        ``patient_id, day, drug`` and optionally ``dose, unit``. None: treatment endpoints are
        left empty (unknown), not 0.
    settings : EndpointSettings, optional
        Thresholds; defaults (``EndpointSettings()``) documented there.
    patients : DataFrame or None
        Patient table; when given, its IDs define the output rows and lab/treatment rows of
        other patients are listed in ``issues`` and not used.

    Returns
    -------
    Endpoints
        ``patients`` (``patient_id`` + :data:`ENDPOINT_COLUMNS`: fibrinogen_baseline,
        fibrinogen_nadir, fibrinogen_nadir_day, hypofibrinogenemia_grade,
        hypofibrinogenemia_onset_day, fibrinogen_recovery_day, hypofibrinogenemia_episodes,
        fibrinogen_recovered,
        tocilizumab, tocilizumab_doses, tocilizumab_cum_mg, tocilizumab_first_day,
        tocilizumab_last_day, tocilizumab_duration_days, days_toci_to_hypofibrinogenemia,
        corticosteroids, corticosteroids_first_day, days_corticosteroids_to_hypofibrinogenemia,
        the analyte min/max columns, dic_score_max, dic_score_components, iec_hs,
        fibrinogen_substitution_g), ``dic``
        (patient_id, day, platelets_pts, d_dimer_pts, pt_pts, fibrinogen_pts, score,
        n_components, per draw time), ``analytes``, ``issues`` (table, row, patient_id,
        analyte, day, value, problem), ``messages``, ``episodes`` (one row per
        hypofibrinogenemia episode), ``steroids`` (every corticosteroid row, counted or set
        apart) and ``iec_basis`` ("laboratory screen" or "CRS timing": the patient table's
        ``crs_resolution_day`` ties the IEC-HS screen to CRS).

    Raises
    ------
    core.errors.ColumnError
        A required column is missing.
    TypeError
        A table is not a DataFrame, or ``settings`` not an EndpointSettings.

    Notes
    -----
    Grading follows CTCAE v5.0 "Fibrinogen decreased" (with its baseline-relative variant for
    an abnormal baseline), the DIC score Taylor et al. 2001 (ISTH), the IEC-HS screen Hines et
    al. 2023; the exact rules are in the docstrings of core.endpoints.fibrinogen, .dic and
    .iec_hs.
    """
    s = EndpointSettings() if settings is None else settings
    if not isinstance(s, EndpointSettings):
        raise TypeError(f"settings must be an EndpointSettings; got {type(s).__name__}")
    iss = Issues()
    ids, known = _patient_ids(patients)
    lab, puniq, everyone = _clean_labs(labs, known, iss)
    tx = clean_treatments(treatments, known, iss) if treatments is not None else None
    if patients is None:
        ids = sorted(set(everyone) | (set(tx["pid"]) if tx is not None else set()))
    index = pd.Index(ids, name="patient_id", dtype=object)
    series = _lab_series(lab, puniq, index, s)
    summary = summarise_analytes(series)
    crs_res = _crs_resolution(patients, index)
    cols, fib = _endpoint_columns(series, summary, tx, index, s, crs_res)
    dic = dic_scores(series.in_window(), s)
    cols["dic_score_max"], cols["dic_score_components"] = dic_score_max(dic, len(index))
    n_tied = int((~np.isnan(crs_res)).sum()) if crs_res is not None else 0
    basis = (LAB if not n_tied else TIED if n_tied == len(index)
             else f"{TIED} for {n_tied} patients, {LAB} for {len(index) - n_tied}")
    return Endpoints(_patient_frame(cols, index), _dic_frame(dic, index),
                     summary_frame(summary, index.to_numpy(object)), iss.frame(),
                     tuple(iss.messages), s, _episode_frame(fib, index),
                     steroid_table(tx, s), basis)


def _crs_resolution(patients: pd.DataFrame | None, index: pd.Index) -> np.ndarray | None:
    """The patient table's ``crs_resolution_day`` over the output's patients (None: no such
    column, or no value in it)."""
    if patients is None or "crs_resolution_day" not in patients:
        return None
    ids = patient_ids(patients["patient_id"])
    days = pd.Series(read_numbers(patients["crs_resolution_day"], None).values,
                     index=pd.Index(ids, dtype=object))
    days = days[~days.index.duplicated()]
    out = days.reindex(index).to_numpy(float)
    return out if (~np.isnan(out)).any() else None


def _episode_frame(fib: Fibrinogen, index: pd.Index) -> pd.DataFrame:
    """The episodes with patient IDs, in :data:`EPISODE_COLUMNS` order."""
    e = fib.episodes.copy()
    ids = index.to_numpy(object)
    e.insert(0, "patient_id", ids[e.pop("pid").to_numpy(np.int64)] if len(e)
             else pd.Series(dtype=object))
    return e.loc[:, list(EPISODE_COLUMNS)]


def _patient_ids(patients: pd.DataFrame | None) -> tuple[list[str], set[str] | None]:
    """The patient table's IDs in order (unique, blanks dropped) and as a set; none without a
    patient table."""
    if patients is None:
        return [], None
    require_columns(patients, "patient", ("patient_id",))
    cells = patient_ids(patients["patient_id"]).to_numpy(object)
    ids = list(pd.unique(cells[pd.notna(cells)]))   # first occurrence kept, in order
    return ids, set(ids)


def _clean_labs(labs: pd.DataFrame | None, known: set[str] | None,
                iss: Issues) -> tuple[LabRows, np.ndarray, np.ndarray]:
    """:func:`core.endpoints.clean.clean_labs`, or no rows without a lab table."""
    if labs is not None and len(labs.columns):
        return clean_labs(labs, known, iss)
    none = np.array([], dtype=object)
    return LabRows.empty(), none, none


def _lab_series(lab: LabRows, puniq: np.ndarray, index: pd.Index,
                s: EndpointSettings) -> LabSeries:
    """The cleaned lab rows as arrays over the output's patient positions, sorted by position,
    analyte and day (the DIC score's look-ups need that order), with the window."""
    # 32-bit positions and codes (half the memory traffic of every pass over the rows)
    pos = (index.get_indexer(pd.Index(puniq)).astype(np.int32) if len(puniq)
           else np.array([], dtype=np.int32))
    P = pos[lab.pid] if len(lab) else np.array([], dtype=np.int32)
    A = np.asarray(lab.analyte).astype(np.int32, copy=False)
    D, V = np.asarray(lab.day, dtype=float), np.asarray(lab.value, dtype=float)
    if len(pos) > 1 and (pos[1:] < pos[:-1]).any():
        # the patient table lists the patients in another order than the lab rows: put the
        # rows (sorted by patient in lab order, analyte, day) in the table's order
        o = np.argsort(P, kind="stable")
        P, A, D, V = P[o], A[o], D[o], V[o]
    inwin = D >= s.window_start
    if s.window_end is not None:
        inwin &= D <= s.window_end
    return LabSeries(P, A, D, V, inwin)


def _endpoint_columns(series: LabSeries, summary: dict[str, np.ndarray], tx: pd.DataFrame | None,
                      index: pd.Index, s: EndpointSettings, crs_resolution: np.ndarray | None,
                      ) -> tuple[dict[str, np.ndarray], Fibrinogen]:
    """Every endpoint column but the DIC score, as arrays over the patient positions, and the
    fibrinogen result (with the episodes)."""
    n = len(index)
    cols = {col: per_patient(summary, a, how, n) for col, (a, how) in ANALYTE_ENDPOINTS.items()}
    sub_p, sub_d = _substitutions(tx, index)
    fib = fibrinogen_endpoints(series, summary, n, s, sub_p, sub_d)
    cols.update(fib.columns)
    treatments = treatment_endpoints(tx, index, s)
    cols.update(treatments)
    cols.update(days_to_onset(fib.columns["hypofibrinogenemia_onset_day"], treatments))
    cols["iec_hs"] = iec_hs(series.in_window(), fib.low_patients, fib.low_days, summary, n, s,
                            crs_resolution)
    cols.update(score_columns(series, n, s))
    return cols, fib


def _substitutions(tx: pd.DataFrame | None, index: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """Patient positions and days of fibrinogen concentrate, cryoprecipitate and FFP."""
    if tx is None or not len(tx):
        return np.array([], np.int64), np.array([], float)
    sel = tx["drug"].isin(list(SUBSTITUTES)).to_numpy()
    pos = index.get_indexer(pd.Index(tx["pid"].to_numpy(object)[sel]))
    ok = pos >= 0
    return pos[ok].astype(np.int64), tx["day"].to_numpy(float)[sel][ok]


def _patient_frame(cols: dict[str, np.ndarray], index: pd.Index) -> pd.DataFrame:
    """``patient_id`` and :data:`ENDPOINT_COLUMNS` (counts and grades as ``Int64``)."""
    out: dict[str, object] = {"patient_id": index.to_numpy(object)}
    for c in ENDPOINT_COLUMNS:
        if c in SCORE_TEXT_COLUMNS:   # text: the scores' baseline rule and missing components
            out[c] = cols[c]
            continue
        vals = np.asarray(cols[c], dtype=float)
        out[c] = int64_array(vals) if c in _INTEGER_COLUMNS else vals
    return pd.DataFrame(out)


def _dic_frame(dic: dict[str, Any], index: pd.Index) -> pd.DataFrame:
    """The daily DIC scores (:func:`core.endpoints.dic.dic_scores`) with patient IDs, in
    :data:`DIC_COLUMNS` order (one frame built once from the arrays)."""
    pid = dic["pid"]
    ids = index.to_numpy(object)[pid] if len(pid) else np.array([], dtype=object)
    return pd.DataFrame({"patient_id": ids, **{c: dic[c] for c in DIC_COLUMNS[1:]}},
                        copy=False)   # fresh columns: not stacked into blocks
