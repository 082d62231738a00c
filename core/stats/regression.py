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
from core.stats._common import complete_cases, numeric, require_columns

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
            cols.append(numeric(s, p).to_numpy())
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
        baseline odds).
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


def detect_separation(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Which coefficients (intercept last) have an infinite ML estimate.

    Linear-programming check of Konis (2007), as R ``detectseparation::detect_separation``
    (via ``firthmodels.detect_separation``). Returns a boolean array, True = infinite.
    """
    from firthmodels import detect_separation as _detect

    res = _detect(X, y, fit_intercept=True)
    return ~np.asarray(res.is_finite, dtype=bool)


def _fit_ml(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool, bool]:
    """ML logit: coefficients, SEs (intercept first), converged, separation warning seen."""
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import (
        ConvergenceWarning, PerfectSeparationError, PerfectSeparationWarning,
    )

    exog = np.column_stack([np.ones(len(X)), X])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = sm.Logit(y, exog).fit(method="newton", maxiter=100, tol=1e-12, disp=0)
        except (PerfectSeparationError, np.linalg.LinAlgError):
            nan = np.full(exog.shape[1], np.nan)
            return nan, nan, False, True
    sep = any(issubclass(w.category, PerfectSeparationWarning) for w in caught)
    conv = bool(fit.mle_retvals.get("converged", True)) and not any(
        issubclass(w.category, ConvergenceWarning) for w in caught)
    with np.errstate(invalid="ignore"):
        se = np.sqrt(np.diag(np.asarray(fit.cov_params())))
    return np.asarray(fit.params), se, conv, sep


def _ml_table(X: np.ndarray, y: np.ndarray) -> tuple[pd.DataFrame, list[str], bool]:
    coef, se, converged, sep_warning = _fit_ml(X, y)
    z = _st.norm.ppf(0.975)
    with np.errstate(invalid="ignore", over="ignore"):
        p = 2 * _st.norm.sf(np.abs(coef / se))
    out = pd.DataFrame({"coef": coef, "se": se, "ci_low_coef": coef - z * se,
                        "ci_high_coef": coef + z * se, "pvalue": p})
    msgs = [] if converged else ["The maximum-likelihood fit did not converge; estimates are "
                                 "unreliable."]
    return out, msgs, sep_warning


def _fit_firth(X: np.ndarray, y: np.ndarray):
    """Firth fit with tight tolerances, relaxed step by step if the solver stalls."""
    from firthmodels import FirthLogisticRegression
    from sklearn.exceptions import ConvergenceWarning

    model = None
    for gtol, xtol in ((1e-8, 1e-8), (1e-6, 1e-8), (1e-4, 1e-6)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            model = FirthLogisticRegression(gtol=gtol, xtol=xtol, max_iter=200,
                                            max_halfstep=50).fit(X, y)
        if model.converged_:
            break
    return model


def _firth_table(X: np.ndarray, y: np.ndarray) -> tuple[pd.DataFrame, list[str]]:
    """Firth estimates; SE as brglm2 (inverse Fisher information at the estimate); profile
    penalised-likelihood CIs and penalised likelihood-ratio p-values as logistf."""
    from sklearn.exceptions import ConvergenceWarning

    msgs: list[str] = []
    try:
        model = _fit_firth(X, y)
    except Exception as exc:  # noqa: BLE001 - numerical failure of the library
        raise InsufficientDataError(
            f"Firth's penalised logistic regression could not be fitted ({exc}). Use fewer "
            "predictors or more patients.") from None
    if not model.converged_:
        msgs.append("Firth's penalised fit did not fully converge; treat estimates with care.")
    # firthmodels puts the intercept last: move it first
    order = np.r_[X.shape[1], np.arange(X.shape[1])]
    coef = np.r_[model.coef_, model.intercept_][order]
    exog = np.column_stack([np.ones(len(X)), X])
    p_hat = 1.0 / (1.0 + np.exp(-exog @ coef))
    info = exog.T @ (exog * (p_hat * (1 - p_hat))[:, None])
    se = np.sqrt(np.diag(np.linalg.pinv(info)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ci = model.conf_int(method="pl", tol=1e-8, max_iter=100)[order]
        model.lrt()
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        msgs.append("Some profile-likelihood limits or likelihood-ratio tests did not converge "
                    "and are shown as missing.")
    pvalue = np.asarray(model.lrt_pvalues_)[order]
    out = pd.DataFrame({"coef": coef, "se": se, "ci_low_coef": ci[:, 0],
                        "ci_high_coef": ci[:, 1], "pvalue": pvalue})
    return out, msgs


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
        Missing column, outcome not 0/1, unknown reference level.
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
    PerfectSeparationWarning as a second signal.
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
    ml_table, ml_msgs, sep_warning = (None, [], False)
    if method != "firth" or not infinite.any():
        ml_table, ml_msgs, sep_warning = _ml_table(design.X, y)
    separation = bool(infinite.any() or sep_warning)
    separating = tuple(dict.fromkeys(v for v, inf in zip(design.variables, infinite[:-1])
                                     if inf))
    used: Literal["ml", "firth"] = "firth" if method == "firth" or (
        method == "auto" and separation) else "ml"
    if separation:
        who = (f" by {', '.join(separating)}" if separating else "")
        messages.append(
            f"The outcome is perfectly separated{who}: some group has only events or only "
            "non-events, so the maximum-likelihood odds ratio is infinite. "
            + ("Firth's penalised likelihood was used instead (profile-likelihood CIs)."
               if used == "firth" and method == "auto" else
               "Firth's penalised likelihood gives finite estimates." if used == "firth" else
               "The ML estimates shown are meaningless for these terms; use method 'firth'."))
    if used == "firth":
        coef_table, fit_msgs = _firth_table(design.X, y)
    else:
        coef_table, fit_msgs = ml_table, ml_msgs
    messages.extend(fit_msgs)
    table = _assemble(coef_table, design)
    return LogisticResult(
        method=used, requested_method=method, separation=separation, separating=separating,
        n=n, n_dropped=dropped, events=events, epv=float(epv),
        ci_method="profile likelihood" if used == "firth" else "Wald", table=table,
        messages=tuple(messages))


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
