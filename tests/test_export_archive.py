"""Tests of core.export.archive: the ZIP with figures, tables, the patient list and a README."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile

import altair as alt
import pandas as pd
import pytest
from PIL import Image

import export_cases as cases
from core.export import SYNTHETIC_LABEL, RenderCache, Report, ReportMeta, build_zip
from core.export.report import APP_VERSION
from export_cases import CAPTION, DAY
from export_cases import spec as _spec


@pytest.fixture(scope="module")
def charts() -> dict[str, alt.TopLevelMixin]:
    return cases.charts()


@pytest.fixture(scope="module")
def report() -> Report:
    return cases.report()


@pytest.fixture(scope="module")
def patients() -> pd.DataFrame:
    return cases.patients()


@pytest.fixture(scope="module")
def pack() -> tuple[dict[str, bytes], RenderCache]:
    return cases.pack()


# ---------------------------------------------------------------------------------------------
# ZIP
# ---------------------------------------------------------------------------------------------

def test_zip_contents_and_readme(pack, report, patients):
    archive = zipfile.ZipFile(io.BytesIO(pack[0]["zip"]))
    names = archive.namelist()
    assert names == [
        "README.txt",
        "patients_2026-11-24.csv",
        "report.ipynb",
        "figures/01_fibrinogen-by-crs_2026-11-24.png",
        "figures/01_fibrinogen-by-crs_2026-11-24.svg",
        "figures/02_toci-vs-fib_2026-11-24.png",
        "figures/02_toci-vs-fib_2026-11-24.svg",
        "tables/02_toci-vs-fib_2026-11-24.csv",
        "figures/03_by-product_2026-11-24.png",
        "figures/03_by-product_2026-11-24.svg",
    ]
    readme = archive.read("README.txt").decode("utf-8")
    for expected in (CAPTION, "n = 27", "2026-11-24", "Uploaded cohort",
                     f"CAR-T cohort explorer {APP_VERSION}", "Fibrinogen by product",
                     "Kruskal-Wallis p = 0.004"):
        assert expected in readme
    for lib in ("pandas", "numpy", "scipy", "statsmodels", "lifelines", "altair",
                "vl-convert-python", "duckdb", "streamlit"):
        assert re.search(rf"^  {re.escape(lib)}: \S+", readme, re.M), lib
    assert "Synthetic" not in readme

    back = pd.read_csv(io.BytesIO(archive.read("patients_2026-11-24.csv")))
    assert len(back) == len(patients) and "patient_id" in back.columns
    table = pd.read_csv(io.BytesIO(archive.read("tables/02_toci-vs-fib_2026-11-24.csv")))
    assert table["a"].tolist() == ["'=cmd", "ok"] and table["b"].tolist() == [1.5, -3]
    png = Image.open(io.BytesIO(archive.read("figures/01_fibrinogen-by-crs_2026-11-24.png")))
    assert png.size[0] >= 3000
    ET.fromstring(archive.read("figures/01_fibrinogen-by-crs_2026-11-24.svg"))


def test_zip_readme_n_falls_back_to_table_and_labels_synthetic(charts, patients):
    rep = Report().add(_spec(charts["single"], synthetic=True))
    meta = ReportMeta(cohort="Demo cohort", when=DAY, synthetic=True)
    archive = zipfile.ZipFile(io.BytesIO(build_zip(rep, meta, patients)))
    readme = archive.read("README.txt").decode("utf-8")
    assert f"n = {len(patients)}" in readme and SYNTHETIC_LABEL in readme
