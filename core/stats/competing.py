"""Competing risks: cumulative incidence (Aalen-Johansen) with cmprsk's variance, and Gray's
test between groups.

Validated against R 4.2 with cmprsk 2.2 (``cuminc``, ``timepoints``) in
``tests/test_stats_competing.py`` (fixtures and R code: ``tests/fixtures/stats_models/
make_competing_fixtures.R``, its output ``reference_competing.txt``).

Why by hand
-----------
* The estimate is the Aalen-Johansen estimate, CIF(t) = sum over event times s <= t of
  S(s-) d_k(s) / n(s), S the all-cause Kaplan-Meier curve. lifelines' AalenJohansenFitter gives
  the same numbers on untied data, but it breaks tied event times by adding random jitter
  (changing the data) and its variance is not cmprsk's; both matter in a cohort counted in
  days. The estimate and variance here follow cmprsk's Fortran routine ``cinc`` step by step
  (the variance changes only at times of the event of interest, as in cmprsk).
* Gray's test (Gray 1988, Ann Stat 16:1141) has no maintained Python implementation; it follows
  cmprsk's Fortran routine ``crst`` (score for the first g - 1 groups and its variance, the
  statistic s' V^-1 s on g - 1 df; weight (1 - F(t-))^rho, rho = 0 by default; one stratum).

Confidence intervals
--------------------
cmprsk reports the estimate and its variance, not an interval. ``ci_low``/``ci_high`` are the
95% limits on the log(-log) scale, as the KM curves here (and as tidycmprsk does):
``cif ** exp(-+ 1.96 * sqrt(var) / (cif * log(cif)))``. They are 0 while the incidence is 0
and missing if it reaches 1.

Coding
------
``event``: 0 = censored, 1, 2, ... = causes (whole numbers; true/false counts as 1/0).
``event_of_interest`` names the cause whose incidence is estimated; every other non-zero code is
a competing event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as _st

from core.errors import ColumnError, InsufficientDataError
from core.notes import Note, WithNotes
from core.stats._common import complete_cases, quadratic_form
from core.stats.survival import ALL, group_labels, survival_times

_Z = float(_st.norm.ppf(0.975))
CIF_COLUMNS = ("group", "time", "cif", "ci_low", "ci_high", "var", "at_risk", "events",
               "competing", "censored")
SUMMARY_COLUMNS = ("group", "n", "events", "competing", "censored")
GRAY_ONE_GROUP = "Only one group: no Gray test."
GRAY_NO_EVENTS = ("Gray's test needs events of interest; there are none among the patients "
                  "used, so it was not computed.")
GRAY_SINGULAR = ("Gray's test could not be computed: its variance matrix is singular (for "
                 "example, a group without any patient at risk at the events). Not computed.")


@dataclass(frozen=True)
class GrayResult:
    """Gray's test of equal cumulative incidence across groups (cmprsk ``cuminc()$Tests``).

    Attributes
    ----------
    statistic : float
        Chi-square statistic; NaN when not computed (a note says why).
    df : int
        Degrees of freedom: groups - 1.
    pvalue : float
        p-value; NaN when not computed.
    """

    statistic: float
    df: int
    pvalue: float


@dataclass(frozen=True)
class CumulativeIncidenceResult(WithNotes):
    """Result of :func:`cumulative_incidence`.

    Attributes
    ----------
    curves : DataFrame
        Columns group, time, cif, ci_low, ci_high, var, at_risk, events, competing, censored.
        Per group a start row (time 0, cif 0, at_risk = n) and one row per distinct time.
        ``var`` is cmprsk's variance; ``ci_*`` the log(-log) 95% limits (module docstring);
        ``events``/``competing``/``censored`` count what happened at that time.
    summary : DataFrame
        Columns group, n, events, competing, censored (totals per group).
    gray : GrayResult or None
        Gray's test over all groups; None for a single curve.
    n, n_dropped : int
        Patients used; rows left out for a missing value.
    events, competing : int
        Events of interest and competing events among them.
    event_of_interest : int
        The cause whose incidence is estimated.
    group : str or None
        The grouping column.
    notes : tuple of Note
        By kind: ``"no_events"`` (warning: no event of interest), ``"gray"`` (info/warning: no
        Gray test, and why), ``"small_sample"`` (info: a group of a single patient).
    """

    curves: pd.DataFrame
    summary: pd.DataFrame
    gray: GrayResult | None
    n: int
    n_dropped: int
    events: int
    competing: int
    event_of_interest: int
    group: str | None = None
    notes: tuple[Note, ...] = field(default=())


    @property
    def groups(self) -> list[str]:
        """Group labels in display order."""
        return list(dict.fromkeys(self.curves["group"]))

    def cif_at(self, times: Sequence[float]) -> pd.DataFrame:
        """Cumulative incidence at given times, as cmprsk ``timepoints(fit, times)``.

        Returns
        -------
        DataFrame
            Columns group, time, cif, var, ci_low, ci_high, at_risk. After a group's last
            follow-up time the estimate is missing (R: NA) and at_risk is 0.
        """
        rows = []
        for lv in self.groups:
            c = self.curves[self.curves["group"] == lv]
            ct = c["time"].to_numpy()
            for t in times:
                i = max(int(np.searchsorted(ct, t, side="right")) - 1, 0)
                later = int(np.searchsorted(ct, t, side="left"))
                beyond = t > ct[-1]
                row = c.iloc[i]
                rows.append({"group": lv, "time": float(t), **{
                    k: float("nan") if beyond else float(row[k])
                    for k in ("cif", "var", "ci_low", "ci_high")},
                    "at_risk": int(c["at_risk"].iloc[later]) if later < len(c) else 0})
        return pd.DataFrame(rows, columns=["group", "time", "cif", "var", "ci_low", "ci_high",
                                           "at_risk"])


# --------------------------------------------------------------------------- input

def cause_codes(series: pd.Series, name: str) -> np.ndarray:
    """The cause column as integers >= 0 (0 = censored), or a ColumnError saying how to code
    it."""
    if pd.api.types.is_bool_dtype(series):
        return series.astype(int).to_numpy()
    values = pd.to_numeric(series, errors="coerce")
    ok = values.notna() & (values >= 0) & (values == np.round(values))
    if not ok.all():
        found = ", ".join(sorted(map(str, series[~ok].astype(str).unique()))[:5])
        raise ColumnError(f"Event column '{name}' must hold 0 = censored and 1, 2, ... = "
                          f"causes (whole numbers); it holds {found}. Recode it.")
    return values.to_numpy(dtype=float).astype(int)


def _check_cause(event_of_interest: object) -> int:
    if isinstance(event_of_interest, bool) or not isinstance(event_of_interest,
                                                             (int, np.integer)):
        raise TypeError(f"event_of_interest must be a whole number >= 1, not "
                        f"{event_of_interest!r}.")
    if int(event_of_interest) < 1:
        raise ValueError(f"event_of_interest must be >= 1 (0 means censored), not "
                         f"{event_of_interest!r}.")
    return int(event_of_interest)


# --------------------------------------------------------------------------- estimate

def cif_table(t: np.ndarray, cause: np.ndarray, k: int) -> pd.DataFrame:
    """Aalen-Johansen cumulative incidence of cause ``k`` with cmprsk's variance (``cinc``),
    one row per distinct time."""
    times, inverse = np.unique(t, return_inverse=True)
    d1 = np.bincount(inverse, weights=(cause == k), minlength=len(times))
    d2 = np.bincount(inverse, weights=(cause != k) & (cause != 0), minlength=len(times))
    total = np.bincount(inverse, minlength=len(times)).astype(float)
    at_risk = len(t) - np.concatenate([[0], np.cumsum(total)[:-1]])
    cif, var = np.zeros(len(times)), np.zeros(len(times))
    f = v1 = v2 = v3 = vv = 0.0
    fk = 1.0
    for i, (rs, n1, n2) in enumerate(zip(at_risk, d1, d2, strict=True)):
        nd = n1 + n2
        if nd > 0:
            fkn = fk * (rs - nd) / rs
            if n1 > 0:
                f += fk * n1 / rs
            if n2 > 0 and fkn > 0:
                t6 = fk * fk * (1 - (n2 - 1) / (rs - 1) if n2 > 1 else 1.0) * n2 / rs ** 2
                t3, t4 = 1 / fkn, f / fkn
                v1, v2, v3 = v1 + t4 * t4 * t6, v2 + t3 * t4 * t6, v3 + t3 * t3 * t6
            if n1 > 0:
                t6 = fk * fk * (1 - (n1 - 1) / (rs - 1) if n1 > 1 else 1.0) * n1 / rs ** 2
                t3 = 1 / fkn if fkn > 0 else 0.0
                t4 = 1 + t3 * f
                v1, v2, v3 = v1 + t4 * t4 * t6, v2 + t3 * t4 * t6, v3 + t3 * t3 * t6
                vv = v1 + f * f * v3 - 2 * f * v2
            fk = fkn
        cif[i], var[i] = f, vv
    low, high = _loglog(cif, var)
    return pd.DataFrame({"time": times, "cif": cif, "ci_low": low, "ci_high": high, "var": var,
                         "at_risk": at_risk.astype(int), "events": d1.astype(int),
                         "competing": d2.astype(int), "censored": (total - d1 - d2).astype(int)})


def _loglog(cif: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log(-log) 95% limits: 0 while cif is 0, missing at cif 1."""
    with np.errstate(all="ignore"):
        inner = (cif > 0) & (cif < 1)
        x = np.where(inner, cif, 0.5)
        s = _Z * np.sqrt(np.maximum(var, 0)) / (x * np.log(x))
        low = np.where(inner, x ** np.exp(-s), np.nan)
        high = np.where(inner, x ** np.exp(s), np.nan)
    zero = cif == 0
    return np.where(zero, 0.0, low), np.where(zero, 0.0, high)


