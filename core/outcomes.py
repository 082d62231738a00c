"""Outcomes: binary outcome definitions, risk-factor models and survival analyses.

The Risk factors and Survival pages call one function each, :func:`risk_factor_analysis` and
:func:`survival_analysis`; a notebook gets the same result objects. Everything the user can get
wrong in the data (no events, a constant or collinear predictor, separation, too few events per
variable) ends up as a :class:`Note` in the result rather than an exception, so a page can show
what it could compute beside what it could not. Errors in the request itself (a column that does
not exist, a non-binary outcome column) raise :class:`core.errors.CohortError`.

Outcomes and derived predictors share one small value object, :class:`OutcomeSpec`: a 0/1
column as it is, or a comparison of a column with a value (``hypofibrinogenemia_grade >= 1``,
``costimulation == "CD28"``). Missing values stay missing.

>>> from core import outcomes
>>> res = outcomes.risk_factor_analysis(df, outcomes.HYPOFIB_ANY,
...                                     outcomes.default_predictors(df))  # doctest: +SKIP
>>> res.model.table                                                      # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Union

import numpy as np
import pandas as pd

from core.errors import CohortError, ColumnError
from core.stats._common import complete_cases, numeric, require_columns
from core.stats.regression import LogisticResult, design_matrix, logistic
from core.stats.survival import CoxResult, KaplanMeierResult, cox, kaplan_meier

Op = Literal["==", "!=", ">=", ">", "<=", "<"]
Method = Literal["auto", "ml", "firth"]
Level = Literal["error", "warning", "info"]
NoteKind = Literal["no_data", "no_events", "no_predictors", "dropped", "missing", "separation",
                   "epv", "model", "fit", "compare", "landmark", "km", "cox", "ph"]

_OPS: dict[str, str] = {"==": "=", "!=": "≠", ">=": "≥", ">": ">", "<=": "≤", "<": "<"}
_EPV_MIN = 10
_MAX_LEVELS = 10
ID_COLUMNS = ("patient_id",)


# ============================================================================ notes

@dataclass(frozen=True)
class Note:
    """A message for the user.

    Attributes
    ----------
    level : "error" (nothing to show for this part), "warning" (shown, but read with care) or
        "info".
    kind : what it is about, for pages and tests (see ``NoteKind``), e.g. "separation", "epv",
        "dropped", "no_events".
    text : the message, written for the user, saying what to do.
    """

    level: Level
    kind: NoteKind
    text: str


# ============================================================================ OutcomeSpec

@dataclass(frozen=True)
class OutcomeSpec:
    """A binary (0/1) variable: a 0/1 column, or a column compared with a value.

    Attributes
    ----------
    column : the source column.
    op : None (``column`` is already 0/1 or true/false) or a comparison, one of
        ``==, !=, >=, >, <=, <``.
    threshold : the value compared with (a number; for ``==``/``!=`` also a text level).
    label : the name shown to the user and used as the term name in models; default
        :attr:`description`.

    Examples
    --------
    >>> OutcomeSpec("hypofibrinogenemia_grade", ">=", 3, "Hypofibrinogenemia grade ≥ 3")
    ... # doctest: +SKIP
    >>> OutcomeSpec("costimulation", "==", "CD28", "CD28 costimulation")  # doctest: +SKIP
    """

    column: str
    op: Op | None = None
    threshold: float | str | None = None
    label: str = ""

    def __post_init__(self) -> None:
        if self.op is None:
            if self.threshold is not None:
                raise ColumnError("A threshold needs a comparison (e.g. '>=').")
            return
        if self.op not in _OPS:
            raise ColumnError(f"Unknown comparison '{self.op}'; use one of {', '.join(_OPS)}.")
        if self.threshold is None:
            raise ColumnError(f"Comparison '{self.op}' on '{self.column}' needs a value.")
        if isinstance(self.threshold, str) and self.op not in ("==", "!="):
            raise ColumnError(f"'{self.op}' needs a number; text values only work with "
                              "'==' or '!='.")
        if not isinstance(self.threshold, str) and not math.isfinite(float(self.threshold)):
            raise ColumnError("The threshold must be a finite number.")

    @property
    def description(self) -> str:
        """The definition as text: ``"hypofibrinogenemia_grade ≥ 1"`` or the column name."""
        if self.op is None:
            return self.column
        value = self.threshold if isinstance(self.threshold, str) else f"{self.threshold:g}"
        return f"{self.column} {_OPS[self.op]} {value}"

    @property
    def name(self) -> str:
        """The label, or the description when no label was given."""
        return self.label or self.description

    def values(self, df: pd.DataFrame) -> pd.Series:
        """The 0/1 indicator for each row of ``df`` (float; missing where the column is missing).

        Raises
        ------
        ColumnError
            The column is missing; ``op`` is None and the column is not 0/1; a numeric
            comparison on a text column.
        """
        require_columns(df, [self.column])
        s = df[self.column]
        missing = s.isna().to_numpy()
        if self.op is None:
            if pd.api.types.is_bool_dtype(s):
                out = s.astype(float)
            else:
                v = pd.to_numeric(s, errors="coerce")
                bad = sorted(set(v.dropna().unique()) - {0.0, 1.0})
                if (v.isna() & s.notna()).any() or bad:
                    raise ColumnError(
                        f"'{self.column}' is not a 0/1 column (it holds "
                        f"{', '.join(map(str, sorted(s.dropna().astype(str).unique())[:4]))}). "
                        "Define the outcome with a threshold instead, e.g. "
                        f"'{self.column} >= 1'.")
                out = v.astype(float)
            return pd.Series(np.where(missing, np.nan, out.to_numpy(dtype=float)),
                             index=df.index, name=self.name)
        if isinstance(self.threshold, str):
            hit = s.astype(str).to_numpy() == self.threshold
            if self.op == "!=":
                hit = ~hit
        else:
            v = numeric(s, self.column).to_numpy()
            with np.errstate(invalid="ignore"):
                hit = _compare(v, self.op, float(self.threshold))
        return pd.Series(np.where(missing, np.nan, hit.astype(float)), index=df.index,
                         name=self.name)


def _compare(v: np.ndarray, op: str, x: float) -> np.ndarray:
    return {"==": v == x, "!=": v != x, ">=": v >= x, ">": v > x, "<=": v <= x,
            "<": v < x}[op]


Predictor = Union[str, OutcomeSpec]

#: the paper's outcome: hypofibrinogenemia of any grade (CTCAE v5 grade >= 1)
HYPOFIB_ANY = OutcomeSpec("hypofibrinogenemia_grade", ">=", 1, "Hypofibrinogenemia (any grade)")
#: severe hypofibrinogenemia (CTCAE v5 grade >= 3)
HYPOFIB_SEVERE = OutcomeSpec("hypofibrinogenemia_grade", ">=", 3, "Hypofibrinogenemia grade ≥ 3")
#: the default survival grouping: hypofibrinogenemia yes/no (grade >= 1)
HYPOFIB_GROUP = OutcomeSpec("hypofibrinogenemia_grade", ">=", 1, "Hypofibrinogenemia")
#: predictors derived from a column (name -> definition)
DERIVED_PREDICTORS: dict[str, OutcomeSpec] = {
    "CD28 costimulation": OutcomeSpec("costimulation", "==", "CD28", "CD28 costimulation"),
}
#: the paper's multivariable model (Table S3), in its order
DEFAULT_PREDICTORS: tuple[str, ...] = ("tocilizumab", "age", "bulky", "CD28 costimulation",
                                       "d_dimer_max", "che_min", "lymphodepletion", "cci")


# ============================================================================ column choices

def has_values(df: pd.DataFrame, column: str) -> bool:
    """True when ``column`` is in ``df`` and at least one patient has a value in it."""
    return column in df.columns and bool(df[column].notna().any())


def is_binary(s: pd.Series) -> bool:
    """True for a boolean column or a numeric one whose values are all 0 or 1 (some present)."""
    s = s.dropna()
    if len(s) == 0:
        return False
    if pd.api.types.is_bool_dtype(s):
        return True
    return bool(pd.api.types.is_numeric_dtype(s) and set(s.unique()) <= {0, 1})


def column_profile(df: pd.DataFrame) -> pd.DataFrame:
    """What each column (not the id) holds, computed column-wise in one pass.

    Returns
    -------
    DataFrame
        Indexed by column name in table order; columns ``numeric`` (numbers, not boolean),
        ``boolean``, ``n_values`` (non-missing), ``n_distinct`` and ``binary`` (as
        :func:`is_binary`: boolean, or numbers that are all 0 or 1, some present).
    """
    d = df.loc[:, [c for c in df.columns if c not in ID_COLUMNS]]
    dtypes = d.dtypes
    boolean = dtypes.map(pd.api.types.is_bool_dtype).astype(bool)
    numeric = dtypes.map(pd.api.types.is_numeric_dtype).astype(bool) & ~boolean
    n_values = d.notna().sum()
    num = d.loc[:, numeric.to_numpy()]
    zero_one = pd.Series(False, index=d.columns)
    if num.shape[1]:
        zero_one[num.columns] = (num.isin([0, 1]) | num.isna()).all()
    return pd.DataFrame({"numeric": numeric, "boolean": boolean, "n_values": n_values,
                         "n_distinct": d.nunique(dropna=True),
                         "binary": (boolean | zero_one) & (n_values > 0)}, index=d.columns)


def binary_columns(df: pd.DataFrame) -> list[str]:
    """Columns usable as a 0/1 outcome as they are (boolean, or numeric with only 0 and 1)."""
    p = column_profile(df)
    return p.index[p["binary"]].tolist()


def numeric_columns(df: pd.DataFrame) -> list[str]:
    """Numeric, non-binary columns with a value (candidates for an outcome threshold)."""
    p = column_profile(df)
    return p.index[p["numeric"] & (p["n_values"] > 0) & ~p["binary"]].tolist()


def predictor_options(df: pd.DataFrame, outcome: OutcomeSpec | None = None) -> list[str]:
    """Predictor names the data offer: the defaults first, then derived indicators, then every
    other column with a value (numeric, or categorical with at most 10 levels); never the id
    or the outcome's own column."""
    names: list[str] = []
    for name, spec in DERIVED_PREDICTORS.items():
        if spec.column in df.columns and (df[spec.column].astype(str) == spec.threshold).any():
            names.append(name)
    p = column_profile(df)
    usable = (p["n_values"] > 0) & (p["numeric"] | p["boolean"] | (p["n_distinct"] <= _MAX_LEVELS))
    if outcome is not None:
        usable &= p.index != outcome.column
    names += p.index[usable].tolist()
    first = [n for n in DEFAULT_PREDICTORS if n in names]
    return first + [n for n in names if n not in first]


