"""Risk factors page: univariable screen and multivariable logistic model for a binary outcome
(the paper's Table S3), with separation and events-per-variable guards.

:func:`risk_factor_analysis` returns a :class:`RiskFactorResult`; a notebook gets the same
object as the page. Everything the user can get wrong in the data (no events, a constant or
collinear predictor, separation, too few events per variable) ends up as a
:class:`core.notes.Note` in the result rather than an exception, so a page can show what it
could compute beside what it could not. Errors in the request itself (a column that does not
exist, a non-binary outcome column) raise :class:`core.errors.CohortError`; a wrong argument
(an unknown method) raises ``ValueError``.

Note kinds: ``"no_data"``, ``"no_events"``, ``"no_predictors"`` (nothing to model),
``"dropped"`` (a predictor left out, and why), ``"missing"`` (patients left out),
``"separation"``, ``"epv"``, ``"model"`` (the model could not be fitted), ``"fit"`` (what the
fit says about itself), ``"compare"`` (the ML-vs-Firth comparison failed), ``"post_exposure"``
(warning: a predictor measured after the exposure or over follow-up, e.g. a nadir or maximum:
it can be a consequence of the exposure or of the outcome, not a confounder),
``"confounding"`` (info: tocilizumab without CRS grade in the model; it is given because of
CRS).

>>> from core.analyses import indicators, risk_factors
>>> res = risk_factors.risk_factor_analysis(df, indicators.HYPOFIB_ANY,
...                                         indicators.default_predictors(df))  # doctest: +SKIP
>>> res.model.table                                                          # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import pandas as pd

from core.analyses.indicators import (
    CRS_CONFOUNDER,
    OutcomeSpec,
    Predictor,
    column_of,
    name_of,
    post_exposure,
    resolve_predictor,
    source_of,
)
from core.errors import CohortError
from core.notes import Note, of_kind
from core.stats import (
    EPV_MIN,
    LOGISTIC_METHODS,
    LogisticMethod,
    LogisticResult,
    aliased_terms,
    design_matrix,
    logistic,
)
from core.stats._common import complete_cases

__all__ = [
    "COMPARISON_COLUMNS",
    "UNIVARIABLE_COLUMNS",
    "NoteKind",
    "RiskFactorResult",
    "risk_factor_analysis",
]

NoteKind = Literal["no_data", "no_events", "no_predictors", "dropped", "missing", "separation",
                   "epv", "model", "fit", "compare", "post_exposure", "confounding"]
NOTE_KINDS: tuple[str, ...] = get_args(NoteKind)
UNIVARIABLE_COLUMNS = ["predictor", "term", "odds_ratio", "ci_low", "ci_high", "pvalue", "n",
                       "n_dropped", "events", "method", "ci_method", "separation", "note"]
COMPARISON_COLUMNS = ["term", "or_ml", "ci_low_ml", "ci_high_ml", "pvalue_ml", "or_firth",
                      "ci_low_firth", "ci_high_firth", "pvalue_firth"]
_LEVEL_ORDER = {"error": 0, "warning": 1, "info": 2}
#: what the paper's Table S3 odds ratio is (R 4.2: glm(y ~ toci, binomial) on 27/29 vs 0/12
#: stops after 18 iterations at coef 22.17, SE 3104, OR 4.24e9, Wald p 0.994)
PAPER_OR_NOTE = ("On the paper's counts (hypofibrinogenemia in 27/29 treated vs 0/12 "
                 "untreated) R's glm() stops at OR ≈ 4×10⁹ with Wald p ≈ 0.99, so the "
                 "paper's OR = 486 (P < 0.001) for tocilizumab cannot come from glm() on these "
                 "counts; its maximum-likelihood value is infinite.")


@dataclass(frozen=True)
class RiskFactorResult:
    """Result of :func:`risk_factor_analysis`.

    Attributes
    ----------
    outcome : OutcomeSpec
        The outcome definition.
    method : {"auto", "ml", "firth"}
        The method asked for.
    predictors : tuple of str
        Names of the predictors asked for that exist in the data.
    model_predictors : tuple of str
        Names entered into the multivariable model (after dropping constant, collinear or
        unusable ones).
    univariable : DataFrame
        One row per term of each one-predictor model, columns predictor, term, odds_ratio,
        ci_low, ci_high, pvalue, n, n_dropped, events, method ("ml" or "firth"), ci_method
        ("Wald" or "profile likelihood"), separation (bool), note (why the row has no
        estimate, else "").
    model : LogisticResult or None
        The multivariable model (``table``: term, variable, level, coef, se, odds_ratio,
        ci_low, ci_high, pvalue; intercept first), or None when it could not be fitted (an
        error note says why).
    comparison : DataFrame or None
        With ``compare=True`` and a fitted model: columns term, or_ml, ci_low_ml, ci_high_ml,
        pvalue_ml (ordinary maximum likelihood, Wald CI), or_firth, ci_low_firth,
        ci_high_firth, pvalue_firth (Firth, profile-likelihood CI); else None.
    n_total : int
        Rows in the data.
    n_outcome_known : int
        Rows with the outcome known; ``events`` of them have it.
    events : int
        Rows with the outcome.
    missing : DataFrame
        Columns variable, n_missing: missing values per variable used.
    notes : tuple of Note
        Messages for the user, errors first (kinds in the module docstring).
    """

    outcome: OutcomeSpec
    method: LogisticMethod
    predictors: tuple[str, ...]
    model_predictors: tuple[str, ...]
    univariable: pd.DataFrame
    model: LogisticResult | None
    comparison: pd.DataFrame | None
    n_total: int
    n_outcome_known: int
    events: int
    missing: pd.DataFrame
    notes: tuple[Note, ...] = field(default=())

    @property
    def separation(self) -> bool:
        """True if the multivariable model or any one-predictor model is separated."""
        return bool((self.model is not None and self.model.separation)
                    or self.univariable["separation"].any())

    @property
    def separating(self) -> tuple[str, ...]:
        """Predictors that separate the outcome (in the model or on their own)."""
        names = list(self.univariable.loc[self.univariable["separation"].astype(bool),
                                          "predictor"])
        names += list(self.model.separating) if self.model is not None else []
        return tuple(dict.fromkeys(names))

    def notes_of(self, kind: NoteKind) -> list[Note]:
        """The notes of one kind (ValueError for a kind this analysis never emits)."""
        if kind not in NOTE_KINDS:
            raise ValueError(f"Unknown note kind {kind!r}; use one of {NOTE_KINDS}.")
        return list(of_kind(self.notes, kind))


def risk_factor_analysis(df: pd.DataFrame, outcome: OutcomeSpec,
                         predictors: Sequence[Predictor], method: LogisticMethod = "auto",
                         compare: bool = False,
                         reference: Mapping[str, str] | None = None) -> RiskFactorResult:
    """Univariable screen and multivariable logistic model for a binary outcome.

    Parameters
    ----------
    df : DataFrame
        Patient-level data.
    outcome : OutcomeSpec
        The outcome, e.g. :data:`core.analyses.indicators.HYPOFIB_ANY`.
    predictors : sequence of str or OutcomeSpec
        Column names, derived names from
        :data:`~core.analyses.indicators.DERIVED_PREDICTORS` (e.g. ``"CD28 costimulation"``)
        or OutcomeSpecs. Names not in the data are reported and left out.
    method : {"auto", "ml", "firth"}
        "auto" (ML, Firth when the data separate), "ml" or "firth"; applies to every model.
    compare : bool
        Also fit the multivariable model by both ML and Firth, side by side.
    reference : mapping, optional
        Reference level per categorical predictor.

    Returns
    -------
    RiskFactorResult
        univariable, model (LogisticResult or None), comparison (or None), counts, missing
        (variable, n_missing) and notes.

    Raises
    ------
    ValueError
        Unknown ``method``.
    ColumnError
        The outcome column is missing or, without a threshold, not 0/1.

    Notes
    -----
    A predictor whose one-predictor model fails (constant, all missing, no events among its
    usable rows) is reported in the screen and left out of the multivariable model; so is one
    that is constant in the model's complete cases or collinear with the others (the later
    one of an aliased set, named in a note). The statistics are :func:`core.stats.logistic`.
    """
    if method not in LOGISTIC_METHODS:
        raise ValueError(f"Unknown method {method!r}; use one of {LOGISTIC_METHODS}.")
    y = outcome.values(df)
    out = outcome.name
    notes: list[Note] = []
    resolved = _resolve(df, outcome, predictors, notes)
    names = tuple(name_of(p) for p in resolved)
    frame = pd.DataFrame({out: y, **{name_of(p): column_of(df, p) for p in resolved}},
                         index=df.index)
    known, events = int(y.notna().sum()), int(y.sum(skipna=True))

    def result(univariable: pd.DataFrame | None = None, model: LogisticResult | None = None,
               kept: Sequence[str] = (), comparison: pd.DataFrame | None = None
               ) -> RiskFactorResult:
        return RiskFactorResult(
            outcome=outcome, method=method, predictors=names, model_predictors=tuple(kept),
            univariable=(univariable if univariable is not None
                         else pd.DataFrame(columns=UNIVARIABLE_COLUMNS)),
            model=model, comparison=comparison, n_total=len(df), n_outcome_known=known,
            events=events, missing=_missing(frame),
            notes=tuple(sorted(notes, key=lambda n: _LEVEL_ORDER[n.level])))

    if (blocked := _nothing_to_model(outcome, known, events, bool(resolved))) is not None:
        notes.append(blocked)
        return result()
    notes.extend(_design_notes(df, resolved))
    univariable, failed = _univariable(frame, out, names, method, reference)
    for p, why in failed.items():
        notes.append(Note("warning", "dropped", f"'{p}' was left out of the multivariable "
                                                f"model: {why}"))
    kept, dropped_notes = _drop_unusable(frame, out, [p for p in names if p not in failed])
    notes.extend(dropped_notes)
    model, comparison = _multivariable(frame, out, kept, univariable, method, reference,
                                       compare, notes)
    return result(univariable, model, kept, comparison)


# ============================================================================ steps

def _multivariable(frame: pd.DataFrame, out: str, kept: list[str], univariable: pd.DataFrame,
                   method: LogisticMethod, reference: Mapping[str, str] | None, compare: bool,
                   notes: list[Note]) -> tuple[LogisticResult | None, pd.DataFrame | None]:
    """The multivariable model of the ``kept`` predictors and, with ``compare``, its ML and
    Firth fits side by side; None where they cannot be computed (``notes`` then says why)."""
    if not kept:
        notes.append(Note("error", "model", "No predictor is left for the multivariable "
                                            "model. Choose other predictors or widen the "
                                            "filter."))
        return None, None
    ref = {k: v for k, v in (reference or {}).items() if k in kept} or None
    try:
        model = logistic(frame, out, kept, method=method, reference=ref)
    except CohortError as exc:
        notes.append(Note("error", "model", f"The multivariable model could not be fitted: "
                                            f"{exc}"))
        return None, None
    alone = list(univariable.loc[univariable["separation"], "predictor"].unique())
    notes.extend(_model_notes(frame, out, model, kept, alone))
    if not compare:
        return model, None
    try:
        return model, _comparison(frame, out, kept, ref, model)
    except CohortError as exc:
        notes.append(Note("warning", "compare", f"The ML-vs-Firth comparison could not be "
                                                f"computed: {exc}"))
        return model, None


def _resolve(df: pd.DataFrame, outcome: OutcomeSpec, predictors: Sequence[Predictor],
             notes: list[Note]) -> list[Predictor]:
    """The predictors that exist and do not define the outcome (a note for each other one)."""
    resolved: list[Predictor] = []
    for p in dict.fromkeys(predictors):
        rp = resolve_predictor(df, p)
        if source_of(rp) not in df.columns:
            notes.append(Note("warning", "dropped", f"'{name_of(rp)}' is not in the data and "
                                                    "was left out."))
        elif source_of(rp) == outcome.column or name_of(rp) == outcome.name:
            notes.append(Note("warning", "dropped",
                              f"'{name_of(rp)}' defines the outcome, so it cannot predict it; "
                              "left out."))
        else:
            resolved.append(rp)
    return resolved


def _design_notes(df: pd.DataFrame, resolved: Sequence[Predictor]) -> list[Note]:
    """Warnings about what a predictor means, not about its numbers: measured after the
    exposure (``post_exposure``), and tocilizumab without CRS grade (``confounding``)."""
    notes: list[Note] = []
    late = [name_of(p) for p in resolved if post_exposure(source_of(p))]
    if late:
        notes.append(Note(
            "warning", "post_exposure",
            f"{', '.join(repr(p) for p in late)} {'is' if len(late) == 1 else 'are'} measured "
            "after the exposure or over follow-up (a nadir, maximum or minimum, or a "
            "post-infusion endpoint). Such a predictor can be a consequence of tocilizumab or "
            "of the outcome itself, not a confounder: adjusting for it can hide or invent an "
            "effect. Prefer values from before infusion (e.g. baseline labs)."))
    sources = {source_of(p) for p in resolved}
    if any(s.startswith("tocilizumab") for s in sources) and CRS_CONFOUNDER not in sources \
            and CRS_CONFOUNDER in df.columns:
        notes.append(Note(
            "info", "confounding",
            "Tocilizumab is given because of CRS, and CRS itself lowers fibrinogen: without "
            "CRS grade in the model the tocilizumab odds ratio mixes both (confounding by "
            "indication). Adjust for CRS grade if the events allow."))
    return notes


def _missing(frame: pd.DataFrame) -> pd.DataFrame:
    """Missing values per variable used (outcome first)."""
    return pd.DataFrame({"variable": list(frame.columns),
                         "n_missing": [int(frame[c].isna().sum()) for c in frame.columns]})


def _nothing_to_model(outcome: OutcomeSpec, known: int, events: int,
                      any_predictor: bool) -> Note | None:
    """The error note when there is no outcome, no contrast in it, or no predictor."""
    if known == 0:
        return Note("error", "no_data", f"No patient has a value for '{outcome.column}', so "
                                        "there is no outcome to model. Choose another outcome "
                                        "or widen the filter.")
    if events == 0 or events == known:
        which = "No patient has" if events == 0 else "Every patient has"
        return Note("error", "no_events",
                    f"{which} the outcome ({outcome.name}: {events} of {known}), so there is "
                    "nothing to compare. Widen the filter, or choose another outcome or "
                    "threshold.")
    if not any_predictor:
        return Note("error", "no_predictors", "Choose at least one predictor.")
    return None


def _univariable(frame: pd.DataFrame, out: str, names: Sequence[str], method: LogisticMethod,
                 reference: Mapping[str, str] | None) -> tuple[pd.DataFrame, dict[str, str]]:
    """One logistic model per predictor; the predictors whose model failed, with the reason."""
    rows, failed = [], {}
    for p in names:
        ref = {p: reference[p]} if reference and p in reference else None
        try:
            r = logistic(frame, out, [p], method=method, reference=ref)
        except CohortError as exc:
            failed[p] = str(exc)
            rows.append({"predictor": p, "term": p, "odds_ratio": np.nan, "ci_low": np.nan,
                         "ci_high": np.nan, "pvalue": np.nan, "n": np.nan, "n_dropped": np.nan,
                         "events": np.nan, "method": "", "ci_method": "", "separation": False,
                         "note": str(exc)})
            continue
        for t in r.table.iloc[1:].itertuples():
            rows.append({"predictor": p, "term": t.term, "odds_ratio": t.odds_ratio,
                         "ci_low": t.ci_low, "ci_high": t.ci_high, "pvalue": t.pvalue,
                         "n": r.n, "n_dropped": r.n_dropped, "events": r.events,
                         "method": r.method, "ci_method": r.ci_method,
                         "separation": r.separation, "note": ""})
    table = pd.DataFrame(rows, columns=UNIVARIABLE_COLUMNS)
    table["separation"] = table["separation"].astype(bool)
    return table, failed


# ============================================================================ collinearity

def _drop_unusable(frame: pd.DataFrame, out: str, kept: list[str]
                   ) -> tuple[list[str], list[Note]]:
    """Leave out predictors that are constant in the model's complete cases, then the later
    predictor of each collinear set (when there are enough patients to tell).

    The rank test is :func:`core.stats.aliased_terms` on the model matrix of
    :func:`core.stats.design_matrix`, the test the logistic model applies
    (:func:`core.stats.check_full_rank`).
    """
    notes: list[Note] = []
    kept = list(kept)
    data, _ = complete_cases(frame, [out, *kept])
    if len(data) == 0:
        return kept, notes  # logistic() says so
    for p in list(kept):
        if data[p].nunique() < 2:
            kept.remove(p)
            notes.append(Note("warning", "dropped",
                              f"'{p}' has the same value in all {len(data)} patients with "
                              "complete data, so it was left out of the multivariable model."))
    while len(kept) >= 2:
        design = design_matrix(data, kept, check_rank=False)
        if len(data) < design.X.shape[1] + 1:
            break  # fewer patients than parameters: logistic() explains
        j = _first_aliased(design.X, design.terms)
        if j is None:
            break
        alias = design.variables[j]
        others = _involved(design.X, design.terms, design.variables, j)
        kept.remove(alias)
        notes.append(Note("warning", "dropped",
                          f"'{alias}' is collinear with {', '.join(repr(o) for o in others)} "
                          f"(it adds no information beyond "
                          f"{'that predictor' if len(others) == 1 else 'those predictors'}), "
                          "so it was left out of the "
                          "multivariable model. Keep only one of the related predictors."))
    return kept, notes


def _first_aliased(X: np.ndarray, terms: Sequence[str]) -> int | None:
    """Index of the first term that the intercept and the terms before it determine
    (:func:`core.stats.aliased_terms`), or None when ``[1, X]`` has full rank."""
    aliased = aliased_terms(X, terms)
    return list(terms).index(aliased[0]) if aliased else None


def _involved(X: np.ndarray, terms: Sequence[str], variables: Sequence[str], j: int
              ) -> list[str]:
    """The predictors that term ``j`` depends on: the earlier predictors whose removal makes
    it independent of the rest (all earlier ones if none alone does)."""
    alias = variables[j]
    earlier = list(dict.fromkeys(v for v in variables[:j] if v != alias))

    def needed(drop: str) -> bool:
        cols = [k for k in range(j) if variables[k] != drop] + [j]
        return not aliased_terms(X[:, cols], [terms[k] for k in cols])

    return [v for v in earlier if needed(v)] or earlier


# ============================================================================ model notes

def _separation_detail(frame: pd.DataFrame, out: str, var: str, kept: Sequence[str]) -> str:
    """E.g. " (27/29 patients with tocilizumab = 1 had the outcome vs 0/12 with
    tocilizumab = 0)" for a two-valued predictor; "" otherwise."""
    data, _ = complete_cases(frame, [out, *kept])
    levels = sorted(data[var].unique(), key=lambda v: (str(type(v)), v))
    if len(levels) != 2:
        return ""
    parts = []
    for lv in reversed(levels):
        sub = data.loc[data[var] == lv, out]
        shown = f"{lv:g}" if isinstance(lv, (int, float, np.number)) else str(lv)
        parts.append(f"{int(sub.sum())}/{len(sub)} with {var} = {shown}")
    return f" ({parts[0].replace(' with ', ' patients with ', 1)} had the outcome vs {parts[1]})"


