"""Risk scores page: CAR-HEMATOTOX, EASIX and m-EASIX by CRS and ICANS grade (issue 14).

The scores are derived per patient from the baseline labs (:mod:`core.endpoints.scores`); this
module compares them across toxicity grades on the filtered cohort:

* :func:`score_panel`: one score by one grade as a Tukey boxplot panel with Kruskal-Wallis and
  Dunn-Holm (:func:`core.analyses.lab_values.group_panel`, box statistics in DuckDB).
* :func:`risk_groups`: CAR-HEMATOTOX low (0-1) / high (>= 2) by grade, with the contingency
  test (:func:`core.stats.contingency`: Fisher when an expected count is below 5, else
  chi-square).
* :func:`baseline_summary`: how many patients' scores used which baseline rule and which
  components were missing.

Results are raw numbers; rounding and wording belong to the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core import stats as gstats
from core.analyses.lab_values import GroupPanel, group_panel
from core.errors import ColumnError, InsufficientDataError
from core.filters import CohortFilter, quote_ident
from core.store import CohortStore

__all__ = ["GRADES", "LOG2_SCORES", "SCORES", "RiskGroups", "baseline_summary", "risk_groups",
           "score_panel"]

#: The scores shown, in page order.
SCORES: tuple[str, ...] = ("car_hematotox", "easix", "m_easix")
#: Scores drawn on a log2 axis (EASIX and m-EASIX are right-skewed ratios; the literature
#: reports log2(EASIX), Korell 2022, Pennisi 2021).
LOG2_SCORES: frozenset[str] = frozenset({"easix", "m_easix"})
#: The grades a score is compared across.
GRADES: tuple[str, ...] = ("crs_grade", "icans_grade")
#: CAR-HEMATOTOX risk group labels by ``car_hematotox_high``.
RISK_LABELS: dict[int, str] = {0: "low (0-1)", 1: "high (>= 2)"}


def _require(store: CohortStore, *columns: str) -> None:
    missing = [c for c in columns if c not in store.columns()]
    if missing:
        raise ColumnError(f"The patient table has no column {', '.join(missing)}: the risk "
                          "scores need ANC, haemoglobin, platelets, CRP, ferritin, LDH and "
                          "creatinine in the lab table (derived on loading).")


def score_panel(store: CohortStore, flt: CohortFilter | None, score: str, grade: str, *,
                pool: Mapping[Any, str] | None = None) -> GroupPanel:
    """One risk score by one toxicity grade: boxes, capped points and the group comparison.

    Parameters
    ----------
    store : CohortStore
        The session's store.
    flt : CohortFilter or None
        The cohort filter (None: every patient).
    score : str
        One of :data:`SCORES`.
    grade : str
        One of :data:`GRADES`.
    pool : mapping, optional
        Raw grade -> pooled label, e.g. :data:`core.analyses.common.POOL_CRS_34`.

    Returns
    -------
    GroupPanel
        As :func:`core.analyses.lab_values.group_panel`: ``box`` (group, n, q1, median, q3,
        whisker_low, whisker_high, n_outliers), ``points``, ``comparison`` (Kruskal-Wallis
        with Dunn-Holm, Mann-Whitney for two groups), ``n``, ``n_dropped``, ``notes``.

    Raises
    ------
    ValueError
        ``score`` or ``grade`` is not one of the above (a programming error).
    ColumnError
        The patient table lacks the column.
    InsufficientDataError
        No filtered patient has both a score and a grade.

    Notes
    -----
    Kruskal-Wallis / Dunn-Holm as validated in core.stats.compare_groups (R 4.2
    ``kruskal.test``, ``dunn.test``); scores from core.endpoints.scores (Rejeski 2021,
    Pennisi 2021, Korell 2022).
    """
    if score not in SCORES or grade not in GRADES:
        raise ValueError(f"score must be one of {SCORES} and grade one of {GRADES}; got "
                         f"{score!r}, {grade!r}")
    _require(store, score, grade)
    return group_panel(store, flt, score, grade, pool=pool)


@dataclass(frozen=True)
class RiskGroups:
    """CAR-HEMATOTOX risk group by a grade.

    Attributes
    ----------
    grade : str
        The grade column.
    table : DataFrame
        Columns ``grade, low, high, n, high_pct`` (one row per grade with a risk group;
        ``high_pct`` in percent of the row).
    test : ContingencyResult or None
        Association of risk group and grade (None when fewer than two grades or groups).
    n_missing : int
        Filtered patients without a score (a component missing) or without a grade.
    """

    grade: str
    table: pd.DataFrame
    test: gstats.ContingencyResult | None
    n_missing: int


def risk_groups(store: CohortStore, flt: CohortFilter | None, grade: str) -> RiskGroups:
    """CAR-HEMATOTOX low / high by ``grade`` on the filtered patients, with the test.

    Returns
    -------
    RiskGroups
        ``table`` (grade, low, high, n, high_pct), ``test`` (:func:`core.stats.contingency`,
        test "auto") and ``n_missing``.

    Raises
    ------
    ValueError
        ``grade`` is not one of :data:`GRADES`.
    ColumnError
        The patient table lacks ``car_hematotox_high`` or the grade.
    InsufficientDataError
        No filtered patient has both.

    Notes
    -----
    Test as validated in core.stats.contingency (R 4.2 ``chisq.test`` / ``fisher.test``).
    """
    if grade not in GRADES:
        raise ValueError(f"grade must be one of {GRADES}; got {grade!r}")
    _require(store, "car_hematotox_high", grade)
    where, params = store.where(flt)
    g = quote_ident(grade)
    counts = store.query(
        f"SELECT {g} AS grade, car_hematotox_high AS high, count(*) AS n FROM patients "
        f"WHERE {where} GROUP BY ALL", params)
    known = counts["grade"].notna() & counts["high"].notna()
    n_missing = int(counts.loc[~known, "n"].sum())
    counts = counts[known]
    if counts.empty:
        raise InsufficientDataError(f"No patient in view has both a CAR-HEMATOTOX score and "
                                    f"{grade}. Widen the filter or upload the baseline labs.")
    wide = counts.pivot_table(index="grade", columns="high", values="n", aggfunc="sum",
                              fill_value=0).reindex(columns=[0, 1], fill_value=0)
    wide.index = [gstats.python_value(i) for i in wide.index]
    table = pd.DataFrame({"grade": wide.index, "low": wide[0].to_numpy(int),
                          "high": wide[1].to_numpy(int)})
    table["n"] = table["low"] + table["high"]
    table["high_pct"] = 100.0 * table["high"] / table["n"]
    test = None
    if len(table) >= 2 and (table["low"].sum() > 0) and (table["high"].sum() > 0):
        counts_2 = np.c_[table["low"].to_numpy(), table["high"].to_numpy()].ravel()
        long = pd.DataFrame({
            "grade": np.repeat(np.repeat(table["grade"].to_numpy(object), 2), counts_2),
            "risk": np.repeat(np.tile(np.array([RISK_LABELS[0], RISK_LABELS[1]], object),
                                      len(table)), counts_2)})
        test = gstats.contingency(long, "grade", "risk")
    return RiskGroups(grade, table.sort_values("grade", ignore_index=True), test, n_missing)


def baseline_summary(store: CohortStore, flt: CohortFilter | None) -> pd.DataFrame:
    """How the filtered patients' baselines were found and what was missing.

    Returns
    -------
    DataFrame
        ``what, value, n``: one row per ``score_baseline_rule`` value ("before
        lymphodepletion", "on or before day 0 (ldh, creatinine)", ... ; "no baseline lab" for
        none) and per ``score_missing`` value ("none" when nothing was missing), most frequent
        first within each.

    Raises
    ------
    ColumnError
        The patient table lacks the two columns.
    """
    _require(store, "score_baseline_rule", "score_missing")
    where, params = store.where(flt)
    out = []
    for col, what, empty in (("score_baseline_rule", "baseline", "no baseline lab"),
                             ("score_missing", "missing", "none")):
        q = store.query(f"SELECT coalesce(CAST({col} AS VARCHAR), ?) AS value, count(*) AS n "
                        f"FROM patients WHERE {where} GROUP BY 1 ORDER BY n DESC, value",
                        [empty, *params])
        q.insert(0, "what", what)
        out.append(q)
    res = pd.concat(out, ignore_index=True)
    return res.astype({"n": int})