def default_predictors(df: pd.DataFrame, outcome: OutcomeSpec | None = HYPOFIB_ANY
                       ) -> list[str]:
    """The paper's predictors (:data:`DEFAULT_PREDICTORS`) that ``df`` has."""
    options = set(predictor_options(df, outcome))
    return [p for p in DEFAULT_PREDICTORS if p in options]


def resolve_predictor(df: pd.DataFrame, p: Predictor) -> Predictor:
    """A column name stays a column; a derived name (e.g. "CD28 costimulation") becomes its
    :class:`OutcomeSpec`; an OutcomeSpec is returned as it is."""
    if isinstance(p, OutcomeSpec) or p in df.columns:
        return p
    return DERIVED_PREDICTORS.get(p, p)


def _name(p: Predictor) -> str:
    return p.name if isinstance(p, OutcomeSpec) else p


def _source(p: Predictor) -> str:
    return p.column if isinstance(p, OutcomeSpec) else p


def _column(df: pd.DataFrame, p: Predictor) -> pd.Series:
    if isinstance(p, OutcomeSpec):
        return p.values(df)
    s = df[p]
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.astype(object)
    return s


# ============================================================================ risk factors

UNIVARIABLE_COLUMNS = ["predictor", "term", "odds_ratio", "ci_low", "ci_high", "pvalue", "n",
                       "n_dropped", "events", "method", "ci_method", "separation", "note"]
