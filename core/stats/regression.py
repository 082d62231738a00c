"""Logistic regression with separation detection and Firth's penalised likelihood.

The paper's Table S3 (tocilizumab, OR = 486) is what separation looks like in maximum likelihood:
every patient with hypofibrinogenemia had tocilizumab, so the ML odds ratio is infinite and the
number printed is only where the optimiser stopped. :func:`logistic` detects this before fitting
and switches to Firth's bias-reduced (penalised) likelihood, which gives finite estimates.

Term names
----------
A numeric (or boolean) predictor keeps its column name as term. A categorical predictor (text or
category dtype) is treatment-coded against a reference level (the first in sorted order, or the
one named in ``reference``); its terms read ``"<column>: <level> vs <reference>"``, e.g.
``"lymphodepletion: Benda vs Flu/Cy"``. The ``variable`` and ``level`` columns of the table hold
the parts. The intercept is kept in the table as term ``"(Intercept)"`` (variable ``""``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats as _st

from core.errors import ColumnError, InsufficientDataError
from core.stats._common import (
    SolverBudget, complete_cases, numeric, quiet_solver, require_columns, require_finite,
)

Method = Literal["auto", "ml", "firth"]
INTERCEPT = "(Intercept)"
_EPV_MIN = 10


@dataclass(frozen=True)
class Design:
    """A model matrix built from a DataFrame (no intercept column).

    Attributes
    ----------
    X : float matrix, one column per term.
    terms : term names (see the module docstring).
    variables : for each term, the predictor column it comes from.
    levels : for each term, the level of a categorical predictor ("" for numeric ones).
    references : reference level used for each categorical predictor.
    """

    X: np.ndarray
    terms: tuple[str, ...]
    variables: tuple[str, ...]
    levels: tuple[str, ...]
    references: dict[str, str]


def _is_categorical(s: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s))


def design_matrix(data: pd.DataFrame, predictors: Sequence[str],
                  reference: dict[str, str] | None = None, *, check_rank: bool = True
                  ) -> Design:
    """Treatment-coded model matrix for ``predictors`` of complete-case ``data``.

    Numeric and boolean columns enter as they are; other columns are categorical and coded
    against the first level in sorted order, or ``reference[column]``. A predictor with a single
    value raises :class:`InsufficientDataError`; a rank-deficient matrix (collinear predictors)
    raises it too, naming the terms involved. Shared by :func:`logistic` and
    :func:`core.stats.cox`.
    """
    reference = dict(reference or {})
    unknown = [k for k in reference if k not in predictors]
    if unknown:
        raise ColumnError(f"reference names column(s) that are not predictors: "
                          f"{', '.join(unknown)}.")
    cols, terms, variables, levels, refs = [], [], [], [], {}
    for p in predictors:
        s = data[p]
        if s.nunique() < 2:
            raise InsufficientDataError(
                f"Predictor '{p}' has the same value ({s.iloc[0] if len(s) else 'none'}) in all "
                f"{len(s)} usable rows, so its effect cannot be estimated. Remove it from the "
                "model or widen the filter.")
        if not _is_categorical(s):
            if p in reference:
                raise ColumnError(f"'{p}' is numeric; a reference level applies only to "
                                  "categorical predictors.")
            values = numeric(s, p).to_numpy()
            require_finite(values, p)
            cols.append(values)
            terms.append(p)
            variables.append(p)
            levels.append("")
            continue
        text = s.astype(str)
        lv = sorted(text.unique())
        ref = str(reference.get(p, lv[0]))
        if ref not in lv:
            raise ColumnError(f"Reference level '{ref}' is not a value of '{p}' in the "
                              f"usable rows. Choose one of: {', '.join(lv)}.")
        refs[p] = ref
        for level in (x for x in lv if x != ref):
            cols.append((text == level).to_numpy(dtype=float))
            terms.append(f"{p}: {level} vs {ref}")
            variables.append(p)
            levels.append(level)
    X = np.column_stack(cols) if cols else np.empty((len(data), 0))
    if check_rank:
        check_full_rank(X, terms)
    return Design(X, tuple(terms), tuple(variables), tuple(levels), refs)


def check_full_rank(X: np.ndarray, terms: Sequence[str]) -> None:
    """Raise InsufficientDataError naming the aliased terms of a rank-deficient [1, X]."""
    full = np.column_stack([np.ones(len(X)), X])
    if np.linalg.matrix_rank(full) == full.shape[1]:
        return
    names = [INTERCEPT, *terms]
    aliased = []
    kept = [0]
    for j in range(1, full.shape[1]):
        if np.linalg.matrix_rank(full[:, kept + [j]]) == len(kept) + 1:
            kept.append(j)
        else:
            aliased.append(names[j])
    raise InsufficientDataError(
        "Predictors are collinear (one is determined by the others): "
        f"{', '.join(aliased)} add(s) no information beyond the other predictors in the usable "
        "rows. Remove one of the related predictors.")


@dataclass(frozen=True)
class LogisticResult:
    """Result of :func:`logistic`.

    Attributes
    ----------
    method : "ml" or "firth", the estimator used.
    requested_method : "auto", "ml" or "firth", as asked.
    separation : True if the data are (quasi-)completely separated (ML estimates infinite).
    separating : predictor columns whose ML coefficient is infinite.
    n, n_dropped : patients used; rows left out for a missing value.
    events : patients with outcome 1.
    epv : events per variable, min(events, non-events) / number of terms (intercept excluded).
    ci_method : "Wald" (ML) or "profile likelihood" (Firth).
    table : DataFrame with columns term, variable, level, coef, se, odds_ratio, ci_low, ci_high,
        pvalue; one row per term, the intercept first ("(Intercept)"; its odds_ratio is the
        baseline odds). A Firth p-value or profile-likelihood limit that cannot be computed is
        missing, and a message names the term.
    messages : warnings for the user.
    """

    method: Literal["ml", "firth"]
    requested_method: Method
    separation: bool
    separating: tuple[str, ...]
    n: int
    n_dropped: int
    events: int
    epv: float
    ci_method: str
    table: pd.DataFrame
    messages: tuple[str, ...]


def _outcome(s: pd.Series, name: str) -> np.ndarray:
    """The outcome as a 0/1 float array, or a ColumnError that says how to recode it."""
    if pd.api.types.is_bool_dtype(s):
        return s.astype(float).to_numpy()
    values = pd.to_numeric(s, errors="coerce")
    if values.isna().any():
        found = sorted(map(str, s.unique()))[:5]
        hint = (f" It has two values ({found[0]!r}, {found[1]!r}): recode as 0/1 with 1 = "
                "the outcome of interest." if len(found) == 2 else "")
        raise ColumnError(f"Outcome '{name}' must be 0/1 (1 = event) or true/false.{hint}")
    bad = sorted(set(values.unique()) - {0.0, 1.0})
    if bad:
        raise ColumnError(f"Outcome '{name}' must be 0/1 (1 = event); it also holds "
                          f"{', '.join(f'{b:g}' for b in bad[:5])}. Recode it, e.g. as "
                          "'grade >= 1'.")
    return values.astype(float).to_numpy()


def detect_separation(X: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """Which coefficients (intercept last) have an infinite ML estimate.

    Linear-programming check of Konis (2007), as R ``detectseparation::detect_separation``
    (via ``firthmodels.detect_separation``), on columns scaled to max |x| = 1 (separation does
    not depend on units; the LP solver does). Returns a boolean array, True = infinite, or None
    when the LP solver fails.
    """
    from firthmodels import detect_separation as _detect

    try:
        with quiet_solver():
            res = _detect(_scaled(X)[0], y, fit_intercept=True)
    except (RuntimeError, ValueError):
        return None
    return ~np.asarray(res.is_finite, dtype=bool)


# ----------------------------------------------------------------------- solver budgets

#: Maximum-likelihood (statsmodels Newton) attempts, tightest first. The absolute step
#: tolerance applies to coefficients of columns scaled to max |x| = 1 (see _scaled).
ML_ATTEMPTS: tuple[SolverBudget, ...] = (
    SolverBudget(max_iter=1000, tol=1e-12),
    SolverBudget(max_iter=1000, tol=1e-8),
    SolverBudget(max_iter=1000, tol=1e-6),
)
#: Under separation the ML estimate is infinite and no budget converges: 100 Newton steps
#: show where the estimate runs off to (the numbers are flagged as meaningless).
ML_SEPARATED = SolverBudget(max_iter=100, tol=1e-12)
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
_RETRIED = "even with more iterations and a looser tolerance"
ML_NOT_CONVERGED = (f"The maximum-likelihood fit did not converge ({_RETRIED}): its estimates "
                    "are unreliable. Use fewer predictors, or Firth's method.")
ML_FELL_BACK = (f"The maximum-likelihood fit did not converge ({_RETRIED}); Firth's penalised "
                "likelihood was used instead (profile-likelihood CIs).")
SEPARATION_UNCHECKED = ("The check for separation could not be completed (its linear programme "
                        "did not solve); separation is judged from the maximum-likelihood fit "
                        "alone.")
FIRTH_NOT_CONVERGED = (f"Firth's penalised fit did not converge ({_RETRIED}): the odds ratios "
                       "are unreliable, and their p-values and profile-likelihood CIs were not "
                       "computed. Use fewer predictors or more patients.")


def _scaled(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Columns of X divided by their largest absolute value, and those divisors.

    ML and Firth estimates, Wald and profile CIs and likelihood-ratio tests are equivariant
    under this rescaling (the intercept is unchanged), and solver tolerances then mean the same
    for ferritin in ng/mL as for age in years.
    """
    scale = np.abs(X).max(axis=0) if X.size else np.ones(X.shape[1])
    scale = np.where(scale > 0, scale, 1.0)
    return X / scale, scale


