"""The pyarrow fast path of delimited text (core.ingest.delimited.read_columns) gives exactly the
RawTable the csv-module path gives, and is taken for a large clean file."""

from __future__ import annotations

import dataclasses
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import DataFormatError
from core.ingest import delimited, read_table
from core.ingest.read import RawTable


@contextmanager
def slow_path() -> Iterator[None]:
    """read_table without the fast path (the csv module reads every file)."""
    with mock.patch.object(delimited, "read_columns", lambda text, delimiter: None):
        yield


@contextmanager
def counting(stats: Counter[str]) -> Iterator[None]:
    """Count the files the fast path read (``stats["fast"]``) and declined (``"declined"``)."""
    real = delimited.read_columns

    def wrapper(text: str, delimiter: str) -> object:
        out = real(text, delimiter)
        stats["fast" if out is not None else "declined"] += 1
        return out

    with mock.patch.object(delimited, "read_columns", wrapper):
        yield


def outcome(data: bytes, name: str = "t.csv") -> RawTable | str:
    try:
        return read_table(data, name, "labs")
    except DataFormatError as exc:
        return f"DataFormatError: {exc}"


def assert_same(fast: RawTable | str, slow: RawTable | str) -> None:
    if isinstance(slow, str) or isinstance(fast, str):
        assert fast == slow
        return
    pd.testing.assert_frame_equal(fast.frame, slow.frame)
    assert fast.frame.dtypes.eq(object).all()
    for f in dataclasses.fields(RawTable):
        if f.name != "frame":
            assert getattr(fast, f.name) == getattr(slow, f.name), f.name


def test_whitespace_is_what_str_strip_removes() -> None:
    every = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())
    assert delimited.WHITESPACE == every


# cells: plain text, numbers (decimal comma too), unicode, white space, quotes, delimiters and
# line breaks (these must be quoted to stay in one cell)
_PLAIN = st.sampled_from(["", "x", "DEMO-001", "3,5", "3.5", "-2", "<0.5", "NA", "mg/dL",
                          "fibrinogen", "µg/L", "Ärztin", "日本", " padded ", "\t", "\xa0x\u3000",
                          "a\x1fb", "ﬁ", "\u2028", "x\"y", "\"", "'", "a b"])
_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=6)
_CELL = st.one_of(_PLAIN, _PLAIN, _TEXT)


@st.composite
def delimited_files(draw: st.DrawFn) -> tuple[bytes, str]:
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\n", "\r\n", "\n", "\r"]))
    width = draw(st.integers(1, 5))
    messy = draw(st.integers(0, 2)) == 0  # ragged rows, blank lines, odd quoting
    header = draw(st.lists(st.sampled_from(["patient_id", "day", "analyte", "value", "unit",
                                            "", "Wert", "value"]),
                           min_size=width, max_size=width))
    if not messy:
        header[0] = header[0] or "patient_id"
    n_rows = draw(st.integers(0, 12))
    quote_all = draw(st.booleans())

    def render(cell: str) -> str:
        special = any(ch in cell for ch in (delimiter, '"', "\n", "\r"))
        if quote_all or (special and (not messy or draw(st.booleans()))):
            return '"' + cell.replace('"', '""') + '"'
        return cell

    lines = [delimiter.join(render(h) for h in header)]
    for _ in range(n_rows):
        cells = draw(st.lists(_CELL, min_size=width, max_size=width))
        if messy and draw(st.integers(0, 4)) == 0:
            cells = cells[:draw(st.integers(0, width))] + draw(st.lists(_CELL, max_size=2))
        if messy and draw(st.integers(0, 5)) == 0:
            cells.append(draw(st.sampled_from(["a\nb", "x\r\ny", "p,q;r|s\tt"])))
        if messy and draw(st.integers(0, 6)) == 0:
            lines.append(draw(st.sampled_from(["", "  ", delimiter * (width - 1)])))
        lines.append(delimiter.join(render(c) for c in cells))
    if messy and draw(st.integers(0, 6)) == 0:
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(['"', '"x', "\ufeff"])))
    ends = ["", newline, newline * 2] + ([delimiter, newline + " "] if messy else [])
    text = newline.join(lines) + draw(st.sampled_from(ends))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "cp1252", "utf-16"]))
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = text.encode("utf-8")
    return data, delimiter


def test_fast_path_gives_the_csv_module_table() -> None:
    stats: Counter[str] = Counter()

    @settings(max_examples=200, derandomize=True, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(delimited_files())
    def check(case: tuple[bytes, str]) -> None:
        data, _ = case
        with counting(stats):
            fast = outcome(data)
        with slow_path():
            slow = outcome(data)
        assert_same(fast, slow)

    check()
    # the comparison is not vacuous: many files take the fast path, many are declined
    assert stats["fast"] >= 50, stats
    assert stats["declined"] >= 40, stats


@pytest.mark.parametrize("text", [
    "a,b\n1,2\n",
    "a;b\r\n1,5;2\r\n\r\n",
    'a,b\n"x, y","he said ""hi"""\n"ab"cd,x"y"z\n',
    "a,b,,\n1,2,,\n3,4,,\n",           # unnamed empty columns dropped
    "a,b\n1,2\na,b\n3,4\n",            # a repeated header row listed
    "a,b\n1,2\n,\n3,4\n,\n,\n",         # a blank row in the body kept, trailing ones dropped
    " a , b \n 1 , 2 \n",
])
def test_fast_path_examples(text: str) -> None:
    stats: Counter[str] = Counter()
    with counting(stats):
        fast = outcome(text.encode())
    with slow_path():
        slow = outcome(text.encode())
    assert_same(fast, slow)
    assert stats["fast"] == 1


@pytest.mark.parametrize("text", [
    "a,b\n1,2\n\n3,4\n",               # a blank line in the body
    "a,b\n1,2,3\n",                    # a ragged row
    'a,b\n"1,2\n3,4\n5,6\n',           # an unclosed quotation mark
    'a,b\n"1\n2",3\n',                 # a line break in a value
    "a,b\r1,2\r",                      # old-Mac line endings
    "a,b\n1,\x002\n",                  # a NUL character
    "\n\na,b\n1,2\n",                  # blank lines above the header
    "a,b\n",                           # no data row
])
def test_fast_path_declines(text: str) -> None:
    stats: Counter[str] = Counter()
    with counting(stats):
        fast = outcome(text.encode())
    with slow_path():
        slow = outcome(text.encode())
    assert_same(fast, slow)
    assert stats == Counter(declined=1)


def test_large_clean_file_takes_the_fast_path() -> None:
    n = 200_000
    rng = np.random.default_rng(0)
    labs = pd.DataFrame({
        "patient_id": np.char.add("P-", (np.arange(n) // 500).astype(str)),
        "day": np.tile(np.arange(-5, 95), n // 100),
        "analyte": np.resize(np.array(["fibrinogen", "d_dimer", "platelets", "crp"]), n),
        "value": rng.gamma(2.0, 100.0, n).round(2),
        "unit": np.resize(np.array(["mg/dL", "mg/L FEU", "10^9/L", "mg/L"]), n),
    })
    data = labs.to_csv(index=False, sep=";", decimal=",").encode("cp1252")
    stats: Counter[str] = Counter()
    with counting(stats):
        raw = read_table(data, "labs.csv", "labs")
    assert stats == Counter(fast=1)
    assert raw.frame.shape == (n, 5) and raw.decimal == "," and raw.delimiter == ";"
    assert raw.first_row == 2 and not raw.row_problems
    with slow_path():
        assert_same(raw, read_table(data, "labs.csv", "labs"))
