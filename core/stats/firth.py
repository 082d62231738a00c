"""Firth's penalised (bias-reduced) logistic regression: fit, likelihood-ratio p-values and
profile penalised-likelihood CIs, each under explicit solver budgets.

:func:`core.stats.logistic` uses it when the data are separated (or on request). Coefficients
and SEs equal brglm2's; p-values and CIs equal logistf's (``tests/test_stats_regression.py``).

From :data:`FAST_MIN_ROWS` patients the fits run on the distinct (predictors, outcome) rows with
their counts as frequency weights (:func:`collapse`, called by
:func:`core.stats.regression.logistic`): the penalised likelihood, its score, the
hat diagonal summed per pattern and the information are the same functions of the coefficients,
so the estimates, p-values and CIs are too (to rounding: ``tests/test_stats_firth_scale.py``
checks both paths to 1e-6 and the weighted path against logistf/brglm2).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from core.errors import InsufficientDataError
from core.notes import Note
from core.stats._common import SolverBudget, distinct_rows, quiet_solver
from core.stats.design import INTERCEPT

#: Firth fit attempts (gradient tol, step xtol), tightest first: a tolerance can sit at the
#: rounding floor of one CPU's BLAS kernel, so a failed attempt is retried with a looser one.
#: The first xtol is 1e-7, not 1e-8: where the information is small (separation) the Newton
#: step I^-1 U of a converged fit is rounding noise times a large I^-1, and stays above 1e-8.
FIRTH_FIT_ATTEMPTS: tuple[SolverBudget, ...] = (
    SolverBudget(max_iter=1000, tol=1e-8, xtol=1e-7, max_halfstep=100),
    SolverBudget(max_iter=1000, tol=1e-6, xtol=1e-6, max_halfstep=100),
    SolverBudget(max_iter=2000, tol=1e-4, xtol=1e-4, max_halfstep=100),
)
#: Constrained refits of the penalised likelihood-ratio tests. They start at 1e-6, not 1e-8:
#: the statistic depends only on the constrained log-likelihood, whose error is quadratic in
#: the gradient (endometrial's p-values agree to 1e-8 between gtol 1e-4 and 1e-8), and 1e-8
#: lies below the rounding floor on some CPUs (OpenBLAS SkylakeX kernel, endometrial's PI:
#: the gradient stalls at ~8e-9 however many iterations are allowed).
FIRTH_LRT_ATTEMPTS: tuple[SolverBudget, ...] = (
    SolverBudget(max_iter=1000, tol=1e-6, xtol=1e-6, max_halfstep=100),
    SolverBudget(max_iter=2000, tol=1e-4, xtol=1e-4, max_halfstep=100),
)
#: Profile penalised-likelihood CI limits (Venzon-Moolgavkar search; tol on |l - l*| and on
#: the nuisance scores).
FIRTH_CI_ATTEMPTS: tuple[SolverBudget, ...] = (
    SolverBudget(max_iter=1000, tol=1e-8),
    SolverBudget(max_iter=1000, tol=1e-6),
    SolverBudget(max_iter=2000, tol=1e-4),
)
_FIRTH_MAX_STEP = 5.0
#: From this many rows the Firth fits run on distinct rows with frequency weights (collapse).
FAST_MIN_ROWS = 1_000
#: Iterations and step-halvings of every attempt but the last on that path: Newton converges
#: within tens of steps, and a step halved 20 times is a millionth of itself; an attempt that
#: needs more sits at its tolerance's rounding floor (a flat direction of the penalised
#: likelihood, e.g. a group without events among thousands of patients), where the small-n
#: budgets would spend thousands of evaluations before the looser retry.
FAST_MAX_ITER = 50
FAST_MAX_HALFSTEP = 20


def fast_budgets(attempts: tuple[SolverBudget, ...]) -> tuple[SolverBudget, ...]:
    """``attempts`` for the large-n path: every attempt but the last capped at FAST_MAX_ITER
    iterations and FAST_MAX_HALFSTEP halvings (tolerances unchanged; the last attempt as
    it is)."""
    return tuple(dataclasses.replace(b, max_iter=min(b.max_iter, FAST_MAX_ITER),
                                     max_halfstep=min(b.max_halfstep, FAST_MAX_HALFSTEP))
                 for b in attempts[:-1]) + attempts[-1:]
RETRIED = "even with more iterations and a looser tolerance"
FIRTH_NOT_CONVERGED = (f"Firth's penalised fit did not converge ({RETRIED}): the odds ratios "
                       "are unreliable, and their p-values and profile-likelihood CIs were not "
                       "computed. Use fewer predictors or more patients.")


def scaled(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Columns of X divided by their largest absolute value, and those divisors.

    ML and Firth estimates, Wald and profile CIs and likelihood-ratio tests are equivariant
    under this rescaling (the intercept is unchanged), and solver tolerances then mean the same
    for ferritin in ng/mL as for age in years.
    """
    scale = np.abs(X).max(axis=0) if X.size else np.ones(X.shape[1])
    scale = np.where(scale > 0, scale, 1.0)
    return X / scale, scale


