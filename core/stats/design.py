"""Model matrices: treatment coding of predictors and the collinearity check.

Shared by :func:`core.stats.logistic` and :func:`core.stats.cox` (and by analyses that build
models from a list of predictors), so a term is named and a collinear set is reported the same
way everywhere.

Term names
----------
A numeric (or boolean) predictor keeps its column name as term. A categorical predictor (text or
category dtype) is treatment-coded against a reference level (the first in sorted order, or the
one named in ``reference``); its terms read ``"<column>: <level> vs <reference>"``, e.g.
``"lymphodepletion: Benda vs Flu/Cy"``. The intercept is term ``"(Intercept)"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import ColumnError, InsufficientDataError
from core.stats._common import numeric, require_finite

INTERCEPT = "(Intercept)"


@dataclass(frozen=True)
class Design:
    """A model matrix built from a DataFrame (no intercept column).

    Attributes
    ----------
    X : numpy.ndarray
        Float matrix, one column per term.
    terms : tuple of str
        Term names (see the module docstring).
    variables : tuple of str
        For each term, the predictor column it comes from.
    levels : tuple of str
        For each term, the level of a categorical predictor ("" for numeric ones).
    references : dict
        Reference level used for each categorical predictor.
    """

    X: np.ndarray
    terms: tuple[str, ...]
    variables: tuple[str, ...]
    levels: tuple[str, ...]
    references: dict[str, str]


def is_categorical(s: pd.Series) -> bool:
    """True for a column that is treatment-coded (neither numeric nor boolean)."""
    return not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s))


def _constant_error(p: str, s: pd.Series) -> InsufficientDataError:
    return InsufficientDataError(
        f"Predictor '{p}' has the same value ({s.iloc[0] if len(s) else 'none'}) in all "
        f"{len(s)} usable rows, so its effect cannot be estimated. Remove it from the "
        "model or widen the filter.")


def _numeric_column(p: str, s: pd.Series, reference: Mapping[str, str]) -> np.ndarray:
    if p in reference:
        raise ColumnError(f"'{p}' is numeric; a reference level applies only to "
                          "categorical predictors.")
    values = numeric(s, p).to_numpy()
    require_finite(values, p)
    return values


def _dummies(p: str, s: pd.Series, reference: Mapping[str, str]
             ) -> tuple[str, list[tuple[str, np.ndarray]]]:
    """The reference level of categorical ``s`` and one (level, 0/1 column) per other level."""
    text = s.astype(str)
    lv = sorted(text.unique())
    ref = str(reference.get(p, lv[0]))
    if ref not in lv:
        raise ColumnError(f"Reference level '{ref}' is not a value of '{p}' in the "
                          f"usable rows. Choose one of: {', '.join(lv)}.")
    return ref, [(level, (text == level).to_numpy(dtype=float)) for level in lv if level != ref]


def design_matrix(data: pd.DataFrame, predictors: Sequence[str],
                  reference: Mapping[str, str] | None = None, *, check_rank: bool = True
                  ) -> Design:
    """Treatment-coded model matrix for ``predictors`` of complete-case ``data``.

    Parameters
    ----------
    data : DataFrame
        Complete cases (no missing value in ``predictors``).
    predictors : sequence of str
        Columns entered together. Numeric and boolean columns enter as they are; other
        columns are categorical and coded against the first level in sorted order, or
        ``reference[column]``.
    reference : mapping, optional
        Reference level per categorical predictor.
    check_rank : bool
        Check that ``[1, X]`` has full column rank (:func:`check_full_rank`).

    Returns
    -------
    Design

    Raises
    ------
    ColumnError
        ``reference`` names a column that is not a predictor or is numeric, or a level that is
        not in the data; a numeric predictor holds infinite values.
    InsufficientDataError
        A predictor with a single value; collinear predictors (naming the terms involved).
    """
    reference = dict(reference or {})
    unknown = [k for k in reference if k not in predictors]
    if unknown:
        raise ColumnError(f"reference names column(s) that are not predictors: "
                          f"{', '.join(unknown)}.")
    cols: list[np.ndarray] = []
    terms: list[str] = []
    variables: list[str] = []
    levels: list[str] = []
    refs: dict[str, str] = {}
    for p in predictors:
        s = data[p]
        if s.nunique() < 2:
            raise _constant_error(p, s)
        if not is_categorical(s):
            cols.append(_numeric_column(p, s, reference))
            terms.append(p)
            variables.append(p)
            levels.append("")
            continue
        refs[p], dummies = _dummies(p, s, reference)
        for level, column in dummies:
            cols.append(column)
            terms.append(f"{p}: {level} vs {refs[p]}")
            variables.append(p)
            levels.append(level)
    X = np.column_stack(cols) if cols else np.empty((len(data), 0))
    if check_rank:
        check_full_rank(X, terms)
    return Design(X, tuple(terms), tuple(variables), tuple(levels), refs)


def aliased_terms(X: np.ndarray, terms: Sequence[str]) -> list[str]:
    """Terms of ``X`` that add nothing to ``[1, earlier columns]`` (in column order)."""
    full = np.column_stack([np.ones(len(X)), X])
    if np.linalg.matrix_rank(full) == full.shape[1]:
        return []
    names = [INTERCEPT, *terms]
    aliased = []
    kept = [0]
    for j in range(1, full.shape[1]):
        if np.linalg.matrix_rank(full[:, [*kept, j]]) == len(kept) + 1:
            kept.append(j)
        else:
            aliased.append(names[j])
    return aliased


def check_full_rank(X: np.ndarray, terms: Sequence[str]) -> None:
    """Raise InsufficientDataError naming the aliased terms of a rank-deficient [1, X]."""
    aliased = aliased_terms(X, terms)
    if aliased:
        raise InsufficientDataError(
            "Predictors are collinear (one is determined by the others): "
            f"{', '.join(aliased)} add(s) no information beyond the other predictors in the "
            "usable rows. Remove one of the related predictors.")
