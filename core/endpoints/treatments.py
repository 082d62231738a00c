"""Treatment endpoints per patient: tocilizumab exposure, corticosteroids, fibrinogen
substitution, and the days from the first dose to hypofibrinogenemia onset."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.schema import CORTICOSTEROIDS

TREATMENT_COLUMNS = ("tocilizumab", "tocilizumab_doses", "tocilizumab_cum_mg",
                     "tocilizumab_first_day", "tocilizumab_last_day", "tocilizumab_duration_days",
                     "corticosteroids", "corticosteroids_first_day", "fibrinogen_substitution_g")


def treatment_endpoints(tx: pd.DataFrame | None, index: pd.Index) -> dict[str, np.ndarray]:
    """The :data:`TREATMENT_COLUMNS` of the patients of ``index``.

    Parameters
    ----------
    tx : cleaned treatments (``pid, drug, day, dose``, :func:`core.endpoints.clean.
        clean_treatments`), or None when there is no treatment table: every column is then
        empty (unknown), not 0.
    index : the patient IDs, in output order.

    Notes
    -----
    A cumulative dose is empty when one of the patient's doses is missing.
    """
    n = len(index)
    if tx is None:
        return {c: np.full(n, np.nan) for c in TREATMENT_COLUMNS}
    tpos = index.get_indexer(pd.Index(tx["pid"].to_numpy(object)))
    drug = tx["drug"].to_numpy(object)
    tday = tx["day"].to_numpy(float)
    dose = tx["dose"].to_numpy(float)
    return {**_tocilizumab(tpos, drug == "tocilizumab", tday, dose, n),
            **_corticosteroids(tpos, np.isin(drug, list(CORTICOSTEROIDS)), tday, n),
            "fibrinogen_substitution_g": _total(tpos, drug == "fibrinogen_concentrate", dose, n)}


def _total(tpos: np.ndarray, sel: np.ndarray, dose: np.ndarray, n: int) -> np.ndarray:
    """Sum of the selected doses per patient; NaN when one of them is missing."""
    total = np.bincount(tpos[sel], weights=np.nan_to_num(dose[sel]), minlength=n)
    missing = np.bincount(tpos[sel], weights=np.isnan(dose[sel]).astype(float), minlength=n)
    return np.where(missing > 0, np.nan, total)


def _tocilizumab(tpos: np.ndarray, t: np.ndarray, tday: np.ndarray, dose: np.ndarray,
                 n: int) -> dict[str, np.ndarray]:
    cnt = np.bincount(tpos[t], minlength=n).astype(float)
    first, last = np.full(n, np.inf), np.full(n, -np.inf)
    np.minimum.at(first, tpos[t], tday[t])
    np.maximum.at(last, tpos[t], tday[t])
    return {"tocilizumab": (cnt > 0).astype(float),
            "tocilizumab_doses": cnt,
            "tocilizumab_cum_mg": _total(tpos, t, dose, n),
            "tocilizumab_first_day": np.where(cnt > 0, first, np.nan),
            "tocilizumab_last_day": np.where(cnt > 0, last, np.nan),
            "tocilizumab_duration_days": np.where(cnt > 0, last - first, np.nan)}


def _corticosteroids(tpos: np.ndarray, st: np.ndarray, tday: np.ndarray,
                     n: int) -> dict[str, np.ndarray]:
    sfirst = np.full(n, np.inf)
    np.minimum.at(sfirst, tpos[st], tday[st])
    return {"corticosteroids": np.isfinite(sfirst).astype(float),
            "corticosteroids_first_day": np.where(np.isfinite(sfirst), sfirst, np.nan)}


def days_to_onset(onset: np.ndarray, treatments: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Hypofibrinogenemia onset day minus the first tocilizumab and corticosteroid days."""
    return {"days_toci_to_hypofibrinogenemia": onset - treatments["tocilizumab_first_day"],
            "days_corticosteroids_to_hypofibrinogenemia":
                onset - treatments["corticosteroids_first_day"]}
