"""The Cohort page (the app's default page) through AppTest: the demo with Table 1, filter
reruns, the stratification choice and the shipped template upload."""

from __future__ import annotations

from pathlib import Path

from conftest import assert_clean, upload, widget


def metric(at) -> str:  # noqa: ANN001
    return next(m.value for m in at.metric if m.label == "Patients in view")


def test_cohort_page_renders_demo_and_reruns_on_filter(app_test):
    at = app_test()
    assert_clean(at)
    assert metric(at) == "41 of 41"
    assert any("synthetic demo cohort" in c.value for c in at.caption)
    assert at.title[0].value == "Cohort"
    widget(at, "flt_crs_grade").set_value([1, 2]).run()
    assert_clean(at)
    assert metric(at) == "33 of 41"
    assert any(c.value.startswith("CRS 1-2 · n = 33") for c in at.caption)


def test_table_1_stratification_choice(app_test):
    at = app_test()
    sb = next(s for s in at.selectbox if s.label == "Stratify Table 1 by")
    assert sb.value == "tocilizumab"
    sb.set_value(None).run()
    assert_clean(at)
    sb = next(s for s in at.selectbox if s.label == "Stratify Table 1 by")
    sb.set_value("sex").run()
    assert_clean(at)


def test_template_upload_with_blank_columns_renders_the_cohort_page(app_test):
    """The shipped template has hypofibrinogenemia_grade as a blank column: the page says
    what it needs instead of failing (it raised KeyError: 'events')."""
    at = app_test()
    template = Path(__file__).parent.parent / "data" / "templates" / "patients.csv"
    upload(at, "patients.csv", template.read_bytes())
    assert_clean(at)
    assert metric(at) == "2 of 2"
    assert any("Needs patients with both a hypofibrinogenemia_grade and a crs_grade" in c.value
               for c in at.caption)
    table = at.dataframe[0].value
    assert "Total" in table["Parameter"].str.strip("\u2003").tolist()
