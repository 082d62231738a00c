"""Kaplan-Meier curves, log-rank tests and Cox proportional-hazards models.

Everything here is computed directly with numpy (no lifelines), so every number can be checked
against R's survival package line by line: ``survfit(conf.type = "log-log")``, ``print.survfit``
medians, ``survdiff``, ``coxph`` (Efron ties) and ``cox.zph`` (survival 3.x score test).

Conventions
-----------
* ``time`` is numeric and >= 0 (days from infusion, or from the landmark); ``event`` is 0/1 or
  boolean, 1 = event (progression, death), 0 = censored. R's 1/2 status coding is refused with a
  message rather than guessed.
* Group labels are text: the group column's values in sorted order, integral floats shown
  without ".0".
* Landmark analysis (``landmark=L``): only patients still under observation at L (time >= L)
  are kept, and time is measured from L (time - L). Patients with time < L are counted in a
  message, not in ``n_dropped`` (which counts missing values only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats as _st

from core.errors import ColumnError, InsufficientDataError
from core.stats._common import SolverBudget, complete_cases, numeric
from core.stats.regression import check_full_rank, design_matrix

_Z = float(_st.norm.ppf(0.975))
_TOL = float(np.sqrt(np.finfo(float).eps))
ALL = "All"
#: Cox Newton-Raphson attempts (tol: relative change of the log-likelihood; xtol: size of the
#: Newton step on standardised covariates): a tight criterion first, then R coxph's 1e-9.
COX_ATTEMPTS: tuple[SolverBudget, ...] = (
    SolverBudget(max_iter=1000, tol=1e-14, xtol=1e-10, max_halfstep=60),
    SolverBudget(max_iter=1000, tol=1e-9, xtol=1e-8, max_halfstep=60),
)
_INFINITE_Z = 10.0  # |coefficient per SD| beyond which a hazard ratio counts as infinite
COX_NO_INFORMATION = (
    "The Cox model cannot be estimated: whenever an event happened, the patients still at risk "
    "had the same value of {who}, so the data hold no information on its hazard ratio (for "
    "example, only one patient was at risk at each event). Widen the filter or remove the "
    "covariate.")
COX_NOT_CONVERGED = (
    "The Cox model did not converge, even with more iterations and a looser tolerance: its "
    "estimates are unreliable. Use fewer covariates or widen the filter.")
PH_ONE_EVENT_TIME = (
    "The proportional-hazards test (cox.zph) needs events at two or more different times; "
    "here all {events} event(s) happened at time {time:g}. Not computed.")
PH_NOT_FINITE = (
    "The proportional-hazards test (cox.zph) needs finite hazard ratios; not computed, because "
    "the model did not converge to finite estimates.")
PH_SINGULAR = (
    "The proportional-hazards test (cox.zph) could not be computed for {which}: with {n} "
    "patients and {events} events the data cannot show whether the hazard ratio changes over "
    "time. Left blank; the hazard ratios are unaffected.")
LOGRANK_NO_INFORMATION = (
    "The log-rank test could not be computed: the timing of the events carries no information "
    "to compare the groups (for example, all events on the same day, or only one patient at "
    "risk at each event); not computed.")


# --------------------------------------------------------------------------- input checks

def _event(series: pd.Series, name: str) -> np.ndarray:
    """The event indicator as a 0/1 float array, or a ColumnError saying how to recode it."""
    if pd.api.types.is_bool_dtype(series):
        return series.astype(float).to_numpy()
    values = pd.to_numeric(series, errors="coerce")
    bad = sorted(set(values.dropna().unique()) - {0.0, 1.0})
    if values.isna().any() or bad:
        found = ", ".join(map(str, sorted(series.astype(str).unique())[:5]))
        hint = (" (R's 1/2 coding? then 2 = event: subtract 1)"
                if set(values.dropna().unique()) == {1.0, 2.0} else "")
        raise ColumnError(f"Event column '{name}' must be 0/1 (1 = event, 0 = censored) or "
                          f"true/false; it holds {found}{hint}. Recode it.")
    return values.to_numpy(dtype=float)


def _time(series: pd.Series, name: str) -> np.ndarray:
    t = numeric(series, name).to_numpy()
    if (t < 0).any():
        raise ColumnError(f"Time column '{name}' has {int((t < 0).sum())} negative value(s) "
                          f"(smallest {t.min():g}). Survival times count from day 0: fix them "
                          "or filter those patients out.")
    if not np.isfinite(t).all():
        raise ColumnError(f"Time column '{name}' holds infinite values; fix them.")
    return t


def _labels(series: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Text labels per row and the sorted list of distinct labels."""
    values = series
    if pd.api.types.is_float_dtype(values) and (values == np.round(values)).all():
        values = values.astype(np.int64)
    order = sorted(values.unique(), key=lambda v: (str(type(v)), v))
    labels = values.astype(str).to_numpy()
    return labels, [str(v) for v in order]


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values, as R ``p.adjust(p, "holm")``."""
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p)
    adj = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    out = np.empty(m)
    out[order] = adj
    return out


# --------------------------------------------------------------------------- Kaplan-Meier

def _km(t: np.ndarray, e: np.ndarray) -> pd.DataFrame:
    """Kaplan-Meier table at each distinct time, with R's log(-log) 95% CI."""
    times, inverse = np.unique(t, return_inverse=True)
    events = np.bincount(inverse, weights=e, minlength=len(times))
    total = np.bincount(inverse, minlength=len(times)).astype(float)
    at_risk = len(t) - np.searchsorted(np.sort(t), times, side="left")
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1.0 - events / at_risk)
        greenwood = np.where(at_risk - events > 0, events / (at_risk * (at_risk - events)),
                             np.inf)
        se = np.sqrt(np.cumsum(np.where(events > 0, greenwood, 0.0)))
        xx = np.where((surv > 0) & (surv < 1), surv, np.nan)
        loglog = np.log(-np.log(xx))
        half = _Z * se / np.log(xx)
        low = np.exp(-np.exp(loglog - half))
        high = np.exp(-np.exp(loglog + half))
    low = np.where(surv == 1, 1.0, low)
    high = np.where(surv == 1, 1.0, high)
    return pd.DataFrame({"time": times, "survival": surv, "ci_low": low, "ci_high": high,
                         "at_risk": at_risk.astype(int), "events": events.astype(int),
                         "censored": (total - events).astype(int)})


