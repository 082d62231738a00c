"""The report pack's notebook (issue 14, "a pack a statistician can rerun").

The app pins figures (AppTest, the real pages, a filter and a non-default endpoint setting),
builds the pack, and the ZIP's report.ipynb is executed with nbclient in the .venv's python3
kernel, from the unzipped folder with the repository on sys.path. Every recomputed statistic
must equal what the app showed: the incidence table and its "k/n patients" line, the grade
counts behind "n = ... with a recorded grade", and for every pinned figure (Cohort, Survival,
Correlations, Lab values) the result of its "Show code" on the whole demo.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import nbformat
import pandas as pd
from nbclient import NotebookClient

import export_cases as cases
from conftest import assert_clean, widget
from core.analyses.cohort import grade_counts
from core.codegen import PATIENTS, Call, PanelCode, Recipe, summary
from core.endpoints import EndpointSettings
from core.export import Report, ReportItem
from core.export.notebook import build_notebook, csv_dtypes, read_pack_csv
from core.export.tables import safe_csv
from core.filters import CohortFilter

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = EndpointSettings(fibrinogen_lln=180.0)
PAGES = ("views/survival.py", "views/correlations.py", "views/lab_values.py")


def _button(at, key: str):  # noqa: ANN001, ANN202 - AppTest element
    return next(b for b in at.button if b.key == key)


def _pinned_pack(app_test) -> tuple[bytes, dict, object]:  # noqa: ANN001
    """Pin two Cohort-page figures under CRS 1-3 and fibrinogen LLN 180 mg/dL; build."""
    at = app_test()
    at.session_state["endpoint_settings"] = SETTINGS
    at.run()
    widget(at, "flt_crs_grade").set_value([1, 2, 3]).run()
    # the panel's own widget: a fragment rerun (any grade: LLN 180 changes these counts)
    next(t for t in at.toggle if t.label.startswith("Pool CRS grades")).set_value(False).run()
    assert_clean(at)
    shown = {
        "incidence": next(d.value for d in at.dataframe if "events" in d.value.columns),
        "captions": [c.value for c in at.caption],
    }
    _button(at, "fig-crs-grades-add").click().run()
    _button(at, "fig-hypofibrinogenemia-by-crs-add").click().run()
    assert_clean(at)
    for page in PAGES:  # the first figure of three more pages
        at.switch_page(page).run()
        assert_clean(at)
        next(b for b in at.button if b.key.startswith("fig-") and b.key.endswith("-add")) \
            .click().run()
    assert len(at.session_state["report"]) == 2 + len(PAGES)
    at.switch_page("views/report.py").run()
    _button(at, "rep-build").click().run()
    assert_clean(at)
    return at.session_state["_report_pack"].files["zip"], shown, at.session_state["report"]


def _execute(zip_bytes: bytes, folder: Path, monkeypatch) -> dict:  # noqa: ANN001
    zipfile.ZipFile(io.BytesIO(zip_bytes)).extractall(folder)
    nb = nbformat.reads((folder / "report.ipynb").read_text("utf-8"), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import json\nfrom core.codegen import summary\n"
        "print('RESULTS=' + json.dumps({k: summary(v) for k, v in results.items()}))"))
    monkeypatch.setenv("CART_EXPLORER_REPO", str(ROOT))
    NotebookClient(nb, kernel_name="python3", timeout=300,
                   resources={"metadata": {"path": str(folder)}}).execute()
    text = "".join(out.get("text", "") for out in nb.cells[-1].outputs)
    return json.loads(text.split("RESULTS=", 1)[1])


def test_executed_notebook_reproduces_the_apps_statistics(app_test, tmp_path, monkeypatch):
    zip_bytes, shown, report = _pinned_pack(app_test)
    names = zipfile.ZipFile(io.BytesIO(zip_bytes)).namelist()
    assert "report.ipynb" in names
    assert any(n.startswith("labs_") for n in names) and any(n.startswith("treatments_")
                                                             for n in names)
    results = _execute(zip_bytes, tmp_path, monkeypatch)
    assert sorted(results) == ["1", "2", "3", "4", "5"]

    # 01: CRS grade counts; the app said "n = <sum> with a recorded grade" (CRS 1-3 only)
    counts = results["1"]
    n_col = counts["columns"].index("n")
    grade_col = counts["columns"].index("grade")
    by_grade = {row[grade_col]: row[n_col] for row in counts["rows"]}
    total = int(sum(by_grade.values()))
    assert f"n = {total} with a recorded grade" in shown["captions"]
    assert by_grade[0.0] == 0 and by_grade[4.0] == 0  # the filter CRS 1-3 was applied

    # 02: hypofibrinogenemia (any grade) by CRS grade, grades 3 and 4 not pooled: the table
    # and "k/n patients" as shown
    inc = results["2"]
    assert inc["table"] == summary(shown["incidence"])
    k = sum(row[2] for row in inc["table"]["rows"])
    n = sum(row[1] for row in inc["table"]["rows"])
    assert any(c.startswith(f"{int(k)}/{int(n)} patients") for c in shown["captions"])
    assert inc["event_label"] == "Hypofibrinogenemia"
    assert [row[0] for row in inc["table"]["rows"]] == ["1", "2", "3"]  # not pooled

    # every figure: the notebook's result (from the pack's CSVs) equals the result of the
    # figure's "Show code" run on the whole demo (tests/test_codegen.py: that code gives the
    # page's numbers)
    for i, item in enumerate(report, start=1):
        ns: dict = {}
        exec(item.code.text(), ns)  # noqa: S102 - the app's own code
        assert results[str(i)] == summary(ns[item.code.recipe.result_name]), item.figure.title


def test_notebook_says_how_to_run_and_carries_filter_and_settings(app_test):
    zip_bytes, _, _ = _pinned_pack(app_test)
    archive = zipfile.ZipFile(io.BytesIO(zip_bytes))
    nb = json.loads(archive.read("report.ipynb"))
    assert nb["nbformat"] == 4 and nb["metadata"]["kernelspec"]["name"] == "python3"
    text = ["".join(c["source"]) for c in nb["cells"]]
    assert "How to run" in text[0] and "sys.path" in text[0]
    assert "CRS 1-3" in text[0]  # the filter caption, as text
    code = "\n".join(t for t, c in zip(text, nb["cells"]) if c["cell_type"] == "code")
    assert "EndpointSettings(fibrinogen_lln=180.0)" in code
    assert "CohortFilter().where('crs_grade', [1, 2, 3])" in code
    assert re.search(r"read_pack_csv\('patients_\d{4}-\d\d-\d\d\.csv'", code)


def test_read_pack_csv_gives_back_text_ids_and_guarded_cells(tmp_path):
    frame = pd.DataFrame({"patient_id": ["007", "=1+1", "-x"], "value": [0.1 + 0.2, None, 3.0],
                          "grade": pd.array([1, None, 3], dtype="Int64")})
    path = tmp_path / "t.csv"
    path.write_bytes(safe_csv(frame))
    back = read_pack_csv(path, csv_dtypes(frame))
    assert back["patient_id"].tolist() == ["007", "=1+1", "-x"]
    assert back["value"].iloc[0] == 0.1 + 0.2  # full precision, not 0.3
    assert back["grade"].dtype == "Int64" and back["grade"].isna().tolist() == [False, True,
                                                                                False]


def test_items_without_printable_code_are_listed_not_recomputed():
    chart = cases.charts()["single"]
    good = PanelCode(Recipe.of(result=Call(grade_counts, PATIENTS["crs_grade"])),
                     CohortFilter().where("crs_grade", [1, 2]), EndpointSettings())
    bad = PanelCode(Recipe.of(result=Call(grade_counts, pd.Series([1, 2]))), CohortFilter(),
                    EndpointSettings())
    report = Report()
    for title, code in (("No recipe", None), ("Bad", bad), ("Good", good)):
        report = report.add(ReportItem(cases.spec(chart, title=title), code=code))
    raw = build_notebook(report, cases.meta(),
                         {"patients": ("patients.csv", {"patient_id": "str"})})
    nbformat.validate(nbformat.reads(raw.decode("utf-8"), as_version=4))  # nbformat's schema
    nb = json.loads(raw)
    cells = [(c["cell_type"], "".join(c["source"])) for c in nb["cells"]]
    assert all("id" in c for c in nb["cells"]) and nb["nbformat_minor"] == 5
    kinds = [k for k, _ in cells]
    # intro, path, heading, load; then: 01 text; 02 text + why not; 03 text + code
    assert kinds == ["markdown", "code", "markdown", "code", "markdown", "markdown", "markdown",
                     "markdown", "code"]
    assert "no recipe to recompute it" in cells[4][1]
    assert "Not recomputed" in cells[6][1] and "bind it to a Ref" in cells[6][1]
    assert "read_pack_csv('patients.csv', {'patient_id': 'str'})" in cells[3][1]
    assert "labs = None" in cells[3][1]
    assert cells[8][1].endswith("results[3] = result\nresult")
    assert "flt = CohortFilter().where('crs_grade', [1, 2])" in cells[8][1]
    # every figure was pinned under the meta's filter caption: no "another filter" note
    assert not any("another filter" in text for _, text in cells)