COMPARISON_COLUMNS = ["term", "or_ml", "ci_low_ml", "ci_high_ml", "pvalue_ml", "or_firth",
                      "ci_low_firth", "ci_high_firth", "pvalue_firth"]


@dataclass(frozen=True)
class RiskFactorResult:
    """Result of :func:`risk_factor_analysis`.

    Attributes
    ----------
    outcome : the outcome definition.
    method : the method asked for ("auto", "ml" or "firth").
    predictors : names of the predictors asked for that exist in the data.
    model_predictors : names entered into the multivariable model (after dropping constant,
        collinear or unusable ones).
    univariable : DataFrame, one row per term of each one-predictor model, columns predictor,
        term, odds_ratio, ci_low, ci_high, pvalue, n, n_dropped, events, method ("ml" or
        "firth"), ci_method ("Wald" or "profile likelihood"), separation (bool), note (why the
        row has no estimate, else "").
    model : the multivariable :class:`~core.stats.regression.LogisticResult` (``table``:
        term, variable, level, coef, se, odds_ratio, ci_low, ci_high, pvalue; intercept first),
        or None when it could not be fitted (an error note says why).
    comparison : with ``compare=True`` and a fitted model: DataFrame with columns term,
        or_ml, ci_low_ml, ci_high_ml, pvalue_ml (ordinary maximum likelihood, Wald CI),
        or_firth, ci_low_firth, ci_high_firth, pvalue_firth (Firth, profile-likelihood CI);
        else None.
    n_total : rows in the data.
    n_outcome_known : rows with the outcome known; ``events`` of them have it.
    missing : DataFrame with columns variable, n_missing: missing values per variable used.
    notes : messages for the user (:class:`Note`), errors first.
    """

    outcome: OutcomeSpec
    method: Method
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
        """The notes of one kind."""
        return [n for n in self.notes if n.kind == kind]