def _model_notes(frame: pd.DataFrame, out: str, model: LogisticResult, kept: Sequence[str],
                 alone: Sequence[str] = ()) -> list[Note]:
    """Notes on the multivariable model; ``alone`` are predictors that separate the outcome
    in their one-predictor model."""
    notes: list[Note] = []
    if model.separation:
        notes.append(_separation_note(frame, out, model, kept, alone))
    if model.epv < EPV_MIN:
        k = len(model.table) - 1
        fewer = min(model.events, model.n - model.events)
        notes.append(Note("warning", "epv",
                          f"Only {model.epv:.1f} events per variable ({fewer} patients in the "
                          f"smaller outcome group for {k} model term{'s' if k != 1 else ''}; "
                          f"at least {EPV_MIN} are recommended): the odds ratios may be biased "
                          "and unstable. Use fewer predictors, or read the model as "
                          "exploratory."))
    if model.n_dropped:
        cols = [c for c in [out, *kept] if frame[c].isna().any()]
        notes.append(Note("info", "missing",
                          f"{model.n_dropped} patient(s) left out of the multivariable model "
                          f"for a missing value (in {', '.join(cols)})."))
    # separation and events per variable are said above, in more detail
    notes += [Note("warning", "fit", n.text) for n in model.notes
              if n.kind not in ("separation", "epv")]
    return notes


