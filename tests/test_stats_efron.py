"""The large-n Cox path (core.stats.efron.efron_fast + cox_model._newton_fit) against R 4.2 with
survival 3.x and against the small-n path (loops over event times, lifelines' fitters).

From ``efron.FAST_MIN_ROWS`` rows, ``cox()`` fits by its own Newton-Raphson on vectorised Efron
sums. It is checked (1) against R on R's datasets tiled past the switch (R code beside each
number; the data are tests/fixtures/stats_models/*.csv, read as in make_fixtures.R), (2) against
R at the datasets' own sizes with the switch moved to 0 (the values of test_stats_survival.py),
(3) against the small-n path on the same data (1e-6) and (4) sum by sum against the loops (1e-9).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import ColumnError, InsufficientDataError
from core.stats import CoxResult, cox, cox_model, efron, firth, regression

FIX = Path(__file__).parent / "fixtures" / "stats_models"
REL = 1e-6


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    df = pd.read_csv(FIX / "lung.csv")
    return df.assign(status=df["status"] - 1)


@pytest.fixture(scope="module")
def veteran() -> pd.DataFrame:
    return pd.read_csv(FIX / "veteran.csv")


@pytest.fixture(scope="module")
def heart() -> pd.DataFrame:
    return pd.read_csv(FIX / "heart.csv")


@pytest.fixture
def fast_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """The large-n path at any size."""
    monkeypatch.setattr(efron, "FAST_MIN_ROWS", 0)
    monkeypatch.setattr(cox_model, "FAST_MIN_ROWS", 0)


def _tile(df: pd.DataFrame, k: int) -> pd.DataFrame:
    """R's ``df[rep(seq_len(nrow(df)), k), ]``."""
    return df.iloc[np.tile(np.arange(len(df)), k)].reset_index(drop=True)


def _check(res: CoxResult, expected: dict[str, tuple[float, float, float, float]],
           rel: float = REL) -> None:
    """term: (coef, se, CI low, CI high) on the coefficient scale."""
    table = res.table.set_index("term")
    for term, (coef, se, low, high) in expected.items():
        row = table.loc[term]
        assert row["coef"] == pytest.approx(coef, rel=rel)
        assert row["se"] == pytest.approx(se, rel=rel)
        assert row["ci_low"] == pytest.approx(np.exp(low), rel=rel)
        assert row["ci_high"] == pytest.approx(np.exp(high), rel=rel)


def _check_zph(res: CoxResult, expected: dict[str, tuple[float, int]], rel: float = REL
               ) -> None:
    ph = res.ph_test.set_index("term")
    assert list(ph.index) == list(expected)
    for term, (chisq, df) in expected.items():
        assert ph.loc[term, "chisq"] == pytest.approx(chisq, rel=rel)
        assert ph.loc[term, "df"] == df


# ------------------------------------------------------------ R, tiled past the switch

def test_fast_cox_tiled_lung_matches_coxph(lung):
    # lung25 <- lung[rep(seq_len(nrow(lung)), 25), ]        (5,700 rows)
    # cx <- coxph(Surv(time, status) ~ age + sex + ph.ecog, data = lung25)
    # cbind(coef(summary(cx)), confint(cx))[, c(1, 3, 6, 7)]
    #   age      0.0110632700365  0.00185262767192  0.00743218652277  0.0146943535502
    #   sex     -0.5550295539406  0.03354407819578 -0.62077473909895 -0.4892843687823
    #   ph.ecog  0.4673035597872  0.02273899489221  0.42273594875386  0.5118711708206
    # cx$n 5675, cx$nevent 4100, cx$loglik[2] -31388.4617074, concordance 0.636124728357
    data = _tile(lung, 25)
    assert len(data) >= efron.FAST_MIN_ROWS
    res = cox(data, "time", "status", ["age", "sex", "ph.ecog"])
    _check(res, {
        "age": (0.0110632700365, 0.00185262767192, 0.00743218652277, 0.0146943535502),
        "sex": (-0.5550295539406, 0.03354407819578, -0.62077473909895, -0.4892843687823),
        "ph.ecog": (0.4673035597872, 0.02273899489221, 0.42273594875386, 0.5118711708206)})
    assert (res.n, res.events) == (5675, 4100)
    assert res.loglik == pytest.approx(-31388.4617074, rel=REL)
    assert res.concordance == pytest.approx(0.636124728357, rel=REL)
    # cox.zph(cx)$table[, 1:2]
    _check_zph(res, {"age": (4.82841406588, 1), "sex": (57.61451812818, 1),
                     "ph.ecog": (49.80921751691, 1), "GLOBAL": (110.07774963199, 3)})
    assert res.messages == ()


