"""What kind of file is it? Recognise what is not a table (images, PDFs, archives, web pages,
JSON, old or encrypted workbooks) from its first bytes and say what to do instead.

Each ``*_kind`` function returns the message for the user, or None when the file may be a
table."""

from __future__ import annotations

import io
import json
import re
import zipfile
import zlib

_AGAIN = "Export the table again as CSV or Excel (.xlsx) and upload that file."


_MAGIC = (
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\x1f\x8b\x08", "a gzip-compressed file (unpack it first)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive (unpack it first)"),
    (b"Rar!\x1a\x07", "a RAR archive (unpack it first)"),
    (b"SQLite format 3\x00", "an SQLite database"),
)
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def binary_kind(data: bytes, name: str) -> str | None:
    """A message for a file that is recognisably not a text table or workbook, else None."""
    for magic, what in _MAGIC:
        if data.startswith(magic):
            return f"'{name}' is {what}, not a table. {_AGAIN}"
    if data.startswith(b"PAR1") and data.endswith(b"PAR1"):
        return f"'{name}' is a Parquet file. {_AGAIN}"
    if data.startswith(_OLE):
        if name.lower().endswith((".xlsx", ".xlsm")):
            return (f"'{name}' is a password-protected (encrypted) workbook, or an old .xls "
                    "file renamed to .xlsx. Remove the password (File > Info > Protect "
                    "Workbook) or save it as .xlsx, and upload again.")
        return (f"'{name}' is an old Excel 97-2003 (.xls) or other Office file. Save it as "
                ".xlsx or CSV and upload again.")
    return None


def zip_kind(data: bytes, name: str) -> str | None:
    """None for an Excel workbook; otherwise a message saying what the ZIP file is."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = z.namelist()
            mimetype = ""
            if "mimetype" in names:
                with z.open("mimetype") as f:
                    mimetype = f.read(100).decode("ascii", "replace")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, KeyError,
            EOFError, zlib.error, RuntimeError, NotImplementedError) as exc:
        return (f"'{name}' starts like a ZIP file or Excel workbook but is damaged ({exc}). "
                "Save it again as .xlsx or CSV and upload again.")
    if "xl/workbook.xml" in names or any(n.startswith("xl/workbook") for n in names):
        return None
    if "spreadsheet" in mimetype:
        return (f"'{name}' is an OpenDocument spreadsheet (.ods). Save it as .xlsx or CSV "
                "(File > Save as) and upload again.")
    if any(n.startswith("word/") for n in names) or "text" in mimetype:
        return f"'{name}' is a word-processor document, not a table. {_AGAIN}"
    if any(n.startswith("ppt/") for n in names) or "presentation" in mimetype:
        return f"'{name}' is a presentation, not a table. {_AGAIN}"
    inside = ", ".join(f"'{n}'" for n in names[:5]) + (" ..." if len(names) > 5 else "")
    return (f"'{name}' is a ZIP archive ({len(names)} files: {inside or 'empty'}), not a "
            "table. Unpack it and upload the CSV or .xlsx file inside.")


def text_kind(text: str, name: str) -> str | None:
    """A message for text that is a known non-table format (JSON, HTML, XML, RTF), else None."""
    head = text[:4096].lstrip("\ufeff \t\r\n").lower()
    if head.startswith("{\\rtf"):
        return f"'{name}' is a Rich Text (RTF) document, not a table. {_AGAIN}"
    if head.startswith(("<!doctype html", "<html")) or (
            head.startswith("<") and re.search(r"<(html|head|body|script|meta|title)[\s>]", head)):
        return (f"'{name}' is a web page (HTML), not a table: probably a download that failed "
                "or a login page saved under this name. Download the export again and check "
                "that it opens as a table in Excel before uploading.")
    if head.startswith("<?xml") or head.startswith("<svg"):
        if "urn:schemas-microsoft-com:office:spreadsheet" in head:
            return (f"'{name}' is an Excel 2003 XML spreadsheet. Open it in Excel, save it as "
                    ".xlsx and upload again.")
        return f"'{name}' is an XML file, not a table. {_AGAIN}"
    if head.startswith(("{", "[")) and _is_json(text, head):
        return (f"'{name}' is a JSON file (structured data, not a table of rows and columns). "
                f"{_AGAIN}")
    return None


def _is_json(text: str, head: str) -> bool:
    if re.match(r'^(\{\s*"|\[\s*[\[{"]|\[\s*\]|\{\s*\})', head):
        return True  # also a truncated or line-delimited JSON file
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


_CONTROL = re.compile(r"[\x00-\x08\x0e-\x19\x1b-\x1f]")


def looks_binary(text: str) -> bool:
    """True when invisible control characters are frequent (more than 1% of the first 4 KiB,
    and more than 4): an image, a database or a damaged file, not text. A few stray NUL
    characters in a text export are cleaned cell by cell instead."""
    sample = text[:4096]
    n = len(_CONTROL.findall(sample))
    return n > max(4, 0.01 * len(sample))
