""""Show code" (issue 14): core.codegen prints the call a page runs, and the printed code,
executed on its own, gives the numbers the page shows.

Unit tests check the printed literals by hand-written expectations; the page tests take the
code out of every "Show code" popover (AppTest), execute it in a fresh namespace (it loads the
demo, derives the endpoints under the session's settings and applies the sidebar filter itself)
and compare with the page's own tables, captions and metrics.
"""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import assert_clean, widget
from core.analyses import cohort as cohort_analyses
from core.analyses.indicators import OutcomeSpec
from core.codegen import (
    PATIENTS,
    Call,
    Recipe,
    Ref,
    filter_code,
    literal,
    panel_code,
    summary,
)
from core.endpoints import EndpointSettings
from core.filters import CohortFilter
from ui.format import fmt_p, p_text

# ---------------------------------------------------------------------------------------------
# Printing
# ---------------------------------------------------------------------------------------------


def test_filter_is_printed_as_the_expression_that_builds_it():
    flt = CohortFilter().where("product", ["tisa-cel", "axi-cel"]).between("age", 70, 40) \
        .where("crs_grade", [2, 1])
    text = filter_code(flt)
    # conditions in caption order (CRS first), values sorted, range ordered, floats
    assert text == ("CohortFilter().where('crs_grade', [1, 2])"
                    ".where('product', ['axi-cel', 'tisa-cel']).between('age', 40.0, 70.0)")
    assert eval(text, {"CohortFilter": CohortFilter}) == flt  # noqa: S307 - our own text
    assert filter_code(CohortFilter()) == "CohortFilter()"


def test_dataclass_values_print_only_what_differs_from_the_default():
    imports: set[tuple[str, str]] = set()
    assert literal(EndpointSettings(), imports) == "EndpointSettings()"
    assert literal(EndpointSettings(fibrinogen_lln=180.0, window_end=28.0), imports) == \
        "EndpointSettings(fibrinogen_lln=180.0, window_end=28.0)"
    assert ("core.endpoints", "EndpointSettings") in imports  # the public path, not .settings
    spec = OutcomeSpec("hypofibrinogenemia_grade", ">=", 3, "Severe")
    text = literal(spec, imports)
    assert text == ("OutcomeSpec(column='hypofibrinogenemia_grade', op='>=', threshold=3, "
                    "label='Severe')")
    assert eval(text, {"OutcomeSpec": OutcomeSpec}) == spec  # noqa: S307


def test_literals_of_plain_values_and_what_cannot_be_printed():
    imports: set[tuple[str, str]] = set()
    assert literal(("a",), imports) == "('a',)"
    assert literal({"3-4": [3, 4]}, imports) == "{'3-4': [3, 4]}"
    assert literal(float("nan"), imports) == "nan" and ("math", "nan") in imports
    assert literal(0.1 + 0.2, imports) == "0.30000000000000004"  # full precision
    with pytest.raises(ValueError, match="bind it to a Ref"):
        literal(pd.DataFrame({"a": [1]}), imports)
    with pytest.raises(ValueError, match="cannot be imported"):
        Call(lambda df: df, PATIENTS)
    with pytest.raises(ValueError, match="identifier"):
        Ref("not a name")


def test_recipe_runs_and_prints_the_same_steps(demo):
    recipe = Recipe.of(
        event=Call(OutcomeSpec("hypofibrinogenemia_grade", ">=", 1).values, PATIENTS),
        result=Call(cohort_analyses.incidence_by, PATIENTS, Ref("event"), "crs_grade",
                    "Hypofibrinogenemia", bins={"3-4": [3, 4]}))
    assert recipe.refs() == {"patients"}
    ran = recipe.run({"patients": demo})
    assert list(ran) == ["event", "result"]
    assert recipe.code().splitlines() == [
        "from core.analyses.cohort import incidence_by",
        "from core.analyses.indicators import OutcomeSpec",
        "",
        "event = OutcomeSpec(column='hypofibrinogenemia_grade', op='>=', threshold=1)"
        ".values(patients)",
        "result = incidence_by(patients, event, 'crs_grade', 'Hypofibrinogenemia', "
        "bins={'3-4': [3, 4]})",
    ]
    ns: dict = {"patients": demo}
    exec(recipe.code(), ns)  # noqa: S102 - the printed code
    assert summary(ns["result"]) == summary(ran["result"])
    # by hand on the demo: 33 of 41 patients have hypofibrinogenemia (the paper's 80%)
    assert ran["result"].events == int((demo["hypofibrinogenemia_grade"] >= 1).sum())