def _first_below_half(y: np.ndarray, x: np.ndarray) -> float:
    """R survival:::survmean's ``minmin``: first x where y < 0.5, midpoint on a flat 0.5."""
    keep = ~np.isnan(y) & (y < 0.5 + _TOL)
    if not keep.any():
        return float("nan")
    x, y = x[keep], y[keep]
    if abs(y[0] - 0.5) < _TOL and (y < y[0]).any():
        return float((x[0] + x[np.argmax(y < y[0])]) / 2)
    return float(x[0])


def _logrank(t: np.ndarray, e: np.ndarray, g: np.ndarray, levels: Sequence[str]
             ) -> tuple[float, int, float, str | None]:
    """K-sample log-rank test as R ``survdiff(rho = 0)``: statistic, df, p, and why it was not
    computed (None, "events": fewer than two groups with expected events, "variance": the
    variance matrix is singular)."""
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
    stat = _quadratic_form(diff, var[np.ix_(keep, keep)][1:, 1:])
    if np.isnan(stat):
        return float("nan"), 0, float("nan"), "variance"
    df = int(keep.sum() - 1)
    return stat, df, float(_st.chi2.sf(stat, df)), None


def _quadratic_form(u: np.ndarray, A: np.ndarray) -> float:
    """u' A^-1 u, or NaN when A is singular (numerically rank-deficient) or not finite."""
    if not (np.isfinite(A).all() and np.isfinite(u).all()):
        return float("nan")
    if A.size == 0 or np.linalg.matrix_rank(A) < A.shape[0]:
        return float("nan")
    try:
        value = float(u @ np.linalg.solve(A, u))
    except np.linalg.LinAlgError:
        return float("nan")
    return max(value, 0.0) if np.isfinite(value) and value >= -_TOL else float("nan")


@dataclass(frozen=True)
class LogRankResult:
    """Log-rank test (R ``survdiff``): chi-square statistic, degrees of freedom, p-value."""

    statistic: float
    df: int
    pvalue: float


