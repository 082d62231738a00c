"""Tocilizumab page through AppTest: Figure 3 and S3 on the demo, filter and control changes,
and a filter that leaves no untreated patient."""

from __future__ import annotations

from conftest import assert_clean, widget

PAGE = "views/tocilizumab.py"


def stat_of(at, start: str) -> list[str]:  # noqa: ANN001
    return [c.value for c in at.caption if c.value.startswith(start)]


def test_renders_figure_3_and_s3(app_test):
    at = app_test(PAGE)
    assert_clean(at)
    assert at.title[0].value == "Tocilizumab"
    # r: scipy directly (tests/test_correlations.py::test_values_the_pages_print_are_scipys);
    # 23/24 vs 0/9: the paper's counts (tests/test_tocilizumab.py::test_crs12_counts_are_the_papers)
    spearman = stat_of(at, "Spearman r =")
    assert len(spearman) == 5                                   # 3B, 3C, S3A, S3B, S3C
    assert spearman[0].startswith("Spearman r = -0.81") and "n = 41" in spearman[0]
    assert "n = 21" in spearman[1] and "n = 29" in spearman[4]
    assert stat_of(at, "Kruskal-Wallis p < 0.001 · n = 41")     # 3D
    crs = next(m.value for m in at.markdown if m.value.startswith("**CRS 1-2"))
    assert "Mann-Whitney U p < 0.001" in crs and "23/24 vs 0/9" in crs


def test_sidebar_filter_changes_n(app_test):
    at = app_test(PAGE)
    widget(at, "flt_crs_grade").set_value([1, 2]).run()
    assert_clean(at)
    assert "n = 33" in stat_of(at, "Spearman r =")[0]


def test_method_and_treated_only(app_test):
    at = app_test(PAGE)
    widget(at, "tz_method").set_value("pearson").run()
    assert_clean(at)
    assert stat_of(at, "Pearson r = -0.79")                    # scipy: test_correlations.py
    widget(at, "tz_treated").set_value(True).run()
    widget(at, "tz_pool").set_value(False).run()
    assert_clean(at)
    assert "n = 29" in stat_of(at, "Pearson r =")[0]


def test_only_treated_in_view_explains_instead_of_failing(app_test):
    at = app_test(PAGE)
    widget(at, "flt_crs_grade").set_value([3, 4]).run()   # all treated, 5 patients
    assert_clean(at)
    # the CRS 1-2 comparison says why it is missing, as information
    assert any("CRS 1-2, tocilizumab vs none" in i.value and "CRS grade 1-2" in i.value
               for i in at.info)
    assert at.info                                          # 3C/S3B: < 4 recovered pairs


def test_ci_method_and_small_groups_are_on_the_page(app_test):
    at = app_test(PAGE)
    assert_clean(at)
    ci = [c.value for c in at.caption if "95% CI: Fisher z" in c.value]
    assert len(ci) == 5 and all("approximate for Spearman" in c for c in ci)
    small = [c.value for c in at.caption if "fewer than 3 patients" in c.value]
    # 3A with CRS 3-4 pooled: the untreated arm has one patient with CRS grade 2
    assert any(s.startswith("⚠ No tocilizumab, CRS grades: Group 2 (n = 1)") for s in small)


def test_small_group_notes_on_hand_built_patients():
    import pandas as pd

    from core.analyses import tocilizumab
    df = pd.DataFrame({"patient_id": [f"P{i}" for i in range(10)],
                       "tocilizumab_doses": [0, 0, 0, 1, 1, 1, 2, 2, 2, 4],
                       "hypofibrinogenemia_grade": [0, 0, 1, 1, 1, 2, 2, 3, 3, 4]})
    gd = tocilizumab.grade_by_doses(df)
    assert [n.kind for n in gd.notes] == ["small_groups"]
    assert "Group 4 (n = 1)" in gd.notes[0].text
    assert tocilizumab.grade_by_doses(df.iloc[:9]).notes == ()
