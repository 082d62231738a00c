"""Log-rank tests: K-sample (R ``survdiff``) and pairwise with Holm's adjustment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats as _st

from core.notes import Note
from core.stats._common import quadratic_form
from core.stats.multiplicity import holm

PAIRWISE_COLUMNS = ("group_a", "group_b", "statistic", "pvalue", "pvalue_holm")
LOGRANK_NO_EVENTS = "The log-rank test needs events in at least two groups; not computed."
LOGRANK_NO_INFORMATION = (
    "The log-rank test could not be computed: the timing of the events carries no information "
    "to compare the groups (for example, all events on the same day, or only one patient at "
    "risk at each event); not computed.")
LOGRANK_ONE_GROUP = "Only one group: no log-rank test."


@dataclass(frozen=True)
class LogRankResult:
    """Log-rank test (R ``survdiff``).

    Attributes
    ----------
    statistic : float
        Chi-square statistic; NaN when not computed.
    df : int
        Degrees of freedom (groups with expected events - 1; 0 when not computed).
    pvalue : float
        p-value; NaN when not computed.
    """

    statistic: float
    df: int
    pvalue: float


def logrank(t: np.ndarray, e: np.ndarray, g: np.ndarray, levels: Sequence[str]
            ) -> tuple[float, int, float, str | None]:
    """K-sample log-rank test as R ``survdiff(rho = 0)``.

    Returns
    -------
    (statistic, df, pvalue, why)
        ``why`` says why the test was not computed: None (it was), "events" (fewer than two
        groups with expected events) or "variance" (the variance matrix is singular).
    """
    event_times = np.unique(t[e == 1])
    if len(event_times) == 0:
        return float("nan"), 0, float("nan"), "events"
    n_rk = np.empty((len(levels), len(event_times)))
    d_rk = np.empty_like(n_rk)
    for i, lv in enumerate(levels):
        tg, eg = np.sort(t[g == lv]), e[g == lv]
        n_rk[i] = len(tg) - np.searchsorted(tg, event_times, side="left")
        d_rk[i] = [eg[t[g == lv] == s].sum() for s in event_times]
    n, d = n_rk.sum(0), d_rk.sum(0)
    expected = (n_rk * d / n).sum(1)
    observed = d_rk.sum(1)
    factor = np.where(n > 1, d * (n - d) / np.maximum(n - 1, 1) / n ** 2, 0.0)
    var = (np.diag((n_rk * n * factor).sum(1)) - (n_rk * factor) @ n_rk.T)
    keep = expected > 0
    if keep.sum() < 2:
        return float("nan"), 0, float("nan"), "events"
    diff = (observed - expected)[keep][1:]
    stat = quadratic_form(diff, var[np.ix_(keep, keep)][1:, 1:])
    if np.isnan(stat):
        return float("nan"), 0, float("nan"), "variance"
    df = int(keep.sum() - 1)
    return stat, df, float(_st.chi2.sf(stat, df)), None


def pairwise_logrank(t: np.ndarray, e: np.ndarray, g: np.ndarray, levels: Sequence[str]
                     ) -> pd.DataFrame:
    """One log-rank test per pair of ``levels`` with Holm-adjusted p-values (R: ``survdiff``
    on each pair's subset, ``p.adjust(p, "holm")``; a pair not computed stays NaN)."""
    rows = []
    for a, b in combinations(levels, 2):
        m = (g == a) | (g == b)
        s, _, pv, _ = logrank(t[m], e[m], g[m], [a, b])
        rows.append({"group_a": a, "group_b": b, "statistic": s, "pvalue": pv})
    pairwise = pd.DataFrame(rows, columns=list(PAIRWISE_COLUMNS[:-1]))
    pairwise["pvalue_holm"] = holm(pairwise["pvalue"].to_numpy())
    return pairwise


def group_tests(t: np.ndarray, e: np.ndarray, g: np.ndarray, levels: Sequence[str],
                grouped: bool) -> tuple[LogRankResult | None, pd.DataFrame, list[Note]]:
    """The log-rank test over all groups, pairwise tests (more than two groups) and "logrank"
    notes on what was not computed. ``grouped``: a grouping column was chosen."""
    pairwise = pd.DataFrame(columns=list(PAIRWISE_COLUMNS))
    if len(levels) < 2:
        notes = [Note("info", "logrank", LOGRANK_ONE_GROUP)] if grouped and levels else []
        return None, pairwise, notes
    stat, df, p, why = logrank(t, e, g, levels)
    notes = []
    if why == "events":
        notes.append(Note("warning", "logrank", LOGRANK_NO_EVENTS))
    elif why == "variance":
        notes.append(Note("warning", "logrank", LOGRANK_NO_INFORMATION))
    if len(levels) > 2:
        pairwise = pairwise_logrank(t, e, g, levels)
    return LogRankResult(stat, df, p), pairwise, notes