def risk_factor_analysis(df: pd.DataFrame, outcome: OutcomeSpec,
                         predictors: Sequence[Predictor], method: Method = "auto",
                         compare: bool = False,
                         reference: Mapping[str, str] | None = None) -> RiskFactorResult:
    """Univariable screen and multivariable logistic model for a binary outcome.

    Parameters
    ----------
    df : patient-level data.
    outcome : the outcome (:class:`OutcomeSpec`), e.g. :data:`HYPOFIB_ANY`.
    predictors : column names, derived names from :data:`DERIVED_PREDICTORS` (e.g.
        ``"CD28 costimulation"``) or OutcomeSpecs. Names not in the data are reported and left
        out.
    method : "auto" (ML, Firth when the data separate), "ml" or "firth"; applies to every
        model.
    compare : also fit the multivariable model by both ML and Firth, side by side.
    reference : reference level per categorical predictor.

    Returns
    -------
    RiskFactorResult
        univariable (predictor, term, odds_ratio, ci_low, ci_high, pvalue, n, n_dropped,
        events, method, ci_method, separation, note), model (LogisticResult or None),
        comparison (term, or_ml, ci_low_ml, ci_high_ml, pvalue_ml, or_firth, ci_low_firth,
        ci_high_firth, pvalue_firth, or None), counts, missing (variable, n_missing) and notes.

    Raises
    ------
    ColumnError
        The outcome column is missing or, without a threshold, not 0/1.

    Notes
    -----
    A predictor whose one-predictor model fails (constant, all missing, no events among its
    usable rows) is reported in the screen and left out of the multivariable model; so is one
    that is constant in the model's complete cases or collinear with the others (the later
    one of an aliased set, named in a note). The statistics are :func:`core.stats.logistic`.
    """
    if method not in ("auto", "ml", "firth"):
        raise ColumnError(f"Unknown method '{method}'; use 'auto', 'ml' or 'firth'.")
    y = outcome.values(df)
    out = outcome.name
    notes: list[Note] = []
    resolved: list[Predictor] = []
    for p in dict.fromkeys(predictors):
        rp = resolve_predictor(df, p)
        if _source(rp) not in df.columns:
            notes.append(Note("warning", "dropped", f"'{_name(rp)}' is not in the data and "
                                                    "was left out."))
        elif _source(rp) == outcome.column or _name(rp) == out:
            notes.append(Note("warning", "dropped",
                              f"'{_name(rp)}' defines the outcome, so it cannot predict it; "
                              "left out."))
        else:
            resolved.append(rp)
    names = tuple(_name(p) for p in resolved)
    frame = pd.DataFrame({out: y, **{_name(p): _column(df, p) for p in resolved}},
                         index=df.index)
    missing = pd.DataFrame({"variable": list(frame.columns),
                            "n_missing": [int(frame[c].isna().sum()) for c in frame.columns]})
    known = int(y.notna().sum())
    events = int(y.sum(skipna=True))

    def result(univariable: pd.DataFrame | None = None, model: LogisticResult | None = None,
               kept: Sequence[str] = (), comparison: pd.DataFrame | None = None
               ) -> RiskFactorResult:
        order = {"error": 0, "warning": 1, "info": 2}
        return RiskFactorResult(
            outcome=outcome, method=method, predictors=names, model_predictors=tuple(kept),
            univariable=(univariable if univariable is not None
                         else pd.DataFrame(columns=UNIVARIABLE_COLUMNS)),
            model=model, comparison=comparison, n_total=len(df), n_outcome_known=known,
            events=events, missing=missing,
            notes=tuple(sorted(notes, key=lambda n: order[n.level])))

    if known == 0:
        notes.append(Note("error", "no_data", f"No patient has a value for "
                                              f"'{outcome.column}', so there is no outcome to "
                                              "model. Choose another outcome or widen the "
                                              "filter."))
        return result()
    if events == 0 or events == known:
        which = "No patient has" if events == 0 else "Every patient has"
        notes.append(Note("error", "no_events",
                          f"{which} the outcome ({out}: {events} of {known}), so there is "
                          "nothing to compare. Widen the filter, or choose another outcome "
                          "or threshold."))
        return result()
    if not resolved:
        notes.append(Note("error", "no_predictors", "Choose at least one predictor."))
        return result()

    univariable, failed = _univariable(frame, out, names, method, reference)
    for p, why in failed.items():
        notes.append(Note("warning", "dropped", f"'{p}' was left out of the multivariable "
                                                f"model: {why}"))
    kept = [p for p in names if p not in failed]
    kept, dropped_notes = _drop_unusable(frame, out, kept)
    notes.extend(dropped_notes)
    if not kept:
        notes.append(Note("error", "model", "No predictor is left for the multivariable "
                                            "model. Choose other predictors or widen the "
                                            "filter."))
        return result(univariable)

    ref = {k: v for k, v in (reference or {}).items() if k in kept}
    try:
        model = logistic(frame, out, kept, method=method, reference=ref or None)
    except CohortError as exc:
        notes.append(Note("error", "model", f"The multivariable model could not be fitted: "
                                            f"{exc}"))
        return result(univariable, kept=kept)
    alone = list(univariable.loc[univariable["separation"], "predictor"].unique())
    notes.extend(_model_notes(frame, out, model, kept, alone))
    comparison = None
    if compare:
        try:
            comparison = _comparison(frame, out, kept, ref or None, model)
        except CohortError as exc:
            notes.append(Note("warning", "compare", f"The ML-vs-Firth comparison could not be "
                                                    f"computed: {exc}"))
    return result(univariable, model, kept, comparison)


