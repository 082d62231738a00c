"""Efron's partial likelihood of the Cox model: log-likelihood, score and information.

Used by :mod:`core.stats.cox_model` (Newton-Raphson) and :mod:`core.stats.ph_test` (the extra
score and information blocks of cox.zph's time-varying covariates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EfronFit:
    """Partial log-likelihood, score vector and information matrix at one beta."""

    loglik: float
    score: np.ndarray
    info: np.ndarray


@dataclass(frozen=True)
class ZphBlocks:
    """Score and information blocks of the covariates X * g(t) at gamma = 0 (cox.zph)."""

    u_gamma: np.ndarray
    i_beta_gamma: np.ndarray
    i_gamma_gamma: np.ndarray


def efron(X: np.ndarray, t: np.ndarray, e: np.ndarray, beta: np.ndarray,
          start: np.ndarray | None = None) -> EfronFit:
    """Efron partial log-likelihood, score and information at ``beta`` (``start``: the start
    of each row's (start, t] interval for counting-process rows)."""
    if start is not None:
        return _efron_counting(X, start, t, e, beta, None)[0]
    return _efron(X, t, e, beta, None)[0]


def efron_zph(X: np.ndarray, t: np.ndarray, e: np.ndarray, beta: np.ndarray, g: np.ndarray,
              start: np.ndarray | None = None) -> tuple[EfronFit, ZphBlocks]:
    """As :func:`efron`, with the blocks of the time-varying covariates X * g(t) at gamma = 0,
    as the C routines ``zph1`` (right-censored rows) and ``zph2`` (counting-process rows,
    ``start`` given) of survival 3.x (``g``: one value per row, the transformed time of
    cox.zph)."""
    if start is not None:
        fit, blocks = _efron_counting(X, start, t, e, beta, g)
    else:
        fit, blocks = _efron(X, t, e, beta, g)
    assert blocks is not None
    return fit, blocks


def _efron_counting(X: np.ndarray, start: np.ndarray, t: np.ndarray, e: np.ndarray,
                    beta: np.ndarray, g: np.ndarray | None
                    ) -> tuple[EfronFit, ZphBlocks | None]:
    """:func:`_efron` with the risk set at s = rows with start < s <= stop."""
    p = X.shape[1]
    eta = X @ beta
    shift = eta.max() if len(eta) else 0.0
    r = np.exp(eta - shift)
    loglik, score, info = 0.0, np.zeros(p), np.zeros((p, p))
    ug, ibg, igg = np.zeros(p), np.zeros((p, p)), np.zeros((p, p))
    # r x x' of every row once (the same products, in the same order, as per event time)
    rxx = r[:, None, None] * X[:, :, None] * X[:, None, :]
    for s in np.unique(t[e == 1]):
        risk = (start < s) & (t >= s)
        dead = (t == s) & (e == 1)
        d = int(dead.sum())
        rr, xr = r[risk], X[risk]
        s0, s1 = rr.sum(), rr @ xr
        s2 = rxx[risk].sum(0)
        d0, d1 = r[dead].sum(), r[dead] @ X[dead]
        d2 = rxx[dead].sum(0)
        xsum = X[dead].sum(0)
        loglik += eta[dead].sum()
        mean_sum, var_sum = np.zeros(p), np.zeros((p, p))
        for k in range(d):
            frac = k / d
            den = s0 - frac * d0
            mean = (s1 - frac * d1) / den
            var = (s2 - frac * d2) / den - np.outer(mean, mean)
            loglik -= np.log(den) + shift
            mean_sum += mean
            var_sum += var
        score += xsum - mean_sum
        info += var_sum
        if g is not None:
            gs = g[dead][0]
            ug += gs * (xsum - mean_sum)
            ibg += gs * var_sum
            igg += gs * gs * var_sum
    fit = EfronFit(float(loglik), score, info)
    return fit, (ZphBlocks(ug, ibg, igg) if g is not None else None)


def _efron(X: np.ndarray, t: np.ndarray, e: np.ndarray, beta: np.ndarray,
           g: np.ndarray | None) -> tuple[EfronFit, ZphBlocks | None]:
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
    etas = eta[order]
    gso = g[order] if g is not None else None
    for s in np.unique(t[e == 1]):
        # rows at time s are one block of the sorted rows: the same rows, in the same order,
        # as a mask over all rows would select (so the sums are bit-identical), in O(block)
        first = int(np.searchsorted(-ts, -s, side="left"))
        last = int(np.searchsorted(-ts, -s, side="right")) - 1   # last row with time >= s
        dead = np.flatnonzero(es[first:last + 1] == 1) + first
        d = len(dead)
        d0, d1 = rs[dead].sum(), (rs[dead, None] * Xs[dead]).sum(0)
        d2 = (rs[dead, None, None] * Xs[dead, :, None] * Xs[dead, None, :]).sum(0)
        xsum = Xs[dead].sum(0)
        loglik += etas[dead].sum()
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
        if gso is not None:
            gs = gso[dead][0]
            ug += gs * (xsum - mean_sum)
            ibg += gs * var_sum
            igg += gs * gs * var_sum
    fit = EfronFit(float(loglik), score, info)
    return fit, (ZphBlocks(ug, ibg, igg) if g is not None else None)
