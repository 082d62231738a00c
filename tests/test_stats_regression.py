"""core.stats.logistic against R 4.2 (stats::glm, brglm2 0.9).

The R code that produced each number sits beside it; the full script is
tests/fixtures/stats_models/reference_regression.R (data written by make_fixtures.R).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import ColumnError, InsufficientDataError
from core.stats import LogisticResult, firth, logistic, regression
from core.stats._common import SolverBudget

FIX = Path(__file__).parent / "fixtures" / "stats_models"
REL = 1e-4


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(FIX / name)


def _row(result: LogisticResult, term: str) -> pd.Series:
    rows = result.table[result.table["term"] == term]
    assert len(rows) == 1, f"term {term!r} not in {list(result.table['term'])}"
    return rows.iloc[0]


def _check(result, term, coef, se, ci_low, ci_high, p):
    r = _row(result, term)
    assert r["coef"] == pytest.approx(coef, rel=REL)
    assert r["se"] == pytest.approx(se, rel=REL)
    assert r["odds_ratio"] == pytest.approx(np.exp(coef), rel=REL)
    assert r["ci_low"] == pytest.approx(np.exp(ci_low), rel=REL)
    assert r["ci_high"] == pytest.approx(np.exp(ci_high), rel=REL)
    assert r["pvalue"] == pytest.approx(p, rel=REL)


def test_ml_matches_glm_infert_with_factor():
    # R 4.2 (tight convergence so SEs are at the optimum, not one IRLS step behind):
    # fit <- glm(case ~ age + parity + education + spontaneous + induced, family = binomial,
    #            data = infert, control = glm.control(epsilon = 1e-14, maxit = 100))
    # cbind(coef(summary(fit)), confint.default(fit))
    res = logistic(_read("infert.csv"), "case",
                   ["age", "parity", "education", "spontaneous", "induced"])
    assert res.method == "ml" and res.requested_method == "auto" and not res.separation
    assert res.ci_method == "Wald" and res.n == 248 and res.n_dropped == 0 and res.events == 83
    assert res.epv == pytest.approx(83 / 6)
    #                         Estimate      Std. Error     2.5 %           97.5 %        Pr(>|z|)
    _check(res, "(Intercept)", -1.1492365356, 1.41220934173, -3.91711598402, 1.6186429128,
           4.157674170e-01)
    _check(res, "age", 0.0395820017, 0.03120280906, -0.02157438028, 0.1007383837,
           2.046052867e-01)
    _check(res, "parity", -0.8282773823, 0.19649389412, -1.21339833796, -0.4431564266,
           2.494651022e-05)
    _check(res, "education: 12+ yrs vs 0-5yrs", -1.4032050895, 0.83416620776,
           -3.03814081380, 0.2317306348, 9.253687438e-02)
    _check(res, "education: 6-11yrs vs 0-5yrs", -1.0442435837, 0.79255906971,
           -2.59763081597, 0.5091436485, 1.876512132e-01)
    _check(res, "spontaneous", 2.0459050217, 0.31016332466, 1.43799607602, 2.6538139673,
           4.217775379e-11)
    _check(res, "induced", 1.2887573809, 0.30146618696, 0.69789451195, 1.8796202499,
           1.911673720e-05)
    assert list(res.table.columns) == ["term", "variable", "level", "coef", "se", "odds_ratio",
                                       "ci_low", "ci_high", "pvalue"]


def test_ml_reference_level():
    # infert$education <- relevel(factor(infert$education), ref = "6-11yrs")
    # fit2 <- glm(case ~ age + education + spontaneous, family = binomial, data = infert,
    #             control = glm.control(epsilon = 1e-14, maxit = 100))
    res = logistic(_read("infert.csv"), "case", ["age", "education", "spontaneous"],
                   method="ml", reference={"education": "6-11yrs"})
    _check(res, "education: 0-5yrs vs 6-11yrs", 0.11687388638, 0.69856393985,
           -1.25228627662, 1.48603404937, 8.671293421e-01)
    _check(res, "education: 12+ yrs vs 6-11yrs", -0.05250915660, 0.30948768184,
           -0.65909386667, 0.55407555348, 8.652737812e-01)
    _check(res, "spontaneous", 1.07697250766, 0.19834841595, 0.68821675600, 1.46572825932,
           5.644868004e-08)
    assert _row(res, "education: 0-5yrs vs 6-11yrs")["level"] == "0-5yrs"


def test_ml_matches_glm_mtcars():
    # fit3 <- glm(vs ~ mpg + am, family = binomial, data = mtcars,
    #             control = glm.control(epsilon = 1e-14, maxit = 100))
    res = logistic(_read("mtcars.csv"), "vs", ["mpg", "am"], method="ml")
    _check(res, "mpg", 0.6809205293, 0.2523813493, 0.1862621744, 1.1755788843,
           0.006976105328)
    _check(res, "am", -3.0072738552, 1.5994960334, -6.1422284740, 0.1276807636,
           0.060089223157)
    # 14 of 32 with vs = 1; EPV = 14 / 2 = 7 < 10 -> warning
    assert res.epv == pytest.approx(7.0)
    assert any("events per variable" in m for m in res.messages)


def test_firth_matches_brglm2_and_profile_likelihood_endometrial():
    # brglm2::endometrial: NV = 1 only with HG = 1 (quasi-complete separation).
    # fb <- glm(HG ~ NV + PI + EH, family = binomial, data = endometrial,
    #           method = "brglmFit", type = "AS_mean", epsilon = 1e-12, maxit = 500)
    # coef(summary(fb))  -> Estimate, Std. Error
    # Profile CI and p: penalised log-likelihood pl(b) = loglik(b) + 0.5 log det(X'W(b)X),
    # profiled in R with optim() over the other coefficients and uniroot() for
    # 2 (pl(b_hat) - prof(b_j)) = qchisq(0.95, 1); p = pchisq(2 (pl(b_hat) - prof(0)), 1, lower = F)
    # (reference_regression.R). These equal logistf's published values (Heinze & Schemper 2002).
    res = logistic(_read("endometrial.csv"), "HG", ["NV", "PI", "EH"])
    assert res.method == "firth" and res.requested_method == "auto"
    assert res.separation and res.separating == ("NV",)
    assert res.ci_method == "profile likelihood"
    assert any("separated by NV" in m and "Firth" in m for m in res.messages)
    #                      Estimate          Std.Error       profile CI                    LRT p
    _check(res, "NV", 2.92927335320, 1.55076372945, 0.6097244363, 7.854631714, 0.009123667547)
    _check(res, "PI", -0.03475175987, 0.03957814735, -0.1244587209, 0.04045547318,
           0.3874822036)
    _check(res, "EH", -2.60416392529, 0.77601764250, -4.365183247, -1.232721057,
           2.506867215e-05)
    assert _row(res, "(Intercept)")["coef"] == pytest.approx(3.77455971365, rel=REL)


def test_firth_requested_without_separation_matches_brglm2_mtcars():
    # fbm <- glm(vs ~ mpg + am, family = binomial, data = mtcars, method = "brglmFit",
    #            type = "AS_mean", epsilon = 1e-12, maxit = 500); coef(summary(fbm))
    #   mpg 0.5222005814 (SE 0.1874359878); am -2.3273412577 (SE 1.3811220267)
    res = logistic(_read("mtcars.csv"), "vs", ["mpg", "am"], method="firth")
    assert res.method == "firth" and not res.separation and res.separating == ()
    assert _row(res, "mpg")["coef"] == pytest.approx(0.5222005814, rel=REL)
    assert _row(res, "mpg")["se"] == pytest.approx(0.1874359878, rel=REL)
    assert _row(res, "am")["coef"] == pytest.approx(-2.3273412577, rel=REL)
    assert _row(res, "am")["se"] == pytest.approx(1.3811220267, rel=REL)


def test_ml_on_separated_data_warns_and_flags():
    res = logistic(_read("endometrial.csv"), "HG", ["NV", "PI", "EH"], method="ml")
    assert res.method == "ml" and res.separation and res.separating == ("NV",)
    assert any("use method 'firth'" in m for m in res.messages)
    assert _row(res, "NV")["coef"] > 10  # the ML estimate runs off towards infinity


def _paper_like() -> pd.DataFrame:
    """Table S3 situation: hypofibrinogenemia 27/29 with tocilizumab, 0/12 without."""
    rng = np.random.default_rng(1)
    toci = np.r_[np.ones(29), np.zeros(12)].astype(int)
    hypo = np.r_[np.ones(27), np.zeros(2), np.zeros(12)].astype(int)
    return pd.DataFrame({
        "hypofib": hypo, "tocilizumab": toci,
        "crs_grade": rng.integers(0, 4, 41),
        "lymphodepletion": np.where(rng.random(41) < 0.8, "Flu/Cy", "Benda"),
    })


def test_paper_table_s3_separation_switches_to_firth():
    res = logistic(_paper_like(), "hypofib", ["tocilizumab", "crs_grade", "lymphodepletion"])
    assert res.separation and "tocilizumab" in res.separating
    assert res.method == "firth"
    r = _row(res, "tocilizumab")
    assert np.isfinite(r["odds_ratio"]) and 1 < r["odds_ratio"] < 1e4
    assert np.isfinite(r["ci_low"]) and r["ci_low"] > 1
    assert "lymphodepletion: Flu/Cy vs Benda" in set(res.table["term"])


def test_missing_rows_are_dropped_and_counted():
    df = _read("infert.csv")
    df.loc[[0, 5, 9], "age"] = np.nan
    df.loc[9, "parity"] = np.nan
    res = logistic(df, "case", ["age", "parity"])
    assert res.n == 245 and res.n_dropped == 3


def test_boolean_outcome_and_predictor():
    df = _read("mtcars.csv").assign(vs=lambda d: d["vs"] == 1, am=lambda d: d["am"] == 1)
    res = logistic(df, "vs", ["mpg", "am"], method="ml")
    assert _row(res, "am")["coef"] == pytest.approx(-3.0072738552, rel=REL)


@pytest.mark.parametrize("bad, match", [
    (["no", "yes"], "two values"),
    ([0, 2], "0/1"),
])
def test_outcome_not_binary(bad, match):
    df = pd.DataFrame({"y": [bad[0], bad[1]] * 10, "x": np.arange(20.0)})
    with pytest.raises(ColumnError, match=match):
        logistic(df, "y", ["x"])


def test_no_events_or_all_events():
    df = pd.DataFrame({"y": [0] * 10, "x": np.arange(10.0)})
    with pytest.raises(InsufficientDataError, match="no patient"):
        logistic(df, "y", ["x"])
    with pytest.raises(InsufficientDataError, match="every patient"):
        logistic(df.assign(y=1), "y", ["x"])


def test_constant_collinear_and_too_few():
    df = _read("infert.csv")
    with pytest.raises(InsufficientDataError, match="same value"):
        logistic(df.assign(k=3.0), "case", ["age", "k"])
    with pytest.raises(InsufficientDataError, match="collinear.*age2"):
        logistic(df.assign(age2=df["age"] * 2 + 1), "case", ["age", "age2"])
    small = df.iloc[[0, 1, 200]]
    with pytest.raises(InsufficientDataError, match="parameters"):
        logistic(small, "case", ["age", "parity", "spontaneous"])


def test_column_errors():
    df = _read("infert.csv")
    with pytest.raises(ColumnError, match="not in the data"):
        logistic(df, "case", ["nope"])
    with pytest.raises(ColumnError, match="Reference level"):
        logistic(df, "case", ["education"], reference={"education": "college"})
    with pytest.raises(ColumnError, match="numeric"):
        logistic(df, "case", ["age"], reference={"age": "30"})


def test_result_is_frozen():
    res = logistic(_read("mtcars.csv"), "vs", ["mpg"])
    with pytest.raises(AttributeError):
        res.n = 3  # type: ignore[misc]


# ----------------------------------------------------------------- solver budgets and retries
# Machines differ in CPU: OpenBLAS's SkylakeX kernel left endometrial's PI p-value NaN (the
# constrained refit stalled at its gradient tolerance). These tests force such failures, so
# they do not depend on which CPU runs them.

ENDOMETRIAL_R = {  # term: (coef, se, profile CI low, high, LRT p), from the test above
    "NV": (2.92927335320, 1.55076372945, 0.6097244363, 7.854631714, 0.009123667547),
    "PI": (-0.03475175987, 0.03957814735, -0.1244587209, 0.04045547318, 0.3874822036),
    "EH": (-2.60416392529, 0.77601764250, -4.365183247, -1.232721057, 2.506867215e-05),
}
TINY = SolverBudget(max_iter=1, tol=1e-300, xtol=1e-300, max_halfstep=0)


def _endometrial() -> LogisticResult:
    return logistic(_read("endometrial.csv"), "HG", ["NV", "PI", "EH"])


def _check_endometrial(res: LogisticResult) -> None:
    for term, values in ENDOMETRIAL_R.items():
        _check(res, term, *values)
    assert not any("could not be computed" in m for m in res.messages)


def test_firth_inference_runs_under_every_cpu_kernel_without_warnings():
    # the R values of test_firth_matches_brglm2_and_profile_likelihood_endometrial, with every
    # warning an error: no ConvergenceWarning may reach the user
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = _endometrial()
    _check_endometrial(res)


def test_firth_retries_lrt_and_profile_limits_when_the_first_budget_fails(monkeypatch):
    # a first attempt that cannot converge (one iteration, unreachable tolerance) stands for a
    # CPU whose rounding floor lies above the tolerance; the retry must still give R's numbers
    monkeypatch.setattr(firth, "FIRTH_LRT_ATTEMPTS",
                        (TINY, *firth.FIRTH_LRT_ATTEMPTS))
    monkeypatch.setattr(firth, "FIRTH_CI_ATTEMPTS", (TINY, *firth.FIRTH_CI_ATTEMPTS))
    _check_endometrial(_endometrial())


def test_firth_retries_fit_when_the_first_budget_fails(monkeypatch):
    monkeypatch.setattr(firth, "FIRTH_FIT_ATTEMPTS",
                        (TINY, *firth.FIRTH_FIT_ATTEMPTS))
    _check_endometrial(_endometrial())


def test_firth_unreachable_budgets_leave_blanks_with_messages(monkeypatch):
    monkeypatch.setattr(firth, "FIRTH_LRT_ATTEMPTS", (TINY, TINY))
    monkeypatch.setattr(firth, "FIRTH_CI_ATTEMPTS", (TINY,))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = _endometrial()
    for term, (coef, se, *_rest) in ENDOMETRIAL_R.items():
        r = _row(res, term)
        assert r["coef"] == pytest.approx(coef, rel=REL)  # estimates are unaffected
        assert r["se"] == pytest.approx(se, rel=REL)
        assert np.isnan(r["pvalue"]) and np.isnan(r["ci_low"]) and np.isnan(r["ci_high"])
        assert (f"The likelihood-ratio p-value for '{term}' could not be computed (the fit with "
                "this term's effect fixed at zero did not converge, even with more iterations "
                "and a looser tolerance); it is left blank.") in " ".join(res.messages)
        assert (f"The lower and upper limits of the 95% profile-likelihood CI for '{term}' "
                "could not be computed") in " ".join(res.messages)


def _failing_lrt(monkeypatch, idx: int, failures: int) -> list[int]:
    """Make firthmodels' constrained refit for parameter ``idx`` fail ``failures`` times (as
    on the SkylakeX CPU: 'max_iter'); returns the list of attempts seen for ``idx``."""
    import firthmodels.logistic as fl
    from firthmodels._lrt import LRTResult

    real, seen = fl.constrained_lrt_1df, []

    def fake(**kwargs):
        if kwargs["idx"] != idx:
            return real(**kwargs)
        seen.append(kwargs["max_iter"])
        if len(seen) <= failures:
            return LRTResult(np.nan, np.nan, np.nan, False, kwargs["max_iter"], "max_iter")
        return real(**kwargs)

    monkeypatch.setattr(fl, "constrained_lrt_1df", fake)
    return seen


def test_firth_constrained_refit_that_fails_once_is_retried(monkeypatch):
    seen = _failing_lrt(monkeypatch, idx=1, failures=1)  # idx 1 = PI (firthmodels' order)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = _endometrial()
    _check_endometrial(res)
    assert len(seen) == 2 and min(seen) >= 1000  # ample iterations, set explicitly


def test_firth_constrained_refit_that_always_fails_is_named(monkeypatch):
    _failing_lrt(monkeypatch, idx=1, failures=99)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = _endometrial()
    assert np.isnan(_row(res, "PI")["pvalue"])
    assert _row(res, "NV")["pvalue"] == pytest.approx(ENDOMETRIAL_R["NV"][4], rel=REL)
    assert _row(res, "PI")["ci_low"] == pytest.approx(np.exp(ENDOMETRIAL_R["PI"][2]), rel=REL)
    blanks = [m for m in res.messages if "could not be computed" in m]
    assert blanks == [
        "The likelihood-ratio p-value for 'PI' could not be computed (the fit with this term's "
        "effect fixed at zero did not converge, even with more iterations and a looser "
        "tolerance); it is left blank. Its odds ratio is still valid; fewer predictors may "
        "help."]


def test_firth_profile_limit_that_always_fails_is_named(monkeypatch):
    import firthmodels.logistic as fl
    from firthmodels._profile_ci import ProfileCIBoundResult

    real = fl.profile_ci_bound

    def fake(**kwargs):
        if kwargs["idx"] == 2 and kwargs["which"] == 1:  # EH, upper limit
            return ProfileCIBoundResult(np.nan, False, kwargs["max_iter"])
        return real(**kwargs)

    monkeypatch.setattr(fl, "profile_ci_bound", fake)
    res = _endometrial()
    eh = _row(res, "EH")
    assert np.isnan(eh["ci_high"])
    assert eh["ci_low"] == pytest.approx(np.exp(ENDOMETRIAL_R["EH"][2]), rel=REL)
    assert eh["pvalue"] == pytest.approx(ENDOMETRIAL_R["EH"][4], rel=REL)
    assert [m for m in res.messages if "could not be computed" in m] == [
        "The upper limit of the 95% profile-likelihood CI for 'EH' could not be computed (the "
        "search did not converge, even with more iterations and a looser tolerance); left "
        "blank. Its odds ratio is still valid; fewer predictors may help."]


def test_firth_fit_that_never_converges_says_so(monkeypatch):
    monkeypatch.setattr(firth, "FIRTH_FIT_ATTEMPTS", (TINY, TINY))
    res = _endometrial()
    assert res.method == "firth"
    assert firth.FIRTH_NOT_CONVERGED in res.messages
    assert res.table["pvalue"].isna().all() and res.table["ci_low"].isna().all()


def test_ml_retries_with_a_looser_budget(monkeypatch):
    monkeypatch.setattr(regression, "ML_ATTEMPTS", (TINY, *regression.ML_ATTEMPTS))
    res = logistic(_read("mtcars.csv"), "vs", ["mpg", "am"], method="ml")
    _check(res, "mpg", 0.6809205293, 0.2523813493, 0.1862621744, 1.1755788843,
           0.006976105328)
    assert regression.ML_NOT_CONVERGED not in res.messages


def test_ml_that_never_converges_says_so_or_falls_back_to_firth(monkeypatch):
    monkeypatch.setattr(regression, "ML_ATTEMPTS", (TINY,))
    ml = logistic(_read("mtcars.csv"), "vs", ["mpg", "am"], method="ml")
    assert ml.method == "ml" and regression.ML_NOT_CONVERGED in ml.messages
    auto = logistic(_read("mtcars.csv"), "vs", ["mpg", "am"])
    assert auto.method == "firth" and regression.ML_FELL_BACK in auto.messages
    assert _row(auto, "mpg")["coef"] == pytest.approx(0.5222005814, rel=REL)  # brglm2


def test_units_do_not_change_the_answer():
    # ferritin in ng/mL or age in seconds: the solvers work on rescaled columns, so the same
    # model in other units gives the same odds ratio per original unit and the same p
    df = _read("endometrial.csv")
    big = logistic(df.assign(PI=df["PI"] * 1e6), "HG", ["NV", "PI", "EH"])
    assert _row(big, "PI")["coef"] * 1e6 == pytest.approx(ENDOMETRIAL_R["PI"][0], rel=REL)
    assert _row(big, "PI")["pvalue"] == pytest.approx(ENDOMETRIAL_R["PI"][4], rel=REL)
    assert np.log(_row(big, "PI")["ci_high"]) * 1e6 == pytest.approx(ENDOMETRIAL_R["PI"][3],
                                                                     rel=REL)
    mt = _read("mtcars.csv")
    ml = logistic(mt.assign(mpg=mt["mpg"] * 1e9), "vs", ["mpg", "am"], method="ml")
    assert _row(ml, "mpg")["coef"] * 1e9 == pytest.approx(0.6809205293, rel=REL)
    assert _row(ml, "mpg")["pvalue"] == pytest.approx(0.006976105328, rel=REL)


def test_separation_check_failure_is_reported(monkeypatch):
    import firthmodels

    def broken(*args, **kwargs):
        raise RuntimeError("LP solver failed")

    monkeypatch.setattr(firthmodels, "detect_separation", broken)
    res = logistic(_read("mtcars.csv"), "vs", ["mpg", "am"])
    assert regression.SEPARATION_UNCHECKED in res.messages and res.method == "ml"


def test_infinite_predictor_is_a_column_error():
    df = _read("mtcars.csv")
    df.loc[3, "mpg"] = np.inf
    with pytest.raises(ColumnError, match="'mpg' holds 1 infinite value"):
        logistic(df, "vs", ["mpg"])
