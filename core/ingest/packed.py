"""Compressed and columnar uploads: gzip-compressed text, a ZIP archive holding one table, and
Parquet files.

A registry export of ten million lab rows is large as CSV; clinics send it gzip-compressed
(``labs.csv.gz``), zipped, or as Parquet. :func:`unpack` returns the file inside a gzip or a
single-table ZIP (recognised by their first bytes, whatever the name says); :func:`read_parquet`
reads a Parquet file's columns as text, dictionary-encoded, so that the loader checks them
exactly as it checks a CSV file's cells.
"""

from __future__ import annotations

import gzip
import io
import zipfile
import zlib

import numpy as np

from core.errors import DataFormatError
from core.ingest.wording import plural

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
PARQUET_MAGIC = b"PAR1"
#: Members of a ZIP archive that are not files of the export (written by macOS and Windows).
_NOT_FILES = ("__MACOSX/", ".DS_Store", "Thumbs.db", "desktop.ini")


def _members(z: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The files of an archive, without folders and the system's own files."""
    return [m for m in z.infolist() if not m.is_dir()
            and not any(p in m.filename for p in _NOT_FILES)
            and not m.filename.rsplit("/", 1)[-1].startswith("._")]


def _document(names: list[str]) -> bool:
    """The archive is an Office document (workbook, text, slides, OpenDocument)."""
    return any(n.startswith(("xl/", "word/", "ppt/")) or n in ("mimetype", "[Content_Types].xml")
               for n in names)


def unpack(data: bytes, name: str) -> tuple[bytes, str] | None:
    """The file inside a gzip-compressed upload or a ZIP archive that holds exactly one file
    (and is not itself an Office document), with a name for messages (``"labs.csv (in
    labs.zip)"``); None for any other upload.

    Raises
    ------
    DataFormatError
        A damaged gzip file, or a ZIP archive holding several files (the message names them).
    """
    if data.startswith(GZIP_MAGIC):
        try:
            return gzip.decompress(data), name
        except (OSError, EOFError, zlib.error) as exc:
            raise DataFormatError(
                f"'{name}' is a gzip-compressed file (unpack it first): it cannot be "
                f"decompressed ({exc}), so it is damaged or was cut short. Compress the "
                "export again, or upload the CSV file itself.") from exc
    if not data.startswith(ZIP_MAGIC):
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            if _document(z.namelist()):
                return None  # a workbook or another document: read_table says what it is
            files = _members(z)
            if len(files) != 1:
                return None  # filekind.zip_kind names the members
            inner = files[0].filename
            return z.read(files[0]), f"{inner.rsplit('/', 1)[-1]} (in {name})"
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, KeyError,
            EOFError, zlib.error, RuntimeError, NotImplementedError):
        return None  # damaged: filekind.zip_kind says so


def several_members(data: bytes, name: str) -> str | None:
    """For a ZIP archive of several files (not an Office document), a message naming them and
    what to do; else None."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            if _document(z.namelist()):
                return None
            names = [m.filename for m in _members(z)]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, KeyError,
            EOFError, zlib.error, RuntimeError, NotImplementedError):
        return None
    if len(names) < 2:
        return None
    inside = ", ".join(f"'{n}'" for n in names[:5]) + (" ..." if len(names) > 5 else "")
    return (f"'{name}' is a ZIP archive ({plural(len(names), 'file')}: {inside}), not one "
            "table. A ZIP archive is read when it holds exactly one table (CSV, TSV, XLSX or "
            "Parquet); unpack it and upload the tables one by one.")


def read_parquet(data: bytes, name: str) -> tuple[list[str], list[tuple[np.ndarray, np.ndarray]]]:
    """A Parquet file's header (column names) and columns as text, each as ``(codes, texts)``
    with ``texts[codes]`` the column's cells: missing values ``""``, numbers as their shortest
    round-trip text, dates ``YYYY-MM-DD`` (timestamps with their time), booleans
    ``true``/``false``; white space stripped per distinct text.

    Raises
    ------
    DataFormatError
        The file cannot be read as Parquet (damaged, cut short) or has no columns.
    """
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.compute as pc  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    from core.ingest.delimited import WHITESPACE

    try:
        table = pq.read_table(pa.BufferReader(pa.py_buffer(data)))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataFormatError(
            f"'{name}' starts like a Parquet file but cannot be read ({exc}): it is damaged "
            "or was cut short. Export it again (or as CSV) and upload again.") from exc
    if table.num_columns == 0:
        raise DataFormatError(f"'{name}' is a Parquet file without columns.")
    header = [str(c) for c in table.column_names]
    columns: list[tuple[np.ndarray, np.ndarray]] = []
    for col in table.columns:
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        if pa.types.is_timestamp(col.type):  # whole seconds (%S of ns would print decimals)
            col = pc.strftime(pc.cast(col, pa.timestamp("s", tz=col.type.tz), safe=False),
                              format="%Y-%m-%d %H:%M:%S")
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            try:
                col = pc.cast(col, pa.string())
            except (pa.ArrowNotImplementedError, pa.ArrowInvalid) as exc:
                raise DataFormatError(
                    f"'{name}': column '{header[len(columns)]}' holds {col.type} values, which "
                    "are not table cells. Export the table with plain columns (text, numbers, "
                    "dates) and upload again.") from exc
        col = pc.fill_null(col, "")
        enc = pc.dictionary_encode(col).combine_chunks() if col.num_chunks else None
        if enc is None or len(enc) == 0:
            columns.append((np.zeros(0, dtype=np.int32), np.array([""], dtype=object)))
            continue
        stripped = pc.dictionary_encode(pc.utf8_trim(enc.dictionary, characters=WHITESPACE))
        remap = stripped.indices.to_numpy(zero_copy_only=False).astype(np.int32)
        texts = np.asarray(stripped.dictionary.to_numpy(zero_copy_only=False), dtype=object)
        columns.append((remap[enc.indices.to_numpy(zero_copy_only=False)], texts))
    return header, columns