@dataclass(frozen=True)
class KaplanMeierResult:
    """Result of :func:`kaplan_meier`.

    Attributes
    ----------
    curves : DataFrame with columns group, time, survival, ci_low, ci_high, at_risk, events,
        censored. Per group a start row (time 0, survival 1, at_risk = n) and one row per
        distinct time (event or censoring). ci_low/ci_high are the log(-log) 95% limits; they
        are 1 while survival is 1 and missing once survival is 0 (R gives NA for both).
    medians : DataFrame with columns group, n, events, median, ci_low, ci_high (missing when
        not reached).
    logrank : log-rank test over all groups, or None for a single group. Its statistic and
        p are missing (with a message) when fewer than two groups have events or the event
        times carry no information to compare the groups.
    pairwise : DataFrame with columns group_a, group_b, statistic, pvalue, pvalue_holm (one
        log-rank per pair; empty unless there are more than two groups).
    n, n_dropped, events : patients used, rows left out for a missing value, events.
    group : the grouping column (None: one curve labelled "All").
    landmark : the landmark time, or None.
    messages : warnings for the user.
    """

    curves: pd.DataFrame
    medians: pd.DataFrame
    logrank: LogRankResult | None
    pairwise: pd.DataFrame
    n: int
    n_dropped: int
    events: int
    group: str | None = None
    landmark: float | None = None
    messages: tuple[str, ...] = field(default=())

    @property
    def groups(self) -> list[str]:
        """Group labels in display order."""
        return list(dict.fromkeys(self.curves["group"]))

    def survival_at(self, times: Sequence[float]) -> pd.DataFrame:
        """Survival and numbers at risk at given times, as R ``summary(fit, times = ...)``.

        Returns
        -------
        DataFrame
            Columns group, time, survival, ci_low, ci_high, at_risk: one row per group and
            time. ``at_risk`` counts patients with time >= t. After a group's last follow-up
            time the curve is undefined: survival and CI are missing and at_risk is 0.
        """
        rows = []
        for lv in self.groups:
            c = self.curves[self.curves["group"] == lv]
            ct = c["time"].to_numpy()
            for t in times:
                i = np.searchsorted(ct, t, side="right") - 1  # last row with time <= t
                later = np.searchsorted(ct, t, side="left")   # first row with time >= t
                at_risk = int(c["at_risk"].iloc[later]) if later < len(c) else 0
                beyond = t > ct[-1]
                row = c.iloc[max(i, 0)]
                rows.append({"group": lv, "time": float(t),
                             "survival": np.nan if beyond else float(row["survival"]),
                             "ci_low": np.nan if beyond else float(row["ci_low"]),
                             "ci_high": np.nan if beyond else float(row["ci_high"]),
                             "at_risk": at_risk})
        return pd.DataFrame(rows, columns=["group", "time", "survival", "ci_low", "ci_high",
                                           "at_risk"])


def _survival_data(df: pd.DataFrame, time: str, event: str, extra: Sequence[str]
                   ) -> tuple[pd.DataFrame, int, np.ndarray, np.ndarray]:
    cols = [time, event, *extra]
    if len(set(cols)) < len(cols):
        raise ColumnError("Time, event and the other columns must be different columns.")
    data, dropped = complete_cases(df, cols)
    if len(data) == 0:
        raise InsufficientDataError(f"No patient has values for all of {', '.join(cols)}.")
    return data, dropped, _time(data[time], time), _event(data[event], event)