def unscale(values: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Coefficient-scale quantities (intercept first) back in the units of the data."""
    values = np.array(values, dtype=float)
    values[1:] = values[1:] / (scale[:, None] if values.ndim == 2 else scale)
    return values


def collapse(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct rows of (X, y) and how many times each occurs.

    Returns
    -------
    (ndarray, ndarray, ndarray)
        X of the distinct rows, their y, and their counts (float frequency weights); every
        sum over patients equals the count-weighted sum over these rows.
    """
    first, group = distinct_rows(np.column_stack([X, y]))
    return X[first], y[first], np.bincount(group, minlength=len(first)).astype(float)


def _firth_model(budget: SolverBudget) -> Any:
    """A FirthLogisticRegression with every solver setting explicit (numpy backend, so the
    numbers do not depend on whether numba happens to be installed)."""
    from firthmodels import FirthLogisticRegression

    return FirthLogisticRegression(backend="numpy", max_iter=budget.max_iter,
                                   max_step=_FIRTH_MAX_STEP, max_halfstep=budget.max_halfstep,
                                   gtol=budget.tol, xtol=budget.xtol, fit_intercept=True)


def _use_budget(model: Any, budget: SolverBudget) -> None:
    """Set the solver settings that ``model.lrt()`` reads for its constrained refits."""
    model.set_params(max_iter=budget.max_iter, max_halfstep=budget.max_halfstep,
                     gtol=budget.tol, xtol=budget.xtol, max_step=_FIRTH_MAX_STEP)


def _fit_firth(X: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None,
               attempts: tuple[SolverBudget, ...] = FIRTH_FIT_ATTEMPTS) -> Any:
    """Firth fit under ``attempts``: the first converged model, else the last one
    (``weights``: frequency weights of the rows, see :func:`collapse`)."""
    model = None
    for budget in attempts:
        with quiet_solver():
            model = _firth_model(budget).fit(X, y, sample_weight=weights)
        if model.converged_ and np.isfinite(model.loglik_):
            break
    return model


def _firth_lrt(model: Any, attempts: tuple[SolverBudget, ...] = FIRTH_LRT_ATTEMPTS
               ) -> np.ndarray:
    """Penalised likelihood-ratio p-values (firthmodels order: intercept last).

    Each constrained refit runs under ``attempts``; a p-value still missing after the last
    attempt stays NaN.
    """
    p = np.full(len(model.coef_) + 1, np.nan)
    for budget in attempts:
        todo = [int(i) for i in np.flatnonzero(np.isnan(p))]
        if not todo:
            break
        _use_budget(model, budget)
        model.lrt_pvalues_[todo] = np.nan  # forget a failed try: lrt() redoes only NaNs
        with quiet_solver():
            try:
                model.lrt(features=todo, warm_start=True)
            except (np.linalg.LinAlgError, ValueError):
                continue
        p[todo] = np.asarray(model.lrt_pvalues_, dtype=float)[todo]
    return p


def _firth_profile_ci(model: Any, attempts: tuple[SolverBudget, ...] = FIRTH_CI_ATTEMPTS
                      ) -> np.ndarray:
    """95% profile penalised-likelihood limits (rows in firthmodels order, intercept last).

    Each limit is searched under ``attempts``; a limit still missing stays NaN.
    """
    ci = np.full((len(model.coef_) + 1, 2), np.nan)
    for budget in attempts:
        todo = [int(i) for i in np.flatnonzero(np.isnan(ci).any(axis=1))]
        if not todo:
            break
        with quiet_solver():
            try:
                found = model.conf_int(alpha=0.05, method="pl", features=todo,
                                       max_iter=budget.max_iter, tol=budget.tol)
            except (np.linalg.LinAlgError, ValueError):
                continue
        ci = np.where(np.isnan(ci), found, ci)
    return ci


def _blank_notes(names: Sequence[str], ci: np.ndarray, p: np.ndarray) -> list[Note]:
    """One "convergence" note per term whose p-value or CI limit could not be computed."""
    out = []
    for name, (low, high), pv in zip(names, ci, p, strict=True):
        if np.isnan(pv):
            out.append(Note("warning", "convergence",
                            f"The likelihood-ratio p-value for '{name}' could not be computed "
                            f"(the fit with this term's effect fixed at zero did not converge, "
                            f"{RETRIED}); it is left blank. Its odds ratio is still valid; "
                            "fewer predictors may help."))
        missing = [w for w, v in (("lower", low), ("upper", high)) if np.isnan(v)]
        if missing:
            which = " and ".join(missing)
            out.append(Note("warning", "convergence",
                            f"The {which} limit{'s' if len(missing) > 1 else ''} of the 95% "
                            f"profile-likelihood CI for '{name}' could not be computed (the "
                            f"search did not converge, {RETRIED}); left blank. Its odds ratio "
                            "is still valid; fewer predictors may help."))
    return out


def firth_se(X: np.ndarray, coef: np.ndarray, weights: np.ndarray | None = None
             ) -> np.ndarray:
    """brglm2's SE: square roots of the diagonal of the inverse Fisher information at coef
    (``weights``: frequency weights of the rows)."""
    exog = np.column_stack([np.ones(len(X)), X])
    with np.errstate(all="ignore"):
        p_hat = 1.0 / (1.0 + np.exp(-exog @ coef))
        w = p_hat * (1 - p_hat) if weights is None else weights * p_hat * (1 - p_hat)
        info = exog.T @ (exog * w[:, None])
        try:
            return np.asarray(np.sqrt(np.diag(np.linalg.pinv(info))))
        except np.linalg.LinAlgError:
            return np.full(len(coef), np.nan)


def firth_table(X: np.ndarray, y: np.ndarray, terms: Sequence[str],
                weights: np.ndarray | None = None) -> tuple[pd.DataFrame, list[Note]]:
    """Firth estimates (intercept first) and notes on what could not be computed.

    ``weights``: the rows are distinct (predictors, outcome) rows with these counts
    (:func:`collapse`, from FAST_MIN_ROWS patients); the solver budgets are then
    :func:`fast_budgets` of the usual ones.

    Returns
    -------
    (DataFrame, list of Note)
        Columns ``coef, se, ci_low_coef, ci_high_coef, pvalue``: SE as brglm2 (inverse Fisher
        information at the estimate); profile penalised-likelihood CIs and penalised
        likelihood-ratio p-values as logistf. Notes of kind "convergence".

    Raises
    ------
    InsufficientDataError
        The fit failed outright (a singular or non-finite system).
    """
    Xs, scale = scaled(X)
    fit_, lrt_, ci_ = FIRTH_FIT_ATTEMPTS, FIRTH_LRT_ATTEMPTS, FIRTH_CI_ATTEMPTS
    if weights is not None:
        fit_, lrt_, ci_ = fast_budgets(fit_), fast_budgets(lrt_), fast_budgets(ci_)
    try:
        model = _fit_firth(Xs, y, weights, fit_)
    except (np.linalg.LinAlgError, ValueError, FloatingPointError) as exc:
        raise InsufficientDataError(
            f"Firth's penalised logistic regression could not be fitted ({exc}). Use fewer "
            "predictors or more patients.") from None
    k = X.shape[1]
    if model.converged_ and np.isfinite(model.loglik_):
        ci, p = _firth_profile_ci(model, ci_), _firth_lrt(model, lrt_)
        notes = _blank_notes([*terms, INTERCEPT], ci, p)
    else:
        ci, p = np.full((k + 1, 2), np.nan), np.full(k + 1, np.nan)
        notes = [Note("warning", "convergence", FIRTH_NOT_CONVERGED)]
    order = np.r_[k, np.arange(k)]  # firthmodels puts the intercept last: move it first
    coef = unscale(np.r_[model.coef_, model.intercept_][order], scale)
    ci = unscale(ci[order], scale)
    se = firth_se(X, coef, weights)
    out = pd.DataFrame({"coef": coef, "se": se, "ci_low_coef": ci[:, 0],
                        "ci_high_coef": ci[:, 1], "pvalue": p[order]})
    return out, notes