def test_fast_cox_tiled_veteran_factor_matches_coxph(veteran):
    # vet40 <- veteran[rep(seq_len(nrow(veteran)), 40), ]    (5,480 rows)
    # cv <- coxph(Surv(time, status) ~ trt + celltype + karno, data = vet40)
    #   trt                0.2590010048951 0.031868821583037  0.196539262363  0.3214627474276
    #   celltypelarge     -0.7631179166545 0.047263538949251 -0.855752750777 -0.6704830825321
    #   celltypesmallcell -0.3374640985816 0.042603576074903 -0.420965573301 -0.2539626238622
    #   celltypesquamous  -1.1766376987053 0.046818985485721 -1.268401224050 -1.0848741733606
    #   karno             -0.0316944548797 0.000817487608448 -0.033296701150 -0.0300922086093
    # cv$loglik[2] -37727.6376482254, concordance 0.7370513403
    res = cox(_tile(veteran, 40), "time", "status", ["trt", "celltype", "karno"])
    _check(res, {
        "trt": (0.2590010048951, 0.031868821583037, 0.196539262363, 0.3214627474276),
        "celltype: large vs adeno": (-0.7631179166545, 0.047263538949251, -0.855752750777,
                                     -0.6704830825321),
        "celltype: smallcell vs adeno": (-0.3374640985816, 0.042603576074903,
                                         -0.420965573301, -0.2539626238622),
        "celltype: squamous vs adeno": (-1.1766376987053, 0.046818985485721, -1.268401224050,
                                        -1.0848741733606),
        "karno": (-0.0316944548797, 0.000817487608448, -0.033296701150, -0.0300922086093)})
    assert res.loglik == pytest.approx(-37727.6376482254, rel=REL)
    assert res.concordance == pytest.approx(0.7370513403, rel=REL)
    # cox.zph(cv)$table[, 1:2]
    _check_zph(res, {"trt": (6.69048151431, 1), "celltype": (617.13640061115, 3),
                     "karno": (493.83735976947, 1), "GLOBAL": (932.37599388043, 5)})


def test_fast_cox_tiled_heart_counting_process_matches_coxph(heart):
    # h30 <- heart[rep(seq_len(nrow(heart)), 30), ]          (5,160 start-stop rows)
    # fit <- coxph(Surv(start, stop, event) ~ age + year + surgery + transplant, data = h30)
    #   age         0.02784274238708 0.00251319276659  0.0229169750784  0.0327685096958
    #   year       -0.14767075087080 0.01287148618357 -0.1728984002181 -0.1224431015235
    #   surgery    -0.64344408763933 0.06702232707633 -0.7748054348690 -0.5120827404097
    #   transplant -0.00981463811837 0.05726686982520 -0.1220556404831  0.1024263642464
    # fit$n 5160, fit$nevent 2250, fit$loglik[2] -16336.685812
    res = cox(_tile(heart, 30), "stop", "event", ["age", "year", "surgery", "transplant"],
              start="start")
    _check(res, {
        "age": (0.02784274238708, 0.00251319276659, 0.0229169750784, 0.0327685096958),
        "year": (-0.14767075087080, 0.01287148618357, -0.1728984002181, -0.1224431015235),
        "surgery": (-0.64344408763933, 0.06702232707633, -0.7748054348690,
                    -0.5120827404097),
        "transplant": (-0.00981463811837, 0.05726686982520, -0.1220556404831,
                       0.1024263642464)})
    assert (res.n, res.events) == (5160, 2250)
    assert res.loglik == pytest.approx(-16336.685812, rel=REL)
    # cox.zph(fit)$table[, 1:2]   (zph2: counting-process rows)
    _check_zph(res, {"age": (30.68618350568, 1), "year": (50.43963406750, 1),
                     "surgery": (2.73760534044, 1), "transplant": (5.49662552161, 1),
                     "GLOBAL": (108.55530617561, 4)})