def kaplan_meier(df: pd.DataFrame, time: str, event: str, group: str | None = None, *,
                 landmark: float | None = None) -> KaplanMeierResult:
    """Kaplan-Meier estimate per group with log(-log) CIs, medians and log-rank tests.

    Parameters
    ----------
    df : patient-level data.
    time : follow-up time (>= 0), e.g. ``pfs_days``.
    event : 0/1 or boolean, 1 = event.
    group : optional grouping column (any type); None for one curve.
    landmark : optional landmark time: keep patients with time >= landmark and measure time
        from the landmark.

    Returns
    -------
    KaplanMeierResult
        curves (group, time, survival, ci_low, ci_high, at_risk, events, censored), medians
        (group, n, events, median, ci_low, ci_high), logrank (statistic, df, pvalue) or None,
        pairwise (group_a, group_b, statistic, pvalue, pvalue_holm), and ``survival_at``.

    Raises
    ------
    ColumnError
        Missing column, negative time, event not 0/1.
    InsufficientDataError
        No usable patient (or none left after the landmark).

    Notes
    -----
    Validated against R 4.2, survival 3.x: ``survfit(Surv(time, status) ~ g, conf.type =
    "log-log")`` with ``summary(fit, times = ...)``; medians and their CIs as ``print.survfit``
    (``summary(fit)$table``); ``survdiff`` for the log-rank test (pairwise: ``survdiff`` on each
    pair, ``p.adjust(method = "holm")``).
    """
    data, dropped, t, e = _survival_data(df, time, event, [group] if group else [])
    messages: list[str] = []
    if landmark is not None:
        keep = t >= landmark
        if not keep.any():
            raise InsufficientDataError(f"No patient is still under observation at the "
                                        f"landmark ({landmark:g}). Choose an earlier landmark.")
        messages.append(f"Landmark analysis at {landmark:g}: {int((~keep).sum())} patient(s) "
                        f"with an event or censoring before it are left out; time is counted "
                        "from the landmark.")
        data, t, e = data[keep], t[keep] - landmark, e[keep]
    if group:
        g, levels = _labels(data[group])
    else:
        g, levels = np.full(len(t), ALL, dtype=object), [ALL]

    curves, medians = [], []
    for lv in levels:
        tg, eg = t[g == lv], e[g == lv]
        km = _km(tg, eg)
        medians.append({"group": lv, "n": len(tg), "events": int(eg.sum()),
                        "median": _first_below_half(km["survival"].to_numpy(), km["time"].to_numpy()),
                        "ci_low": _first_below_half(km["ci_low"].to_numpy(), km["time"].to_numpy()),
                        "ci_high": _first_below_half(km["ci_high"].to_numpy(), km["time"].to_numpy())})
        start = pd.DataFrame({"time": [0.0], "survival": [1.0], "ci_low": [1.0],
                              "ci_high": [1.0], "at_risk": [len(tg)], "events": [0],
                              "censored": [0]})
        curves.append(pd.concat([start, km], ignore_index=True).assign(group=lv))
        messages.extend(_group_messages(lv, len(tg), int(eg.sum()), medians[-1]["median"],
                                        group is not None))
    curve_df = pd.concat(curves, ignore_index=True)[
        ["group", "time", "survival", "ci_low", "ci_high", "at_risk", "events", "censored"]]
    logrank, pairwise = _group_tests(t, e, g, levels, messages)
    if e.sum() == 0:
        messages.append("There are no events (all patients censored): survival stays at 1, "
                        "medians are not reached and no test can be done.")
    return KaplanMeierResult(
        curves=curve_df, medians=pd.DataFrame(medians), logrank=logrank, pairwise=pairwise,
        n=len(t), n_dropped=dropped, events=int(e.sum()), group=group, landmark=landmark,
        messages=tuple(messages))


def _group_messages(lv: str, n: int, events: int, median: float, grouped: bool) -> list[str]:
    name = f"group {lv}" if grouped else "the cohort"
    out = []
    if n == 1:
        out.append(f"{name[0].upper()}{name[1:]} has a single patient; its curve is a single "
                   "step.")
    if np.isnan(median):
        out.append(f"Median not reached in {name} (survival stays above 50%).")
    return out


def _group_tests(t, e, g, levels, messages) -> tuple[LogRankResult | None, pd.DataFrame]:
    pairwise = pd.DataFrame(columns=["group_a", "group_b", "statistic", "pvalue",
                                     "pvalue_holm"])
    if len(levels) < 2:
        if len(levels) == 1 and g[0] != ALL:
            messages.append("Only one group: no log-rank test.")
        return None, pairwise
    stat, df, p, why = _logrank(t, e, g, levels)
    if why == "events":
        messages.append("The log-rank test needs events in at least two groups; not computed.")
    elif why == "variance":
        messages.append(LOGRANK_NO_INFORMATION)
    logrank = LogRankResult(stat, df, p)
    if len(levels) > 2:
        rows = []
        for a, b in combinations(levels, 2):
            m = (g == a) | (g == b)
            s, _, pv, _ = _logrank(t[m], e[m], g[m], [a, b])
            rows.append({"group_a": a, "group_b": b, "statistic": s, "pvalue": pv})
        pairwise = pd.DataFrame(rows)
        ok = pairwise["pvalue"].notna().to_numpy()
        holm = np.full(len(pairwise), np.nan)
        holm[ok] = _holm(pairwise["pvalue"].to_numpy()[ok])
        pairwise["pvalue_holm"] = holm
    return logrank, pairwise