def _unscale(values: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Coefficient-scale quantities (intercept first) back in the units of the data."""
    values = np.array(values, dtype=float)
    values[1:] = values[1:] / (scale[:, None] if values.ndim == 2 else scale)
    return values


# ----------------------------------------------------------------------- maximum likelihood

@dataclass(frozen=True)
class _MLFit:
    coef: np.ndarray          # intercept first
    se: np.ndarray
    converged: bool
    separation_warning: bool  # statsmodels saw perfect separation


def _fit_ml(X: np.ndarray, y: np.ndarray, separated: bool) -> _MLFit:
    """ML logit by Newton's method, retried with looser tolerances until it converges.

    Under separation (``separated``, or statsmodels' warning) the ML estimate is infinite:
    there is nothing to converge to, so there is no retry.
    """
    Xs, scale = _scaled(X)
    exog = np.column_stack([np.ones(len(Xs)), Xs])
    fit = None
    for budget in (ML_SEPARATED,) if separated else ML_ATTEMPTS:
        fit = _ml_attempt(exog, y, budget, None if fit is None else fit.coef)
        if fit.converged or fit.separation_warning:
            break
    return _MLFit(_unscale(fit.coef, scale), _unscale(fit.se, scale), fit.converged,
                  fit.separation_warning)


def _ml_attempt(exog: np.ndarray, y: np.ndarray, budget: SolverBudget,
                start: np.ndarray | None) -> _MLFit:
    """One statsmodels Newton fit under ``budget``; failures come back as converged=False."""
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import (
        ConvergenceWarning, PerfectSeparationError, PerfectSeparationWarning,
    )

    nan = np.full(exog.shape[1], np.nan)
    if start is not None and not np.isfinite(start).all():
        start = None
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        try:
            fit = sm.Logit(y, exog).fit(method="newton", maxiter=budget.max_iter,
                                        tol=budget.tol, start_params=start, disp=0)
        except PerfectSeparationError:
            return _MLFit(nan, nan, False, True)
        except (np.linalg.LinAlgError, ValueError):
            return _MLFit(nan, nan, False, False)
        se = np.sqrt(np.diag(np.asarray(fit.cov_params())))
    sep = any(issubclass(w.category, PerfectSeparationWarning) for w in caught)
    params = np.asarray(fit.params, dtype=float)
    conv = (bool(fit.mle_retvals.get("converged", False))
            and not any(issubclass(w.category, ConvergenceWarning) for w in caught)
            and bool(np.isfinite(params).all()))
    return _MLFit(params, se, conv, sep)


def _ml_table(X: np.ndarray, y: np.ndarray, separated: bool
              ) -> tuple[pd.DataFrame, list[str], _MLFit]:
    """Wald table of the ML fit (intercept first), messages, and the fit itself."""
    fit = _fit_ml(X, y, separated)
    z = _st.norm.ppf(0.975)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        p = 2 * _st.norm.sf(np.abs(fit.coef / fit.se))
    out = pd.DataFrame({"coef": fit.coef, "se": fit.se, "ci_low_coef": fit.coef - z * fit.se,
                        "ci_high_coef": fit.coef + z * fit.se, "pvalue": p})
    msgs = [] if fit.converged or fit.separation_warning or separated else [ML_NOT_CONVERGED]
    return out, msgs, fit


# ----------------------------------------------------------------------- Firth

def _firth_model(budget: SolverBudget):
    """A FirthLogisticRegression with every solver setting explicit (numpy backend, so the
    numbers do not depend on whether numba happens to be installed)."""
    from firthmodels import FirthLogisticRegression

    return FirthLogisticRegression(backend="numpy", max_iter=budget.max_iter,
                                   max_step=_FIRTH_MAX_STEP, max_halfstep=budget.max_halfstep,
                                   gtol=budget.tol, xtol=budget.xtol, fit_intercept=True)


def _use_budget(model, budget: SolverBudget) -> None:
    """Set the solver settings that ``model.lrt()`` reads for its constrained refits."""
    model.set_params(max_iter=budget.max_iter, max_halfstep=budget.max_halfstep,
                     gtol=budget.tol, xtol=budget.xtol, max_step=_FIRTH_MAX_STEP)


def _fit_firth(X: np.ndarray, y: np.ndarray):
    """Firth fit under FIRTH_FIT_ATTEMPTS: the first converged model, else the last one."""
    model = None
    for budget in FIRTH_FIT_ATTEMPTS:
        with quiet_solver():
            model = _firth_model(budget).fit(X, y)
        if model.converged_ and np.isfinite(model.loglik_):
            break
    return model


def _firth_lrt(model) -> np.ndarray:
    """Penalised likelihood-ratio p-values (firthmodels order: intercept last).

    Each constrained refit runs under FIRTH_LRT_ATTEMPTS; a p-value still missing after the
    last attempt stays NaN.
    """
    p = np.full(len(model.coef_) + 1, np.nan)
    for budget in FIRTH_LRT_ATTEMPTS:
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


def _firth_profile_ci(model) -> np.ndarray:
    """95% profile penalised-likelihood limits (rows in firthmodels order, intercept last).

    Each limit is searched under FIRTH_CI_ATTEMPTS; a limit still missing stays NaN.
    """
    ci = np.full((len(model.coef_) + 1, 2), np.nan)
    for budget in FIRTH_CI_ATTEMPTS:
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


def _firth_messages(names: Sequence[str], ci: np.ndarray, p: np.ndarray) -> list[str]:
    """One message per term whose p-value or CI limit could not be computed."""
    out = []
    for name, (low, high), pv in zip(names, ci, p):
        if np.isnan(pv):
            out.append(f"The likelihood-ratio p-value for '{name}' could not be computed (the "
                       f"fit with this term's effect fixed at zero did not converge, {_RETRIED})"
                       "; it is left blank. Its odds ratio is still valid; fewer predictors "
                       "may help.")
        missing = [w for w, v in (("lower", low), ("upper", high)) if np.isnan(v)]
        if missing:
            which = " and ".join(missing)
            out.append(f"The {which} limit{'s' if len(missing) > 1 else ''} of the 95% "
                       f"profile-likelihood CI for '{name}' could not be computed (the search "
                       f"did not converge, {_RETRIED}); left blank. Its odds ratio is still "
                       "valid; fewer predictors may help.")
    return out


def _firth_table(X: np.ndarray, y: np.ndarray, terms: Sequence[str]
                 ) -> tuple[pd.DataFrame, list[str]]:
    """Firth estimates; SE as brglm2 (inverse Fisher information at the estimate); profile
    penalised-likelihood CIs and penalised likelihood-ratio p-values as logistf."""
    Xs, scale = _scaled(X)
    try:
        model = _fit_firth(Xs, y)
    except (np.linalg.LinAlgError, ValueError, FloatingPointError) as exc:
        raise InsufficientDataError(
            f"Firth's penalised logistic regression could not be fitted ({exc}). Use fewer "
            "predictors or more patients.") from None
    k = X.shape[1]
    if model.converged_ and np.isfinite(model.loglik_):
        ci, p = _firth_profile_ci(model), _firth_lrt(model)
        msgs = _firth_messages([*terms, INTERCEPT], ci, p)
    else:
        ci, p = np.full((k + 1, 2), np.nan), np.full(k + 1, np.nan)
        msgs = [FIRTH_NOT_CONVERGED]
    order = np.r_[k, np.arange(k)]  # firthmodels puts the intercept last: move it first
    coef = _unscale(np.r_[model.coef_, model.intercept_][order], scale)
    ci = _unscale(ci[order], scale)
    out = pd.DataFrame({"coef": coef, "se": _firth_se(X, coef), "ci_low_coef": ci[:, 0],
                        "ci_high_coef": ci[:, 1], "pvalue": p[order]})
    return out, msgs


def _firth_se(X: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """brglm2's SE: square roots of the diagonal of the inverse Fisher information at coef."""
    exog = np.column_stack([np.ones(len(X)), X])
    with np.errstate(all="ignore"):
        p_hat = 1.0 / (1.0 + np.exp(-exog @ coef))
        info = exog.T @ (exog * (p_hat * (1 - p_hat))[:, None])
        try:
            return np.sqrt(np.diag(np.linalg.pinv(info)))
        except np.linalg.LinAlgError:
            return np.full(len(coef), np.nan)


def _prepare(df: pd.DataFrame, outcome: str, predictors: Sequence[str]
             ) -> tuple[pd.DataFrame, int, np.ndarray]:
    if isinstance(predictors, str):
        predictors = [predictors]
    if not predictors:
        raise ColumnError("Choose at least one predictor.")
    if outcome in predictors:
        raise ColumnError(f"'{outcome}' is the outcome; it cannot also be a predictor.")
    require_columns(df, [outcome, *predictors])
    data, dropped = complete_cases(df, [outcome, *predictors])
    if len(data) == 0:
        raise InsufficientDataError(f"No patient has values for all of {outcome}, "
                                    f"{', '.join(predictors)}.")
    return data, dropped, _outcome(data[outcome], outcome)


def logistic(df: pd.DataFrame, outcome: str, predictors: Sequence[str],
             method: Method = "auto", reference: dict[str, str] | None = None
             ) -> LogisticResult:
    """Multivariable logistic regression with separation check and Firth fallback.

    Parameters
    ----------
    df : patient-level data.
    outcome : 0/1 (or boolean) column, 1 = event.
    predictors : columns entered together. Numeric/boolean enter as they are; text/category
        columns are treatment-coded (module docstring: term names).
    method : "ml" (maximum likelihood), "firth" (penalised likelihood), or "auto": ML unless
        the data are separated, then Firth with a message saying so.
    reference : reference level per categorical predictor, e.g. ``{"product": "axi-cel"}``.

    Returns
    -------
    LogisticResult
        ``table`` has columns term, variable, level, coef, se, odds_ratio, ci_low, ci_high,
        pvalue (intercept first). For ML: Wald SE, Wald 95% CI and Wald p. For Firth: SE from
        the inverse Fisher information at the estimate (as brglm2), 95% profile penalised-
        likelihood CI and penalised likelihood-ratio p (as logistf).

    Raises
    ------
    ColumnError
        Missing column, outcome not 0/1, unknown reference level, infinite predictor values.
    InsufficientDataError
        No events or no non-events, a constant predictor, collinear predictors, fewer patients
        than parameters.

    Notes
    -----
    Validated against R 4.2: ML against ``glm(y ~ ..., family = binomial)`` (coef, SE,
    ``confint.default``, p); Firth coefficients and SE against brglm2 ``glm(...,
    method = "brglmFit", type = "AS_mean")``; Firth profile CIs and LRT p against the penalised
    log-likelihood l(b) + 0.5 log det I(b) profiled in R by hand (``tests/``). Separation is
    detected by the linear programme of Konis (2007) (R ``detectseparation``), with statsmodels'
    PerfectSeparationWarning as a second signal. Every solver call runs under an explicit
    budget (ML_ATTEMPTS, FIRTH_FIT_ATTEMPTS, FIRTH_LRT_ATTEMPTS, FIRTH_CI_ATTEMPTS) on columns
    scaled to max |x| = 1, is checked for convergence and retried with a looser tolerance; in
    "auto" mode an ML fit that never converges falls back to Firth.
    """
    data, dropped, y = _prepare(df, outcome, predictors)
    n = len(y)
    events = int(y.sum())
    if events == 0 or events == n:
        which = "no patient has" if events == 0 else "every patient has"
        raise InsufficientDataError(f"{which} {outcome} = 1 among the {n} usable patients, so "
                                    "there is nothing to model. Widen the filter.")
    design = design_matrix(data, list(predictors), reference, check_rank=False)
    k = design.X.shape[1]
    if n < k + 1:
        raise InsufficientDataError(f"The model has {k + 1} parameters but only {n} usable "
                                    "patients. Use fewer predictors.")
    check_full_rank(design.X, design.terms)
    messages: list[str] = []
    epv = min(events, n - events) / k
    if epv < _EPV_MIN:
        messages.append(f"Only {epv:.1f} events per variable (fewer than {_EPV_MIN}): estimates "
                        "may be biased and unstable; use fewer predictors.")

    infinite = detect_separation(design.X, y)
    if infinite is None:
        messages.append(SEPARATION_UNCHECKED)
        infinite = np.zeros(k + 1, dtype=bool)
    ml_table, ml_msgs, ml_fit = (None, [], None)
    if method == "ml" or not infinite.any():  # auto + separation: Firth, ML is not needed
        ml_table, ml_msgs, ml_fit = _ml_table(design.X, y, bool(infinite.any()))
    separation = bool(infinite.any() or (ml_fit is not None and ml_fit.separation_warning))
    separating = tuple(dict.fromkeys(v for v, inf in zip(design.variables, infinite[:-1])
                                     if inf))
    ml_failed = ml_fit is not None and not ml_fit.converged and not separation
    used: Literal["ml", "firth"] = "firth" if method == "firth" or (
        method == "auto" and (separation or ml_failed)) else "ml"
    if separation:
        messages.append(_separation_message(separating, used, method))
    if used == "firth":
        if ml_failed and method == "auto":
            messages.append(ML_FELL_BACK)
        coef_table, fit_msgs = _firth_table(design.X, y, design.terms)
    else:
        coef_table, fit_msgs = ml_table, ml_msgs
    messages.extend(fit_msgs)
    table = _assemble(coef_table, design)
    return LogisticResult(
        method=used, requested_method=method, separation=separation, separating=separating,
        n=n, n_dropped=dropped, events=events, epv=float(epv),
        ci_method="profile likelihood" if used == "firth" else "Wald", table=table,
        messages=tuple(messages))


def _separation_message(separating: Sequence[str], used: str, method: Method) -> str:
    who = f" by {', '.join(separating)}" if separating else ""
    return (f"The outcome is perfectly separated{who}: some group has only events or only "
            "non-events, so the maximum-likelihood odds ratio is infinite. "
            + ("Firth's penalised likelihood was used instead (profile-likelihood CIs)."
               if used == "firth" and method == "auto" else
               "Firth's penalised likelihood gives finite estimates." if used == "firth" else
               "The ML estimates shown are meaningless for these terms; use method 'firth'."))


def _assemble(coef_table: pd.DataFrame, design: Design) -> pd.DataFrame:
    with np.errstate(over="ignore"):
        return pd.DataFrame({
            "term": [INTERCEPT, *design.terms],
            "variable": ["", *design.variables],
            "level": ["", *design.levels],
            "coef": coef_table["coef"].to_numpy(),
            "se": coef_table["se"].to_numpy(),
            "odds_ratio": np.exp(coef_table["coef"].to_numpy()),
            "ci_low": np.exp(coef_table["ci_low_coef"].to_numpy()),
            "ci_high": np.exp(coef_table["ci_high_coef"].to_numpy()),
            "pvalue": coef_table["pvalue"].to_numpy(),
        })