# ------------------------------------------------------------ R, at the datasets' sizes

def test_fast_cox_small_lung_matches_coxph(lung, fast_everywhere):
    # cx <- coxph(Surv(time, status) ~ age + sex + ph.ecog, data = lung)
    #   age      0.01106676456  0.009267411014  -0.007097027257  0.02923055638
    #   sex     -0.55261239570  0.167739053787  -0.881374899927 -0.22384989148
    #   ph.ecog  0.46372847537  0.113577266162   0.241121124230  0.68633582651
    # cx$concordance["concordance"] 0.6371354930
    # cox.zph(cx)$table: age 0.1879876737, sex 2.3054372274, ph.ecog 2.0542487741,
    #   GLOBAL 4.4636575888 (3 df)
    res = cox(lung, "time", "status", ["age", "sex", "ph.ecog"])
    _check(res, {"age": (0.01106676456, 0.009267411014, -0.007097027257, 0.02923055638),
                 "sex": (-0.55261239570, 0.167739053787, -0.881374899927, -0.22384989148),
                 "ph.ecog": (0.46372847537, 0.113577266162, 0.241121124230,
                             0.68633582651)}, rel=1e-8)
    assert res.concordance == pytest.approx(0.6371354930, rel=1e-8)
    _check_zph(res, {"age": (0.1879876737, 1), "sex": (2.3054372274, 1),
                     "ph.ecog": (2.0542487741, 1), "GLOBAL": (4.4636575888, 3)}, rel=1e-8)


def test_fast_cox_small_heart_matches_coxph(heart, fast_everywhere):
    # fit <- coxph(Surv(start, stop, event) ~ age + year + surgery + transplant, data = heart)
    #   age         0.02716664096  0.01371411521  0.0002874690656  0.054045812850
    #   year       -0.14634634567  0.07046797952 -0.2844610475945 -0.008231643754
    #   surgery    -0.63720988997  0.36722599618 -1.3569596166672  0.082539836733
    # fit$loglik[2] -290.5656162
    # cox.zph(fit)$table: age 0.86687471092, year 1.71641442921, surgery 0.09739505912,
    #   transplant 0.20293438815, GLOBAL 3.47310229885 (4 df)
    res = cox(heart, "stop", "event", ["age", "year", "surgery", "transplant"],
              start="start", id="id")
    _check(res, {"age": (0.02716664096, 0.01371411521, 0.0002874690656, 0.054045812850),
                 "year": (-0.14634634567, 0.07046797952, -0.2844610475945,
                          -0.008231643754),
                 "surgery": (-0.63720988997, 0.36722599618, -1.3569596166672,
                             0.082539836733)}, rel=1e-8)
    assert res.loglik == pytest.approx(-290.5656162, rel=1e-8)
    assert (res.n, res.events) == (103, 75)
    _check_zph(res, {"age": (0.86687471092, 1), "year": (1.71641442921, 1),
                     "surgery": (0.09739505912, 1), "transplant": (0.20293438815, 1),
                     "GLOBAL": (3.47310229885, 4)}, rel=1e-8)


# ------------------------------------------------------------ the two paths, same data

def _same(a: CoxResult, b: CoxResult, tol: float = 1e-6) -> None:
    for col in ("coef", "se", "ci_low", "ci_high", "pvalue"):
        assert np.allclose(a.table[col], b.table[col], rtol=tol, atol=0), col
    assert np.allclose(a.ph_test["chisq"], b.ph_test["chisq"], rtol=tol)
    assert a.loglik == pytest.approx(b.loglik, rel=tol)
    assert (a.n, a.events, a.n_dropped) == (b.n, b.events, b.n_dropped)
    assert a.messages == b.messages
    assert a.concordance == pytest.approx(b.concordance, rel=tol, nan_ok=True)


