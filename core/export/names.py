"""What an exported file is called and what it is: :func:`filename`, :data:`MIME_TYPES`.

One place for both, so a figure download, a table download and the meeting pack name their files
the same way (``"<slug>_<YYYY-MM-DD>.<ext>"``, only ``[a-z0-9._-]``).
"""

from __future__ import annotations

import re
from datetime import date

from core.text import ascii_fold

__all__ = ["MIME_TYPES", "filename"]

#: Media type of every format the app exports (download buttons send it to the browser).
MIME_TYPES: dict[str, str] = {
    "png": "image/png",
    "svg": "image/svg+xml",
    "pdf": "application/pdf",
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "zip": "application/zip",
}

#: Longest slug (characters) before the date and extension.
SLUG_MAX = 80

def _slug(text: str, max_len: int = SLUG_MAX) -> str:
    """Lower-case ASCII words joined by ``-`` (umlauts transliterated); ``"figure"`` if empty."""
    ascii_text = ascii_fold(text)
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_len].rstrip("-") or "figure"


def filename(name: str, ext: str, when: date | None = None) -> str:
    """A safe, self-describing file name: ``"<slug>_<YYYY-MM-DD>.<ext>"``.

    Parameters
    ----------
    name : str
        What the file shows, e.g. ``"Fibrinogen by CRS grade"`` or ``"fibrinogen_by_crs"``.
        Lower-cased; umlauts transliterated (``\u00fc`` -> ``ue``); any run of other characters
        becomes one ``-``; at most 80 characters; ``"figure"`` if nothing is left.
    ext : str
        Extension with or without the dot (``"png"``, ``".csv"``).
    when : datetime.date, optional
        Defaults to today.

    Returns
    -------
    str
        E.g. ``"fibrinogen-by-crs-grade_2026-11-24.png"``. Only ``[a-z0-9._-]``.

    Raises
    ------
    ValueError
        If ``ext`` holds no letter or digit (the extension always comes from code, never from
        the user).
    """
    clean_ext = re.sub(r"[^a-z0-9]", "", ext.lower().lstrip("."))
    if not clean_ext:
        raise ValueError(f"'{ext}' is not a file extension.")
    return f"{_slug(name)}_{(when or date.today()).isoformat()}.{clean_ext}"
