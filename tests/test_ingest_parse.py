"""core.ingest.parse: the one reading of cells as values, shared by the loader and the endpoint
derivation (expected values worked out by hand)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.ingest import parse


def texts(*cells: str) -> pd.Series:
    return pd.Series(list(cells), dtype=object)


def test_numbers_with_a_known_decimal_mark_read_thousands_separators():
    n = parse.read_numbers(texts("1.234,5", "2,5", "−3", "1 000", "n.a.", "viel"), ",")
    assert n.values[:4].tolist() == [1234.5, 2.5, -3.0, 1000.0]
    assert n.na.tolist() == [False] * 4 + [True, False]
    assert n.failed.tolist() == [False] * 5 + [True]
    n = parse.read_numbers(texts("1,234.5", "1,500", "2.5"), ".")
    assert n.values.tolist() == [1234.5, 1500.0, 2.5]


def test_numbers_with_an_unknown_decimal_mark_try_point_then_comma():
    # a notebook frame: no file, no detected mark; "1,500" is 1.5 (a decimal comma), as the
    # endpoint derivation always read it
    n = parse.read_numbers(texts("1,500", "1.500", "2,5", "1.234,5", " 310 "), None)
    assert n.values[:3].tolist() == [1.5, 1.5, 2.5]
    assert np.isnan(n.values[3]) and n.failed[3]
    assert n.values[4] == 310


def test_censored_results_are_read_at_their_bound_and_flagged():
    n = parse.read_numbers(texts("<0,5", "> 1000", "≤ 20", "<=3", "<x", "7"), ",")
    assert n.values[:4].tolist() == [0.5, 1000.0, 20.0, 3.0]
    assert n.censored.tolist() == [True, True, True, True, False, False]
    assert n.failed.tolist() == [False, False, False, False, True, False]
    assert parse.read_numbers(texts("<0.5"), ".", censored=False).failed.tolist() == [True]


def test_numeric_columns_are_read_as_they_are():
    n = parse.read_numbers(pd.Series([1.5, np.nan, np.inf]))
    assert n.values[0] == 1.5 and np.isnan(n.values[1]) and np.isinf(n.values[2])
    assert n.na.tolist() == [False, True, False] and not n.censored.any()


def test_binary_tokens_and_the_frames_of_a_notebook():
    values, bad = parse.parse_binary(texts("ja", "No", "1,0", "0.0", "x", "vielleicht", "n.a."))
    assert values.tolist()[:5] == [1, 0, 1, 0, 1]
    assert bad.tolist() == [False] * 5 + [True, False]
    assert pd.isna(values.iloc[5]) and pd.isna(values.iloc[6])
    # a frame built in code: numbers rounded (as before), words read by the same tokens
    coerced = parse.coerce_binary(pd.Series([1, 0.0, "yes", "nein", None, "2"], dtype=object))
    assert coerced.tolist()[:4] == [1, 0, 1, 0] and pd.isna(coerced.iloc[4])
    assert coerced.iloc[5] == 2          # a number stays the number it is
    assert str(parse.coerce_binary(pd.Series([1.0, 0.0])).dtype) == "Int64"


def test_grades_from_digits_and_roman_numerals():
    g = parse.parse_grades(texts("2", "G3", "Grad II", "grade iv", "7", "schwer", ""), 0, 4)
    assert g.in_range().tolist()[:4] == [2, 3, 2, 4]
    assert g.out_of_range.tolist() == [False] * 4 + [True, False, False]
    assert g.unparsed.tolist() == [False] * 5 + [True, False]
    assert g.worded.tolist() == [False, True, True, True, False, False, False]


def test_sex_patient_ids_and_blank_cells():
    sex, bad = parse.parse_sex(texts("w", "Male", "x", "n.a."))
    assert sex.tolist() == ["F", "M", None, None] and bad.tolist() == [False, False, True, False]
    ids = parse.patient_ids(pd.Series([7.0, " P1 ", "", None, 3.5], dtype=object))
    assert ids.tolist() == ["7", "P1", None, None, "3.5"]
    assert parse.blank(pd.Series([None, "", " ", "NA", "-", 0, "x"], dtype=object)).tolist() == [
        True, True, True, True, True, False, False]


def test_a_decimal_mark_other_than_point_or_comma_is_a_programming_error():
    with pytest.raises(ValueError, match="decimal"):
        parse.parse_numbers(texts("1"), ";")