def _univariable(frame: pd.DataFrame, out: str, names: Sequence[str], method: Method,
                 reference: Mapping[str, str] | None) -> tuple[pd.DataFrame, dict[str, str]]:
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


def _drop_unusable(frame: pd.DataFrame, out: str, kept: list[str]
                   ) -> tuple[list[str], list[Note]]:
    """Leave out predictors that are constant in the model's complete cases, then the later
    predictor of each collinear set (when there are enough patients to tell)."""
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
    for _ in range(len(kept)):
        if len(kept) < 2:
            break
        design = design_matrix(data, kept, check_rank=False)
        full = np.column_stack([np.ones(len(data)), design.X])
        if len(data) < full.shape[1]:
            break  # fewer patients than parameters: logistic() explains
        if np.linalg.matrix_rank(full) == full.shape[1]:
            break
        cols = [0]
        alias = None
        for j in range(1, full.shape[1]):
            if np.linalg.matrix_rank(full[:, cols + [j]]) == len(cols) + 1:
                cols.append(j)
            else:
                alias = design.variables[j - 1]
                break
        if alias is None:
            break
        others = _involved(full, design.variables, alias, [v for v in kept if v != alias])
        kept.remove(alias)
        notes.append(Note("warning", "dropped",
                          f"'{alias}' is collinear with {', '.join(repr(o) for o in others)} "
                          f"(it adds no information beyond "
                          f"{'that predictor' if len(others) == 1 else 'those predictors'}), "
                          "so it was left out of the "
                          "multivariable model. Keep only one of the related predictors."))
    return kept, notes