# --------------------------------------------------------------------------- Cox model

@dataclass(frozen=True)
class _EfronFit:
    loglik: float
    score: np.ndarray
    info: np.ndarray


def _efron(X: np.ndarray, t: np.ndarray, e: np.ndarray, beta: np.ndarray,
           g: np.ndarray | None = None):
    """Efron partial log-likelihood, score and information at ``beta``.

    With ``g`` (one value per row, the transformed time of cox.zph), also return the score and
    information blocks of the extra time-varying covariates X * g(t) at gamma = 0, as the C
    routine ``zph1`` of survival 3.x: (u_gamma, I_beta_gamma, I_gamma_gamma).
    """
    p = X.shape[1]
    eta = X @ beta
    shift = eta.max()
    r = np.exp(eta - shift)                          # scaled for stability
    order = np.argsort(-t, kind="stable")            # longest time first: cumsum = risk set
    ts, rs, Xs, es = t[order], r[order], X[order], e[order]
    s0 = np.cumsum(rs)
    s1 = np.cumsum(rs[:, None] * Xs, axis=0)
    s2 = np.cumsum(rs[:, None, None] * Xs[:, :, None] * Xs[:, None, :], axis=0)
    loglik, score, info = 0.0, np.zeros(p), np.zeros((p, p))
    ug, ibg, igg = np.zeros(p), np.zeros((p, p)), np.zeros((p, p))
    for s in np.unique(t[e == 1]):
        last = np.searchsorted(-ts, -s, side="right") - 1   # last row with time >= s
        dead = (ts == s) & (es == 1)
        d = int(dead.sum())
        d0, d1 = rs[dead].sum(), (rs[dead, None] * Xs[dead]).sum(0)
        d2 = (rs[dead, None, None] * Xs[dead, :, None] * Xs[dead, None, :]).sum(0)
        xsum = Xs[dead].sum(0)
        loglik += eta[order][dead].sum()
        mean_sum, var_sum = np.zeros(p), np.zeros((p, p))
        for k in range(d):
            frac = k / d
            den = s0[last] - frac * d0
            mean = (s1[last] - frac * d1) / den
            var = (s2[last] - frac * d2) / den - np.outer(mean, mean)
            loglik -= np.log(den) + shift
            mean_sum += mean
            var_sum += var
        score += xsum - mean_sum
        info += var_sum
        if g is not None:
            gs = g[order][dead][0]
            ug += gs * (xsum - mean_sum)
            ibg += gs * var_sum
            igg += gs * gs * var_sum
    fit = _EfronFit(float(loglik), score, info)
    return (fit, ug, ibg, igg) if g is not None else fit


def _newton(X: np.ndarray, t: np.ndarray, e: np.ndarray, beta: np.ndarray,
            budget: SolverBudget) -> tuple[np.ndarray, _EfronFit, bool]:
    """Newton-Raphson with step halving from ``beta`` (R ``coxph`` starts at 0).

    Converged when the relative change of the log-likelihood is at most ``budget.tol`` or the
    full Newton step is below ``budget.xtol`` (X standardised, so the step is unit-free).
    """
    fit = _efron(X, t, e, beta)
    for _ in range(budget.max_iter):
        step = _newton_step(fit)
        if step is None:
            return beta, fit, False
        size = float(np.max(np.abs(step)))
        new, new_fit = _halve(X, t, e, beta, fit, step, budget.max_halfstep)
        if new_fit is None:  # no step improves the log-likelihood: optimal if the step is tiny
            return beta, fit, size < budget.xtol
        change = abs(new_fit.loglik - fit.loglik)
        beta, fit = new, new_fit
        if size < budget.xtol or change <= budget.tol * max(abs(fit.loglik), 1.0):
            return beta, fit, True
    return beta, fit, False


