"""Logistic regression with separation detection and Firth's penalised likelihood.

In the paper every patient with hypofibrinogenemia had tocilizumab (27/29 treated vs 0/12
untreated), so the data are separated and the maximum-likelihood odds ratio for tocilizumab is
infinite: no finite estimate exists. R's ``glm()`` on these counts stops after 18 iterations at
OR ~ 4e9 with SE ~ 3100 on the log scale and Wald p ~ 0.99 (it reports convergence only because
the deviance stops changing). The paper's Table S3 figure (OR = 486, P < 0.001) therefore cannot
come from ``glm()`` on these counts. :func:`logistic` detects separation before fitting and
switches to Firth's bias-reduced (penalised) likelihood (:mod:`core.stats.firth`), which gives
finite estimates.

Terms are named as in :mod:`core.stats.design` (``"<column>: <level> vs <reference>"`` for a
categorical predictor); the intercept is kept in the table as term ``"(Intercept)"`` (variable
``""``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import pandas as pd
from scipy import stats as _st

from core.errors import ColumnError, InsufficientDataError
from core.notes import Note, WithNotes
from core.stats._common import (
    DEFAULT_SEED,
    EPV_MIN,
    SolverBudget,
    check_option,
    check_reference,
    complete_cases,
    quiet_solver,
    require_columns,
)
from core.stats.design import INTERCEPT, Design, check_full_rank, design_matrix
from core.stats.firth import FAST_MIN_ROWS, RETRIED, collapse, firth_table, scaled, unscale

LogisticMethod = Literal["auto", "ml", "firth"]
LOGISTIC_METHODS: tuple[str, ...] = get_args(LogisticMethod)

#: Maximum-likelihood (statsmodels Newton) attempts, tightest first. The absolute step
#: tolerance applies to coefficients of columns scaled to max |x| = 1 (see firth.scaled).
ML_ATTEMPTS: tuple[SolverBudget, ...] = (
    SolverBudget(max_iter=1000, tol=1e-12),
    SolverBudget(max_iter=1000, tol=1e-8),
    SolverBudget(max_iter=1000, tol=1e-6),
)
#: Under separation the ML estimate is infinite and no budget converges: 100 Newton steps
#: show where the estimate runs off to (the numbers are flagged as meaningless).
ML_SEPARATED = SolverBudget(max_iter=100, tol=1e-12)
#: From FAST_MIN_ROWS patients the separation check solves its linear programme by row
#: generation (_separation_lp): first on this many distinct rows, then adding the rows whose
#: constraint the solution violates (by more than SEPARATION_FEASIBILITY, HiGHS' own primal
#: feasibility tolerance), for at most SEPARATION_ROUNDS rounds.
SEPARATION_SUBSET = 2_000
SEPARATION_FEASIBILITY = 1e-7
SEPARATION_ROUNDS = 50
ML_NOT_CONVERGED = (f"The maximum-likelihood fit did not converge ({RETRIED}): its estimates "
                    "are unreliable. Use fewer predictors, or Firth's method.")
ML_FELL_BACK = (f"The maximum-likelihood fit did not converge ({RETRIED}); Firth's penalised "
                "likelihood was used instead (profile-likelihood CIs).")
SEPARATION_UNCHECKED = ("The check for separation could not be completed (its linear programme "
                        "did not solve); separation is judged from the maximum-likelihood fit "
                        "alone.")


@dataclass(frozen=True)
class LogisticResult(WithNotes):
    """Result of :func:`logistic`.

    Attributes
    ----------
    method : {"ml", "firth"}
        The estimator used.
    requested_method : {"auto", "ml", "firth"}
        As asked.
    separation : bool
        True if the data are (quasi-)completely separated (ML estimates infinite).
    separating : tuple of str
        Predictor columns whose ML coefficient is infinite.
    n, n_dropped : int
        Patients used; rows left out for a missing value.
    events : int
        Patients with outcome 1.
    epv : float
        Events per variable, min(events, non-events) / number of terms (intercept excluded).
    ci_method : str
        "Wald" (ML) or "profile likelihood" (Firth).
    table : DataFrame
        Columns term, variable, level, coef, se, odds_ratio, ci_low, ci_high, pvalue; one row
        per term, the intercept first ("(Intercept)"; its odds_ratio is the baseline odds). A
        Firth p-value or profile-likelihood limit that cannot be computed is missing, and a
        note names the term.
    notes : tuple of Note
        By kind: ``"epv"`` (warning: fewer than ``EPV_MIN`` events per variable),
        ``"separation_check"`` (warning: the separation check could not be run),
        ``"separation"`` (warning: separated data, what was done about it),
        ``"convergence"`` (warning: a fit did not converge, ML fell back to Firth, or a
        p-value or CI limit was left blank).
    messages : tuple of str
        The texts of ``notes`` (for display).
    """

    method: Literal["ml", "firth"]
    requested_method: LogisticMethod
    separation: bool
    separating: tuple[str, ...]
    n: int
    n_dropped: int
    events: int
    epv: float
    ci_method: str
    table: pd.DataFrame
    notes: tuple[Note, ...] = field(default_factory=tuple)



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


def detect_separation(X: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None
                      ) -> np.ndarray | None:
    """Which coefficients (intercept last) have an infinite ML estimate.

    Linear-programming check of Konis (2007), as R ``detectseparation::detect_separation``
    (via ``firthmodels.detect_separation``), on columns scaled to max |x| = 1 (separation does
    not depend on units; the LP solver does). Returns a boolean array, True = infinite, or None
    when the LP solver fails. ``weights`` given: the rows are distinct with these counts
    (:func:`collapse`) and the same programme is solved by row generation
    (:func:`_separation_lp`).
    """
    from firthmodels import detect_separation as _detect

    Xs = scaled(X)[0]
    if weights is not None:
        return _separation_lp(Xs, y, weights)
    try:
        with quiet_solver():
            res = _detect(Xs, y, fit_intercept=True)
    except (RuntimeError, ValueError):
        return None
    return ~np.asarray(res.is_finite, dtype=bool)


def _separation_lp(Xs: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray | None:
    """``firthmodels.detect_separation``'s programme for distinct rows with counts ``weights``,
    solved by row generation.

    The programme: maximise sum_i X̄_i b over all patients (X̄_i = (2 y_i - 1) (x_i, 1)) subject
    to X̄_i b >= 0 for every row and -1 <= b <= 1; a coefficient with |b| > 1e-4 is infinite.
    Duplicate rows repeat a constraint, so the distinct rows carry every constraint and the
    objective weights them by their counts. Row generation: solve with SEPARATION_SUBSET rows
    (seeded), add every row whose constraint the solution violates, and repeat; a solution
    that satisfies all rows is optimal for the whole programme (it is optimal over a larger
    feasible set that contains it). Without separation the optimum (b = 0) is unique, so the
    answer is the whole programme's; with it, an optimum of the same programme. Rank
    deficiency was excluded before (``check_full_rank``). None when HiGHS fails or
    SEPARATION_ROUNDS rounds do not settle it.
    """
    from scipy.optimize import linprog

    signed = (2 * y - 1)[:, None] * np.column_stack([Xs, np.ones(len(y))])
    c = -(weights @ signed)
    bounds = [(-1.0, 1.0)] * signed.shape[1]
    rng = np.random.default_rng(DEFAULT_SEED)
    rows = np.sort(rng.choice(len(y), min(SEPARATION_SUBSET, len(y)), replace=False))
    for _ in range(SEPARATION_ROUNDS):
        with quiet_solver():
            res = linprog(c, A_ub=-signed[rows], b_ub=np.zeros(len(rows)), bounds=bounds,
                          method="highs")
        if not res.success:
            return None
        beta = np.asarray(res.x, dtype=float)
        violated = np.flatnonzero(signed @ beta < -SEPARATION_FEASIBILITY)
        if len(violated) == 0:
            return np.asarray(np.abs(beta) > 1e-4)
        rows = np.union1d(rows, violated)
    return None


# ----------------------------------------------------------------------- maximum likelihood

@dataclass(frozen=True)
class _MLFit:
    coef: np.ndarray          # intercept first
    se: np.ndarray
    converged: bool
    separation_warning: bool  # statsmodels saw perfect separation


def _fit_ml(X: np.ndarray, y: np.ndarray, separated: bool,
            weights: np.ndarray | None = None) -> _MLFit:
    """ML logit by Newton's method, retried with looser tolerances until it converges
    (statsmodels; with frequency ``weights`` of distinct rows, :func:`_ml_attempt_weighted`).

    Under separation (``separated``, or statsmodels' warning) the ML estimate is infinite:
    there is nothing to converge to, so there is no retry.
    """
    Xs, scale = scaled(X)
    exog = np.column_stack([np.ones(len(Xs)), Xs])
    fit: _MLFit | None = None
    for budget in (ML_SEPARATED,) if separated else ML_ATTEMPTS:
        start = None if fit is None else fit.coef
        fit = (_ml_attempt(exog, y, budget, start) if weights is None
               else _ml_attempt_weighted(exog, y, weights, budget, start))
        if fit.converged or fit.separation_warning:
            break
    assert fit is not None  # ML_ATTEMPTS is never empty
    return _MLFit(unscale(fit.coef, scale), unscale(fit.se, scale), fit.converged,
                  fit.separation_warning)


def _ml_attempt(exog: np.ndarray, y: np.ndarray, budget: SolverBudget,
                start: np.ndarray | None) -> _MLFit:
    """One statsmodels Newton fit under ``budget``; failures come back as converged=False."""
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import (
        ConvergenceWarning,
        PerfectSeparationError,
        PerfectSeparationWarning,
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


def _ml_attempt_weighted(exog: np.ndarray, y: np.ndarray, weights: np.ndarray,
                         budget: SolverBudget, start: np.ndarray | None) -> _MLFit:
    """:func:`_ml_attempt` on distinct rows with frequency ``weights``.

    statsmodels' Newton iteration (``statsmodels.base.optimizer._fit_newton``: the same
    start, score and Hessian per observation, ridge 1e-10 on the Hessian's diagonal, stop
    when no coefficient moves more than ``budget.tol``, converged when that happens within
    ``budget.max_iter`` steps), its perfect-prediction check after every step
    (``Logit._check_perfect_pred``, row by row: a pattern's weight does not change whether it
    is predicted perfectly) and its covariance (inverse of the negative Hessian when positive
    definite), with every sum over patients a weighted sum over rows.
    """
    nan = np.full(exog.shape[1], np.nan)
    if start is not None and not np.isfinite(start).all():
        start = None
    sep = False
    nobs = float(weights.sum())

    def parts(beta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = 1.0 / (1.0 + np.exp(-(exog @ beta)))
        score = exog.T @ (weights * (y - p))
        hess = -(exog.T @ (exog * (weights * p * (1 - p))[:, None]))
        return p, score, hess

    with np.errstate(all="ignore"):
        new = np.zeros(exog.shape[1]) if start is None else np.asarray(start, dtype=float)
        old = np.full_like(new, np.inf)
        iterations = 0
        try:
            while iterations < budget.max_iter and np.any(np.abs(new - old) > budget.tol):
                _, score, hess = parts(new)
                info = -hess / nobs                     # statsmodels works per observation
                info[np.diag_indices(len(info))] += 1e-10
                old, new = new, new + np.linalg.solve(info, score / nobs)
                p = 1.0 / (1.0 + np.exp(-(exog @ new)))
                sep = sep or bool(np.allclose(p - y, 0))
                iterations += 1
        except (np.linalg.LinAlgError, ValueError):
            return _MLFit(nan, nan, False, False)
        info = -parts(new)[2]
        se = nan
        if np.isfinite(info).all():
            values, vectors = np.linalg.eigh(info)
            if values.min() > 0:
                se = np.sqrt(np.diag(vectors @ np.diag(1.0 / values) @ vectors.T))
    conv = iterations < budget.max_iter and bool(np.isfinite(new).all())
    return _MLFit(new, se, conv, sep)


def _ml_table(X: np.ndarray, y: np.ndarray, separated: bool,
              weights: np.ndarray | None = None) -> tuple[pd.DataFrame, list[Note], _MLFit]:
    """Wald table of the ML fit (intercept first), notes, and the fit itself."""
    fit = _fit_ml(X, y, separated, weights)
    z = _st.norm.ppf(0.975)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        p = 2 * _st.norm.sf(np.abs(fit.coef / fit.se))
    out = pd.DataFrame({"coef": fit.coef, "se": fit.se, "ci_low_coef": fit.coef - z * fit.se,
                        "ci_high_coef": fit.coef + z * fit.se, "pvalue": p})
    failed = not (fit.converged or fit.separation_warning or separated)
    return out, [Note("warning", "convergence", ML_NOT_CONVERGED)] if failed else [], fit


# ----------------------------------------------------------------------- steps of logistic()

def _prepare(df: pd.DataFrame, outcome: str, predictors: Sequence[str]
             ) -> tuple[pd.DataFrame, int, np.ndarray]:
    """Complete cases, rows dropped, and the 0/1 outcome."""
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


def _model_design(data: pd.DataFrame, outcome: str, predictors: Sequence[str],
                  reference: Mapping[str, str] | None, y: np.ndarray) -> Design:
    """The design matrix, after checking that there is something to model and enough rows."""
    n, events = len(y), int(y.sum())
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
    return design


def _epv_notes(epv: float) -> list[Note]:
    if epv >= EPV_MIN:
        return []
    return [Note("warning", "epv", f"Only {epv:.1f} events per variable (fewer than {EPV_MIN}): "
                                   "estimates may be biased and unstable; use fewer "
                                   "predictors.")]


def _separation_note(separating: Sequence[str], used: str, method: str) -> Note:
    who = f" by {', '.join(separating)}" if separating else ""
    return Note("warning", "separation",
                f"The outcome is perfectly separated{who}: some group has only events or only "
                "non-events, so the maximum-likelihood odds ratio is infinite. "
                + ("Firth's penalised likelihood was used instead (profile-likelihood CIs)."
                   if used == "firth" and method == "auto" else
                   "Firth's penalised likelihood gives finite estimates." if used == "firth"
                   else "The ML estimates shown are meaningless for these terms; use method "
                        "'firth'."))


@dataclass(frozen=True)
class _Estimate:
    method: Literal["ml", "firth"]
    separation: bool
    separating: tuple[str, ...]
    coef_table: pd.DataFrame  # coef, se, ci_low_coef, ci_high_coef, pvalue; intercept first
    notes: list[Note]


def _estimate(design: Design, y: np.ndarray, method: str) -> _Estimate:
    """Check for separation, fit ML where it is needed, and choose the estimator.

    "auto" fits Firth on separated data (ML is then not fitted at all) and when ML does not
    converge; "ml" and "firth" fit what was asked and say when the data are separated.
    From FAST_MIN_ROWS patients every fit runs on the distinct (predictors, outcome) rows
    with their counts as frequency weights (:func:`core.stats.firth.collapse`).
    """
    notes: list[Note] = []
    X, weights = design.X, None
    if len(y) >= FAST_MIN_ROWS:   # distinct rows with their counts: the same likelihoods
        X, y, weights = collapse(X, y)
    infinite = detect_separation(X, y, weights)
    if infinite is None:
        notes.append(Note("warning", "separation_check", SEPARATION_UNCHECKED))
        infinite = np.zeros(design.X.shape[1] + 1, dtype=bool)
    ml_table: pd.DataFrame | None = None
    ml_fit: _MLFit | None = None
    ml_notes: list[Note] = []
    if method == "ml" or not infinite.any():  # auto + separation: Firth, ML is not needed
        ml_table, ml_notes, ml_fit = _ml_table(X, y, bool(infinite.any()), weights)
    separation = bool(infinite.any() or (ml_fit is not None and ml_fit.separation_warning))
    separating = tuple(dict.fromkeys(v for v, inf in zip(design.variables, infinite[:-1],
                                                         strict=True) if inf))
    ml_failed = ml_fit is not None and not ml_fit.converged and not separation
    used: Literal["ml", "firth"] = "firth" if method == "firth" or (
        method == "auto" and (separation or ml_failed)) else "ml"
    if separation:
        notes.append(_separation_note(separating, used, method))
    if used == "ml":
        assert ml_table is not None  # ML was fitted: method "ml", or auto without separation
        return _Estimate(used, separation, separating, ml_table, notes + ml_notes)
    if ml_failed and method == "auto":
        notes.append(Note("warning", "convergence", ML_FELL_BACK))
    coef_table, fit_notes = firth_table(X, y, design.terms, weights)
    return _Estimate(used, separation, separating, coef_table, notes + fit_notes)


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


def logistic(df: pd.DataFrame, outcome: str, predictors: Sequence[str],
             method: LogisticMethod = "auto", reference: Mapping[str, str] | None = None
             ) -> LogisticResult:
    """Multivariable logistic regression with separation check and Firth fallback.

    Parameters
    ----------
    df : DataFrame
        Patient-level data.
    outcome : str
        0/1 (or boolean) column, 1 = event.
    predictors : sequence of str
        Columns entered together (a single name is taken as one predictor). Numeric/boolean
        enter as they are; text/category columns are treatment-coded
        (:mod:`core.stats.design`: term names).
    method : {"auto", "ml", "firth"}
        "ml" (maximum likelihood), "firth" (penalised likelihood), or "auto": ML unless the
        data are separated, then Firth with a note saying so.
    reference : dict, optional
        Reference level per categorical predictor, e.g. ``{"product": "axi-cel"}``.

    Returns
    -------
    LogisticResult
        ``table`` has columns term, variable, level, coef, se, odds_ratio, ci_low, ci_high,
        pvalue (intercept first). For ML: Wald SE, Wald 95% CI and Wald p. For Firth: SE from
        the inverse Fisher information at the estimate (as brglm2), 95% profile penalised-
        likelihood CI and penalised likelihood-ratio p (as logistf).

    Raises
    ------
    ValueError
        Unknown ``method``.
    TypeError
        ``reference`` is not a dict.
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
    budget (ML_ATTEMPTS; firth.FIRTH_FIT_ATTEMPTS, FIRTH_LRT_ATTEMPTS, FIRTH_CI_ATTEMPTS) on
    columns scaled to max |x| = 1, is checked for convergence and retried with a looser
    tolerance; in "auto" mode an ML fit that never converges falls back to Firth.
    """
    check_option("method", method, LOGISTIC_METHODS)
    check_reference(reference)
    predictors = [predictors] if isinstance(predictors, str) else list(predictors)
    data, dropped, y = _prepare(df, outcome, predictors)
    design = _model_design(data, outcome, predictors, reference, y)
    n, events, k = len(y), int(y.sum()), design.X.shape[1]
    epv = min(events, n - events) / k
    notes = _epv_notes(epv)

    fit = _estimate(design, y, method)
    notes += fit.notes
    return LogisticResult(
        method=fit.method, requested_method=method, separation=fit.separation,
        separating=fit.separating, n=n, n_dropped=dropped, events=events, epv=float(epv),
        ci_method="profile likelihood" if fit.method == "firth" else "Wald",
        table=_assemble(fit.coef_table, design), notes=tuple(notes))
