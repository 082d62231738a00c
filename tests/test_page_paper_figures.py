"""Paper figures page through AppTest: the grid with paper-vs-cohort lines and the findings
table, filter reruns and a tiny selection."""

from __future__ import annotations

from conftest import assert_clean, widget

PAGE = "views/paper_figures.py"


def lines(at) -> list[str]:  # noqa: ANN001
    return [c.value for c in at.caption if c.value.startswith("Paper:")]


def test_renders_grid_and_summary(app_test):
    at = app_test(PAGE)
    assert_clean(at)
    assert at.title[0].value == "Paper figures"
    ls = lines(at)
    assert len(ls) == 14                                    # 1A-F, 2A-D, 3A-D
    # this cohort's r, p, n: scipy on hand-made subsets (tests/test_paper_figures.py)
    b3 = next(s for s in ls if s.startswith("Paper: r = -0.44, P = 0.004"))
    assert "This cohort: r = -0.81, p < 0.001, n = 41 · ✓ agrees" in b3
    assert sum("✗ differs" in s for s in ls) == 0
    assert at.metric[0].value == "17 of 17"
    table = at.dataframe[-1].value
    assert len(table) == 17 and list(table["Finding"])[-1] == "S3C"


def test_sidebar_filter_changes_n(app_test):
    at = app_test(PAGE)
    widget(at, "flt_product").set_value(["axi-cel", "tisa-cel"]).run()
    assert_clean(at)
    assert any("n = 32" in s for s in lines(at))


def test_small_selection_shows_messages(app_test):
    at = app_test(PAGE)
    widget(at, "flt_crs_grade").set_value([3, 4]).run()
    assert_clean(at)
    assert at.info and any("not computed" in s for s in lines(at))
    widget(at, "flt_crs_grade").set_value([4]).run()
    assert_clean(at)
    assert any("at least 4" in i.value for i in at.info)
