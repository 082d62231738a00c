"""Headers -> canonical columns: suggestion, the user's corrections, names for extra columns."""

from __future__ import annotations

import re
from collections.abc import Mapping

from core import schema
from core.text import ascii_fold


def suggest_mapping(headers: tuple[str, ...] | list[str],
                    table: schema.TableName) -> dict[str, str | None]:
    """Suggest a canonical column for each header (None: keep as an extra column).

    Headers are compared ignoring case, spaces, punctuation and a unit suffix in brackets, so
    ``"Fibrinogen nadir [g/l]"``, ``"CRS Grad"`` and ``"Patient-ID"`` are recognised. Each
    canonical column is taken by the first header that matches it.
    """
    index = schema.column_index(table)
    taken: set[str] = set()
    out: dict[str, str | None] = {}
    for h in headers:
        key = schema.normalise_header(h)
        target = index.get(key)
        if target is None and key.endswith("grad"):
            target = index.get(key + "e")
        if target in taken:
            target = None
        if target:
            taken.add(target)
        out[h] = target
    return out


def merge_mapping(user: Mapping[str, str | None] | None, headers: tuple[str, ...],
                   table: schema.TableName) -> dict[str, str | None]:
    """The mapping to use for a file: the user's choice for the headers it names, the
    suggestion for the others (unless the user gave that column to another header).

    Parameters
    ----------
    user : the user's saved mapping (possibly made for another version of the file), or None.
    headers : the file's headers.
    table : which table.

    Returns
    -------
    dict
        header -> canonical column or None. Entries of ``user`` for headers the file does not
        have are kept, so that :func:`core.ingest.validate` can say they were ignored.
    """
    suggested = suggest_mapping(headers, table)
    if not user:
        return suggested
    taken = {t for h, t in user.items() if t and h in headers}
    merged = {h: user.get(h, t if t not in taken else None) for h, t in suggested.items()}
    return {**{h: t for h, t in user.items() if h not in merged}, **merged}


def dedupe_headers(headers: list[str]) -> list[str]:
    """Headers as column names: stripped, a byte-order mark removed, an empty one named
    ``column_<position>``, a repeated one suffixed ``.2``, ``.3``, ..."""
    seen: dict[str, int] = {}
    out = []
    for i, h in enumerate(headers):
        h = str(h).replace("\ufeff", "").strip() or f"column_{i + 1}"
        while h in seen:  # "a", "a", "a.2" -> "a", "a.2", "a.2.2"
            seen[h] += 1
            h = f"{h}.{seen[h]}"
        seen[h] = 1
        out.append(h)
    return out


def safe_extra_name(header: str, used: set[str], position: int = 0) -> str:
    """A column name for an unmapped header: lower-case ASCII letters, digits and ``_``,
    never empty (``column_7`` for a header of only emoji or CJK characters) and never one of
    ``used``."""
    ascii_text = ascii_fold(header)
    base = re.sub(r"[^0-9a-zA-Z]+", "_", ascii_text).strip("_").lower()[:60].strip("_")
    base = base or f"column_{position}"
    if base[0].isdigit():
        base = "c_" + base
    name, i = base, 2
    while name in used:
        name, i = f"{base}_{i}", i + 1
    return name
