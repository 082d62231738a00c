"""Cells as values: missing-value tokens, numbers, censored results, 0/1, grades, sex, IDs.

The one place where text cells are read as values. The loader (:mod:`core.ingest.validate`)
and the endpoint derivation (:mod:`core.endpoints.clean`) both call these functions, so
``"n.a."``, ``"1.234,5"``, ``"<0,5"``, ``"ja"`` or ``"Grad II"`` mean the same everywhere.
Every function is vectorised over a pandas Series and returns masks of what it could not read;
the caller decides how to list those cells.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Cell texts (folded to lower case, stripped) that mean "no value".
NA_TOKENS = frozenset({"", "na", "n.a.", "n.a", "n/a", "nan", "null", "none", "-", "--", "—", "–",
                       "k.a.", "k.a", "nd", "n.d.", "missing", "unknown", "unbekannt", "?", "#n/a",
                       "not done", "nicht bestimmt"})
#: Cell texts (folded) read as 1 and as 0 in a yes/no column.
TRUE_TOKENS = frozenset({"1", "yes", "y", "ja", "j", "true", "wahr", "x", "positive", "pos", "+",
                         "1.0", "1,0"})
FALSE_TOKENS = frozenset({"0", "no", "n", "nein", "false", "falsch", "negative", "neg",
                          "0.0", "0,0"})
#: Spellings of sex -> F / M.
SEX = {"f": "F", "female": "F", "w": "F", "weiblich": "F", "woman": "F", "frau": "F",
       "m": "M", "male": "M", "maennlich": "M", "männlich": "M", "man": "M", "mann": "M"}

_GRADE = re.compile(r"^(?:grade|grad|g)?\s*([0-9](?:[.,]0+)?)$")
_PLAIN_GRADE = re.compile(r"^[0-9](?:[.,]0+)?$")
_ROMAN = {"0": 0, "i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5}
_CENSORED = re.compile(r"^\s*(?:[<>]=?|≤|≥)\s*(.+)$")


# --------------------------------------------------------------------------------------------
# missing values
# --------------------------------------------------------------------------------------------

def is_na(cells: pd.Series) -> pd.Series:
    """True where a text cell is a missing-value token (:data:`NA_TOKENS`, any case)."""
    return cells.str.strip().str.lower().isin(NA_TOKENS)


def blank(values: pd.Series) -> np.ndarray:
    """True where a cell of any dtype holds no value: missing, empty or white-space text, or a
    missing-value token such as ``"NA"``, ``"n.a."`` or ``"-"``."""
    missing = values.isna().to_numpy(bool)
    text = values[~missing].map(lambda x: str(x).strip().lower())
    missing[~missing] = text.isin(NA_TOKENS).to_numpy(bool)
    return missing


# --------------------------------------------------------------------------------------------
# numbers and censored results
# --------------------------------------------------------------------------------------------

def parse_numbers(cells: pd.Series, decimal: str = ".", *, thousands: bool = True) -> pd.Series:
    """Text cells as floats (NaN where a cell is not a finite number).

    Parameters
    ----------
    cells : Series of text (other values are read as their ``str``).
    decimal : ``"."`` or ``","``, the file's decimal mark. Thousands separators of the other
        mark (``"1.234,5"``, ``"1,234.5"``), spaces, no-break spaces and the Unicode minus
        sign are understood.
    thousands : read thousands separators (False: ``"1,500"`` with a decimal comma is 1.5 and
        with a decimal point not a number).

    Raises
    ------
    ValueError
        ``decimal`` is neither ``"."`` nor ``","``.
    """
    if decimal not in (".", ","):
        raise ValueError(f"decimal must be '.' or ','; got {decimal!r}")
    t = (cells.astype(str).str.strip().str.replace("\u2212", "-", regex=False)
         .str.replace(r"[\s\u00a0]", "", regex=True))
    if decimal == ",":
        if thousands:
            grouped = t.str.fullmatch(r"-?\d{1,3}(\.\d{3})+(,\d+)?")
            t = t.where(~grouped, t.str.replace(".", "", regex=False))
        t = t.str.replace(",", ".", regex=False)
    elif thousands:
        grouped = t.str.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?")
        t = t.where(~grouped, t.str.replace(",", "", regex=False))
    v = pd.to_numeric(t, errors="coerce")
    return v.where(np.isfinite(v))


def parse_number(text: str, decimal: str = ".") -> float | None:
    """One cell as a number (``"1.234,5"`` with a decimal comma), or None."""
    v = parse_numbers(pd.Series([text]), decimal).iloc[0]
    return None if pd.isna(v) else float(v)


def parse_censored(cells: pd.Series, decimal: str = ".", *,
                   thousands: bool = True) -> pd.Series:
    """The bound of censored results (``"<0.5"``, ``"> 1.000"``, ``"≤3"``) as floats; NaN where
    a cell is not a censored number (numbers read as :func:`parse_numbers` does)."""
    bounds = cells.astype(str).str.extract(_CENSORED)[0]
    return parse_numbers(bounds.fillna(""), decimal, thousands=thousands)


@dataclass(frozen=True)
class Numbers:
    """Cells read as numbers (:func:`read_numbers`).

    Attributes
    ----------
    values : float array, NaN where no number was read.
    censored : True where ``values`` is the bound of a censored result (``"<0.5"`` -> 0.5).
    na : True where the cell is empty or a missing-value token.
    failed : True where the cell holds text that is not a number (``"viel"``).
    """

    values: np.ndarray
    censored: np.ndarray
    na: np.ndarray
    failed: np.ndarray


def read_numbers(cells: pd.Series, decimal: str | None = ".", *,
                 censored: bool = True) -> Numbers:
    """Numbers, censored results and missing values of one column, in one pass.

    Parameters
    ----------
    cells : a column of text, or of numbers (then read as they are; NaN is missing).
    decimal : the file's decimal mark; None when unknown (a frame built in a notebook): a
        cell is read with a decimal point first and, failing that, with a decimal comma.
    censored : read ``"<x"``/``">x"`` as the bound ``x`` (and flag it).

    Returns
    -------
    Numbers
    """
    n = len(cells)
    if pd.api.types.is_numeric_dtype(cells) and not pd.api.types.is_bool_dtype(cells):
        values = pd.to_numeric(cells, errors="coerce").to_numpy(float)
        none = np.zeros(n, bool)
        return Numbers(values, none, np.isnan(values), none.copy())
    text = cells.astype(object).where(cells.notna(), "").astype(str)
    # a known decimal mark reads thousands separators; unknown: plain number, then comma
    marks = [(decimal, True)] if decimal else [(".", False), (",", False)]
    values = np.full(n, np.nan)
    plain = _plain_numbers(text, marks[0][0])
    if plain.any():  # what parse_numbers gives them, without its string methods
        number = text[plain]
        if marks[0][0] == ",":
            number = number.str.replace(",", ".", regex=False)
        read = pd.to_numeric(number, errors="coerce").to_numpy(float)
        values[plain] = np.where(np.isfinite(read), read, np.nan)
        rest = ~plain
        na = np.zeros(n, bool)
        na[rest] = is_na(text[rest]).to_numpy(bool)
        if not rest.any():
            return Numbers(values, np.zeros(n, bool), na, np.isnan(values) & ~na)
    else:
        na = is_na(text).to_numpy(bool)
    for mark, grouped in marks:
        values = _fill(values, na, text, parse_numbers, mark, grouped)
    cens = np.zeros(n, bool)
    if censored:
        before = np.isnan(values)
        for mark, grouped in marks:
            values = _fill(values, na, text, parse_censored, mark, grouped)
        cens = before & ~np.isnan(values)
    values[na] = np.nan
    return Numbers(values, cens, na, np.isnan(values) & ~na)


_PLAIN = {".": "^-?[0-9]+(?:\\.[0-9]+)?$", ",": "^-?[0-9]+(?:,[0-9]+)?$"}


def _plain_numbers(text: pd.Series, decimal: str) -> np.ndarray:
    """Where a text is a plain number in the decimal mark ``decimal`` (ASCII digits, an
    optional minus and decimal part, nothing else): :func:`parse_numbers` reads such a text
    as ``pd.to_numeric`` of it (the decimal comma as a point), and it is never a
    missing-value token or a censored result. Matched by pyarrow over the whole column."""
    if len(text) < 64:
        return np.zeros(len(text), bool)
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    try:
        arr = pa.array(text.to_numpy(dtype=object), type=pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):
        return np.zeros(len(text), bool)  # a lone surrogate: every cell the slow way
    hit = pc.match_substring_regex(arr, _PLAIN[decimal])
    return np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)


def _fill(values: np.ndarray, na: np.ndarray, text: pd.Series,
          parser: Callable[..., pd.Series], decimal: str, thousands: bool) -> np.ndarray:
    """``values`` with the cells still unread (NaN, not missing) read by ``parser``."""
    rest = np.isnan(values) & ~na
    if rest.any():
        values = values.copy()
        values[rest] = parser(text[rest], decimal, thousands=thousands).to_numpy(float)
    return values


# --------------------------------------------------------------------------------------------
# 0/1, grades, sex, IDs
# --------------------------------------------------------------------------------------------

def parse_binary(cells: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """A yes/no column as nullable 0/1 (``Int64``) and a mask of the cells that are neither
    (not missing and not in :data:`TRUE_TOKENS` / :data:`FALSE_TOKENS`)."""
    low = cells.str.strip().str.lower()
    out = pd.Series(pd.NA, index=cells.index, dtype="Int64")
    out[low.isin(TRUE_TOKENS)] = 1
    out[low.isin(FALSE_TOKENS)] = 0
    return out, (out.isna() & ~is_na(cells)).to_numpy(bool)


def coerce_binary(values: pd.Series) -> pd.Series:
    """A 0/1 column of a frame built in code as nullable ``Int64``: numbers (and number texts)
    rounded, other texts read as :func:`parse_binary` reads them (``"yes"`` -> 1), anything
    else missing."""
    out = pd.to_numeric(values, errors="coerce").round().astype("Int64")
    if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
        return out
    words = (values.map(lambda x: isinstance(x, str)).to_numpy(bool)
             & out.isna().to_numpy(bool))
    if words.any():
        out[words] = parse_binary(values[words].astype(str))[0]
    return out


@dataclass(frozen=True)
class Grades:
    """A grade column read by :func:`parse_grades`.

    Attributes
    ----------
    values : the grades read (float, NaN where none), before the range check.
    unparsed : not missing but not a grade.
    out_of_range : a grade outside ``lo..hi``.
    worded : a grade in range that was not written as a plain number (``"G2"``, ``"II"``).
    """

    values: pd.Series
    unparsed: np.ndarray
    out_of_range: np.ndarray
    worded: np.ndarray

    def in_range(self) -> pd.Series:
        """The grades within range as ``Int64`` (others missing)."""
        return self.values.where(~self.out_of_range).astype("Int64")


def parse_grades(cells: pd.Series, lo: float, hi: float) -> Grades:
    """Grades from digits (``2``, ``2.0``, ``G2``, ``Grad 2``) or Roman numerals (``II``,
    ``grade II``), with masks of what could not be read as it is."""
    na = is_na(cells)
    t = cells.astype(str).str.strip().str.lower()
    digits = t.str.replace(" ", "", regex=False).str.extract(_GRADE.pattern)[0] \
        .str.replace(",", ".", regex=False)
    roman = t.str.replace(r"^(grade|grad)\s+", "", regex=True).map(_ROMAN)
    g = pd.to_numeric(digits, errors="coerce").fillna(roman).where(~na)
    unparsed = g.isna() & ~na
    out_of_range = g.notna() & ((g < lo) | (g > hi))
    worded = g.notna() & ~out_of_range & ~t.str.match(_PLAIN_GRADE.pattern)
    return Grades(g, unparsed.to_numpy(bool), out_of_range.to_numpy(bool), worded.to_numpy(bool))


def parse_sex(cells: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Sex as ``"F"``/``"M"`` (None where missing or unknown) and a mask of the cells that hold
    text but no recognised spelling."""
    text = none_where(cells, ~is_na(cells)).str.strip()
    folded = text.str.lower().map(SEX)
    bad = (folded.isna() & text.notna()).to_numpy(bool)
    return none_where(folded, folded.notna()), bad


def none_where(values: pd.Series, keep: pd.Series | np.ndarray) -> pd.Series:
    """``values`` as objects, None where ``keep`` is False (a text column's missing cells)."""
    out = values.to_numpy(object).copy()
    out[~np.asarray(keep, dtype=bool)] = None
    return pd.Series(out, index=values.index, dtype=object)


def per_unique(values: pd.Series | np.ndarray, func: Callable[[object], object]) -> np.ndarray:
    """``func`` applied once per distinct value (None for missing), spread back to all rows."""
    codes, uniq = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    table = np.array([func(u) for u in uniq] + [func(None)] + [None], dtype=object)[:-1]
    return table[codes]


def _one_id(x: object) -> str | None:
    if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA:
        return None
    if isinstance(x, (float, np.floating)) and float(x).is_integer():
        return str(int(x))
    t = str(x).strip()
    return t or None


def patient_ids(values: pd.Series) -> pd.Series:
    """Patient IDs as stripped text: integer-valued numbers without ``.0`` (``7.0`` -> ``"7"``),
    missing or empty -> None."""
    return pd.Series(per_unique(values.to_numpy(object), _one_id), index=values.index,
                     dtype=object)