def test_both_paths_agree_on_the_same_data(lung, veteran, heart, monkeypatch):
    cases = [
        (_tile(lung, 25), dict(time="time", event="status",
                               covariates=["age", "sex", "ph.ecog"])),
        (veteran, dict(time="time", event="status", covariates=["trt", "celltype", "karno"])),
        (_tile(heart, 30), dict(time="stop", event="event",
                                covariates=["age", "surgery", "transplant"],
                                start="start", id="id")),
    ]
    slow = []
    monkeypatch.setattr(efron, "FAST_MIN_ROWS", 10**9)
    monkeypatch.setattr(cox_model, "FAST_MIN_ROWS", 10**9)
    for df, kw in cases:
        slow.append(cox(df, **kw))  # type: ignore[arg-type]
    monkeypatch.setattr(efron, "FAST_MIN_ROWS", 0)
    monkeypatch.setattr(cox_model, "FAST_MIN_ROWS", 0)
    for (df, kw), s in zip(cases, slow, strict=True):
        _same(cox(df, **kw), s)  # type: ignore[arg-type]


@pytest.mark.parametrize("counting", [False, True])
def test_vectorised_sums_equal_the_loops(counting):
    # the same partial likelihood, score, information and cox.zph blocks, term by term
    rng = np.random.default_rng(7)
    n, p = 400, 3
    X = rng.normal(size=(n, p))
    t = rng.integers(1, 30, size=n).astype(float)          # many tied times
    e = (rng.random(n) < 0.6).astype(float)
    start = np.floor(t * rng.random(n)) if counting else None
    beta = np.array([0.4, -0.2, 0.1])
    g = np.cos(t)                                          # any function of time
    if counting:
        assert start is not None
        loop, loop_z = efron._efron_counting(X, start, t, e, beta, g)
    else:
        loop, loop_z = efron._efron(X, t, e, beta, g)
    fast, fast_z = efron.efron_fast(X, t, e, beta, g, start)
    assert loop_z is not None and fast_z is not None
    assert fast.loglik == pytest.approx(loop.loglik, rel=1e-12)
    for a, b in [(fast.score, loop.score), (fast.info, loop.info),
                 (fast_z.u_gamma, loop_z.u_gamma), (fast_z.i_beta_gamma, loop_z.i_beta_gamma),
                 (fast_z.i_gamma_gamma, loop_z.i_gamma_gamma)]:
        assert np.allclose(a, b, rtol=1e-9, atol=1e-9 * np.abs(b).max())


# ------------------------------------------------------------ degenerate data, large-n path

def test_fast_cox_flags_an_infinite_hazard_ratio(fast_everywhere):
    aml = pd.read_csv(FIX / "aml.csv")
    df = aml.copy()
    df.loc[df["x"] == "Maintained", "status"] = 0
    res = cox(df, "time", "status", ["x"])
    assert any("infinite" in m and "x: Nonmaintained vs Maintained" in m
               for m in res.messages)


def test_fast_cox_no_information_is_an_error(fast_everywhere):
    aml = pd.read_csv(FIX / "aml.csv")
    with pytest.raises(InsufficientDataError, match="same value"):
        cox(aml.assign(k=1.0), "time", "status", ["x", "k"])


@pytest.mark.parametrize("n, m", [(60, 2), (2_000, 3), (6_000, 32)])
def test_concordance_by_counts_equals_lifelines(n, m):
    # the same pairs as lifelines' tree (deaths and censorings tied in time, tied scores),
    # so the same C to the last bit
    from lifelines.utils import concordance_index

    rng = np.random.default_rng(n)
    t = rng.integers(1, 40, n).astype(float)
    e = (rng.random(n) < 0.5).astype(float)
    pred = rng.integers(0, m, n) * 0.37
    assert cox_model._concordance_few(t, e, pred) == concordance_index(t, pred, e)
    assert cox_model._concordance_few(t, e, np.arange(n) % 33 * 1.0) is None  # lifelines'
    assert np.isnan(cox_model._concordance_few(t, np.zeros(n), pred))   # no pairs


