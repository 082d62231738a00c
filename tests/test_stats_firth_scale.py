"""The large-n logistic path (core.stats.regression / core.stats.firth from FAST_MIN_ROWS
patients: distinct rows with counts as frequency weights) against R 4.2 (stats::glm, brglm2
0.9, the penalised profile likelihood by hand as in reference_regression.R) and against the
small-n path on the same data.

R code beside each number; data: tests/fixtures/stats_models/*.csv tiled as R's
``df[rep(seq_len(nrow(df)), k), ]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from firthmodels import detect_separation as firthmodels_separation

from core.stats import LogisticResult, firth, logistic, regression
from core.stats._common import SolverBudget

FIX = Path(__file__).parent / "fixtures" / "stats_models"
REL = 1e-6


def _paper_like(n: int) -> pd.DataFrame:
    """The Table S3 situation (test_stats_regression._paper_like) at n patients:
    hypofibrinogenemia only with tocilizumab."""
    rng = np.random.default_rng(1)
    toci = (rng.random(n) < 0.7).astype(int)
    hypo = toci * (rng.random(n) < 0.9)
    return pd.DataFrame({
        "hypofib": hypo, "tocilizumab": toci,
        "crs_grade": rng.integers(0, 4, n),
        "lymphodepletion": np.where(rng.random(n) < 0.8, "Flu/Cy", "Benda"),
    })


def _tile(df: pd.DataFrame, k: int) -> pd.DataFrame:
    return df.iloc[np.tile(np.arange(len(df)), k)].reset_index(drop=True)


def _row(res: LogisticResult, term: str) -> pd.Series:
    return res.table.set_index("term").loc[term]


def _check(res: LogisticResult, term: str, coef: float, se: float, low: float, high: float,
           p: float, rel: float = REL) -> None:
    r = _row(res, term)
    assert r["coef"] == pytest.approx(coef, rel=rel)
    assert r["se"] == pytest.approx(se, rel=rel)
    assert np.log(r["ci_low"]) == pytest.approx(low, rel=rel)
    assert np.log(r["ci_high"]) == pytest.approx(high, rel=rel)
    assert r["pvalue"] == pytest.approx(p, rel=1e-5)   # far tails: R's own digits differ


def test_fast_ml_tiled_infert_matches_glm():
    # inf25 <- infert[rep(seq_len(nrow(infert)), 25), ]      (6,200 rows, 248 distinct)
    # fit <- glm(case ~ age + parity + education + spontaneous + induced, family = binomial,
    #            data = inf25, control = glm.control(epsilon = 1e-14, maxit = 100))
    # cbind(coef(summary(fit)), confint.default(fit))[, c(1, 2, 5, 6, 4)]
    data = _tile(pd.read_csv(FIX / "infert.csv"), 25)
    assert len(data) >= firth.FAST_MIN_ROWS
    res = logistic(data, "case", ["age", "parity", "education", "spontaneous", "induced"])
    assert res.method == "ml" and not res.separation and res.messages == ()
    assert (res.n, res.events) == (6200, 2075)
    _check(res, "(Intercept)", -1.1492365355906, 0.28244186834629, -1.7028124252756,
           -0.5956606459057, 4.72292858267e-05)
    _check(res, "age", 0.0395820016977, 0.00624056181213, 0.0273507253026, 0.0518132780928,
           2.25775100012e-10)
    _check(res, "parity", -0.8282773822931, 0.03929877882468, -0.9053015734259,
           -0.7512531911603, 1.30932804330e-98)
    _check(res, "education: 12+ yrs vs 0-5yrs", -1.4032050894763, 0.16683324155155,
           -1.7301922343414, -1.0762179446112, 4.07139066927e-17)
    _check(res, "education: 6-11yrs vs 0-5yrs", -1.0442435837274, 0.15851181394133,
           -1.3549210301766, -0.7335661372783, 4.46401706525e-11)
    _check(res, "spontaneous", 2.0459050216801, 0.06203266493203, 1.9243232325483,
           2.1674868108120, 1.51648982160e-238)
    _check(res, "induced", 1.2887573809390, 0.06029323739127, 1.1705848071408,
           1.4069299547372, 2.29182045721e-101)


def test_fast_firth_tiled_endometrial_matches_brglm2_and_profile_likelihood():
    # endo70 <- endo[rep(seq_len(nrow(endo)), 70), ]         (5,530 rows; NV separates)
    # fb <- glm(HG ~ NV + PI + EH, family = binomial, data = endo70, method = "brglmFit",
    #           type = "AS_mean", epsilon = 1e-12, maxit = 500); coef(summary(fb))[, 1:2]
    # profile CI and LRT p: reference_regression.R's pl/prof/uniroot code with X, y of endo70
    #   NV coef 7.23083183388 profile CI 5.31173192977 12.0659666491 LRT p 5.39330470463e-143
    #   PI coef -0.0420809602867 profile CI -0.0525670972091 -0.0318067517311
    #      LRT p 1.14589412229e-16
    #   EH coef -2.89817453218 profile CI -3.09907114091 -2.70322073361 LRT p 2.62770329294e-302
    data = _tile(pd.read_csv(FIX / "endometrial.csv"), 70)
    assert len(data) >= firth.FAST_MIN_ROWS
    res = logistic(data, "HG", ["NV", "PI", "EH"])
    assert res.method == "firth" and res.separation and res.separating == ("NV",)
    _check(res, "NV", 7.2308318338807, 1.41639426350700, 5.31173192977, 12.0659666491,
           5.39330470463e-143, rel=1e-7)
    _check(res, "PI", -0.0420809602867, 0.00528941922131, -0.0525670972091,
           -0.0318067517311, 1.14589412229e-16, rel=1e-7)
    _check(res, "EH", -2.8981745321836, 0.10093332666973, -3.09907114091, -2.70322073361,
           2.62770329294e-302, rel=1e-7)
    assert _row(res, "(Intercept)")["coef"] == pytest.approx(4.2967935590491, rel=1e-7)
    assert _row(res, "(Intercept)")["se"] == pytest.approx(0.19541044478179, rel=1e-7)


# ------------------------------------------------------------ the two paths, same data

def _same(a: LogisticResult, b: LogisticResult, tol: float = 1e-6) -> None:
    assert (a.method, a.separation, a.separating, a.n, a.events) == \
        (b.method, b.separation, b.separating, b.n, b.events)
    assert a.messages == b.messages
    for col in ("coef", "se", "ci_low", "ci_high", "pvalue"):
        assert np.allclose(a.table[col], b.table[col], rtol=tol, atol=0, equal_nan=True), col


@pytest.mark.parametrize("method", ["auto", "ml", "firth"])
def test_both_paths_agree_on_the_same_data(method, monkeypatch):
    paper = _paper_like(6_000)                           # separated by tocilizumab
    cases = [
        (_tile(pd.read_csv(FIX / "endometrial.csv"), 70), "HG", ["NV", "PI", "EH"]),
        (_tile(pd.read_csv(FIX / "infert.csv"), 25), "case",
         ["age", "parity", "education", "spontaneous", "induced"]),
        (paper, "hypofib", ["tocilizumab", "crs_grade", "lymphodepletion"]),
        (paper, "hypofib", ["tocilizumab"]),
    ]
    monkeypatch.setattr(firth, "FAST_MIN_ROWS", 10**9)
    monkeypatch.setattr(regression, "FAST_MIN_ROWS", 10**9)
    slow = [logistic(df, y, x, method=method) for df, y, x in cases]  # type: ignore[arg-type]
    monkeypatch.setattr(firth, "FAST_MIN_ROWS", 0)
    monkeypatch.setattr(regression, "FAST_MIN_ROWS", 0)
    for (df, y, x), s in zip(cases, slow, strict=True):
        # the ML estimate under separation runs off to infinity: only its flags can agree
        fast = logistic(df, y, x, method=method)  # type: ignore[arg-type]
        if method == "ml" and s.separation:
            assert (fast.separation, fast.separating, fast.messages) == \
                (s.separation, s.separating, s.messages)
            continue
        _same(fast, s)


def test_collapse_keeps_every_sum():
    rng = np.random.default_rng(5)
    X = rng.integers(0, 3, size=(500, 3)).astype(float)
    y = rng.integers(0, 2, 500).astype(float)
    Xu, yu, w = firth.collapse(X, y)
    rows = {tuple(r) for r in np.column_stack([X, y])}
    assert len(yu) == len(rows) and w.sum() == 500
    assert len({tuple(r) for r in np.column_stack([Xu, yu])}) == len(yu)
    assert np.allclose(w @ Xu, X.sum(0)) and w @ yu == y.sum()
    assert np.allclose((Xu * w[:, None]).T @ Xu, X.T @ X)


@pytest.mark.parametrize("subset", [5, 2_000])
def test_separation_by_row_generation_equals_the_whole_programme(subset, monkeypatch):
    # the same flags as firthmodels.detect_separation on all rows, whether the first subset
    # settles it or rows must be added (a 5-row start needs several rounds)
    monkeypatch.setattr(regression, "SEPARATION_SUBSET", subset)
    rng = np.random.default_rng(11)
    endo = _tile(pd.read_csv(FIX / "endometrial.csv"), 3)
    overlap = rng.normal(size=(300, 2))
    cases = [
        (endo[["NV", "PI", "EH"]].to_numpy(float), endo["HG"].to_numpy(float)),
        (overlap, (overlap[:, 0] + rng.normal(size=300) > 0).astype(float)),
        (overlap, (overlap[:, 0] > 0).astype(float)),            # complete separation
    ]
    for X, y in cases:
        expected = ~np.asarray(firthmodels_separation(firth.scaled(X)[0], y).is_finite)
        Xu, yu, w = firth.collapse(X, y)
        found = regression.detect_separation(Xu, yu, w)
        assert found is not None and list(found) == list(expected)


TINY = SolverBudget(max_iter=1, tol=1e-300, xtol=1e-300, max_halfstep=0)


def test_fast_firth_retries_when_the_first_budget_fails(monkeypatch):
    # a first attempt that cannot converge stands for a CPU whose rounding floor lies above
    # the tolerance: the large-n path's retries must still give R's numbers (test above)
    monkeypatch.setattr(firth, "FIRTH_FIT_ATTEMPTS", (TINY, *firth.FIRTH_FIT_ATTEMPTS))
    monkeypatch.setattr(firth, "FIRTH_LRT_ATTEMPTS", (TINY, *firth.FIRTH_LRT_ATTEMPTS))
    monkeypatch.setattr(firth, "FIRTH_CI_ATTEMPTS", (TINY, *firth.FIRTH_CI_ATTEMPTS))
    res = logistic(_tile(pd.read_csv(FIX / "endometrial.csv"), 70), "HG", ["NV", "PI", "EH"])
    _check(res, "PI", -0.0420809602867, 0.00528941922131, -0.0525670972091,
           -0.0318067517311, 1.14589412229e-16, rel=1e-7)
    assert not any("could not be computed" in m for m in res.messages)


def test_fast_budgets_cap_all_but_the_last_attempt():
    fast = firth.fast_budgets(firth.FIRTH_FIT_ATTEMPTS)
    assert [b.max_iter for b in fast] == [firth.FAST_MAX_ITER] * (len(fast) - 1) + \
        [firth.FIRTH_FIT_ATTEMPTS[-1].max_iter]
    assert [(b.tol, b.xtol) for b in fast] == [(b.tol, b.xtol) for b in firth.FIRTH_FIT_ATTEMPTS]
    assert fast[-1] == firth.FIRTH_FIT_ATTEMPTS[-1]
