"""Treatment endpoints per patient: tocilizumab exposure, corticosteroids, fibrinogen
substitution, and the days from the first dose to hypofibrinogenemia onset.

Corticosteroids for CRS/ICANS: a calendar day on or after day 0 whose total corticosteroid dose
in dexamethasone equivalents (:data:`core.endpoints.settings.DEX_EQUIVALENT`: dexamethasone
0.75 mg = methylprednisolone 4 mg = prednisolone 5 mg = hydrocortisone 20 mg) is at least
``steroid_dex_mg`` (default 10 mg). A dose given without a number counts (the table says a
steroid was given; it is listed). Doses before day 0 are premedication: listed apart
(:func:`steroid_table`), never counted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.endpoints.settings import DEX_EQUIVALENT, EndpointSettings
from core.schema import CORTICOSTEROIDS

STEROID_COLUMNS = ("patient_id", "day", "drug", "dose_mg", "dex_equivalent_mg",
                   "day_dex_equivalent_mg", "counted", "why")

TREATMENT_COLUMNS = ("tocilizumab", "tocilizumab_doses", "tocilizumab_cum_mg",
                     "tocilizumab_first_day", "tocilizumab_last_day", "tocilizumab_duration_days",
                     "corticosteroids", "corticosteroids_first_day", "fibrinogen_substitution_g")


def treatment_endpoints(tx: pd.DataFrame | None, index: pd.Index,
                        s: EndpointSettings | None = None) -> dict[str, np.ndarray]:
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
    s = EndpointSettings() if s is None else s
    tpos = index.get_indexer(pd.Index(tx["pid"].to_numpy(object)))
    drug = tx["drug"].to_numpy(object)
    tday = tx["day"].to_numpy(float)
    dose = tx["dose"].to_numpy(float)
    return {**_tocilizumab(tpos, drug == "tocilizumab", tday, dose, n),
            **_corticosteroids(tpos, _counted_steroids(tx, s.steroid_dex_mg), tday, n),
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


def _steroid_days(tx: pd.DataFrame) -> pd.DataFrame:
    """The corticosteroid rows with their dexamethasone equivalent and the day's total."""
    st = tx[tx["drug"].isin(list(CORTICOSTEROIDS))].copy()
    st["dex_eq"] = st["dose"].to_numpy(float) * st["drug"].map(DEX_EQUIVALENT).to_numpy(float)
    st["cal_day"] = np.floor(st["day"].to_numpy(float))
    st["missing"] = st["dex_eq"].isna()
    grp = st.groupby(["pid", "cal_day"], sort=False)
    st["no_dose"] = grp["missing"].transform("max").astype(bool)
    total = grp["dex_eq"].transform("sum")
    st["day_total"] = total.where(~grp["missing"].transform("min").astype(bool))
    return st


def _counted_steroids(tx: pd.DataFrame, threshold: float) -> np.ndarray:
    """Mask over ``tx``: corticosteroid rows that count (day >= 0, day's dose >= threshold or a
    dose missing)."""
    st = _steroid_days(tx)
    ok = _counts(st, threshold)
    out = np.zeros(len(tx), bool)
    out[tx.index.get_indexer(st.index[ok])] = True
    return out


def _counts(st: pd.DataFrame, threshold: float) -> np.ndarray:
    """Per row of :func:`_steroid_days`: it counts (day >= 0, the day's dose >= threshold or
    a dose missing)."""
    return (st["day"].to_numpy(float) >= 0) & (
        (st["day_total"].to_numpy(float) >= threshold - 1e-9) | st["no_dose"].to_numpy(bool))


def steroid_table(tx: pd.DataFrame | None, s: EndpointSettings) -> pd.DataFrame:
    """Every corticosteroid row: ``patient_id, day, drug, dose_mg, dex_equivalent_mg,
    day_dex_equivalent_mg, counted`` (True/False) and ``why`` ("for CRS/ICANS",
    "premedication (before day 0)", "below the threshold")."""
    if tx is None or not len(tx):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in STEROID_COLUMNS})
    st = _steroid_days(tx)
    counted = _counts(st, s.steroid_dex_mg)
    pre = st["day"].to_numpy(float) < 0
    why = np.where(pre, "premedication (before day 0): not counted",
                   np.where(counted, np.where(st["no_dose"].to_numpy(bool),
                                              "for CRS/ICANS (dose missing: counted)",
                                              "for CRS/ICANS"),
                            f"below {s.steroid_dex_mg:g} mg dexamethasone-equivalent a day: "
                            "not counted"))
    return pd.DataFrame({"patient_id": st["pid"].to_numpy(object),
                         "day": st["day"].to_numpy(float), "drug": st["drug"].to_numpy(object),
                         "dose_mg": st["dose"].to_numpy(float),
                         "dex_equivalent_mg": st["dex_eq"].to_numpy(float),
                         "day_dex_equivalent_mg": st["day_total"].to_numpy(float),
                         "counted": counted, "why": why}).reset_index(drop=True)


def days_to_onset(onset: np.ndarray, treatments: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Hypofibrinogenemia onset day minus the first tocilizumab and corticosteroid days."""
    return {"days_toci_to_hypofibrinogenemia": onset - treatments["tocilizumab_first_day"],
            "days_corticosteroids_to_hypofibrinogenemia":
                onset - treatments["corticosteroids_first_day"]}
