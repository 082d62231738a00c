"""0/1 indicators shared by the Risk factors and Survival pages: outcome definitions, derived
predictors and the predictor choices.

An :class:`OutcomeSpec` is a 0/1 column as it is, or a comparison of a column with a value
(``hypofibrinogenemia_grade >= 1``, ``costimulation == "CD28"``). Missing values stay
missing. The same object defines a risk-factor outcome, a derived predictor and a survival
grouping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import pandas as pd

from core.analyses.columns import column_profile
from core.errors import ColumnError
from core.stats._common import numeric, require_columns

__all__ = [
    "CRS_CONFOUNDER",
    "DERIVED_PREDICTORS",
    "EVENTS_PER_PREDICTOR",
    "HYPOFIB_ANY",
    "HYPOFIB_GROUP",
    "HYPOFIB_SEVERE",
    "OPS",
    "Op",
    "OutcomeSpec",
    "PAPER_PREDICTORS",
    "PREDICTOR_PRIORITY",
    "Predictor",
    "allowed_terms",
    "column_of",
    "default_predictors",
    "name_of",
    "post_exposure",
    "predictor_options",
    "resolve_predictor",
    "source_of",
]

Op = Literal["==", "!=", ">=", ">", "<=", "<"]
OPS: tuple[str, ...] = get_args(Op)
_SHOWN: dict[str, str] = {"==": "=", "!=": "≠", ">=": "≥", ">": ">", "<=": "≤", "<": "<"}
_MAX_LEVELS = 10


@dataclass(frozen=True)
class OutcomeSpec:
    """A binary (0/1) variable: a 0/1 column, or a column compared with a value.

    Attributes
    ----------
    column : str
        The source column.
    op : {"==", "!=", ">=", ">", "<=", "<"} or None
        None (``column`` is already 0/1 or true/false) or a comparison.
    threshold : float or str or None
        The value compared with (a number; for ``==``/``!=`` also a text level).
    label : str
        The name shown to the user and used as the term name in models; default
        :attr:`description`.

    Raises
    ------
    ValueError
        ``op`` is not one of :data:`OPS` (a programming error, not a user's choice).
    ColumnError
        A threshold without a comparison, a comparison without a threshold, text with an
        order comparison, or a threshold that is not finite.

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
        if self.op not in OPS:
            raise ValueError(f"Unknown comparison {self.op!r}; use one of {OPS}.")
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
        return f"{self.column} {_SHOWN[self.op]} {value}"

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
            out = self._zero_one(s)
        elif isinstance(self.threshold, str):
            hit = s.astype(str).to_numpy() == self.threshold
            out = ~hit if self.op == "!=" else hit
        else:
            v = numeric(s, self.column).to_numpy()
            with np.errstate(invalid="ignore"):
                out = _compare(v, self.op, float(self.threshold))  # type: ignore[arg-type]
        return pd.Series(np.where(missing, np.nan, np.asarray(out, dtype=float)),
                         index=df.index, name=self.name)

    def _zero_one(self, s: pd.Series) -> np.ndarray:
        """A column used as it is: boolean, or numbers that are all 0 or 1."""
        if pd.api.types.is_bool_dtype(s):
            return s.astype(float).to_numpy()
        v = pd.to_numeric(s, errors="coerce")
        bad = sorted(set(v.dropna().unique()) - {0.0, 1.0})
        if (v.isna() & s.notna()).any() or bad:
            raise ColumnError(
                f"'{self.column}' is not a 0/1 column (it holds "
                f"{', '.join(map(str, sorted(s.dropna().astype(str).unique())[:4]))}). "
                "Define the outcome with a threshold instead, e.g. "
                f"'{self.column} >= 1'.")
        return v.astype(float).to_numpy()


def _compare(v: np.ndarray, op: str, x: float) -> np.ndarray:
    return {"==": v == x, "!=": v != x, ">=": v >= x, ">": v > x, "<=": v <= x,
            "<": v < x}[op]


Predictor = str | OutcomeSpec

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
PAPER_PREDICTORS: tuple[str, ...] = ("tocilizumab", "age", "bulky", "CD28 costimulation",
                                     "d_dimer_max", "che_min", "lymphodepletion", "cci")
#: the order in which :func:`default_predictors` takes predictors while the events allow:
#: the exposure of interest first, then the paper's baseline (pre-infusion) characteristics,
#: then its measures taken over follow-up (maximum D-dimer, minimum CHE: after the exposure,
#: so flagged by :func:`post_exposure` when chosen)
PREDICTOR_PRIORITY: tuple[str, ...] = ("tocilizumab", "age", "cci", "bulky",
                                       "CD28 costimulation", "lymphodepletion", "d_dimer_max",
                                       "che_min")
#: events (in the smaller outcome group) per model term that :func:`default_predictors` asks
#: for: the usual rule of thumb of about 10 (Peduzzi 1996)
EVENTS_PER_PREDICTOR = 10
#: the confounder a page offers to adjust for: tocilizumab is given because of CRS
CRS_CONFOUNDER = "crs_grade"
#: columns measured over follow-up, after the exposure (tocilizumab), by name pattern
_POST_SUFFIXES = ("_nadir", "_max", "_min")
_POST_PREFIXES = ("hypofibrinogenemia", "fibrinogen_recover", "fibrinogen_substitution", "dic_",
                  "iec_hs", "bleeding", "thrombosis", "pfs_", "os_", "icans")


def post_exposure(column: str) -> bool:
    """True for a column measured after the exposure or over follow-up: a nadir, maximum or
    minimum (``*_nadir``, ``*_max``, ``*_min``) or a post-infusion endpoint
    (hypofibrinogenemia, fibrinogen recovery and substitution, DIC, IEC-HS, bleeding,
    thrombosis, ICANS, PFS, OS)."""
    c = column.lower()
    return c.endswith(_POST_SUFFIXES) or c.startswith(_POST_PREFIXES)


def predictor_options(df: pd.DataFrame, outcome: OutcomeSpec | None = None) -> list[str]:
    """Predictor names the data offer: the paper's first, then derived indicators, then every
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
    first = [n for n in PAPER_PREDICTORS if n in names]
    return first + [n for n in names if n not in first]


def allowed_terms(df: pd.DataFrame, outcome: OutcomeSpec | None) -> int:
    """Model terms the events allow: ``min(events, non-events) // 10``, at least 1 (1 when
    the outcome cannot be read)."""
    if outcome is None:
        return 1
    try:
        y = outcome.values(df).dropna()
    except ColumnError:
        return 1
    events = int(y.sum())
    return max(1, min(events, len(y) - events) // EVENTS_PER_PREDICTOR)


def _terms(df: pd.DataFrame, p: Predictor) -> int:
    """Model terms a predictor takes: 1 for a number or indicator, levels - 1 for text."""
    s = column_of(df, p).dropna()
    if isinstance(p, OutcomeSpec) or pd.api.types.is_numeric_dtype(s) \
            or pd.api.types.is_bool_dtype(s):
        return 1
    return max(1, s.nunique() - 1)


def default_predictors(df: pd.DataFrame, outcome: OutcomeSpec | None = HYPOFIB_ANY
                       ) -> list[str]:
    """The predictors a model starts with: as many of :data:`PREDICTOR_PRIORITY` (in that
    order) as ``df`` has and the events allow (:func:`allowed_terms`, counting a categorical
    predictor's levels - 1), at least the first available one. On the paper's counts
    (27 events, 14 non-events) that is tocilizumab alone; the paper's 8-predictor model
    (:data:`PAPER_PREDICTORS`, 1.8 events per variable) stays one click away."""
    options = set(predictor_options(df, outcome))
    budget = allowed_terms(df, outcome)
    chosen: list[str] = []
    used = 0
    for name in PREDICTOR_PRIORITY:
        if name not in options:
            continue
        k = _terms(df, resolve_predictor(df, name))
        if chosen and used + k > budget:
            continue
        chosen.append(name)
        used += k
        if used >= budget:
            break
    return chosen


def resolve_predictor(df: pd.DataFrame, p: Predictor) -> Predictor:
    """A column name stays a column; a derived name (e.g. "CD28 costimulation") becomes its
    :class:`OutcomeSpec`; an OutcomeSpec is returned as it is."""
    if isinstance(p, OutcomeSpec) or p in df.columns:
        return p
    return DERIVED_PREDICTORS.get(p, p)


def name_of(p: Predictor) -> str:
    """The name a predictor has in tables and models."""
    return p.name if isinstance(p, OutcomeSpec) else p


def source_of(p: Predictor) -> str:
    """The data column a predictor is read from."""
    return p.column if isinstance(p, OutcomeSpec) else p


def column_of(df: pd.DataFrame, p: Predictor) -> pd.Series:
    """A predictor's values: the 0/1 indicator of an OutcomeSpec, or the column (a categorical
    column as plain objects, so models treat its levels as text)."""
    if isinstance(p, OutcomeSpec):
        return p.values(df)
    s = df[p]
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.astype(object)
    return s
