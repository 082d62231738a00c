"""Endpoints page: the cohort-level summary of the derived endpoints (counts and times).

The page (``views/endpoints.py``) draws :class:`EndpointSummary` as metrics and a sentence;
the derivation itself is :mod:`core.endpoints`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


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
    return EndpointSummary(
        n=len(patients), n_graded=int(grade.notna().sum()), hypo=int(hypo.sum()),
        grade3=int((grade >= 3).sum()), onset_days=tuple(onset.tolist()),
        recovery_days=tuple(rec.tolist()), never_recovered=int((hypo & (recovered == 0)).sum()),
        iec_hs=int((iec == 1).sum()) if iec.notna().any() else None,
        dic5=int((dic >= 5).sum()) if dic.notna().any() else None)