# --------------------------------------------------------------------------- Gray's test

def gray_test(t: np.ndarray, cause: np.ndarray, g: np.ndarray, k: int, rho: float = 0.0
              ) -> tuple[float, int]:
    """Gray's K-sample test for cause ``k`` (groups ``g`` coded 0..ng-1), after cmprsk's
    ``crst``: (statistic, df); statistic NaN when the variance matrix is singular."""
    ng = int(g.max()) + 1
    ng1 = ng - 1
    m = np.where(cause == k, 1, np.where(cause == 0, 0, 2))
    rs = np.bincount(g, minlength=ng).astype(float)
    s, v = np.zeros(ng1), np.zeros((ng1, ng1))
    f1m, skmm, v3 = np.zeros(ng), np.ones(ng), np.zeros(ng)
    v2, c = np.zeros((ng1, ng)), np.zeros((ng, ng))
    fm = 0.0
    times, inverse = np.unique(t, return_inverse=True)
    d = np.zeros((len(times), 3, ng))
    np.add.at(d, (inverse, m, g), 1.0)
    with np.errstate(all="ignore"):
        for dt in d:
            d1, d2 = dt[1], dt[2]
            nd1, nd2 = d1.sum(), d2.sum()
            live = rs > 0
            skm, f1, f = skmm.copy(), f1m.copy(), fm
            if nd1 + nd2 > 0:
                skm[live] = skmm[live] * (rs[live] - d1[live] - d2[live]) / rs[live]
                f1[live] = f1m[live] + skmm[live] * d1[live] / rs[live]
                tr = (rs[live] / skmm[live]).sum()
                tq = (rs[live] * (1 - f1m[live]) / skmm[live]).sum()
                f = fm + nd1 / tr
                fb = (1 - fm) ** rho
                h = np.where(live, rs / np.where(live, skmm, 1.0), 0.0)  # rs / S(t-) per group
                a = -fb * np.outer(h, h) / tr
                np.fill_diagonal(a, fb * h * (1 - h / tr))
                a[~live, :] = 0.0
                a[:, ~live] = 0.0
                c += a * nd1 / (tr * (1 - fm))
                s += np.where(live[:ng1], fb * (d1[:ng1] - nd1 * h[:ng1] * (1 - f1m[:ng1]) / tq),
                              0.0)
                if nd1 > 0:
                    for j in np.flatnonzero(live):
                        t4 = 1 - (1 - f) / skm[j] if skm[j] > 0 else 1.0
                        t5 = 1 - (nd1 - 1) / (tr * skmm[j] - 1) if nd1 > 1 else 1.0
                        t3 = t5 * skmm[j] * nd1 / (tr * rs[j])
                        v3[j] += t4 * t4 * t3
                        t1 = a[:ng1, j] - t4 * c[:ng1, j]
                        v2[:, j] += t1 * t4 * t3
                        v += np.outer(t1, t1) * t3
                if nd2 > 0:
                    for j in np.flatnonzero((skm > 0) & (d2 > 0)):
                        t4 = (1 - f) / skm[j]
                        t5 = 1 - (d2[j] - 1) / (rs[j] - 1) if d2[j] > 1 else 1.0
                        t3 = t5 * skmm[j] ** 2 * d2[j] / rs[j] ** 2
                        v3[j] += t4 * t4 * t3
                        t1 = t4 * c[:ng1, j]
                        v2[:, j] -= t1 * t4 * t3
                        v += np.outer(t1, t1) * t3
            rs = rs - dt.sum(axis=0)
            fm, f1m, skmm = f, f1, skm
        c1 = c[:ng1]
        v = v + (c1 * v3) @ c1.T + c1 @ v2.T + v2 @ c1.T
    return quadratic_form(s, v), ng1


