"""Delimited text: decoding, the delimiter, records, the decimal mark.

A clinic's CSV export may be UTF-8, UTF-16 or cp1252, separated by tabs, semicolons, commas or
bars, with any line ending, quoted fields holding line breaks, and a quotation mark that is
never closed. :func:`read_records` reads it all and lists the records it had to cut short.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from core.errors import DataFormatError
from core.ingest.wording import delimiter_name, plural

if TYPE_CHECKING:
    from _csv import Reader as CsvReader


def utf16_without_bom(sample: bytes) -> str | None:
    """``utf-16-le``/``utf-16-be`` when NUL bytes sit at every other position (UTF-16 text of
    mostly Latin characters written without a byte order mark), else None."""
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


def decode(data: bytes, name: str) -> tuple[str, str]:
    """The text of a file and a name for its encoding (UTF-8, UTF-16, cp1252, latin-1)."""
    boms = ((b"\xff\xfe\x00\x00", "utf-32", "UTF-32"), (b"\x00\x00\xfe\xff", "utf-32", "UTF-32"),
            (b"\xff\xfe", "utf-16", "UTF-16"), (b"\xfe\xff", "utf-16", "UTF-16"))
    codec, label = next(((c, lbl) for bom, c, lbl in boms if data.startswith(bom)), (None, ""))
    codec = codec or utf16_without_bom(data[:4096])
    if codec:
        try:
            return data.decode(codec), label or "UTF-16"
        except UnicodeError as exc:
            raise DataFormatError(
                f"'{name}' starts like a {label or 'UTF-16'} text file but cannot be decoded "
                f"({getattr(exc, 'reason', exc)} at byte {getattr(exc, 'start', '?')}): it is "
                "damaged or not a text file. Save the table again as CSV (UTF-8) and upload "
                "again.") from exc
    bom = data.startswith(b"\xef\xbb\xbf")
    body = data[3:] if bom else data
    for codec, label in (("utf-8", "UTF-8 with BOM" if bom else "UTF-8"), ("cp1252", "cp1252")):
        try:
            return body.decode(codec), label
        except UnicodeDecodeError:
            continue
    return body.decode("latin-1"), "latin-1"


def _reader(text: str, delimiter: str) -> CsvReader:
    """Records of ``text`` with any line ending (``\\n``, ``\\r\\n``, old-Mac ``\\r``) and
    quoted fields that may hold delimiters and line breaks."""
    # a cell may be as long as the file itself (the bytes are in memory already); the limit is
    # process-wide, so it is only ever raised
    need = min(len(text) + 1, 2**31 - 1)
    if csv.field_size_limit() < need:
        csv.field_size_limit(need)
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"',
                      doublequote=True, strict=False)


_SNIFF_CHARS = 65536


def sniff_delimiter(text: str) -> str:
    """The delimiter (tab ; , |) that splits the first 50 records most consistently; the
    header must contain it."""
    sample = text[:_SNIFF_CHARS]
    best, best_score = ",", -1.0
    for d in ("\t", ";", ",", "|"):
        try:
            records = list(itertools.islice(_reader(sample, d), 51))
        except csv.Error:
            continue
        if len(text) > _SNIFF_CHARS and len(records) > 1:
            records = records[:-1]  # probably cut in the middle
        counts = [len(r) - 1 for r in records if any(c.strip() for c in r)][:50]
        if not counts or counts[0] == 0:
            continue
        consistent = sum(c == counts[0] for c in counts) / len(counts)
        score = consistent * 1000 + counts[0]
        if score > best_score:
            best, best_score = d, score
    return best


_MAX_RESTARTS = 100


def read_records(text: str, delimiter: str, name: str) -> tuple[list[list[str]], dict[int, str]]:
    """All records of a delimited text, and record index -> problem for records cut short.

    A quotation mark that opens a value and is never closed makes the csv module read the
    following lines into that value: rows would vanish. Such a record (one that swallowed
    lines that look like rows of the table) is read as its first line only, listed as a
    problem, and reading starts again on the next line.
    """
    lines = io.StringIO(text, newline="").readlines()  # the lines the csv module sees
    records: list[list[str]] = []
    problems: dict[int, str] = {}
    header: list[str] | None = None
    start = 0
    for _ in range(_MAX_RESTARTS):
        try:
            part = text if start == 0 else "".join(lines[start:])
            restart, header = _read_from(part, lines, start, delimiter, records, problems,
                                         header)
        except csv.Error as exc:  # with strict=False and newline="" hardly reachable
            raise DataFormatError(
                f"'{name}' could not be read as a {delimiter_name(delimiter)}-separated table "
                f"({exc}). Open it in Excel, save it as CSV or .xlsx and upload again.") from exc
        if restart is None:
            return records, problems
        start = restart
    first = min(problems) + 1
    raise DataFormatError(f"'{name}' has more than {_MAX_RESTARTS} quotation marks (\") that "
                          f"open a value and are never closed (the first in row {first}). "
                          "Open it in Excel, save it again as CSV or .xlsx and upload again.")


def _read_from(part: str, lines: list[str], start: int, delimiter: str,
               records: list[list[str]], problems: dict[int, str], header: list[str] | None
               ) -> tuple[int | None, list[str] | None]:
    """Append the records of ``part`` (the text from physical line ``start`` on); stop at a
    record that swallowed rows (see :func:`read_records`) and return the line to restart from
    (None: end of text)."""
    reader = _reader(part, delimiter)
    consumed = 0
    for record in reader:
        first, consumed = start + consumed, reader.line_num
        end = start + consumed
        if header is None and not blank_record(record):
            header = record
        elif header is not None and end - first > 1 and _swallowed(
                lines[first + 1:end], header, delimiter, at_end=end >= len(lines)):
            problems[len(records)] = (
                "a quotation mark (\") opens a value in this row and is never closed; the "
                f"{plural(end - first - 1, 'line')} after it are read as rows of their own. "
                "Close or remove the quotation mark")
            records.append(split(lines[first], delimiter, csv.QUOTE_NONE))
            return first + 1, header
        records.append(record)
    return None, header


# what str.strip() removes: every character for which str.isspace() is true
# (tests/test_ingest_fast_path.py checks this against all of Unicode)
WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003"
              "\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


def read_columns(text: str, delimiter: str) -> tuple[list[str], list[np.ndarray]] | None:
    """The fast path of :func:`read_records` + :func:`core.ingest.read`'s records -> frame:
    the header's cells and the data columns (object arrays of stripped text, trailing blank
    rows removed), parsed by pyarrow.csv; or None where the result might differ from the
    csv module's, and the caller reads the text with :func:`read_records`.

    Used only for text without NUL characters, a byte order mark, carriage returns other
    than in ``\\r\\n``, or blank lines (except at the end), whose first line is a non-blank
    header, whose every row has the header's number of fields (pyarrow enforces it: a ragged
    row, an unclosed quotation mark raise) and in which no value holds a line break (the
    csv module's record then spans lines, which :func:`read_records` checks for swallowed
    rows), with at least one data row. :func:`read_coded` is the same table with every column
    dictionary-encoded.
    """
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return None
    coded = read_coded(data, delimiter)
    if coded is None:
        return None
    header, columns = coded
    return header, [cats[codes] for codes, cats in columns]


def read_coded(data: bytes, delimiter: str
               ) -> tuple[list[str], list[tuple[np.ndarray, np.ndarray]]] | None:
    """:func:`read_columns` of UTF-8 ``data`` (a file's bytes without a byte order mark, or
    text encoded as UTF-8; a DOS end-of-file mark at the end is ignored), every column as
    codes into its distinct stripped texts: ``(codes, texts)`` with ``texts[codes]`` the
    column's cells. Nothing is materialised per cell: checks scan the bytes, pyarrow reads the
    columns dictionary-encoded, and white space is stripped per distinct text. None where
    :func:`read_columns` is None, or the bytes are not valid UTF-8.
    """
    import threading

    end = len(data)
    while end and data[end - 1] == 0x1A:  # text.rstrip("\x1a")
        end -= 1
    while end and data[end - 1] in (0x0A, 0x0D):  # body = text.rstrip("\r\n")
        end -= 1
    if not end or data.startswith((b"\xef\xbb\xbf", b"\n", b"\r\n")) or b"\x00" in data:
        return None
    nl = data.find(b"\n", 0, end)
    try:
        line = data[:nl if nl >= 0 else end].decode("utf-8")
    except UnicodeDecodeError:
        return None
    first = split(line, delimiter)
    n = len(first)
    if n == 0 or blank_record(first):
        return None
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.compute as pc  # type: ignore[import-untyped]
    import pyarrow.csv as pacsv  # type: ignore[import-untyped]

    # Without quotation marks no value can hold a line break: pyarrow then splits the lines
    # in parallel and does not look for quotes (the same table, ~15% less work).
    quoted = data.find(b'"', 0, end) >= 0
    plain: list[bool] = []  # the scans of the bytes, run while pyarrow parses them
    scanner = threading.Thread(target=lambda: plain.append(_plain_bytes(data, end, quoted)))
    scanner.start()
    try:
        table = pacsv.read_csv(
            pa.BufferReader(pa.py_buffer(data).slice(0, end)),
            read_options=pacsv.ReadOptions(autogenerate_column_names=True),
            parse_options=pacsv.ParseOptions(delimiter=delimiter,
                                             quote_char='"' if quoted else False,
                                             double_quote=True, escape_char=False,
                                             newlines_in_values=quoted,
                                             ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={f"f{i}": pa.dictionary(pa.int32(), pa.string())
                              for i in range(n)},
                strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, ValueError):
        table = None
    finally:
        scanner.join()
    if table is None or not plain[0] or table.num_columns != n or table.num_rows < 2:
        return None
    table = table.unify_dictionaries()
    raws: list[tuple[np.ndarray, np.ndarray]] = []  # per column: codes, stripped text per code
    blank: np.ndarray | None = None  # None: no row is blank (a column without empty texts)
    for pos, raw in enumerate(table.columns):
        if raw.null_count:
            return None
        chunks = [c for c in raw.chunks if len(c)]
        words = chunks[0].dictionary
        if pc.any(pc.match_substring(words, "\n")).as_py():
            return None
        indices = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in chunks])
        texts = np.asarray(pc.utf8_trim(words, characters=WHITESPACE)
                           .to_numpy(zero_copy_only=False), dtype=object)
        empty = texts == ""
        if pos == 0 or blank is not None:
            is_blank = empty[indices] if empty.any() else None
            blank = is_blank if pos == 0 or is_blank is None else blank & is_blank
        raws.append((indices, texts))
    stop = len(raws[0][0])
    if blank is not None:
        keep = np.flatnonzero(~blank)
        if not len(keep) or keep[0] != 0 or keep[-1] == 0:
            return None  # a blank header, or no data row
        stop = int(keep[-1]) + 1
        if blank[:stop].any() and (data.find(b"\n\n", 0, end) >= 0
                                   or data.find(b"\n\r\n", 0, end) >= 0):
            return None  # a blank line in the body (read_table's rows differ)
    header = [str(texts[indices[0]]) for indices, texts in raws]
    return header, [_sorted_codes(indices, texts, stop) for indices, texts in raws]


def _plain_bytes(data: bytes, end: int, quoted: bool) -> bool:
    """No quotation mark may be left open (their number up to ``end`` is even; ``quoted``:
    there is one) and every carriage return starts a Windows line break (``\\r\\n``)."""
    if quoted and data.count(b'"', 0, end) % 2:
        return False
    return b"\r" not in data or data.count(b"\r") == data.count(b"\r\n")


def _sorted_codes(indices: np.ndarray, texts: np.ndarray,
                  stop: int) -> tuple[np.ndarray, np.ndarray]:
    """The codes of rows ``1..stop-1`` of a column (row 0 is the header) into their distinct
    stripped texts, sorted, every one used by a row (``texts``: the stripped text of each of
    pyarrow's codes, equal texts may repeat; every code is used by some row of the column, as
    pyarrow's dictionaries hold only the values read); one pass over the rows."""
    body = indices[1:stop]
    outside = np.unique(np.concatenate([indices[:1], indices[stop:]]))
    if len(texts) > len(body):
        used = np.bincount(body, minlength=len(texts)) > 0
    else:  # only codes of the header and of blank rows after the last data row may be unused
        used = np.ones(len(texts), dtype=bool)
        for code in outside.tolist():
            used[code] = bool((body == code).any())
    distinct = sorted(set(texts[used].tolist()))
    at = {t: i for i, t in enumerate(distinct)}
    remap = np.full(len(texts), -1, dtype=np.int32)
    remap[used] = [at[t] for t in texts[used].tolist()]
    return remap[body], np.array(distinct, dtype=object)


def split(line: str, delimiter: str, quoting: Literal[0, 1, 2, 3] = csv.QUOTE_MINIMAL
          ) -> list[str]:
    """The fields of one line of text by the csv rules (a line break ends it)."""
    reader = csv.reader(io.StringIO(line, newline=""), delimiter=delimiter, quoting=quoting,
                        strict=False)
    return next(reader, [])


def _swallowed(continuation: list[str], header: list[str], delimiter: str,
               at_end: bool) -> bool:
    """Whether the lines read into one quoted value look like rows of the table: at least two
    of them do, or one does and the value runs to the end of the file."""
    if used_width(header) < 2:
        return False
    rowlike = 0
    for line in continuation:
        fields = split(line, delimiter)
        rowlike += fits(fields, header)
        if rowlike >= (1 if at_end else 2):
            return True
    return False


def fits(record: list[str], header: list[str]) -> bool:
    """A record fits the header: as many fields (trailing empty ones may be more or fewer)."""
    n = len(record)
    return used_width(header) <= n <= len(header) or (
        n > len(header) and blank_record(record[len(header):]))


def used_width(header: list[str]) -> int:
    """Fields up to the header's last non-empty cell (trailing empty headers are optional)."""
    return max((i + 1 for i, c in enumerate(header) if c.strip()), default=len(header))


def blank_record(record: list[str]) -> bool:
    """No field holds more than white space."""
    return not any(c.strip() for c in record)


_DEC_COMMA = re.compile(r"^-?\d{1,3}(\.\d{3})*,\d+$|^-?\d+,\d+$")
_DEC_POINT = re.compile(r"^-?\d+\.\d+$")


def detect_decimal(frame: pd.DataFrame, delimiter: str) -> str:
    """``","`` when more of the first 500 rows' cells look like decimal-comma numbers than
    like decimal-point numbers (never with a comma delimiter), else ``"."``."""
    if delimiter == ",":
        return "."
    sample = frame.head(500).to_numpy().ravel()
    commas = sum(bool(_DEC_COMMA.match(str(v).strip())) for v in sample)
    points = sum(bool(_DEC_POINT.match(str(v).strip())) for v in sample)
    return "," if commas > points else "."
