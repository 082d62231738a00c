"""Fisher's exact test for contingency tables: 2x2 (R's two-sided rule) and exact r x c.

scipy's ``fisher_exact`` only simulates r x c tables, so the exact r x c p-value is enumerated
here by a network algorithm (the one statistic of core.stats written by hand), validated
against R's ``fisher.test`` in ``tests/test_stats_groups.py``.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence

import numpy as np
from scipy import stats as sps
from scipy.special import gammaln

#: R's fisher.test counts tables whose probability is <= the observed one times (1 + 1e-7).
FISHER_REL_TOL = 1e-7
#: Work limit of the exact r x c enumeration (path extensions); above it, Monte Carlo.
FISHER_MAX_WORK = 10_000_000

_Paths = list[tuple[np.ndarray, np.ndarray]]  # (log weights, counts) of partial tables


def _log_factorials(n: int) -> np.ndarray:
    return np.asarray(gammaln(np.arange(n + 1) + 1.0))


def fisher_2x2_pvalue(table: np.ndarray) -> float:
    """R ``fisher.test`` two-sided p on a 2x2 table: sum of P(x) <= P(obs) (1 + 1e-7)."""
    (a, b), (c, d) = table
    m, n, k = a + c, b + d, a + b
    support = np.arange(max(0, k - n), min(k, m) + 1)
    logp = sps.hypergeom.logpmf(support, m + n, m, k)
    obs = sps.hypergeom.logpmf(a, m + n, m, k)
    p = np.exp(logp - logp.max())
    return float(min(1.0, p[p <= np.exp(obs - logp.max()) * (1 + FISHER_REL_TOL)].sum()
                     / p.sum()))
def _even_fill(total: int, caps: Sequence[int], lf: np.ndarray) -> float:
    """Min of sum(log n_i!) with sum n_i = total, 0 <= n_i <= caps (water filling)."""
    heap = [(0, i) for i, cap in enumerate(caps) if cap > 0]
    heapq.heapify(heap)
    fill = [0] * len(caps)
    for _ in range(total):
        count, i = heapq.heappop(heap)
        fill[i] = count + 1
        if fill[i] < caps[i]:
            heapq.heappush(heap, (fill[i], i))
    return float(sum(lf[v] for v in fill))


def _lagrange_fill(rows: Sequence[int], cols: Sequence[int], lf: np.ndarray) -> float:
    """Lower bound of min sum(log n_ij!) over tables with margins ``rows`` x ``cols``.

    Lagrangian relaxation of the row sums with multipliers u_i = log(r_i + 1/2) (near the
    optimum of the continuous problem, n_ij ~ r_i c_j / N): for any u,
    ``min sum log n_ij! >= sum_j min_{col j} sum_i (log n_ij! - u_i n_ij) + sum_i u_i r_i``,
    and each column's minimum is found exactly by greedy filling (the terms are convex).
    """
    u = [math.log(r + 0.5) for r in rows]
    bound = sum(ui * r for ui, r in zip(u, rows))
    for c in cols:
        fill = [0] * len(rows)
        heap = [(math.log(1) - u[i], i) for i, r in enumerate(rows) if r > 0]
        heapq.heapify(heap)
        for _ in range(c):
            _, i = heapq.heappop(heap)
            fill[i] += 1
            if fill[i] < rows[i]:
                heapq.heappush(heap, (math.log(fill[i] + 1) - u[i], i))
        bound += sum(lf[v] - u[i] * v for i, v in enumerate(fill))
    return bound


def _concentrated_fill(total: int, caps: Sequence[int], lf: np.ndarray) -> float:
    """Max of sum(log n_i!) with sum n_i = total, 0 <= n_i <= caps: fill the largest first
    (that vector majorises every feasible one and sum(log n!) is Schur-convex)."""
    out, left = 0.0, total
    for cap in sorted(caps, reverse=True):
        take = min(cap, left)
        out += lf[take]
        left -= take
    return out


def _compositions_array(total: int, caps: Sequence[int]) -> np.ndarray:
    """All vectors n with sum n = total and 0 <= n_i <= caps_i, as a 2-D int array."""
    caps = [int(c) for c in caps]
    tail_cap = np.cumsum(caps[::-1])[::-1].tolist() + [0]  # capacity of rows i.. onwards
    partial = np.zeros((1, 0), dtype=np.int64)
    left = np.array([total], dtype=np.int64)
    for i, cap in enumerate(caps):
        values = np.arange(cap + 1, dtype=np.int64)
        new_left = left[:, None] - values[None, :]
        ok = (new_left >= 0) & (new_left <= tail_cap[i + 1])
        pi, vi = np.nonzero(ok)
        partial = np.column_stack([partial[pi], values[vi]])
        left = new_left[pi, vi]
    return partial


def _merge(weights: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge paths of equal weight (to 1e-9), summing their counts."""
    keys, first, inverse = np.unique(np.round(weights, 9), return_index=True,
                                     return_inverse=True)
    return weights[first], np.bincount(inverse.ravel(), weights=counts, minlength=len(keys))



