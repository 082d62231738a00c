"""Cox proportional-hazards regression (Efron ties) with the cox.zph PH test.

The fit is lifelines' CoxPHFitter (Efron ties, Newton-Raphson) on standardised covariates under
explicit solver budgets (:data:`COX_ATTEMPTS`) below :data:`core.stats.efron.FAST_MIN_ROWS`
rows, and from there our own Newton-Raphson on the vectorised Efron sums
(:func:`core.stats.efron.efron_fast`, budgets :data:`COX_NEWTON_ATTEMPTS`; the two agree to
1e-6 on the same data, ``tests/test_stats_efron.py``); coefficients, standard errors and Harrell's C
agree with R 4.2's ``coxph`` (``tests/test_stats_survival.py``). What lifelines does not do is
kept here: the checks that say why a model cannot be fitted, the flag on an infinite hazard
ratio, and R's ``cox.zph`` score test (:mod:`core.stats.ph_test`; lifelines'
``proportional_hazard_test`` is another test). Numerical dead ends (an infinite hazard ratio, a
PH test that cannot be computed) are not errors: they leave blanks and notes.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, CoxTimeVaryingFitter
from lifelines.exceptions import ConvergenceError
from lifelines.utils import concordance_index
from scipy import stats as _st

from core.errors import ColumnError, InsufficientDataError
from core.notes import Note, WithNotes
from core.stats._common import EPV_MIN, SolverBudget, check_reference, distinct_rows
from core.stats.design import Design, check_full_rank, design_matrix
from core.stats.efron import FAST_MIN_ROWS, efron, efron_fast, efron_order
from core.stats.ph_test import ph_test
from core.stats.survival import survival_data, survival_times

_Z = float(_st.norm.ppf(0.975))
_TOL = float(np.sqrt(np.finfo(float).eps))
#: Cox Newton-Raphson attempts (tol: relative change of the log-likelihood; xtol: size of the
#: Newton step on standardised covariates): a tight criterion first (lifelines damps its
#: steps, so a tiny change of the log-likelihood comes before the optimum: the step size
#: decides), then R coxph's 1e-9.
COX_ATTEMPTS: tuple[SolverBudget, ...] = (
    SolverBudget(max_iter=1000, tol=1e-20, xtol=1e-14, max_halfstep=60),
    SolverBudget(max_iter=1000, tol=1e-9, xtol=1e-8, max_halfstep=60),
)
#: Newton-Raphson attempts of the large-n fit (from FAST_MIN_ROWS rows; tol: relative change
#: of the log-likelihood, xtol: largest Newton step on standardised covariates; the step is
#: taken, so the estimate is then within ~step^2 of the optimum), then R coxph's 1e-9.
COX_NEWTON_ATTEMPTS: tuple[SolverBudget, ...] = (
    SolverBudget(max_iter=50, tol=1e-13, xtol=1e-10, max_halfstep=60),
    SolverBudget(max_iter=200, tol=1e-9, xtol=1e-8, max_halfstep=60),
)
#: Distinct risk scores up to which the large-n concordance counts pairs per score
#: (_concordance_few); above, lifelines' O(n log n) tree.
CONCORDANCE_FEW = 32
_INFINITE_Z = 10.0  # |coefficient per SD| beyond which a hazard ratio counts as infinite
COX_NO_INFORMATION = (
    "The Cox model cannot be estimated: whenever an event happened, the patients still at risk "
    "had the same value of {who}, so the data hold no information on its hazard ratio (for "
    "example, only one patient was at risk at each event). Widen the filter or remove the "
    "covariate.")
COX_NOT_CONVERGED = (
    "The Cox model did not converge, even with more iterations and a looser tolerance: its "
    "estimates are unreliable. Use fewer covariates or widen the filter.")


@dataclass(frozen=True)
class CoxResult(WithNotes):
    """Result of :func:`cox`.

    Attributes
    ----------
    table : DataFrame
        Columns term, variable, level, coef, hazard_ratio, ci_low, ci_high, se, pvalue (Wald),
        one row per model term (term names as in :func:`core.stats.logistic`).
    ph_test : DataFrame
        Columns term, chisq, df, pvalue: the proportional-hazards test per covariate (a
        categorical covariate is one row with df = levels - 1) and a GLOBAL row. chisq and
        pvalue are missing where the test cannot be computed (events at a single time,
        infinite hazard ratios, too few events); a "ph_test" note then says why.
    n, events, n_dropped : int
        Patients used, events among them, rows left out for a missing value.
    concordance : float
        Harrell's C of the linear predictor.
    loglik : float
        Maximised partial log-likelihood (Efron).
    notes : tuple of Note
        By kind: ``"epv"`` (warning: fewer than ``EPV_MIN`` events per coefficient),
        ``"convergence"`` (warning: an infinite hazard ratio, or no convergence),
        ``"ph_test"`` (warning: the PH test was not computed, or left blank for some terms).
    messages : tuple of str
        The texts of ``notes`` (for display).
    """

    table: pd.DataFrame
    ph_test: pd.DataFrame
    n: int
    events: int
    n_dropped: int
    concordance: float
    loglik: float
    notes: tuple[Note, ...] = field(default_factory=tuple)



def cox(df: pd.DataFrame, time: str, event: str, covariates: Sequence[str],
        reference: Mapping[str, str] | None = None, *, start: str | None = None,
        id: str | None = None) -> CoxResult:
    """Cox proportional-hazards regression with Efron ties and the cox.zph PH test.

    Parameters
    ----------
    df : DataFrame
        Patient-level data.
    time, event : str
        Follow-up time (>= 0) and 0/1 event indicator.
    covariates : sequence of str
        Columns entered together (a single name is taken as one covariate); categorical ones
        are treatment-coded against the first sorted level or ``reference[column]``.
    reference : dict, optional
        Reference level per categorical covariate.
    start : str, optional
        Start of each row's interval: counting-process (start, stop] rows, ``time`` being the
        stop and ``event`` whether the event happened at the stop, so a covariate can change
        value over time (R ``coxph(Surv(start, stop, event) ~ ...)``; lifelines'
        CoxTimeVaryingFitter); the PH test is cox.zph's for counting-process rows, and the
        concordance is not computed (missing).
    id : str, optional
        With ``start``: the patient of each row (``n`` then counts patients, not rows).

    Returns
    -------
    CoxResult
        table (term, variable, level, coef, hazard_ratio, ci_low, ci_high, se, pvalue), ph_test
        (term, chisq, df, pvalue; last row GLOBAL), n, events, n_dropped, concordance, loglik,
        notes.

    Raises
    ------
    TypeError
        ``reference`` is not a dict.
    ColumnError
        No covariate, missing column, negative time, event not 0/1, unknown reference,
        infinite covariate values.
    InsufficientDataError
        No events, constant or collinear covariates, fewer patients than coefficients, or a
        covariate that never varies among the patients at risk at an event time... with a
        message saying what to change. Numerical dead ends (infinite hazard ratios, a PH test
        that cannot be computed) are not errors: they leave blanks and notes.

    Notes
    -----
    Validated against R 4.2, survival 3.x: ``coxph(Surv(time, status) ~ ...)`` (Efron; coef,
    se, ``confint``, Wald p, ``$concordance``) and ``cox.zph(fit)`` (default transform "km",
    the score test of survival 3.x, implemented after its R source and C routine zph1).
    The fit is lifelines' CoxPHFitter on standardised covariates under COX_ATTEMPTS (explicit
    iteration limits; a failed attempt continues from where it stopped with R's convergence
    criterion).
    """
    check_reference(reference)
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    if not covariates:
        raise ColumnError("Choose at least one covariate.")
    if start is not None:
        return _cox_start_stop(df, start, time, event, covariates, reference, id)
    data, dropped, t, e = survival_data(df, time, event, covariates)
    design = _cox_design(data, covariates, reference, len(t), int(e.sum()))
    k = design.X.shape[1]
    notes = _epv_notes(int(e.sum()), k)
    Z, sd = _standardised(design.X)
    _check_information(Z, t, e, design.variables)
    fit = _fit_cox(Z, t, e)
    infinite = [term for term, b in zip(design.terms, fit.beta, strict=True)
                if abs(b) > _INFINITE_Z]
    notes += _convergence_notes(fit.converged, infinite)
    ph, ph_notes = ph_test(Z, t, e, fit.beta, design.variables, fit.converged and not infinite)
    notes += ph_notes
    se = np.where(np.isfinite(fit.se) & (fit.se > 0), fit.se, np.nan)
    return CoxResult(table=_cox_table(design, fit.beta / sd, se / sd),
                     ph_test=ph, n=len(t), events=int(e.sum()), n_dropped=dropped,
                     concordance=_concordance(t, e, _linear_predictor(Z, fit.beta)),
                     loglik=fit.loglik, notes=tuple(notes))


def _cox_start_stop(df: pd.DataFrame, start: str, stop: str, event: str,
                    covariates: Sequence[str], reference: Mapping[str, str] | None,
                    id: str | None) -> CoxResult:
    """cox() on counting-process rows (lifelines' CoxTimeVaryingFitter)."""
    data, dropped, t, e = survival_data(df, stop, event,
                                        [start, *covariates, *([id] if id else [])])
    t0 = survival_times(data[start], start)
    bad = int((t0 >= t).sum())
    if bad:
        raise ColumnError(f"Each row's interval must start before it stops: {bad} row(s) have "
                          f"{start} >= {stop}. Fix or remove them (R refuses them too).")
    n = int(data[id].nunique()) if id else len(t)
    design = _cox_design(data, covariates, reference, len(t), int(e.sum()))
    notes = _epv_notes(int(e.sum()), design.X.shape[1])
    Z, sd = _standardised(design.X)
    ids = data[id].to_numpy() if id else np.arange(len(t))
    _check_information(Z, t, e, design.variables, start=t0)
    fit = _fit_cox(Z, t, e, start=t0, ids=ids)
    if np.isnan(fit.loglik):
        raise InsufficientDataError(COX_NO_INFORMATION.format(
            who=", ".join(dict.fromkeys(design.variables))))
    infinite = [term for term, b in zip(design.terms, fit.beta, strict=True)
                if abs(b) > _INFINITE_Z]
    notes += _convergence_notes(fit.converged, infinite)
    ph, ph_notes = ph_test(Z, t, e, fit.beta, design.variables,
                           fit.converged and not infinite, start=t0)
    se = np.where(np.isfinite(fit.se) & (fit.se > 0), fit.se, np.nan)
    return CoxResult(table=_cox_table(design, fit.beta / sd, se / sd), ph_test=ph, n=n,
                     events=int(e.sum()), n_dropped=dropped, concordance=float("nan"),
                     loglik=fit.loglik, notes=tuple(notes + ph_notes))


# --------------------------------------------------------------------------- steps of cox()

def _cox_design(data: pd.DataFrame, covariates: Sequence[str],
                reference: Mapping[str, str] | None, n: int, events: int) -> Design:
    """The design matrix, after checking for events and enough patients per coefficient."""
    if events == 0:
        raise InsufficientDataError(f"No events among the {n} usable patients: a Cox model "
                                    "needs at least one event. Widen the filter.")
    design = design_matrix(data, list(covariates), reference, check_rank=False)
    k = design.X.shape[1]
    if n <= k:
        raise InsufficientDataError(f"The model has {k} coefficients but only {n} usable "
                                    "patients. Use fewer covariates.")
    check_full_rank(design.X, design.terms)
    return design


def _epv_notes(events: int, k: int) -> list[Note]:
    if events / k >= EPV_MIN:
        return []
    return [Note("warning", "epv", f"Only {events / k:.1f} events per coefficient (fewer than "
                                   f"{EPV_MIN}): estimates may be unstable; use fewer "
                                   "covariates.")]


def _convergence_notes(converged: bool, infinite: Sequence[str]) -> list[Note]:
    if infinite:
        return [Note("warning", "convergence",
                     f"The Cox model did not converge to finite estimates for "
                     f"{', '.join(infinite)}: the hazard ratio is effectively infinite (e.g. no "
                     "events in one group). Do not interpret it; combine groups or drop the "
                     "covariate.")]
    return [] if converged else [Note("warning", "convergence", COX_NOT_CONVERGED)]


# --------------------------------------------------------------------------- fit (lifelines)

@dataclass(frozen=True)
class _Fit:
    """A Cox fit on the standardised covariates."""

    beta: np.ndarray
    se: np.ndarray
    loglik: float
    converged: bool


def _lifelines_fit(Z: np.ndarray, t: np.ndarray, e: np.ndarray, beta: np.ndarray,
                   budget: SolverBudget, start: np.ndarray | None = None,
                   ids: np.ndarray | None = None) -> _Fit | None:
    """One CoxPHFitter (Efron) fit from ``beta`` under ``budget`` (max_iter: Newton steps;
    tol: relative change of the log-likelihood, R's criterion; xtol: size of the Newton step;
    lifelines sizes its own steps, so max_halfstep is not used). None when lifelines stops on
    a singular or non-finite Hessian."""
    cols = [f"z{i}" for i in range(Z.shape[1])]
    data = pd.DataFrame(Z, columns=cols).assign(_t=t, _e=e)
    norm = data[cols].std().to_numpy()  # lifelines' own scaling of the covariates
    options = {"max_steps": budget.max_iter, "r_precision": budget.tol,
               "precision": budget.xtol}
    fitter: CoxPHFitter | CoxTimeVaryingFitter
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        try:
            if start is None:
                fitter = CoxPHFitter()
                fitter.fit(data, "_t", "_e", initial_point=beta * norm, fit_options=options)
            else:
                fitter = CoxTimeVaryingFitter()
                fitter.fit(data.assign(_s=start, _id=ids), event_col="_e", start_col="_s",
                           stop_col="_t", id_col="_id", initial_point=beta * norm,
                           fit_options=options)
        except (ConvergenceError, np.linalg.LinAlgError, ValueError, ZeroDivisionError):
            return None
    failed = any("failed to converge" in str(w.message) for w in caught)
    return _Fit(fitter.params_.to_numpy(dtype=float),
                fitter.standard_errors_.to_numpy(dtype=float),
                float(fitter.log_likelihood_), not failed)


def _newton_fit(Z: np.ndarray, t: np.ndarray, e: np.ndarray, beta: np.ndarray,
                budget: SolverBudget, start: np.ndarray | None = None) -> _Fit | None:
    """One Newton-Raphson fit (Efron, :func:`core.stats.efron.efron_fast`) from ``beta`` under
    ``budget`` (max_iter: Newton steps; tol: relative change of the log-likelihood; xtol:
    largest step; max_halfstep: halvings of a step that lowers the log-likelihood, as R
    coxph). The step that meets the criterion is taken. None on a singular or non-finite
    information matrix."""
    with np.errstate(all="ignore"):
        beta = np.array(beta, dtype=float)
        prepared = efron_order(t, e, start)
        cur = efron_fast(Z, t, e, beta, None, start, prepared)[0]
        if not np.isfinite(cur.loglik):
            return None
        converged = False
        for _ in range(budget.max_iter):
            try:
                step = np.linalg.solve(cur.info, cur.score)
            except np.linalg.LinAlgError:
                return None
            if not np.isfinite(step).all():
                return None
            for _ in range(budget.max_halfstep + 1):
                new = efron_fast(Z, t, e, beta + step, None, start, prepared)[0]
                if np.isfinite(new.loglik) and (new.loglik >= cur.loglik
                                                or np.abs(step).max() <= budget.xtol):
                    break
                step = step / 2
            else:
                break  # no step raises the log-likelihood: stop, not converged
            beta = beta + step
            change = abs(new.loglik - cur.loglik)
            cur = new
            if (np.abs(step).max() <= budget.xtol
                    or change <= budget.tol * max(abs(cur.loglik), 1.0)):
                converged = True
                break
        try:
            se = np.sqrt(np.diag(np.linalg.inv(cur.info)))
        except np.linalg.LinAlgError:
            return None
    return _Fit(beta, se, float(cur.loglik), converged)


def _fit_cox(Z: np.ndarray, t: np.ndarray, e: np.ndarray, start: np.ndarray | None = None,
             ids: np.ndarray | None = None) -> _Fit:
    """Cox fit under COX_ATTEMPTS (lifelines), or from FAST_MIN_ROWS rows under
    COX_NEWTON_ATTEMPTS (:func:`_newton_fit`); each retry continues from where the last one
    stopped (loglik missing when no attempt could be fitted at all)."""
    fit = _Fit(np.zeros(Z.shape[1]), np.full(Z.shape[1], np.nan), float("nan"), False)
    fast = len(t) >= FAST_MIN_ROWS
    for budget in COX_NEWTON_ATTEMPTS if fast else COX_ATTEMPTS:
        new = (_newton_fit(Z, t, e, fit.beta, budget, start) if fast
               else _lifelines_fit(Z, t, e, fit.beta, budget, start, ids))
        if new is not None:
            fit = new
        if fit.converged:
            break
    return fit


def _concordance(t: np.ndarray, e: np.ndarray, eta: np.ndarray) -> float:
    """Harrell's C as R ``coxph``'s concordance (lifelines' concordance_index on the risk
    scores; missing without comparable pairs). From FAST_MIN_ROWS rows the same pairs are
    counted by :func:`_concordance_few` (at most CONCORDANCE_FEW distinct risk scores) or
    :func:`_concordance_sorted`."""
    if len(t) >= FAST_MIN_ROWS and np.isfinite(eta).all():
        found = _concordance_few(t, e, -eta)
        return found if found is not None else _concordance_sorted(t, e, -eta)
    try:
        return float(concordance_index(t, -eta, e))
    except ZeroDivisionError:
        return float("nan")


def _concordance_few(t: np.ndarray, e: np.ndarray, pred: np.ndarray) -> float | None:
    """lifelines' ``_concordance_summary_statistics`` for few distinct predictions ``pred``
    (None for more than CONCORDANCE_FEW): each row is compared with the deaths before it
    (strictly before for a death, up to its time for a censored row); a pair is correct when
    the death's prediction is the smaller, tied when equal; C = (correct + tied / 2) / pairs
    (missing without pairs). The counts are exact integers, O(n log n + n m) for m distinct
    predictions, so the result is lifelines' to the last bit."""
    levels, code = np.unique(pred, return_inverse=True)
    m = len(levels)
    if m > CONCORDANCE_FEW:
        return None
    code = np.ravel(code)
    dead = e == 1
    times, rank = np.unique(t, return_inverse=True)
    rank = np.ravel(rank)
    # deaths per (distinct time, prediction), cumulated over time: row k = deaths before the
    # k-th distinct time
    counts = np.bincount(rank[dead] * m + code[dead], minlength=len(times) * m)
    cum = np.vstack([np.zeros((1, m), dtype=np.int64),
                     np.cumsum(counts.reshape(len(times), m), axis=0)])
    before = np.where(dead[:, None], cum[rank], cum[rank + 1])  # deaths before each row
    pairs = int(before.sum())
    if pairs == 0:
        return float("nan")
    rows = np.arange(len(t))
    below = np.cumsum(before, axis=1)
    correct = int(np.where(code > 0, below[rows, np.maximum(code - 1, 0)], 0).sum())
    tied = int(before[rows, code].sum())
    return float((np.int64(correct) + np.int64(tied) / 2) / np.int64(pairs))


def _concordance_sorted(t: np.ndarray, e: np.ndarray, pred: np.ndarray) -> float:
    """The pairs of :func:`_concordance_few` for any predictions, counted by sorting
    (O(n log^2 n) in numpy, exact integers, so again lifelines' result to the last bit).

    Each row gets a key: 2 x (rank of its time) for a death, + 1 for a censored row, so that
    "death i before row j" (strictly earlier for a death j, up to its time for a censored
    j) is key_i < key_j. Pairs: deaths with a smaller key, by binary search. Tied: the same
    within rows of equal prediction. Correct (death i before j with pred_i < pred_j): with
    the rows ordered by (key, prediction descending), the pairs i before j in that order with
    pred_i < pred_j (rows of equal key then never count); counted level by level of a merge
    sort: at each level, for every row of a right block, the deaths of its left sibling block
    with a smaller prediction, by one sort and two binary searches over all blocks at once.
    """
    n = len(t)
    dead = e == 1
    trank = np.ravel(np.unique(t, return_inverse=True)[1])
    key = 2 * trank + (~dead)
    prank = np.ravel(np.unique(pred, return_inverse=True)[1]).astype(np.int64)
    m = int(prank.max()) + 1 if n else 1
    pairs = int(np.searchsorted(np.sort(key[dead]), key, side="left").sum())
    if pairs == 0:
        return float("nan")
    width = int(key.max()) + 1
    same = np.sort(prank[dead] * width + key[dead])
    tied = int((np.searchsorted(same, prank * width + key, side="left")
                - np.searchsorted(same, prank * width, side="left")).sum())
    order = np.lexsort((-prank, key))
    value, died = prank[order], dead[order]
    position = np.arange(n)
    correct = 0
    block = 1
    while block < n:
        index = position // block
        left, pair = index % 2 == 0, index // 2
        take = left & died
        lefts = np.sort(pair[take] * m + value[take])
        right = ~left
        base = pair[right] * m
        correct += int((np.searchsorted(lefts, base + value[right], side="left")
                        - np.searchsorted(lefts, base, side="left")).sum())
        block *= 2
    return float((np.int64(correct) + np.int64(tied) / 2) / np.int64(pairs))


def _linear_predictor(Z: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Z @ beta with identical rows given identical values: some BLAS kernels (OpenBLAS
    Prescott/Katmai) round rows differently, which would break ties in the concordance."""
    if len(Z) >= FAST_MIN_ROWS:   # the same grouping by hashing rows (no sort of rows)
        first, group = distinct_rows(Z)
        return (Z[first] @ beta)[group]
    rows, inverse = np.unique(Z, axis=0, return_inverse=True)
    return (rows @ beta)[np.ravel(inverse)]


def _standardised(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centred covariates divided by their SD (the Cox fit is equivariant under this), and the
    SDs; coefficients on this scale are per SD, so convergence criteria are unit-free."""
    sd = X.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return (X - X.mean(axis=0)) / sd, sd


def _check_information(Z: np.ndarray, t: np.ndarray, e: np.ndarray,
                       variables: Sequence[str], start: np.ndarray | None = None) -> None:
    """Raise InsufficientDataError when the partial likelihood is flat in some direction.

    The information at any beta has the null space it has at 0: a covariate (or combination)
    that is constant among the patients at risk at every event time has no estimable effect.
    """
    with np.errstate(all="ignore"):
        info = efron(Z, t, e, np.zeros(Z.shape[1]), start).info
    if np.isfinite(info).all() and np.linalg.matrix_rank(info) == info.shape[0]:
        return
    diag = np.diag(info) if np.isfinite(info).all() else np.zeros(len(info))
    flat = [v for v, d in zip(variables, diag) if not d > _TOL * max(diag.max(), 1.0)]
    who = ", ".join(dict.fromkeys(flat or variables))
    raise InsufficientDataError(COX_NO_INFORMATION.format(who=who))


def _cox_table(design: Design, beta: np.ndarray, se: np.ndarray) -> pd.DataFrame:
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        return pd.DataFrame({
            "term": design.terms, "variable": design.variables, "level": design.levels,
            "coef": beta, "hazard_ratio": np.exp(beta),
            "ci_low": np.exp(beta - _Z * se), "ci_high": np.exp(beta + _Z * se),
            "se": se, "pvalue": 2 * _st.norm.sf(np.abs(beta / se)),
        })