def _involved(full: np.ndarray, variables: Sequence[str], alias: str, others: Sequence[str]
              ) -> list[str]:
    """The predictors of ``others`` that ``alias`` depends on: those whose removal makes its
    columns linearly independent of the rest (all of ``others`` if none alone does)."""
    var = np.array(["(Intercept)", *variables])

    def aliased(drop: str) -> bool:
        rest = full[:, (var != alias) & (var != drop)]
        both = full[:, var != drop]
        return np.linalg.matrix_rank(both) < np.linalg.matrix_rank(rest) + int(
            (var == alias).sum())

    needed = [o for o in others if not aliased(o)]
    return needed or list(others)


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
                   "does), so the ordinary maximum-likelihood odds ratio is infinite and the "
                   "number a standard program prints is only where it stopped — the paper's "
                   "OR = 486 for tocilizumab is what that looks like.")
        if model.method == "firth":
            action = ("Firth's penalised likelihood was used, which gives finite, "
                      "bias-reduced odds ratios with profile-likelihood CIs.")
        else:
            action = ("You chose ordinary ML, so the estimates for these terms are meaningless; "
                      "choose Firth or auto.")
        notes.append(Note("warning", "separation",
                          f"Separation: {subject}{detail}.{more} {meaning} {action}"))
    if model.epv < _EPV_MIN:
        k = len(model.table) - 1
        fewer = min(model.events, model.n - model.events)
        notes.append(Note("warning", "epv",
                          f"Only {model.epv:.1f} events per variable ({fewer} patients in the "
                          f"smaller outcome group for {k} model term{'s' if k != 1 else ''}; "
                          f"at least {_EPV_MIN} are recommended): the odds ratios may be biased "
                          "and unstable. Use fewer predictors, or read the model as "
                          "exploratory."))
    if model.n_dropped:
        cols = [c for c in [out, *kept] if frame[c].isna().any()]
        notes.append(Note("info", "missing",
                          f"{model.n_dropped} patient(s) left out of the multivariable model "
                          f"for a missing value (in {', '.join(cols)})."))
    for m in model.messages:
        if "separated" in m or "events per variable" in m:
            continue
        notes.append(Note("warning", "fit", m))
    return notes


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


# ============================================================================ survival

@dataclass(frozen=True)
class Endpoint:
    """A time-to-event pair of columns.

    Attributes
    ----------
    time : follow-up time column (days), e.g. ``pfs_days``.
    event : 0/1 event column, e.g. ``pfs_event``.
    label : short name, e.g. "PFS".
    """

    time: str
    event: str
    label: str


_ENDPOINT_LABELS = {"pfs": "PFS", "os": "OS", "efs": "EFS", "dfs": "DFS", "rfs": "RFS",
                    "dor": "DOR"}


def endpoints(df: pd.DataFrame) -> list[Endpoint]:
    """Every (time, event) pair in ``df``: ``<x>_days`` or ``<x>_time`` with ``<x>_event``
    (or ``<x>_status``); PFS first, then OS, then the others in column order."""
    found: list[Endpoint] = []
    for c in df.columns:
        for suffix in ("_days", "_time"):
            if not c.endswith(suffix):
                continue
            stem = c[: -len(suffix)]
            for ev in (f"{stem}_event", f"{stem}_status"):
                if ev in df.columns:
                    found.append(Endpoint(c, ev, _ENDPOINT_LABELS.get(stem, stem)))
                    break
    rank = {"PFS": 0, "OS": 1}
    return sorted(found, key=lambda e: rank.get(e.label, 2))


def group_options(df: pd.DataFrame, max_groups: int = 6) -> list[str]:
    """Columns with 2 to ``max_groups`` distinct values (any type), for grouping curves;
    leaves out the id and time/event columns."""
    skip = set(ID_COLUMNS)
    for e in endpoints(df):
        skip |= {e.time, e.event}
    n = df.loc[:, [c for c in df.columns if c not in skip]].nunique(dropna=True)
    return n.index[(n >= 2) & (n <= max_groups)].tolist()