class _Network:
    """The margins of an r x c table and the bounds that prune its enumeration."""

    def __init__(self, table: np.ndarray) -> None:
        self.rows = tuple(int(v) for v in table.sum(axis=1))
        self.cols = sorted((int(v) for v in table.sum(axis=0)), reverse=True)
        total = sum(self.rows)
        self.lf = _log_factorials(total)
        lf = self.lf
        self.const = float(sum(lf[r] for r in self.rows) + sum(lf[c] for c in self.cols)
                           - lf[total])
        self.threshold = -float(sum(lf[v] for v in table.ravel())) + math.log1p(FISHER_REL_TOL)

    def bounds(self, j: int, r: tuple[int, ...]) -> tuple[float, float, float]:
        """(upper bound of completion weight, lower bound, log of total completion mass) of
        the node with remaining row sums ``r`` before column ``j``."""
        lf, rest = self.lf, self.cols[j:]
        upper = -max(sum(_even_fill(c, r, lf) for c in rest),
                     sum(_even_fill(ri, rest, lf) for ri in r), _lagrange_fill(r, rest, lf))
        lower = -min(sum(_concentrated_fill(c, r, lf) for c in rest),
                     sum(_concentrated_fill(ri, rest, lf) for ri in r))
        log_mass = float(lf[sum(r)] - sum(lf[v] for v in r) - sum(lf[c] for c in rest))
        return upper, lower, log_mass


def _last_columns_mass(net: _Network, r: tuple[int, ...], comps: np.ndarray,
                       steps: np.ndarray, weights: np.ndarray, counts: np.ndarray) -> float:
    """Mass of the tables whose last two columns complete the paths (weights, counts) at the
    node ``r``: the completions are sorted once and each path is resolved by binary search."""
    lf = net.lf
    ends = steps - lf[np.asarray(r) - comps].sum(axis=1)
    ends.sort()
    mass = np.cumsum(np.exp(ends - ends[-1]))
    idx = np.searchsorted(ends, net.threshold - weights, side="right")
    hit = idx > 0
    return float(np.sum(counts[hit] * mass[idx[hit] - 1]
                        * np.exp(weights[hit] + ends[-1] + net.const)))


def _extend(nxt: dict[tuple[int, ...], _Paths], r: tuple[int, ...], comps: np.ndarray,
            steps: np.ndarray, weights: np.ndarray, counts: np.ndarray) -> None:
    """Add the children of node ``r`` (one per distinct sorted remainder) to ``nxt``."""
    children = np.sort(np.asarray(r) - comps, axis=1)
    keys, inverse = np.unique(children, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    for k, key in enumerate(keys):
        child_steps = steps[inverse == k]
        nxt.setdefault(tuple(int(v) for v in key), []).append(
            ((weights[None, :] + child_steps[:, None]).ravel(),
             np.tile(counts, len(child_steps))))


def fisher_rxc_pvalue(table: np.ndarray, max_work: int = FISHER_MAX_WORK) -> float | None:
    """Exact Fisher p-value of an r x c table by a network enumeration; None if too large.

    Tables with the observed margins are built column by column; nodes are the remaining row
    sums (sorted, since rows are exchangeable) and paths of equal probability are merged. A
    node whose every completion is at most as likely as the observed table adds its whole mass
    in closed form; one whose every completion is more likely is dropped (bounds below). With
    two columns left, the completions of a node are enumerated once, sorted, and every path
    reaching the node is resolved by a binary search. The p-value sums P(table) <= P(observed)
    (1 + 1e-7), as R's ``fisher.test``.
    """
    t = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if t.shape[0] > t.shape[1]:
        t = t.T
    if min(t.shape) < 2:
        return 1.0
    net = _Network(t)
    pvalue = 0.0
    work = 0
    stage: dict[tuple[int, ...], _Paths] = {tuple(sorted(net.rows)): [(np.zeros(1), np.ones(1))]}
    for j in range(len(net.cols) - 1):
        nxt: dict[tuple[int, ...], _Paths] = {}
        for r, parts in stage.items():
            weights, counts = _merge(np.concatenate([p[0] for p in parts]),
                                     np.concatenate([p[1] for p in parts]))
            upper, lower, log_mass = net.bounds(j, r)
            add = weights + upper <= net.threshold
            pvalue += float(np.sum(counts[add] * np.exp(weights[add] + log_mass + net.const)))
            keep = ~add & (weights + lower <= net.threshold)
            if not keep.any():
                continue
            weights, counts = weights[keep], counts[keep]
            comps = _compositions_array(net.cols[j], r)
            work += len(comps) * len(weights)
            if work > max_work:
                return None
            steps = -net.lf[comps].sum(axis=1)
            if j == len(net.cols) - 2:  # the last column is forced
                pvalue += _last_columns_mass(net, r, comps, steps, weights, counts)
            else:
                _extend(nxt, r, comps, steps, weights, counts)
        stage = nxt
    return min(1.0, pvalue)
