"""Log-rank tests: K-sample (R ``survdiff``, on lifelines) and pairwise with Holm's
adjustment."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from lifelines.statistics import multivariate_logrank_test
from scipy import stats as _st

from core.notes import Note
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
    """K-sample log-rank test as R ``survdiff(rho = 0)``, computed by lifelines'
    ``multivariate_logrank_test``.

    R leaves out groups without expected events (nobody at risk at any event time) and has no
    test when the variance matrix is singular; lifelines counts every group in the df and
    uses a pseudo-inverse. So the groups are chosen here first, and the test is declined when
    the variance is singular: that happens exactly when the groups do not form one connected
    set, two groups being linked by an event time at which both have patients at risk and not
    everyone at risk has the event (the only event times with variance).

    Returns
    -------
    (statistic, df, pvalue, why)
        ``why`` says why the test was not computed: None (it was), "events" (fewer than two
        groups with expected events) or "variance" (the variance matrix is singular).
    """
    event_times = np.unique(t[e == 1])
    if len(event_times) == 0:
        return float("nan"), 0, float("nan"), "events"
    kept = [lv for lv in levels if t[g == lv].max(initial=-np.inf) >= event_times[0]]
    if len(kept) < 2:
        return float("nan"), 0, float("nan"), "events"
    if not _connected(t, e, g, kept, event_times):
        return float("nan"), 0, float("nan"), "variance"
    m = np.isin(g, kept)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        res = multivariate_logrank_test(t[m], g[m], e[m])
    stat, df = float(res.test_statistic), len(kept) - 1
    if not np.isfinite(stat):
        return float("nan"), 0, float("nan"), "variance"
    return stat, df, float(_st.chi2.sf(stat, df)), None


def _connected(t: np.ndarray, e: np.ndarray, g: np.ndarray, kept: Sequence[str],
               event_times: np.ndarray) -> bool:
    """Whether the log-rank variance matrix of the ``kept`` groups is non-singular (see
    :func:`logrank`): union the groups at risk at each event time with variance."""
    parent = {lv: lv for lv in kept}

    def root(x: str) -> str:
        while parent[x] != x:
            x = parent[x]
        return x

    # a group is at risk at s while s <= its longest time; counts from the sorted times
    # (the same sets as scanning every row at every event time, in O(n log n))
    known = ~np.isnan(t)
    last = {lv: t[known & (g == lv)].max(initial=-np.inf) for lv in kept}
    ts = np.sort(t[known])
    dead = np.sort(t[e == 1])
    for s in np.unique(event_times):
        n = len(ts) - int(np.searchsorted(ts, s, side="left"))
        d = int(np.searchsorted(dead, s, side="right") - np.searchsorted(dead, s, side="left"))
        if n <= 1 or d >= n:
            continue
        present = [lv for lv in kept if last[lv] >= s]
        for lv in present[1:]:
            parent[root(lv)] = root(present[0])
    return len({root(lv) for lv in kept}) == 1


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
