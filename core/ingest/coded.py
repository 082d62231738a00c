"""Dictionary-encoded (Categorical) text columns: built from codes, never cell by cell.

A lab table at registry scale has ten million rows but a few dozen analytes and units and a
few hundred thousand patient IDs; after the ingest these columns are pandas Categorical with
sorted text categories (``pd.Categorical(values)`` of the same texts), so that downstream
code works on integer codes and groups them in the order it would group the texts.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd


def is_coded(column: pd.Series) -> bool:
    """A pandas Categorical column."""
    return isinstance(column.dtype, pd.CategoricalDtype)


def categorical(codes: np.ndarray, per_code: np.ndarray, index: pd.Index, *,
                counts: np.ndarray | None = None) -> pd.Series:
    """The Series of ``per_code[codes]`` (text, or None/NaN for missing; a code of -1 is
    missing too) as a pandas Categorical whose categories are the sorted distinct texts the
    rows use. Only the codes are touched per row.

    Parameters
    ----------
    codes : integer array, per row the position in ``per_code`` (or -1).
    per_code : object array of text (equal texts may repeat) or missing values.
    index : the result's index.
    counts : ``np.bincount(codes)`` when the caller has it (codes >= 0).

    Returns
    -------
    Series
        Categorical; equal to ``pd.Series(per_code[codes], dtype="category")`` with unused
        categories removed.
    """
    values = np.asarray(per_code, dtype=object)
    codes = np.asarray(codes)
    n = len(values)
    used = np.zeros(n, dtype=bool)
    if counts is None and len(codes):
        marked = np.zeros(n + 1, dtype=bool)  # one pass, no copy: code -1 marks the last
        marked[codes] = True
        used = marked[:n]
    elif counts is not None:
        used[:min(n, len(counts))] = counts[:n] > 0
    present = used & pd.notna(values)
    if n and present.all() and pd.api.types.infer_dtype(values, skipna=False) == "string" \
            and (n == 1 or bool((values[1:] > values[:-1]).all())):
        # distinct texts, sorted, all used (a column as read): the codes as they are
        return pd.Series(from_codes(codes, values), index=index)
    texts = [str(v) for v in values[present]]
    cats = np.array(sorted(set(texts)), dtype=object)
    if present.all() and len(cats) == n and all(a == b for a, b in zip(cats, values)):
        return pd.Series(from_codes(codes, cats), index=index)  # sorted texts, all used
    remap = np.full(n + 1, -1, dtype=np.int32)  # the last entry: code -1 stays missing
    if len(cats):
        pos = {t: i for i, t in enumerate(cats)}
        remap[np.flatnonzero(present)] = [pos[t] for t in texts]
    return pd.Series(from_codes(remap[codes], cats), index=index)


def from_codes(codes: np.ndarray, categories: np.ndarray) -> pd.Categorical:
    """``pd.Categorical.from_codes`` of valid codes (-1 or a position in ``categories``,
    distinct texts) without checking them again."""
    make = cast(Any, pd.Categorical.from_codes)  # pandas-stubs lack ``validate``
    return cast(pd.Categorical, make(codes, categories=pd.Index(categories, dtype=object),
                                     validate=False))


def codes_and_texts(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A Categorical column's codes (-1 for missing) and its categories as objects."""
    return (column.cat.codes.to_numpy(),
            column.cat.categories.to_numpy(dtype=object))
