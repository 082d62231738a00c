"""Tests of core.export.names: safe, self-describing file names."""

from __future__ import annotations

import re
from datetime import date

import pytest

from core.export import MIME_TYPES, filename
from export_cases import DAY

# ---------------------------------------------------------------------------------------------
# filename
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, ext, expected", [
    ("Fibrinogen by CRS grade", "png", "fibrinogen-by-crs-grade_2026-11-24.png"),
    ("fibrinogen_by_crs", ".svg", "fibrinogen-by-crs_2026-11-24.svg"),
    ("D-Dimer/Fibrinogen (M\u00fcller, \u2265 Grad 3)", "csv",
     "d-dimer-fibrinogen-mueller-grad-3_2026-11-24.csv"),
    ("../../etc/passwd", "PDF", "etc-passwd_2026-11-24.pdf"),
    ("\u2265\u2264", "png", "figure_2026-11-24.png"),
])
def test_filename(name, ext, expected):
    assert filename(name, ext, DAY) == expected


def test_filename_defaults_to_today_and_is_safe():
    out = filename("x" * 200 + " \u00df", "png")
    assert out.endswith(f"_{date.today().isoformat()}.png")
    assert re.fullmatch(r"[a-z0-9._-]+", out) and len(out) <= 100
    with pytest.raises(ValueError, match="not a file extension"):  # a bug, not the user's
        filename("x", "..")


def test_every_export_format_has_a_mime_type():
    assert {"png", "svg", "pdf", "csv", "xlsx", "pptx", "zip"} <= set(MIME_TYPES)
    assert MIME_TYPES["svg"] == "image/svg+xml" and MIME_TYPES["csv"] == "text/csv"
