"""Correlations page through AppTest: scatter with Pearson and Spearman, the matrix, filter
reruns, control changes and the n < 4 message."""

from __future__ import annotations

from conftest import assert_clean, widget

PAGE = "views/correlations.py"


def scatter_stat(at) -> str:  # noqa: ANN001
    return next(c.value for c in at.caption if c.value.startswith("Spearman r ="))


def test_renders_figure_1c_on_the_demo(app_test):
    at = app_test(PAGE)
    assert_clean(at)
    assert at.title[0].value == "Correlations"
    s = scatter_stat(at)
    # r, CI, p: scipy directly, tests/test_correlations.py::test_values_the_pages_print_are_scipys
    assert s.startswith("Spearman r = -0.54 (95% CI -0.73 to -0.28), p < 0.001")
    assert "Pearson r = -0.37" in s and s.endswith("n = 41")
    assert any(c.value.startswith("Spearman r with pairwise complete n (n = 41)")
               for c in at.caption)
    # the CI's method is labelled: approximate for Spearman
    table = next(d.value for d in at.dataframe if "CI method" in d.value.columns)
    methods = dict(zip(table["Method"], table["CI method"]))
    assert "approximate for Spearman" in methods["Spearman"]
    assert "cor.test" in methods["Pearson"]
    assert any("an approximation for Spearman" in c.value for c in at.caption)


def test_sidebar_filter_changes_n(app_test):
    at = app_test(PAGE)
    widget(at, "flt_crs_grade").set_value([1, 2]).run()
    assert_clean(at)
    assert scatter_stat(at).endswith("n = 33")


def test_controls_columns_colour_and_method(app_test):
    at = app_test(PAGE)
    widget(at, "co_x").set_value("tocilizumab_cum_mg").run()
    widget(at, "co_y").set_value("fibrinogen_nadir").run()
    widget(at, "co_color").set_value("product").run()
    assert_clean(at)
    assert scatter_stat(at).startswith("Spearman r = -0.81")     # scipy: test_correlations.py
    widget(at, "co_method").set_value("pearson").run()
    assert_clean(at)
    assert any(c.value.startswith("Pearson r with pairwise") for c in at.caption)
    widget(at, "co_matrix").set_value(["age"]).run()
    assert_clean(at)
    assert any("at least two columns" in i.value for i in at.info)


def test_fewer_than_four_pairs_is_a_message(app_test):
    at = app_test(PAGE)
    widget(at, "flt_crs_grade").set_value([3]).run()   # 3 patients
    assert_clean(at)
    assert any("at least 4" in i.value for i in at.info)
    at = app_test(PAGE)
    widget(at, "flt_crs_grade").set_value([3, 4]).run()  # 5 patients, S3C pairs: treated only
    widget(at, "co_x").set_value("tocilizumab_duration_days").run()
    assert_clean(at)
