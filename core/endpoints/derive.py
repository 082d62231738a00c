""":func:`derive`: the patient-level endpoints of a cohort, from its lab series and treatments.

A sequence of named steps: clean the input (:mod:`core.endpoints.clean`), lay the lab rows out
as arrays over the output's patients (:mod:`core.endpoints.analytes`), then compute the
fibrinogen, treatment, DIC and IEC-HS endpoints (one module each) and assemble them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from core.endpoints.analytes import LabSeries, per_patient, summarise_analytes, summary_frame
from core.endpoints.clean import Issues, clean_labs, clean_treatments, require_columns
from core.endpoints.dic import DIC_COLUMNS, dic_score_max, dic_scores
from core.endpoints.fibrinogen import fibrinogen_endpoints
from core.endpoints.iec_hs import iec_hs
from core.endpoints.settings import EndpointSettings
from core.endpoints.treatments import days_to_onset, treatment_endpoints
from core.ingest.parse import patient_ids

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
    "hypofibrinogenemia_onset_day", "fibrinogen_recovery_day", "fibrinogen_recovered",
    "days_toci_to_hypofibrinogenemia", "corticosteroids_first_day",
    "days_corticosteroids_to_hypofibrinogenemia", "fibrinogen_max", "d_dimer_max",
    "platelets_min", "inr_max", "ptt_max", "ggt_max", "alt_max", "ast_max", "che_min",
    "albumin_min", "ferritin_max", "crp_max", "il6_max", "dic_score_max", "iec_hs",
    "fibrinogen_substitution_g",
)
_INTEGER_COLUMNS = ("tocilizumab", "tocilizumab_doses", "corticosteroids",
                    "hypofibrinogenemia_grade", "fibrinogen_recovered", "dic_score_max", "iec_hs")


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
    """

    patients: pd.DataFrame
    dic: pd.DataFrame
    analytes: pd.DataFrame
    issues: pd.DataFrame
    messages: tuple[str, ...]
    settings: EndpointSettings


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
        hypofibrinogenemia_onset_day, fibrinogen_recovery_day, fibrinogen_recovered,
        tocilizumab, tocilizumab_doses, tocilizumab_cum_mg, tocilizumab_first_day,
        tocilizumab_last_day, tocilizumab_duration_days, days_toci_to_hypofibrinogenemia,
        corticosteroids, corticosteroids_first_day, days_corticosteroids_to_hypofibrinogenemia,
        the analyte min/max columns, dic_score_max, iec_hs, fibrinogen_substitution_g), ``dic``
        (patient_id, day, platelets_pts, d_dimer_pts, pt_pts, fibrinogen_pts, score,
        n_components), ``analytes``, ``issues`` (table, row, patient_id, analyte, day, value,
        problem) and ``messages``.

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
    cols = _endpoint_columns(series, summary, tx, index, s)
    dic = dic_scores(series.in_window(), s)
    cols["dic_score_max"] = dic_score_max(dic, len(index))
    return Endpoints(_patient_frame(cols, index), _dic_frame(dic, index),
                     summary_frame(summary, index.to_numpy(object)), iss.frame(),
                     tuple(iss.messages), s)


def _patient_ids(patients: pd.DataFrame | None) -> tuple[list[str], set[str] | None]:
    """The patient table's IDs in order (unique, blanks dropped) and as a set; none without a
    patient table."""
    if patients is None:
        return [], None
    require_columns(patients, "patient", ("patient_id",))
    ids = list(dict.fromkeys(x for x in patient_ids(patients["patient_id"]) if x is not None))
    return ids, set(ids)


def _clean_labs(labs: pd.DataFrame | None, known: set[str] | None,
                iss: Issues) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """:func:`core.endpoints.clean.clean_labs`, or no rows without a lab table."""
    if labs is not None and len(labs.columns):
        return clean_labs(labs, known, iss)
    empty = pd.DataFrame({"pid": pd.Series(dtype=np.int64), "analyte": pd.Series(dtype=np.int64),
                          "day": pd.Series(dtype=float), "value": pd.Series(dtype=float)})
    none = np.array([], dtype=object)
    return empty, none, none


def _lab_series(lab: pd.DataFrame, puniq: np.ndarray, index: pd.Index,
                s: EndpointSettings) -> LabSeries:
    """The cleaned lab rows as arrays over the output's patient positions, with the window."""
    pos = index.get_indexer(pd.Index(puniq)) if len(puniq) else np.array([], dtype=np.int64)
    P = pos[lab["pid"].to_numpy()] if len(lab) else np.array([], dtype=np.int64)
    D = lab["day"].to_numpy(float)
    inwin = D >= s.window_start
    if s.window_end is not None:
        inwin &= D <= s.window_end
    return LabSeries(P, lab["analyte"].to_numpy(np.int64), D, lab["value"].to_numpy(float),
                     inwin)


def _endpoint_columns(series: LabSeries, summary: pd.DataFrame, tx: pd.DataFrame | None,
                      index: pd.Index, s: EndpointSettings) -> dict[str, np.ndarray]:
    """Every endpoint column but the DIC score, as arrays over the patient positions."""
    n = len(index)
    cols = {col: per_patient(summary, a, how, n) for col, (a, how) in ANALYTE_ENDPOINTS.items()}
    fib = fibrinogen_endpoints(series, summary, n, s)
    cols.update(fib.columns)
    treatments = treatment_endpoints(tx, index)
    cols.update(treatments)
    cols.update(days_to_onset(fib.columns["hypofibrinogenemia_onset_day"], treatments))
    cols["iec_hs"] = iec_hs(series.in_window(), fib.low_patients, fib.low_days, summary, n, s)
    return cols


def _patient_frame(cols: dict[str, np.ndarray], index: pd.Index) -> pd.DataFrame:
    """``patient_id`` and :data:`ENDPOINT_COLUMNS` (counts and grades as ``Int64``)."""
    out = pd.DataFrame({"patient_id": index.to_numpy(object)})
    for c in ENDPOINT_COLUMNS:
        vals = np.asarray(cols[c], dtype=float)
        out[c] = pd.array(vals, dtype="Float64").astype("Int64") if c in _INTEGER_COLUMNS \
            else vals
    return out


def _dic_frame(dic: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    """The daily DIC scores with patient IDs, in :data:`DIC_COLUMNS` order."""
    dic = dic.copy()
    dic.insert(0, "patient_id", index.to_numpy(object)[dic.pop("pid").to_numpy()]
               if len(dic) else pd.Series(dtype=object))
    return dic.loc[:, list(DIC_COLUMNS)]