def _newton_step(fit: _EfronFit) -> np.ndarray | None:
    """The Newton step I^-1 U, or None when the information is singular or not finite."""
    if not (np.isfinite(fit.info).all() and np.isfinite(fit.score).all()):
        return None
    try:
        step = np.linalg.solve(fit.info, fit.score)
    except np.linalg.LinAlgError:
        return None
    return step if np.isfinite(step).all() else None


def _halve(X: np.ndarray, t: np.ndarray, e: np.ndarray, beta: np.ndarray, fit: _EfronFit,
           step: np.ndarray, max_halfstep: int) -> tuple[np.ndarray, _EfronFit | None]:
    """beta + step, halved until the log-likelihood does not fall; (beta, None) if it always
    falls."""
    floor = fit.loglik - 1e-12 * abs(fit.loglik)
    for _ in range(max_halfstep + 1):
        new = beta + step
        new_fit = _efron(X, t, e, new)
        if new_fit.loglik >= floor:
            return new, new_fit
        step = step / 2
    return beta, None


def _fit_cox(X: np.ndarray, t: np.ndarray, e: np.ndarray
             ) -> tuple[np.ndarray, _EfronFit, bool]:
    """Cox fit under COX_ATTEMPTS; each retry continues from where the last one stopped."""
    beta = np.zeros(X.shape[1])
    converged = False
    with np.errstate(all="ignore"):
        for budget in COX_ATTEMPTS:
            beta, fit, converged = _newton(X, t, e, beta, budget)
            if converged:
                break
    return beta, fit, converged


def _km_transform(t: np.ndarray, e: np.ndarray) -> np.ndarray:
    """cox.zph's "km" transform: 1 - S(t-) from the pooled Kaplan-Meier curve."""
    km = _km(t, e)
    idx = np.searchsorted(km["time"].to_numpy(), t, side="left")  # times strictly before t
    return 1.0 - np.r_[1.0, km["survival"].to_numpy()][idx]


def _zph(X, t, e, beta, variables: Sequence[str]) -> pd.DataFrame:
    """Proportional-hazards score test of survival 3.x ``cox.zph(fit)`` (transform "km").

    A row whose information matrix is singular (too few events at different times, no
    variation among those at risk) has a missing chisq and p; it never raises.
    """
    ttimes = _km_transform(t, e)
    gtime = ttimes - ttimes[e == 1].mean()
    with np.errstate(all="ignore"):
        _, ug, ibg, igg = _efron(X, t, e, beta, g=gtime)
        fit = _efron(X, t, e, beta)
    p = X.shape[1]
    imat = np.block([[fit.info, ibg], [ibg.T, igg]])
    u = np.r_[np.zeros(p), ug]
    rows = []
    for term in dict.fromkeys(variables):
        jj = [j for j, v in enumerate(variables) if v == term]
        kk = list(range(p)) + [p + j for j in jj]
        rows.append(_zph_row(term, _quadratic_form(u[kk], imat[np.ix_(kk, kk)]), len(jj)))
    rows.append(_zph_row("GLOBAL", _quadratic_form(u, imat), p))
    return pd.DataFrame(rows)


def _zph_row(term: str, stat: float, df: int) -> dict[str, object]:
    return {"term": term, "chisq": stat, "df": df,
            "pvalue": float("nan") if np.isnan(stat) else float(_st.chi2.sf(stat, df))}


def _zph_blank(variables: Sequence[str]) -> pd.DataFrame:
    """The PH table with every statistic missing (test not computed)."""
    terms = list(dict.fromkeys(variables))
    rows = [_zph_row(v, float("nan"), sum(x == v for x in variables)) for v in terms]
    return pd.DataFrame([*rows, _zph_row("GLOBAL", float("nan"), len(variables))])


def _ph_test(Z: np.ndarray, t: np.ndarray, e: np.ndarray, beta: np.ndarray,
             variables: Sequence[str], finite: bool) -> tuple[pd.DataFrame, list[str]]:
    """cox.zph table and the messages that explain any blank in it."""
    event_times = np.unique(t[e == 1])
    if len(event_times) < 2:
        return _zph_blank(variables), [PH_ONE_EVENT_TIME.format(
            events=int(e.sum()), time=float(event_times[0]))]
    if not finite:
        return _zph_blank(variables), [PH_NOT_FINITE]
    ph = _zph(Z, t, e, beta, variables)
    blank = ph.loc[ph["chisq"].isna(), "term"].tolist()
    if not blank:
        return ph, []
    names = ", ".join("the model as a whole" if b == "GLOBAL" else f"'{b}'" for b in blank)
    return ph, [PH_SINGULAR.format(which=names, n=len(t), events=int(e.sum()))]


