"""The proportional-hazards test of a Cox model: survival 3.x ``cox.zph(fit)`` (score test,
transform "km"), implemented after its R source and C routine ``zph1``.

A term whose test cannot be computed (events at a single time, infinite hazard ratios, a
singular information matrix) gets a missing chisq and p and a "ph_test" note; it never raises.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as _st

from core.notes import Note
from core.stats._common import quadratic_form
from core.stats.efron import efron_zph
from core.stats.survival import km_table

PH_COLUMNS = ("term", "chisq", "df", "pvalue")
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


def _km_transform(t: np.ndarray, e: np.ndarray, start: np.ndarray | None = None
                  ) -> np.ndarray:
    """cox.zph's "km" transform: 1 - S(t-) from the pooled Kaplan-Meier curve (for
    counting-process rows, survfitKM's: risk set at s = rows with start < s <= stop)."""
    if start is not None:
        times, deaths = np.unique(t[e == 1], return_counts=True)
        # at risk at s: stop >= s minus start >= s (start < stop), counted by binary search
        at_risk = ((len(t) - np.searchsorted(np.sort(t), times, side="left"))
                   - (len(t) - np.searchsorted(np.sort(start), times, side="left")))
        surv = np.cumprod(1 - deaths / at_risk)
        idx = np.searchsorted(times, t, side="left")   # event times strictly before t
        return np.asarray(1.0 - np.r_[1.0, surv][idx])
    km = km_table(t, e)
    idx = np.searchsorted(km["time"].to_numpy(), t, side="left")  # times strictly before t
    return np.asarray(1.0 - np.r_[1.0, km["survival"].to_numpy()][idx])


def _zph_row(term: str, stat: float, df: int) -> dict[str, object]:
    return {"term": term, "chisq": stat, "df": df,
            "pvalue": float("nan") if np.isnan(stat) else float(_st.chi2.sf(stat, df))}


def zph(X: np.ndarray, t: np.ndarray, e: np.ndarray, beta: np.ndarray,
        variables: Sequence[str], start: np.ndarray | None = None) -> pd.DataFrame:
    """The cox.zph table: one row per covariate (a categorical one is one row with
    df = levels - 1) and a GLOBAL row; columns term, chisq, df, pvalue (missing where the
    information matrix is singular). ``start``: counting-process rows."""
    ttimes = _km_transform(t, e, start)
    gtime = ttimes - ttimes[e == 1].mean()
    with np.errstate(all="ignore"):
        fit, blocks = efron_zph(X, t, e, beta, gtime, start)
    p = X.shape[1]
    imat = np.block([[fit.info, blocks.i_beta_gamma],
                     [blocks.i_beta_gamma.T, blocks.i_gamma_gamma]])
    u = np.r_[np.zeros(p), blocks.u_gamma]
    rows = []
    for term in dict.fromkeys(variables):
        jj = [j for j, v in enumerate(variables) if v == term]
        kk = list(range(p)) + [p + j for j in jj]
        rows.append(_zph_row(term, quadratic_form(u[kk], imat[np.ix_(kk, kk)]), len(jj)))
    rows.append(_zph_row("GLOBAL", quadratic_form(u, imat), p))
    return pd.DataFrame(rows)


def _zph_blank(variables: Sequence[str]) -> pd.DataFrame:
    """The PH table with every statistic missing (test not computed)."""
    terms = list(dict.fromkeys(variables))
    rows = [_zph_row(v, float("nan"), sum(x == v for x in variables)) for v in terms]
    return pd.DataFrame([*rows, _zph_row("GLOBAL", float("nan"), len(variables))])


def ph_test(Z: np.ndarray, t: np.ndarray, e: np.ndarray, beta: np.ndarray,
            variables: Sequence[str], finite: bool, start: np.ndarray | None = None
            ) -> tuple[pd.DataFrame, list[Note]]:
    """cox.zph table and the "ph_test" notes that explain any blank in it.

    ``finite``: the Cox fit converged to finite estimates (otherwise the test is not run).
    ``start``: counting-process rows (survival 3.x ``zph2``).
    """
    event_times = np.unique(t[e == 1])
    if len(event_times) < 2:
        return _zph_blank(variables), [Note("warning", "ph_test", PH_ONE_EVENT_TIME.format(
            events=int(e.sum()), time=float(event_times[0])))]
    if not finite:
        return _zph_blank(variables), [Note("warning", "ph_test", PH_NOT_FINITE)]
    ph = zph(Z, t, e, beta, variables, start)
    blank = ph.loc[ph["chisq"].isna(), "term"].tolist()
    if not blank:
        return ph, []
    names = ", ".join("the model as a whole" if b == "GLOBAL" else f"'{b}'" for b in blank)
    return ph, [Note("warning", "ph_test", PH_SINGULAR.format(which=names, n=len(t),
                                                              events=int(e.sum())))]
