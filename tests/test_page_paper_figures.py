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
    # r = -0.81 against the paper's -0.44: the CI excludes it, so "stronger", not "agrees"
    assert "This cohort: r = -0.81, p < 0.001, n = 41 · ↑ stronger" in b3
    assert "excludes r = -0.44" in b3
    assert sum("✗ opposite" in s for s in ls) == 0
    a1 = next(s for s in ls if s.startswith("Paper: no p printed; lower"))
    assert "✓ consistent (direction only)" in a1
    # no "N of M reproduced" headline on the synthetic demo, and it says why
    assert not [m for m in at.metric if "reproduced" in m.label.lower()]
    assert any("built" in i.value or "generated to match" in i.value for i in at.info)
    table = at.dataframe[-1].value
    assert len(table) == 17 and list(table["Finding"])[-1] == "S3C"
    assert dict(zip(table["Finding"], table["Verdict"]))["S3A"] == "↑ stronger"


def test_sidebar_filter_changes_n(app_test):
    at = app_test(PAGE)
    widget(at, "flt_product").set_value(["axi-cel", "tisa-cel"]).run()
    assert_clean(at)
    assert any("n = 32" in s for s in lines(at))


def test_small_selection_shows_messages(app_test):
    at = app_test(PAGE)
    widget(at, "flt_crs_grade").set_value([3, 4]).run()
    assert_clean(at)
    assert at.info and any("not testable" in s for s in lines(at))
    widget(at, "flt_crs_grade").set_value([4]).run()
    assert_clean(at)
    assert any("at least 4" in i.value for i in at.info)


def test_an_upload_gets_a_verdict_tally_not_the_demo_note(app_test):
    from pathlib import Path

    from conftest import upload
    at = app_test(PAGE)
    data = (Path(__file__).resolve().parents[1] / "data" / "demo_patients.csv").read_bytes()
    at = upload(at, "patients.csv", data)
    at.switch_page(PAGE)
    at.run()
    assert_clean(at)
    tally = [c.value for c in at.caption if c.value.startswith("Verdicts on this cohort")]
    assert tally and "↑ stronger 2" in tally[0]
    assert not any("generated to match" in i.value for i in at.info)
