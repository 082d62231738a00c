"""Multiple-testing corrections: the one Holm adjustment of core (Dunn post hoc, pairwise
log-rank, and any analysis that adjusts several p-values).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment, as R ``p.adjust(p, "holm")``.

    Parameters
    ----------
    pvalues : sequence of float
        Unadjusted p-values; NaN (a test that was not computed) allowed.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values in the input order. A NaN stays NaN and is not counted among the
        tests, as R (``p.adjust`` counts the non-missing p-values).

    Notes
    -----
    The adjustment is ``min(1, max_{j <= i} (m - j + 1) p_(j))`` over the sorted p-values,
    the formula of statsmodels' ``multipletests(method="holm")``; ``tests/test_stats_compare.py``
    checks both against R's ``p.adjust``. It is written out here rather than called because
    statsmodels 0.15's Holm branch runs ``gc.collect()`` on every call: about 0.1 s in the
    app's process, once per box-plot panel.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return out
    q = p[ok]
    order = np.argsort(q, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * q[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    out[ok] = adjusted
    return out