def _concordance(t: np.ndarray, e: np.ndarray, eta: np.ndarray) -> float:
    """Harrell's C as R ``coxph``'s concordance: comparable pairs have the shorter time an
    event (a censoring at the same time counts as longer); tied risk scores count 1/2; pairs
    tied on an event time are not comparable."""
    conc = disc = tied = 0.0
    for i in np.flatnonzero(e == 1):
        later = (t > t[i]) | ((t == t[i]) & (e == 0))
        conc += np.count_nonzero(eta[later] < eta[i])
        disc += np.count_nonzero(eta[later] > eta[i])
        tied += np.count_nonzero(eta[later] == eta[i])
    total = conc + disc + tied
    return float((conc + tied / 2) / total) if total else float("nan")


@dataclass(frozen=True)
class CoxResult:
    """Result of :func:`cox`.

    Attributes
    ----------
    table : DataFrame with columns term, variable, level, coef, hazard_ratio, ci_low, ci_high,
        se, pvalue (Wald), one row per model term (term names as in :func:`core.stats.logistic`).
    ph_test : DataFrame with columns term, chisq, df, pvalue: the proportional-hazards test per
        covariate (a categorical covariate is one row with df = levels - 1) and a GLOBAL row.
        chisq and pvalue are missing where the test cannot be computed (events at a single
        time, infinite hazard ratios, too few events); ``messages`` then says why.
    n, events, n_dropped : patients used, events among them, rows left out for a missing value.
    concordance : Harrell's C of the linear predictor.
    loglik : maximised partial log-likelihood (Efron).
    messages : warnings for the user.
    """

    table: pd.DataFrame
    ph_test: pd.DataFrame
    n: int
    events: int
    n_dropped: int
    concordance: float
    loglik: float
    messages: tuple[str, ...]


def cox(df: pd.DataFrame, time: str, event: str, covariates: Sequence[str],
        reference: dict[str, str] | None = None) -> CoxResult:
    """Cox proportional-hazards regression with Efron ties and the cox.zph PH test.

    Parameters
    ----------
    df : patient-level data.
    time, event : follow-up time (>= 0) and 0/1 event indicator.
    covariates : columns entered together; categorical ones are treatment-coded against the
        first sorted level or ``reference[column]``.
    reference : reference level per categorical covariate.

    Returns
    -------
    CoxResult
        table (term, variable, level, coef, hazard_ratio, ci_low, ci_high, se, pvalue), ph_test
        (term, chisq, df, pvalue; last row GLOBAL), n, events, n_dropped, concordance, loglik,
        messages.

    Raises
    ------
    ColumnError
        Missing column, negative time, event not 0/1, unknown reference, infinite covariate
        values.
    InsufficientDataError
        No events, constant or collinear covariates, fewer patients than coefficients, or a
        covariate that never varies among the patients at risk at an event time... with a
        message saying what to change. Numerical dead ends (infinite hazard ratios, a PH test
        that cannot be computed) are not errors: they leave blanks and messages.

    Notes
    -----
    Validated against R 4.2, survival 3.x: ``coxph(Surv(time, status) ~ ...)`` (Efron; coef,
    se, ``confint``, Wald p, ``$concordance``) and ``cox.zph(fit)`` (default transform "km",
    the score test of survival 3.x, implemented here after its R source and C routine zph1).
    Newton-Raphson runs on standardised covariates under COX_ATTEMPTS (explicit iteration
    limits; a failed attempt continues with R's convergence criterion).
    """
    if isinstance(covariates, str):
        covariates = [covariates]
    if not covariates:
        raise ColumnError("Choose at least one covariate.")
    data, dropped, t, e = _survival_data(df, time, event, list(covariates))
    n, events = len(t), int(e.sum())
    if events == 0:
        raise InsufficientDataError(f"No events among the {n} usable patients: a Cox model "
                                    "needs at least one event. Widen the filter.")
    design = design_matrix(data, list(covariates), reference, check_rank=False)
    X = design.X
    k = X.shape[1]
    if n <= k:
        raise InsufficientDataError(f"The model has {k} coefficients but only {n} usable "
                                    "patients. Use fewer covariates.")
    check_full_rank(X, design.terms)
    messages: list[str] = []
    if events / k < 10:
        messages.append(f"Only {events / k:.1f} events per coefficient (fewer than 10): "
                        "estimates may be unstable; use fewer covariates.")
    Z, sd = _standardised(X)
    _check_information(Z, t, e, design.variables)
    beta_z, fit, converged = _fit_cox(Z, t, e)
    infinite = [term for term, b in zip(design.terms, beta_z) if abs(b) > _INFINITE_Z]
    messages.extend(_convergence_messages(converged, infinite))
    ph, ph_msgs = _ph_test(Z, t, e, beta_z, design.variables, converged and not infinite)
    messages.extend(ph_msgs)
    table = _cox_table(design, beta_z / sd, _standard_errors(fit.info) / sd)
    return CoxResult(table=table, ph_test=ph, n=n, events=events, n_dropped=dropped,
                     concordance=_concordance(t, e, _linear_predictor(Z, beta_z)),
                     loglik=fit.loglik,
                     messages=tuple(messages))