def risk_times(max_time: float, step: float | None = None, max_ticks: int = 12
               ) -> tuple[float, ...]:
    """Times for a numbers-at-risk table: 0, step, 2 step, ... up to ``max_time``.

    The default step is 90 days when that gives at most ``max_ticks`` columns, else the
    smallest of 7, 14, 30, 60, 90, 180, 365, 730 days that does.
    """
    if not max_time or max_time <= 0 or not math.isfinite(max_time):
        return (0.0,)
    if step is None:
        if max_time / 90 <= max_ticks and max_time >= 180:
            step = 90.0
        else:
            step = next((s for s in (7, 14, 30, 60, 90, 180, 365, 730)
                         if max_time / s <= max_ticks), math.ceil(max_time / max_ticks))
    n = int(math.floor(max_time / step + 1e-9))
    return tuple(float(i * step) for i in range(n + 1))


@dataclass(frozen=True)
class SurvivalResult:
    """Result of :func:`survival_analysis`.

    Attributes
    ----------
    endpoint : time and event columns (label "PFS", "OS", ... when known).
    group : the grouping name (column name or the OutcomeSpec's label), or None.
    landmark : landmark time or None (times are then counted from the landmark).
    km : :class:`~core.stats.survival.KaplanMeierResult` (curves, medians with columns group,
        n, events, median, ci_low, ci_high; logrank; pairwise with Holm column).
    times : the times of the numbers-at-risk table.
    at_risk : DataFrame with columns group, time, survival, ci_low, ci_high, at_risk (one row
        per group and time; ``km.survival_at(times)``).
    cox : :class:`~core.stats.survival.CoxResult` (table: term, ..., hazard_ratio, ci_low,
        ci_high, pvalue; ph_test: term, chisq, df, pvalue with a GLOBAL row) or None.
    covariates : the Cox covariates asked for (names).
    n_total : rows in the data.
    notes : messages for the user (:class:`Note`).
    """

    endpoint: Endpoint
    group: str | None
    landmark: float | None
    km: KaplanMeierResult
    times: tuple[float, ...]
    at_risk: pd.DataFrame
    cox: CoxResult | None
    covariates: tuple[str, ...]
    n_total: int
    notes: tuple[Note, ...] = field(default=())

    @property
    def logrank_p(self) -> float | None:
        """The log-rank p-value, or None without a test."""
        return None if self.km.logrank is None else float(self.km.logrank.pvalue)

    def notes_of(self, kind: NoteKind) -> list[Note]:
        """The notes of one kind."""
        return [n for n in self.notes if n.kind == kind]


def _group_labels(spec: OutcomeSpec, values: pd.Series) -> pd.Series:
    return values.map({0.0: f"{spec.name}: no", 1.0: f"{spec.name}: yes"})


def _column_groups(s: pd.Series, column: str) -> pd.Series:
    """Numbers alone make poor curve labels ("0", "1"): label them "<column> = <value>"."""
    if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
        return s
    v = pd.to_numeric(s, errors="coerce").astype(float)
    return v.map(lambda x: np.nan if pd.isna(x) else f"{column} = {x:g}")


