"""Efron's partial likelihood of the Cox model: log-likelihood, score and information.

Used by :mod:`core.stats.cox_model` (Newton-Raphson) and :mod:`core.stats.ph_test` (the extra
score and information blocks of cox.zph's time-varying covariates).

Two implementations of the same sums: a loop over event times (below :data:`FAST_MIN_ROWS`
rows: the numbers the tests pin against R) and, from :data:`FAST_MIN_ROWS` rows, a vectorised
one in O(n p^2) (cumulative sums in reverse time order, the Efron terms of all deaths at once);
``tests/test_stats_efron.py`` checks that both agree to 1e-9 on the same data and that the
large-n path agrees with R.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: From this many rows, :func:`efron` and :func:`efron_zph` use the vectorised sums
#: (:func:`efron_fast`); below it, the loop over event times.
FAST_MIN_ROWS = 1_000


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
    if len(t) >= FAST_MIN_ROWS:
        return efron_fast(X, t, e, beta, None, start)[0]
    if start is not None:
        return _efron_counting(X, start, t, e, beta, None)[0]
    return _efron(X, t, e, beta, None)[0]


def efron_zph(X: np.ndarray, t: np.ndarray, e: np.ndarray, beta: np.ndarray, g: np.ndarray,
              start: np.ndarray | None = None) -> tuple[EfronFit, ZphBlocks]:
    """As :func:`efron`, with the blocks of the time-varying covariates X * g(t) at gamma = 0,
    as the C routines ``zph1`` (right-censored rows) and ``zph2`` (counting-process rows,
    ``start`` given) of survival 3.x (``g``: one value per row, the transformed time of
    cox.zph)."""
    if len(t) >= FAST_MIN_ROWS:
        fit, blocks = efron_fast(X, t, e, beta, g, start)
    elif start is not None:
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


@dataclass(frozen=True)
class EfronOrder:
    """What :func:`efron_fast` needs of the times alone (the same at every beta): the deaths
    by time, where each event time's deaths start among them, how many there are, the
    distinct event times, and each row's bucket: how many event times are <= its stop (and
    its start), so that stop >= s_k (start >= s_k) is bucket > k."""

    bucket_stop: np.ndarray
    bucket_start: np.ndarray | None
    dead: np.ndarray
    first: np.ndarray
    d: np.ndarray
    times: np.ndarray


def efron_order(t: np.ndarray, e: np.ndarray, start: np.ndarray | None = None) -> EfronOrder:
    """The beta-free part of :func:`efron_fast` (computed once per Newton-Raphson fit)."""
    dead = np.flatnonzero(e == 1)
    dead = dead[np.argsort(t[dead], kind="stable")]
    times, first, d = np.unique(t[dead], return_index=True, return_counts=True)
    bucket_stop = np.searchsorted(times, t, side="right")
    bucket_start = None if start is None else np.searchsorted(times, start, side="right")
    return EfronOrder(bucket_stop, bucket_start, dead, first, d, times)


def _at_least(bucket: np.ndarray, weights: np.ndarray, m: int) -> np.ndarray:
    """For each of the m event times s_k: the sum of ``weights`` (rows; any trailing shape)
    over the rows with bucket > k (time >= s_k): summed per bucket, then cumulated from the
    last bucket (the largest times first, so small late risk sets are summed exactly)."""
    flat = weights.reshape(len(weights), -1)
    c = flat.shape[1]
    index = (bucket[:, None] * c + np.arange(c)).ravel()
    per_bucket = np.bincount(index, flat.ravel(), minlength=(m + 1) * c).reshape(m + 1, c)
    tail = np.cumsum(per_bucket[::-1], axis=0)[::-1]        # buckets >= b
    return np.asarray(tail[1:].reshape(m, *weights.shape[1:]))


def efron_fast(X: np.ndarray, t: np.ndarray, e: np.ndarray, beta: np.ndarray,
               g: np.ndarray | None = None, start: np.ndarray | None = None,
               prepared: EfronOrder | None = None) -> tuple[EfronFit, ZphBlocks | None]:
    """The sums of :func:`_efron` / :func:`_efron_counting`, vectorised in O(n p^2).

    Parameters
    ----------
    X : ndarray of shape (n, p)
        Covariates.
    t, e : ndarray of shape (n,)
        Time (the stop of counting-process rows) and 0/1 event.
    beta : ndarray of shape (p,)
        Coefficients.
    g : ndarray of shape (n,), optional
        cox.zph's transformed time per row (then the ZphBlocks are returned too).
    start : ndarray of shape (n,), optional
        Start of each row's interval; the risk set at s is then start < s <= stop, the sums
        over stop >= s minus those over start >= s (start < stop on every row).
    prepared : EfronOrder, optional
        ``efron_order(t, e, start)``, when the caller evaluates many betas.

    Returns
    -------
    (EfronFit, ZphBlocks or None)
        Log-likelihood, score and information; the cox.zph blocks when ``g`` is given.

    Notes
    -----
    Risk-set sums S0, S1, S2 at each distinct event time from sums per bucket of rows between
    consecutive event times, cumulated from the last; the death sums by event time from
    sorted group sums; the Efron terms of all deaths at once (death k of d at time s:
    denominator S0 - k/d * D0, and so on). Equal to the loops to rounding
    (``tests/test_stats_efron.py``: 1e-9) and to R ``coxph`` / ``cox.zph``.
    """
    o = prepared if prepared is not None else efron_order(t, e, start)
    dead, first, d, times = o.dead, o.first, o.d, o.times
    p = X.shape[1]
    eta = X @ beta
    shift = eta.max() if len(eta) else 0.0
    r = np.exp(eta - shift)
    rx = r[:, None] * X
    rxx = rx[:, :, None] * X[:, None, :]
    m = len(times)
    s0 = _at_least(o.bucket_stop, r, m)
    s1 = _at_least(o.bucket_stop, rx, m)
    s2 = _at_least(o.bucket_stop, rxx, m)
    if o.bucket_start is not None:
        s0 = s0 - _at_least(o.bucket_start, r, m)
        s1 = s1 - _at_least(o.bucket_start, rx, m)
        s2 = s2 - _at_least(o.bucket_start, rxx, m)
    d0 = np.add.reduceat(r[dead], first) if len(dead) else np.zeros(0)
    d1 = np.add.reduceat(rx[dead], first, axis=0) if len(dead) else np.zeros((0, p))
    d2 = np.add.reduceat(rxx[dead], first, axis=0) if len(dead) else np.zeros((0, p, p))
    # one Efron term per death: group i (its event time), rank k of d_i, frac = k / d_i
    grp = np.repeat(np.arange(len(times)), d)
    frac = (np.arange(len(dead)) - first[grp]) / d[grp]
    den = s0[grp] - frac * d0[grp]
    mean = (s1[grp] - frac[:, None] * d1[grp]) / den[:, None]
    a = np.bincount(grp, 1.0 / den, minlength=len(times))        # sum of 1/den per time
    b = np.bincount(grp, frac / den, minlength=len(times))       # sum of frac/den per time
    loglik = float(eta[dead].sum() - (np.log(den) + shift).sum())
    resid = X[dead] - mean
    score = resid.sum(0)
    info = (np.einsum("i,ipq->pq", a, s2) - np.einsum("i,ipq->pq", b, d2)
            - mean.T @ mean)
    fit = EfronFit(loglik, score, info)
    if g is None:
        return fit, None
    gs = g[dead][first][grp]                     # g at each death's event time
    ug = gs @ resid
    ibg = (np.einsum("i,ipq->pq", a * g[dead][first], s2)
           - np.einsum("i,ipq->pq", b * g[dead][first], d2) - (gs[:, None] * mean).T @ mean)
    g2 = g[dead][first] ** 2
    igg = (np.einsum("i,ipq->pq", a * g2, s2) - np.einsum("i,ipq->pq", b * g2, d2)
           - (gs[:, None] ** 2 * mean).T @ mean)
    return fit, ZphBlocks(ug, ibg, igg)