# --------------------------------------------------------------------------- public

def cumulative_incidence(df: pd.DataFrame, time: str, event: str, group: str | None = None,
                         event_of_interest: int = 1, *, rho: float = 0.0
                         ) -> CumulativeIncidenceResult:
    """Cumulative incidence of one cause in the presence of competing events, per group, with
    Gray's test.

    Parameters
    ----------
    df : DataFrame
        Patient-level data.
    time : str
        Time to the first event of any cause or to censoring (>= 0).
    event : str
        0 = censored, 1, 2, ... = causes.
    group : str, optional
        Grouping column; None for one curve (labelled "All").
    event_of_interest : int
        The cause whose incidence is estimated (default 1); other causes compete.
    rho : float
        Power of the weight (1 - F(t-))^rho in Gray's test (cmprsk's ``rho``; 0 by default).

    Returns
    -------
    CumulativeIncidenceResult
        curves (group, time, cif, ci_low, ci_high, var, at_risk, events, competing, censored),
        summary, gray (statistic, df, pvalue) or None, notes, ``cif_at(times)``.

    Raises
    ------
    TypeError, ValueError
        ``event_of_interest`` is not a whole number >= 1.
    ColumnError
        Missing column, negative time, event codes that are not whole numbers >= 0.
    InsufficientDataError
        No patient with values in all the columns used.

    Notes
    -----
    Validated against R 4.2, cmprsk 2.2: ``cuminc(time, cause, group)`` (``$Tests``) and
    ``timepoints(fit, times)`` (est, var); CIs computed in R from those with the log(-log)
    formula. An event of interest absent from the data is not an error: the incidence is 0
    and a note says so.
    """
    k = _check_cause(event_of_interest)
    cols = [time, event, *([group] if group else [])]
    if len(set(cols)) < len(cols):
        raise ColumnError("Time, event and group must be different columns.")
    data, dropped = complete_cases(df, cols)
    if len(data) == 0:
        raise InsufficientDataError(f"No patient has values for all of {', '.join(cols)}.")
    t = survival_times(data[time], time)
    cause = cause_codes(data[event], event)
    if group:
        labels, levels = group_labels(data[group])
    else:
        labels, levels = np.full(len(t), ALL, dtype=object), [ALL]
    curves, summary, notes = [], [], []
    for lv in levels:
        m = labels == lv
        table = cif_table(t[m], cause[m], k)
        start = pd.DataFrame({"time": [0.0], "cif": [0.0], "ci_low": [0.0], "ci_high": [0.0],
                              "var": [0.0], "at_risk": [int(m.sum())], "events": [0],
                              "competing": [0], "censored": [0]})
        curves.append(pd.concat([start, table], ignore_index=True).assign(group=lv))
        summary.append({"group": lv, "n": int(m.sum()), "events": int((cause[m] == k).sum()),
                        "competing": int(((cause[m] != k) & (cause[m] != 0)).sum()),
                        "censored": int((cause[m] == 0).sum())})
        if m.sum() == 1 and group:
            notes.append(Note("info", "small_sample",
                              f"Group {lv} has a single patient; its curve is a single step."))
    events = int((cause == k).sum())
    gray, gray_notes = _gray(t, cause, labels, levels, k, rho, bool(group), events)
    notes += gray_notes
    if events == 0:
        notes.append(Note("warning", "no_events",
                          f"No event of cause {k} among the {len(t)} patients used: its "
                          "cumulative incidence stays at 0."))
    return CumulativeIncidenceResult(
        curves=pd.concat(curves, ignore_index=True)[list(CIF_COLUMNS)],
        summary=pd.DataFrame(summary, columns=list(SUMMARY_COLUMNS)), gray=gray, n=len(t),
        n_dropped=dropped, events=events, competing=int(((cause != k) & (cause != 0)).sum()),
        event_of_interest=k, group=group, notes=tuple(notes))


def _gray(t: np.ndarray, cause: np.ndarray, labels: np.ndarray, levels: list[str], k: int,
          rho: float, grouped: bool, events: int) -> tuple[GrayResult | None, list[Note]]:
    if len(levels) < 2:
        return None, ([Note("info", "gray", GRAY_ONE_GROUP)] if grouped else [])
    if events == 0:
        return GrayResult(float("nan"), len(levels) - 1, float("nan")), [
            Note("warning", "gray", GRAY_NO_EVENTS)]
    index = {lv: i for i, lv in enumerate(levels)}
    codes = np.array([index[v] for v in labels], dtype=int)
    stat, df = gray_test(t, cause, codes, k, rho)
    if np.isnan(stat):
        return GrayResult(float("nan"), df, float("nan")), [Note("warning", "gray",
                                                                 GRAY_SINGULAR)]
    return GrayResult(stat, df, float(_st.chi2.sf(stat, df))), []