def test_panel_code_runs_on_its_own_with_the_filter_and_settings():
    recipe = Recipe.of(result=Call(cohort_analyses.grade_counts, PATIENTS["crs_grade"]))
    flt = CohortFilter().where("crs_grade", [1, 2])
    text = panel_code(recipe, flt, EndpointSettings(fibrinogen_lln=180.0), synthetic=True)
    assert "cohort = ingest.load_demo()" in text
    assert "settings = EndpointSettings(fibrinogen_lln=180.0)" in text
    assert "flt = CohortFilter().where('crs_grade', [1, 2])" in text
    assert "result = grade_counts(patients['crs_grade'])" in text
    ns: dict = {}
    exec(text, ns)  # noqa: S102
    counts = ns["result"].set_index("grade")["n"]
    assert counts[0] == counts[3] == counts[4] == 0  # the filter was applied
    assert counts[1] + counts[2] == 33  # CRS 1-2 on the demo: n = 33 (test_page_cohort)
    upload = panel_code(recipe, flt, EndpointSettings(), synthetic=False, source="my.csv")
    assert "# cohort = your upload (my.csv)" in upload and "load_demo" not in upload


# ---------------------------------------------------------------------------------------------
# Pages: the shown code gives the shown numbers
# ---------------------------------------------------------------------------------------------

def _run_codes(at) -> dict[str, dict]:  # noqa: ANN001
    """Every distinct "Show code" text on the page -> the namespace it leaves."""
    out: dict[str, dict] = {}
    for block in at.code:
        if block.value not in out:
            ns: dict = {}
            exec(block.value, ns)  # noqa: S102 - the page's own code
            out[block.value] = ns
    assert out, "no Show code on the page"
    return out


def _one(codes: dict[str, dict], needle: str) -> dict:
    found = [ns for text, ns in codes.items() if needle in text]
    assert len(found) == 1, (needle, len(found))
    return found[0]


def test_cohort_page_code_gives_table_1_grades_and_incidence(app_test):
    at = app_test()
    widget(at, "flt_crs_grade").set_value([1, 2, 3]).run()
    assert_clean(at)
    codes = _run_codes(at)
    table_one = _one(codes, "table_one(")["result"]
    pd.testing.assert_frame_equal(cohort_analyses.format_table_one(table_one),
                                  at.dataframe[0].value)
    crs = _one(codes, "grade_counts(patients['crs_grade'])")["counts"]
    captions = [c.value for c in at.caption]
    assert f"n = {int(crs['n'].sum())} with a recorded grade" in captions
    inc = _one(codes, "incidence_by(")["result"]
    shown = next(d.value for d in at.dataframe if "events" in d.value.columns)
    assert summary(inc.table) == summary(shown)
    assert any(c.startswith(f"{inc.events}/{inc.n} patients") for c in captions)


def test_correlations_page_code_gives_r_and_p(app_test):
    at = app_test("views/correlations.py")
    codes = _run_codes(at)
    cp = _one(codes, "correlation_panel(")["result"]
    stat = next(c.value for c in at.caption if c.value.startswith("Spearman r ="))
    r = cp.spearman
    assert stat.startswith(f"Spearman r = {r.r:.2f} (95% CI {r.ci_low:.2f} to "
                           f"{r.ci_high:.2f}), {p_text(r.pvalue)}")
    mat = _one(codes, "correlation_matrix(")["result"]
    assert any(c.value.startswith(f"Spearman r with pairwise complete n (n = "
                                  f"{int(mat['n'].min())}") for c in at.caption)


