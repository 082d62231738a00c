"""Tests of core.export.pack and of the package: the whole pack at once, each figure rendered
once.

The pack is opened with the libraries a user's tools would use (python-pptx, pypdf, zipfile)."""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import pytest
from pptx import Presentation
from pypdf import PdfReader

import export_cases as cases
from core.export import RenderCache, Report, ReportMeta, build_pack


@pytest.fixture(scope="module")
def report() -> Report:
    return cases.report()


@pytest.fixture(scope="module")
def meta() -> ReportMeta:
    return cases.meta()


@pytest.fixture(scope="module")
def patients() -> pd.DataFrame:
    return cases.patients()


@pytest.fixture(scope="module")
def pack() -> tuple[dict[str, bytes], RenderCache]:
    return cases.pack()


# ---------------------------------------------------------------------------------------------
# build_pack
# ---------------------------------------------------------------------------------------------

def test_pack_renders_each_figure_once(pack, report):
    out, cache = pack
    assert set(out) == {"pptx", "pdf", "zip"}
    # one SVG (also measures the size) and one PNG per figure, shared by all three files
    assert cache.renders == 2 * len(report)


def test_empty_report_builds_cover_only(meta, patients):
    out = build_pack(Report(), meta, patients)
    assert len(Presentation(io.BytesIO(out["pptx"])).slides) == 1
    assert len(PdfReader(io.BytesIO(out["pdf"])).pages) == 1
    names = zipfile.ZipFile(io.BytesIO(out["zip"])).namelist()
    assert names == ["README.txt", "patients_2026-11-24.csv"]


def test_pack_rejects_unknown_format(report, meta, patients):
    with pytest.raises(ValueError, match="Unknown pack format"):  # a bug, not the user's
        build_pack(report, meta, patients, formats=("docx",))  # type: ignore[arg-type]

# ---------------------------------------------------------------------------------------------
# the package
# ---------------------------------------------------------------------------------------------

def test_core_export_does_not_import_streamlit():
    import subprocess
    import sys

    code = "import sys, core.export; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
