"""Input widgets shared by pages.

:func:`threshold_picker` is the "a threshold on a number" choice of the Risk factors and
Survival pages: a numeric column, a comparison and a value, returned as an
:class:`~core.analyses.indicators.OutcomeSpec`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import pandas as pd
import streamlit as st

from core.analyses.indicators import OPS, Op, OutcomeSpec


def threshold_picker(df: pd.DataFrame, columns: Sequence[str], *, key: str,
                     ops: Sequence[str] = (">=", ">", "<=", "<", "=="),
                     default: str | None = None) -> OutcomeSpec:
    """Column, comparison and threshold in one row; the threshold starts at the median.

    Parameters
    ----------
    df : DataFrame
        The patients in view (for the default threshold: the column's median).
    columns : sequence of str
        Numeric columns to choose from (not empty).
    key : str
        Widget key prefix: the widgets are ``<key>_num_col``, ``<key>_op`` and
        ``<key>_threshold_<column>`` (one threshold per column, so switching columns does not
        carry a value over to another scale).
    ops : sequence of str
        The comparisons offered, a subset of :data:`core.analyses.indicators.OPS`.
    default : str, optional
        The column chosen first when it is among ``columns``.

    Returns
    -------
    OutcomeSpec
        ``OutcomeSpec(column, op, threshold)``.

    Raises
    ------
    ValueError
        No column to choose from, or a comparison that is not in ``OPS``.
    """
    if not columns:
        raise ValueError("threshold_picker needs at least one column.")
    unknown = [o for o in ops if o not in OPS]
    if unknown:
        raise ValueError(f"Unknown comparison(s) {unknown}; use those of {OPS}.")
    options = list(columns)
    c1, c2, c3 = st.columns([3, 1, 2])
    column = c1.selectbox("Numeric column", options, key=f"{key}_num_col",
                          index=options.index(default) if default in options else 0)
    op = c2.selectbox("is", list(ops), key=f"{key}_op")
    values = pd.to_numeric(df[column], errors="coerce").dropna()
    threshold = c3.number_input("Threshold", key=f"{key}_threshold_{column}",
                                value=float(values.median()) if len(values) else 0.0)
    return OutcomeSpec(column, cast(Op, op), float(threshold))