def test_survival_page_code_gives_log_rank_and_medians(app_test):
    at = app_test("views/survival.py")
    assert_clean(at)
    codes = _run_codes(at)
    res = next(ns["result"] for text, ns in codes.items()
               if "survival_analysis(" in text and ", (), " in text)  # the KM call
    km = res.km
    captions = [c.value for c in at.caption]
    assert any(c.startswith(f"Log-rank {p_text(km.logrank.pvalue)}")
               and f"n = {km.n}" in c for c in captions)
    medians = next(d.value for d in at.dataframe if "Median, days (95% CI)" in d.value.columns)
    assert medians["n"].tolist() == km.medians["n"].tolist()


def test_risk_factors_page_code_gives_events_and_odds_ratios(app_test):
    at = app_test("views/risk_factors.py")
    codes = _run_codes(at)
    res = _one(codes, "risk_factor_analysis(")["result"]
    assert any(f"**{res.events} of {res.n_outcome_known}**" in m.value for m in at.markdown)
    uni = next(d.value for d in at.dataframe if "OR (95% CI)" in d.value.columns)
    assert uni["p"].tolist() == res.univariable["pvalue"].map(fmt_p).tolist()


def test_endpoints_page_code_gives_the_summary(app_test):
    at = app_test("views/endpoints.py")
    codes = _run_codes(at)
    sm = _one(codes, "summarise(")["result"]
    shown = next(m.value for m in at.metric if m.label == "Fibrinogen measured")
    assert shown == f"{sm.n_measured} of {sm.n}"
    derived = _one(codes, "derived = apply_to_cohort(cohort, settings)")["derived"]
    per_patient = derived.endpoints.patients
    table = next(d.value for d in at.dataframe
                 if list(d.value.columns) == list(per_patient.columns))
    assert summary(table) == summary(per_patient)  # no filter: every patient


@pytest.mark.parametrize("page, needle, n_of", [
    ("views/lab_values.py", "group_panel(", lambda r: r.n),
    ("views/tocilizumab.py", "dose_panel(", lambda r: r.result.n),
    ("views/time_course.py", "time_course(", lambda r: r.n_with_values),
    ("views/paper_figures.py", "reproduce(", None),
])
def test_other_pages_code_runs_and_gives_the_shown_n(app_test, page, needle, n_of):
    at = app_test(page)
    assert_clean(at)
    codes = _run_codes(at)
    captions = " | ".join(c.value for c in at.caption)
    found = [ns for text, ns in codes.items() if needle in text]
    assert found
    for ns in found:
        result = ns.get("result", ns.get("findings"))
        if n_of is not None:
            n = n_of(result)
            assert f"n = {n}" in captions or f"{n} patients" in captions, (page, n)


# ---------------------------------------------------------------------------------------------
# st.fragment: panels with their own widgets rerun alone
# ---------------------------------------------------------------------------------------------

def _fragments(at) -> set[str]:  # noqa: ANN001
    """Names of the functions the last run registered as st.fragment (AppTest itself reruns
    the whole script, so the registration is what can be checked here)."""
    names = set()
    for wrapped in at._fragment_storage._fragments.values():
        for cell in wrapped.__closure__ or ():
            code = getattr(cell.cell_contents, "__code__", None)
            if code is not None and "/views/" in code.co_filename:
                names.add(cell.cell_contents.__name__)
    return names


def test_panels_with_their_own_widgets_are_fragments(app_test):
    at = app_test()
    assert "hypofibrinogenemia_by_crs" in _fragments(at)
    toggle = next(t for t in at.toggle if t.label.startswith("Pool CRS grades"))
    toggle.set_value(False).run()
    assert_clean(at)
    shown = next(d.value for d in at.dataframe if "events" in d.value.columns)
    assert shown["group"].tolist() == ["0", "1", "2", "3", "4"]  # grades 3 and 4 apart
    at = app_test("views/survival.py")
    assert {"cox_section", "time_varying_section", "competing_section"} <= _fragments(at)
    at = app_test("views/correlations.py")
    assert {"scatter_section", "matrix_section"} <= _fragments(at)
    at = app_test("views/time_course.py")
    assert "time_course_panel" in _fragments(at)