def _linear_predictor(Z: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Z @ beta with identical rows given identical values: some BLAS kernels (OpenBLAS
    Prescott/Katmai) round rows differently, which would break ties in the concordance."""
    rows, inverse = np.unique(Z, axis=0, return_inverse=True)
    return (rows @ beta)[np.ravel(inverse)]


def _standardised(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centred covariates divided by their SD (the Cox fit is equivariant under this), and the
    SDs; coefficients on this scale are per SD, so convergence criteria are unit-free."""
    sd = X.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return (X - X.mean(axis=0)) / sd, sd


def _check_information(Z: np.ndarray, t: np.ndarray, e: np.ndarray,
                       variables: Sequence[str]) -> None:
    """Raise InsufficientDataError when the partial likelihood is flat in some direction.

    The information at any beta has the null space it has at 0: a covariate (or combination)
    that is constant among the patients at risk at every event time has no estimable effect.
    """
    with np.errstate(all="ignore"):
        info = _efron(Z, t, e, np.zeros(Z.shape[1])).info
    if np.isfinite(info).all() and np.linalg.matrix_rank(info) == info.shape[0]:
        return
    diag = np.diag(info) if np.isfinite(info).all() else np.zeros(len(info))
    flat = [v for v, d in zip(variables, diag) if not d > _TOL * max(diag.max(), 1.0)]
    who = ", ".join(dict.fromkeys(flat or variables))
    raise InsufficientDataError(COX_NO_INFORMATION.format(who=who))


def _convergence_messages(converged: bool, infinite: Sequence[str]) -> list[str]:
    if infinite:
        return [f"The Cox model did not converge to finite estimates for {', '.join(infinite)}: "
                "the hazard ratio is effectively infinite (e.g. no events in one group). Do "
                "not interpret it; combine groups or drop the covariate."]
    return [] if converged else [COX_NOT_CONVERGED]


def _standard_errors(info: np.ndarray) -> np.ndarray:
    """sqrt(diag(I^-1)); missing where the information is degenerate (infinite estimates)."""
    with np.errstate(all="ignore"):
        try:
            var = np.diag(np.linalg.pinv(info)) if np.isfinite(info).all() else None
        except np.linalg.LinAlgError:
            var = None
    if var is None:
        return np.full(len(info), np.nan)
    return np.where(var > 0, np.sqrt(np.abs(var)), np.nan)


def _cox_table(design, beta: np.ndarray, se: np.ndarray) -> pd.DataFrame:
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        return pd.DataFrame({
            "term": design.terms, "variable": design.variables, "level": design.levels,
            "coef": beta, "hazard_ratio": np.exp(beta),
            "ci_low": np.exp(beta - _Z * se), "ci_high": np.exp(beta + _Z * se),
            "se": se, "pvalue": 2 * _st.norm.sf(np.abs(beta / se)),
        })
