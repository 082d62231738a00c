"""Text folding shared by the loader (column names) and the exporter (file names)."""

from __future__ import annotations

import unicodedata

_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe",
                         "Ü": "Ue"})


def ascii_fold(text: str) -> str:
    """``text`` in ASCII: German umlauts and ß transliterated ("Größe" -> "Groesse"), other
    accents dropped ("é" -> "e"), characters without an ASCII form (emoji, CJK) removed."""
    return unicodedata.normalize("NFKD", str(text).translate(_GERMAN)) \
        .encode("ascii", "ignore").decode("ascii")