def test_cox_with_a_grouping_covariate_has_lifelines_concordance(veteran, monkeypatch):
    # veteran tiled past the switch, one binary covariate: two risk scores, counted
    data = _tile(veteran, 40)
    fast = cox(data, "time", "status", ["trt"])
    monkeypatch.setattr(efron, "FAST_MIN_ROWS", 10**9)
    monkeypatch.setattr(cox_model, "FAST_MIN_ROWS", 10**9)
    slow = cox(data, "time", "status", ["trt"])
    assert fast.concordance == slow.concordance
    _same(fast, slow)


@pytest.mark.parametrize("n, kind", [(50, "tied"), (999, "continuous"), (3_001, "few times")])
def test_concordance_by_sorting_equals_lifelines(n, kind):
    # any predictions: the same pairs as lifelines' tree, so the same C to the last bit
    from lifelines.utils import concordance_index

    rng = np.random.default_rng(n)
    t = rng.integers(1, 4 if kind == "few times" else 500, n).astype(float)
    e = (rng.random(n) < 0.5).astype(float)
    pred = rng.integers(0, 40, n) * 0.37 if kind == "tied" else rng.normal(size=n)
    assert cox_model._concordance_sorted(t, e, pred) == concordance_index(t, pred, e)
    assert np.isnan(cox_model._concordance_sorted(t, np.zeros(n), pred))   # no pairs


def test_fast_cox_retries_and_says_when_it_does_not_converge(lung, monkeypatch):
    from core.stats._common import SolverBudget
    from core.stats.ph_test import PH_NOT_FINITE

    tiny = SolverBudget(max_iter=1, tol=1e-300, xtol=1e-300, max_halfstep=0)
    data = _tile(lung, 25)
    monkeypatch.setattr(cox_model, "COX_NEWTON_ATTEMPTS",
                        (tiny, *cox_model.COX_NEWTON_ATTEMPTS))
    res = cox(data, "time", "status", ["age", "sex", "ph.ecog"])
    # the R values of test_fast_cox_tiled_lung_matches_coxph
    _check(res, {"sex": (-0.5550295539406, 0.03354407819578, -0.62077473909895,
                         -0.4892843687823)})
    assert res.messages == ()
    monkeypatch.setattr(cox_model, "COX_NEWTON_ATTEMPTS", (tiny, tiny))
    res = cox(data, "time", "status", ["age", "sex", "ph.ecog"])
    assert res.messages == (cox_model.COX_NOT_CONVERGED, PH_NOT_FINITE)


def _outcome(call, df: pd.DataFrame) -> object:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")           # no warning may reach the user either way
        try:
            return call(df)
        except (InsufficientDataError, ColumnError) as exc:
            return (type(exc), str(exc))


def test_degenerate_data_give_the_same_result_or_message_on_both_paths(monkeypatch):
    # test_stats_survival's degenerate cohorts (none, one patient, no events, one event time,
    # separation...) through cox and logistic: the same errors and messages on both paths,
    # and the same numbers except where both say a hazard ratio is infinite (then the
    # estimate only shows where the divergence has got to)
    from test_stats_survival import CALLS, DEGENERATE

    calls = {k: c for k, c in CALLS.items() if not k.startswith("kaplan")}
    paths = []
    for threshold in (10**9, 0):
        for module in (efron, cox_model, firth, regression):
            monkeypatch.setattr(module, "FAST_MIN_ROWS", threshold)
        paths.append({(d, c): _outcome(call, df) for d, df in DEGENERATE.items()
                      for c, call in calls.items()})
    slow, fast = paths
    for case, s in slow.items():
        f = fast[case]
        if isinstance(s, tuple) or isinstance(f, tuple):
            assert s == f, case
            continue
        assert s.messages == f.messages, case
        if any("infinite" in m for m in s.messages):
            continue
        a, b = (r.table.select_dtypes("number").to_numpy(float) for r in (s, f))
        assert np.allclose(a, b, rtol=1e-6, equal_nan=True), case