def _separation_note(frame: pd.DataFrame, out: str, model: LogisticResult,
                     kept: Sequence[str], alone: Sequence[str]) -> Note:
    """Which predictors separate the outcome, what that means, and what was done about it."""
    who = [v for v in alone if v in kept] or list(model.separating)
    detail = _separation_detail(frame, out, who[0], kept) if len(who) == 1 else ""
    subject = (f"{' and '.join(who)} separate{'s' if len(who) == 1 else ''} the outcome"
               if who else "the predictors together separate the outcome")
    extra = [v for v in model.separating if v not in who]
    more = ""
    if extra and len(model.separating) == len(kept):
        more = (f" With all {len(kept)} predictors together the model is completely "
                "separated: every maximum-likelihood coefficient is infinite.")
    elif extra:
        more = f" In the model the estimates for {', '.join(extra)} are infinite too."
    meaning = ("Separation means that in some group every patient has the outcome (or none "
               "does), so the ordinary maximum-likelihood odds ratio is infinite: no finite "
               "estimate exists, and the number a standard program prints is only where it "
               f"stopped. {PAPER_OR_NOTE}")
    if model.method == "firth":
        action = ("Firth's penalised likelihood was used, which gives finite, "
                  "bias-reduced odds ratios with profile-likelihood CIs.")
    else:
        action = ("You chose ordinary ML, so the estimates for these terms are meaningless; "
                  "choose Firth or auto.")
    return Note("warning", "separation", f"Separation: {subject}{detail}.{more} {meaning} "
                                         f"{action}")


