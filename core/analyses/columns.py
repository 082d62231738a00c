"""Column choices and labels shared by the pages: which columns a picker offers, how an axis
is labelled, and where a column's reference lines lie (the analyte a column summarises is
:func:`core.schema.analyte_of`).

Two kinds of "numeric column" are offered, under two names:

* :func:`value_columns`: numbers with at least two distinct values, for a value axis (lab
  values, correlations);
* :func:`threshold_columns`: numbers that are not 0/1, for an outcome or grouping threshold
  (risk factors, survival).

Everything reads the data's dtypes column-wise in one pass, so a wide upload (thousands of
columns) costs a picker little.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Sequence

import pandas as pd

from core import schema

ID_COLUMNS = ("patient_id",)
#: derived durations (:func:`core.analyses.tocilizumab.with_durations`)
RECOVERY_FROM_NADIR = "fibrinogen_recovery_from_nadir_days"
HYPOFIB_DURATION = "hypofibrinogenemia_duration_days"
DERIVED_LABELS = {
    RECOVERY_FROM_NADIR: "Fibrinogen recovery from nadir (days)",
    HYPOFIB_DURATION: "Duration of hypofibrinogenemia (days)",
}


# --------------------------------------------------------------------------------------------
# labels, analytes, reference lines
# --------------------------------------------------------------------------------------------

def label(column: str) -> str:
    """Axis label for a patient column or a derived duration."""
    return DERIVED_LABELS.get(column) or schema.label(column)


def log_scale_default(column: str) -> bool:
    """True for skewed analytes (``log_scale`` in :data:`core.schema.ANALYTES`)."""
    a = schema.analyte_of(column)
    return bool(a and a.log_scale)


def reference_lines(column: str, lln: float | None = None) -> list[tuple[float, str]]:
    """CTCAE v5 grade limits of a fibrinogen column as ``[(value, label), ...]``.

    Parameters
    ----------
    column : str
        A patient column; only fibrinogen columns get lines.
    lln : float, optional
        Lower limit of normal in mg/dL; default the schema's (Clauss, 200 mg/dL).

    Returns
    -------
    list of (float, str)
        ``1.0, 0.75, 0.5, 0.25 x LLN`` labelled ``"G1 < 200"``, ``"G2 < 150"``, ...
        (:func:`core.schema.ctcae_fibrinogen_limits`); empty for other columns.
    """
    a = schema.analyte_of(column)
    if a is None or a.name != "fibrinogen":
        return []
    return schema.ctcae_fibrinogen_limits(float(lln if lln is not None else a.lln))  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# column choices
# --------------------------------------------------------------------------------------------

def only(df: pd.DataFrame, columns: Sequence[str | None]) -> pd.DataFrame:
    """The columns of ``df`` among ``columns`` (absent ones and None skipped), in df's order.

    A wide upload (thousands of columns) then costs a page nothing beyond the columns it
    uses: copies, content hashes for memoisation and column scans stay small.
    """
    wanted = {c for c in columns if c}
    out = df.loc[:, [c for c in df.columns if c in wanted]]
    _remember_subset(out, df)
    return out


#: id(subset) -> (subset, source) as weak references: which frames :func:`only` made from which
_SUBSETS: dict[int, tuple[weakref.ref, weakref.ref]] = {}


def _remember_subset(out: pd.DataFrame, source: pd.DataFrame) -> None:
    key = id(out)

    def forget(_ref: weakref.ref) -> None:
        _SUBSETS.pop(key, None)

    with contextlib.suppress(TypeError):  # a frame that cannot be weakly referenced
        _SUBSETS[key] = (weakref.ref(out, forget), weakref.ref(source))


def subset_source(frame: object) -> pd.DataFrame | None:
    """The frame that :func:`only` took ``frame``'s columns from (None when it did not make
    it, or the source is gone). Lets a memo key a column subset of a known frame by its
    column names instead of hashing its content (``ui.session.memo``)."""
    entry = _SUBSETS.get(id(frame))
    if entry is None or entry[0]() is not frame:
        return None
    return entry[1]()


def has_values(df: pd.DataFrame, *columns: str) -> bool:
    """True when every column is in ``df`` and at least one patient has a value in all of
    them (for one column: it is there and not blank)."""
    return set(columns) <= set(df.columns) and bool(df[list(columns)].notna().all(axis=1).any())


def value_columns(df: pd.DataFrame) -> list[str]:
    """Numeric patient columns with at least two distinct values (not the id, not boolean), in
    table order: the choices for a value axis (boxplots, scatter, correlation matrix)."""
    numeric = [c for c, t in df.dtypes.items() if c not in ID_COLUMNS
               and pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t)]
    n = df.loc[:, numeric].nunique(dropna=True)
    return n.index[n >= 2].tolist()


def group_columns(df: pd.DataFrame, max_levels: int = 12, *, min_levels: int = 1,
                  exclude: Sequence[str] = ()) -> list[str]:
    """Columns usable as a grouping: ``min_levels`` to ``max_levels`` distinct values (any
    type; not the id, not ``exclude``), in table order, counted in one vectorised pass.

    The default keeps one level, so a filter that leaves one group says so instead of
    dropping the choice; Table 1 strata and survival curves ask for at least two.
    """
    skip = set(ID_COLUMNS) | set(exclude)
    n = df.loc[:, [c for c in df.columns if c not in skip]].nunique(dropna=True)
    return n.index[(n >= min_levels) & (n <= max_levels)].tolist()


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


def zero_one_columns(df: pd.DataFrame) -> list[str]:
    """Columns usable as a 0/1 outcome as they are: boolean, or numeric holding only 0 and 1
    (what the data hold, whatever the schema declares)."""
    p = column_profile(df)
    return p.index[p["binary"]].tolist()


def threshold_columns(df: pd.DataFrame) -> list[str]:
    """Numeric, non-0/1 columns with a value: candidates for an outcome or group threshold."""
    p = column_profile(df)
    return p.index[p["numeric"] & (p["n_values"] > 0) & ~p["binary"]].tolist()
