"""Small pieces of the loader's messages: counts, cut cells, file and sheet names."""

from __future__ import annotations

import numpy as np


def plural(n: int, word: str) -> str:
    """``"1 row"``, ``"3 rows"``."""
    return f"{n} {word}" + ("" if n == 1 else "s")


def short(text: object, limit: int = 80) -> str:
    """Text cut to ``limit`` characters for a listing (a cell may hold a whole file)."""
    t = "" if text is None or (isinstance(text, float) and np.isnan(text)) else str(text)
    return t if len(t) <= limit else t[: limit - 1] + "…"


def delimiter_name(delimiter: str | None) -> str:
    """``"tab"``, ``"';'"``, ... for a message."""
    return {"\t": "tab", ",": "','", ";": "';'", "|": "'|'"}.get(delimiter or "", "?")


def sheet_list(sheets: tuple[str, ...] | list[str], limit: int = 12) -> str:
    """``"'Info', 'Labs'"`` (the first ``limit`` names, then how many more)."""
    names = ", ".join(f"'{s}'" for s in list(sheets)[:limit])
    return names + (f" and {len(sheets) - limit} more" if len(sheets) > limit else "")


def sheet_phrase(sheet: str | None, sheets: tuple[str, ...]) -> str:
    """``"sheet 'Labs' (of 2: 'Patients', 'Labs')"`` or ``"sheet 'X' (its only sheet)"``."""
    if len(sheets) <= 1:
        return f"sheet '{sheet}' (its only sheet)"
    return f"sheet '{sheet}' (of {len(sheets)}: {sheet_list(sheets)})"


def file_label(name: str, fmt: str, sheet: str | None, sheets: tuple[str, ...]) -> str:
    """The file (and sheet) for messages: ``'x.xlsx', sheet 'Labs' (of 2: ...)``."""
    return f"'{name}', " + sheet_phrase(sheet, sheets) if fmt == "xlsx" else f"'{name}'"