def survival_analysis(df: pd.DataFrame, time: str = "pfs_days", event: str = "pfs_event",
                      group_spec: Predictor | None = HYPOFIB_GROUP,
                      landmark: float | None = None, times: Sequence[float] | None = None,
                      covariates: Sequence[Predictor] = (), step: float | None = None
                      ) -> SurvivalResult:
    """Kaplan-Meier curves by group, numbers at risk, log-rank test and an optional Cox model.

    Parameters
    ----------
    df : patient-level data.
    time, event : follow-up time (days, >= 0) and 0/1 event columns.
    group_spec : a column (each value a curve; numeric values labelled "<column> = <value>"),
        an :class:`OutcomeSpec` (two curves, "<label>: no" and "<label>: yes"; default
        hypofibrinogenemia grade >= 1) or None.
    landmark : keep patients still followed at this time and count time from it.
    times : times of the numbers-at-risk table (after the landmark); default
        :func:`risk_times` of the longest follow-up, every ``step`` days if given.
    covariates : Cox model covariates (columns, derived names or OutcomeSpecs); none: no
        Cox model.

    Returns
    -------
    SurvivalResult
        km (curves, medians, logrank, pairwise), at_risk (group, time, survival, ci_low,
        ci_high, at_risk), cox (or None) and notes.

    Raises
    ------
    ColumnError
        A column is missing, time negative, event not 0/1, group column not 0/1 without a
        threshold.
    InsufficientDataError
        No usable patient (or none left at the landmark).

    Notes
    -----
    A Cox model that cannot be fitted (no events, constant or collinear covariates) does not
    raise: ``cox`` is None and an error note says why.
    """
    require_columns(df, [time, event])
    if landmark is not None and (not math.isfinite(landmark) or landmark < 0):
        raise ColumnError("The landmark must be a time of 0 days or later.")
    label = next((e.label for e in endpoints(df) if e.time == time and e.event == event), time)
    endpoint = Endpoint(time, event, label)
    notes: list[Note] = []
    frame = pd.DataFrame({time: df[time], event: df[event]}, index=df.index)
    gname: str | None = None
    if group_spec is not None:
        g = resolve_predictor(df, group_spec)
        gname = _name(g)
        if gname in (time, event):
            raise ColumnError("Group by a column other than the time and event columns.")
        if isinstance(g, OutcomeSpec):
            frame[gname] = _group_labels(g, g.values(df))
        else:
            require_columns(df, [g])
            frame[gname] = _column_groups(df[g], g)
    km = kaplan_meier(frame, time, event, gname, landmark=landmark)
    if km.n_dropped:
        notes.append(Note("info", "missing", f"{km.n_dropped} patient(s) left out for a missing "
                                             "time, event or group."))
    for m in km.messages:
        notes.append(Note("info", "landmark" if m.startswith("Landmark") else "km", m))
    if times is None:
        if step is not None and not (math.isfinite(step) and step > 0):
            raise ColumnError("The at-risk table step must be a positive number of days.")
        times = risk_times(float(km.curves["time"].max()), step)
    times = tuple(sorted({float(t) for t in times if math.isfinite(float(t)) and t >= 0}))
    at_risk = km.survival_at(times)

    cox_result = None
    cov_names: list[str] = []
    if covariates:
        cov = [resolve_predictor(df, c) for c in dict.fromkeys(covariates)]
        cov_names = [_name(c) for c in cov]
        try:
            for c in cov:
                if _source(c) not in df.columns:
                    raise ColumnError(f"Covariate '{_name(c)}' is not in the data.")
                if _name(c) in (time, event):
                    raise ColumnError("The time and event columns cannot be covariates.")
            cframe = pd.DataFrame({time: df[time], event: df[event],
                                   **{_name(c): _column(df, c) for c in cov}}, index=df.index)
            if landmark is not None:
                t = pd.to_numeric(cframe[time], errors="coerce")
                cframe = cframe[t >= landmark].assign(**{time: t[t >= landmark] - landmark})
            cox_result = cox(cframe, time, event, cov_names)
            for m in cox_result.messages:
                notes.append(Note("warning", "cox", m))
            ph = cox_result.ph_test
            bad = ph[(ph["term"] != "GLOBAL") & (ph["pvalue"] < 0.05)]
            if len(bad):
                notes.append(Note("warning", "ph",
                                  f"The proportional-hazards assumption is doubtful for "
                                  f"{', '.join(bad['term'])} (Schoenfeld residual test "
                                  "p < 0.05): the hazard ratio changes over time, so read it "
                                  "as an average; consider a landmark or stratifying."))
        except CohortError as exc:
            notes.append(Note("error", "cox", f"The Cox model could not be fitted: {exc}"))
            cox_result = None
    return SurvivalResult(endpoint=endpoint, group=gname, landmark=landmark, km=km,
                          times=times, at_risk=at_risk, cox=cox_result,
                          covariates=tuple(cov_names), n_total=len(df), notes=tuple(notes))


__all__ = [
    "Note", "OutcomeSpec", "Predictor", "HYPOFIB_ANY", "HYPOFIB_SEVERE", "HYPOFIB_GROUP",
    "DERIVED_PREDICTORS", "DEFAULT_PREDICTORS", "binary_columns", "numeric_columns",
    "predictor_options", "default_predictors", "resolve_predictor", "RiskFactorResult",
    "risk_factor_analysis", "Endpoint", "endpoints", "group_options", "risk_times",
    "SurvivalResult", "survival_analysis", "is_binary", "has_values", "column_profile",
]