def _comparison(frame: pd.DataFrame, out: str, kept: Sequence[str],
                reference: Mapping[str, str] | None, fitted: LogisticResult) -> pd.DataFrame:
    """ML and Firth tables side by side (the fitted model is reused for its own method)."""
    ref = dict(reference) if reference else None
    ml = fitted if fitted.method == "ml" else logistic(frame, out, kept, method="ml",
                                                       reference=ref)
    fi = fitted if fitted.method == "firth" else logistic(frame, out, kept, method="firth",
                                                          reference=ref)
    ml_t, fi_t = ml.table.iloc[1:], fi.table.iloc[1:]
    return pd.DataFrame({
        "term": ml_t["term"].to_numpy(),
        "or_ml": ml_t["odds_ratio"].to_numpy(), "ci_low_ml": ml_t["ci_low"].to_numpy(),
        "ci_high_ml": ml_t["ci_high"].to_numpy(), "pvalue_ml": ml_t["pvalue"].to_numpy(),
        "or_firth": fi_t["odds_ratio"].to_numpy(), "ci_low_firth": fi_t["ci_low"].to_numpy(),
        "ci_high_firth": fi_t["ci_high"].to_numpy(), "pvalue_firth": fi_t["pvalue"].to_numpy(),
    }, columns=COMPARISON_COLUMNS)
