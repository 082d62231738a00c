"""Endpoints page: the cohort-level summary of the derived endpoints (counts and times).

The page (``views/endpoints.py``) draws :class:`EndpointSummary` as metrics and a sentence;
the derivation itself is :mod:`core.endpoints`.

Incidences divide by the patients in whom fibrinogen was measured (``n_graded``: a
hypofibrinogenemia grade could be derived or was uploaded), not by everyone. The time to
recovery is a time-to-event: the primary median day of recovery is the Kaplan-Meier median
(:func:`core.stats.kaplan_meier`) of ``fibrinogen_recovery_day`` with ``fibrinogen_recovered``
as the event, the never-recovered censored at their last fibrinogen; the median over the
recovered only (as Perl et al. 2024 report "44 days (9-181)") is kept beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import CohortError
from core.stats import kaplan_meier


@dataclass(frozen=True)
class EndpointSummary:
    """Cohort-level summary of the derived endpoints (raw numbers; wording is the page's).

    Attributes
    ----------
    n : patients in the table.
    n_graded : patients with a hypofibrinogenemia grade.
    hypo, grade3 : patients with grade >= 1 and >= 3.
    onset_days : ``days_toci_to_hypofibrinogenemia`` of the hypofibrinogenemia patients
        (onset minus first tocilizumab day; patients without tocilizumab are not in it).
    recovery_days : ``fibrinogen_recovery_day`` of those who recovered.
    never_recovered : hypofibrinogenemia patients with ``fibrinogen_recovered == 0``.
    iec_hs, dic5 : patients with ``iec_hs == 1``, with ``dic_score_max >= 5``; None when the
        column is missing or empty.
    recovery_km_median, recovery_km_ci : Kaplan-Meier median day of recovery (the
        never-recovered censored) and its 95% CI (log-log, R's print.survfit); None when not
        reached or not estimable (NaN in the CI: bound not reached).
    recovery_km_n : patients in the Kaplan-Meier estimate (grade >= 1 with a recovery or
        censoring day >= 0).
    dic_lower_bound : patients whose maximum DIC score rests on fewer than 4 components
        (``dic_score_components < 4``; None without that column).
    """

    n: int
    n_graded: int
    hypo: int
    grade3: int
    onset_days: tuple[float, ...]
    recovery_days: tuple[float, ...]
    never_recovered: int
    iec_hs: int | None
    dic5: int | None
    recovery_km_median: float | None = None
    recovery_km_ci: tuple[float, float] = (float("nan"), float("nan"))
    recovery_km_n: int = 0
    dic_lower_bound: int | None = None

    @property
    def n_measured(self) -> int:
        """Patients in whom fibrinogen was measured (the denominator of the incidences)."""
        return self.n_graded


def summarise(patients: pd.DataFrame) -> EndpointSummary:
    """Counts and times of the endpoint columns of a (filtered) patient table.

    Parameters
    ----------
    patients : DataFrame
        Uses ``hypofibrinogenemia_grade``, ``days_toci_to_hypofibrinogenemia``,
        ``fibrinogen_recovery_day``, ``fibrinogen_recovered``, ``iec_hs``, ``dic_score_max``
        where present (missing columns count as empty).

    Returns
    -------
    EndpointSummary

    Raises
    ------
    TypeError
        ``patients`` is not a DataFrame.
    """
    if not isinstance(patients, pd.DataFrame):
        raise TypeError(f"patients must be a DataFrame; got {type(patients).__name__}")

    def col(name: str) -> pd.Series:
        if name in patients:
            return pd.to_numeric(patients[name], errors="coerce").astype(float)
        return pd.Series(np.nan, index=patients.index)

    grade = col("hypofibrinogenemia_grade")
    hypo = grade >= 1
    onset = col("days_toci_to_hypofibrinogenemia")[hypo].dropna()
    recovered = col("fibrinogen_recovered")
    rec = col("fibrinogen_recovery_day")[hypo & (recovered == 1)].dropna()
    iec = col("iec_hs")
    dic = col("dic_score_max")
    comp = col("dic_score_components")
    km = _recovery_km(col("fibrinogen_recovery_day")[hypo], recovered[hypo])
    return EndpointSummary(
        n=len(patients), n_graded=int(grade.notna().sum()), hypo=int(hypo.sum()),
        grade3=int((grade >= 3).sum()), onset_days=tuple(onset.tolist()),
        recovery_days=tuple(rec.tolist()), never_recovered=int((hypo & (recovered == 0)).sum()),
        iec_hs=int((iec == 1).sum()) if iec.notna().any() else None,
        dic5=int((dic >= 5).sum()) if dic.notna().any() else None,
        recovery_km_median=km[0], recovery_km_ci=km[1], recovery_km_n=km[2],
        dic_lower_bound=int(((comp < 4) & dic.notna()).sum()) if comp.notna().any() else None)


def _recovery_km(day: pd.Series, recovered: pd.Series
                 ) -> tuple[float | None, tuple[float, float], int]:
    """Kaplan-Meier median (and CI) of the recovery day, never-recovered censored."""
    df = pd.DataFrame({"t": day.to_numpy(float), "e": recovered.to_numpy(float)}).dropna()
    df = df[(df["t"] >= 0) & df["e"].isin([0.0, 1.0])]
    nan = (float("nan"), float("nan"))
    if df.empty:
        return None, nan, 0
    try:
        res = kaplan_meier(df, "t", "e")
    except (CohortError, ValueError):
        return None, nan, len(df)
    m = res.medians.iloc[0]
    med = float(m["median"])
    return (None if np.isnan(med) else med,
            (float(m["ci_low"]), float(m["ci_high"])), len(df))
