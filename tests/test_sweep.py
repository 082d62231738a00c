"""No filter can crash a page: every page of app.PAGES under narrow sidebar filters.

On the demo cohort, each CRS grade (0-4) crossed with each product, each grade alone and each
product alone (n = 0 to 20 per combination, including single patients) must give a page with
no exception and no error box: a message that too few patients are in view (st.info or
st.warning) is the expected answer. One AppTest per page; the filter widgets are changed in
place, as a user would, so each combination costs one rerun.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import upload, widget

ROOT = Path(__file__).resolve().parent.parent
GRADES = [0, 1, 2, 3, 4]
PRODUCTS = ["CD19/CD20 (experimental)", "axi-cel", "brexu-cel", "ide-cel", "tisa-cel"]
#: (CRS grades, products): every grade x product, every grade alone, every product alone
COMBINATIONS = ([([g], [p]) for g in GRADES for p in PRODUCTS]
                + [([g], []) for g in GRADES] + [([], [p]) for p in PRODUCTS])


@pytest.fixture(autouse=True)
def error_details():
    """Show exception messages in AppTest (the app's config hides them from browsers)."""
    from streamlit import config

    old = config.get_option("client.showErrorDetails")
    config.set_option("client.showErrorDetails", "full")
    yield
    config.set_option("client.showErrorDetails", old)


def app_pages() -> list[str]:
    """The page files of ``app.PAGES``, read from app.py without running it."""
    tree = ast.parse((ROOT / "app.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "PAGES":
            return [path for _, path, _, _ in ast.literal_eval(node.value)]
    raise AssertionError("app.py defines no PAGES")


def problems(at) -> list[str]:  # noqa: ANN001 - AppTest
    """Exceptions and error boxes on the current run, as short strings."""
    out = [f"exception: {e.value} (at {_last_frame(e.stack_trace)})" for e in at.exception]
    return out + [f"error: {e.value[:300]}" for e in at.error]


def _last_frame(trace: list[str]) -> str:
    frames = [line.strip().split("\n")[0] for line in trace if line.strip().startswith("File")]
    return frames[-1] if frames else "?"


def patients_in_view(at) -> str:  # noqa: ANN001
    return next((m.value for m in at.metric if m.label == "Patients in view"), "?")


@pytest.mark.parametrize("page", app_pages())
def test_narrow_filters_never_crash_a_page(app_test, page):
    at = app_test(page)
    if page == "views/report.py":  # pin a figure first, so the page draws its items
        at.switch_page("views/cohort.py").run()
        next(b for b in at.button if b.label == "Add to report").click().run()
        at.switch_page(page).run()
    assert not problems(at), problems(at)
    failures = []
    for grades, products in COMBINATIONS:
        widget(at, "flt_crs_grade").set_value(grades)
        widget(at, "flt_product").set_value(products)
        at.run()
        if found := problems(at):
            failures.append(f"CRS {grades} x {products} (n = {patients_in_view(at)}): "
                            + "; ".join(found))
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("query", [{"crs_grade": "3", "product": "axi-cel"},   # n = 2
                                   {"crs_grade": "0", "product": "axi-cel"},   # n = 1
                                   {"crs_grade": "4", "product": "ide-cel"}])  # n = 0
def test_a_narrow_link_opens_every_page_cleanly(app_test, query):
    at = app_test(query=query)
    failures = []
    for page in app_pages():
        at.switch_page(page).run()
        if found := problems(at):
            failures.append(f"{page} (n = {patients_in_view(at)}): " + "; ".join(found))
    assert not failures, "\n".join(failures)


def _variant(name: str) -> bytes:
    """A patient upload whose columns are present but unusable in one way."""
    import numpy as np

    from core import ingest

    if name == "template":  # the upload template as shipped: 2 patients, many blank columns
        return (ROOT / "data" / "templates" / "patients.csv").read_bytes()
    demo = ingest.load_demo().patients
    out = demo.copy()
    if name == "blank key columns":
        for c in ("hypofibrinogenemia_grade", "crs_grade", "fibrinogen_nadir", "pfs_days",
                  "tocilizumab_doses", "icans_grade", "product"):
            out[c] = np.nan
    elif name == "all blank":
        out = demo[["patient_id"]].assign(**{c: np.nan for c in demo.columns[1:]})
    elif name == "one value per column":
        out = demo.assign(**{c: demo[c].dropna().iloc[0] for c in demo.columns[1:]
                             if demo[c].notna().any()})
    elif name == "one group":  # everyone treated, one product, one CRS grade
        out = demo.assign(tocilizumab=1, product="axi-cel", crs_grade=2)
    elif name == "one patient":
        out = demo.head(1)
    return out.to_csv(index=False).encode()


@pytest.mark.parametrize("variant", ["template", "blank key columns", "all blank",
                                     "one value per column", "one group", "one patient"])
def test_blank_constant_and_tiny_uploads_never_crash_a_page(app_test, variant):
    at = app_test()
    upload(at, f"{variant}.csv", _variant(variant))
    failures = []
    for page in app_pages():
        at.switch_page(page).run()
        if found := problems(at):
            failures.append(f"{page}: " + "; ".join(found))
    assert not failures, "\n".join(failures)
