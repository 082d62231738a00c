"""ui.figures: every chart and table gets its export actions; pins go to the session report.

AppTest cannot click a download (nor run its deferred ``data`` callable), so the download
callables and the per-session render memo are tested directly, and the page tests check the
controls and the session state.
"""

from __future__ import annotations

import io

import altair as alt
import pandas as pd
import pytest
from PIL import Image

from conftest import assert_clean, widget
from core.export import SYNTHETIC_LABEL, FigureSpec, Report
from ui import figures
from ui import report as rs

CHART_NAMES = ("crs-grades", "icans-grades", "hypofibrinogenemia-by-crs")


def _bar() -> alt.Chart:
    df = pd.DataFrame({"grade": ["0", "1", "2"], "n": [3, 13, 20]})
    return alt.Chart(df).mark_bar().encode(x="grade:N", y="n:Q")


def _report(at) -> Report:  # noqa: ANN001
    return at.session_state["report"] if "report" in at.session_state else Report()


# --------------------------------------------------------------------------------------------
# the cohort page's controls
# --------------------------------------------------------------------------------------------

def test_cohort_page_has_download_and_pin_controls_for_every_chart(app_test):
    at = app_test("views/cohort.py")
    assert_clean(at)
    downloads = {b.key for b in at.download_button}
    buttons = {b.key for b in at.button}
    for name in CHART_NAMES:
        assert {f"fig-{name}-png", f"fig-{name}-svg", f"fig-{name}-pdf"} <= downloads
        assert f"fig-{name}-add" in buttons
    # tables: CSV + XLSX, with keys that do not clash with the chart of the same name
    assert {"tbl-table-1-csv", "tbl-table-1-xlsx", "tbl-hypofibrinogenemia-by-crs-csv",
            "tbl-hypofibrinogenemia-by-crs-xlsx"} <= downloads
    labels = {b.label for b in at.download_button}
    assert {"PNG · slides", "SVG · vector", "PDF · vector", "CSV", "XLSX"} <= labels


def test_nothing_is_rendered_on_a_rerun(app_test):
    at = app_test("views/cohort.py")
    widget(at, "flt_crs_grade").set_value([1, 2]).run()
    at.run()
    memo = at.session_state[rs.RENDERS_KEY]
    assert memo.renders == 0 and len(memo) == 0


def test_add_to_report_pins_one_item_and_a_second_click_is_harmless(app_test):
    at = app_test("views/cohort.py")
    widget(at, "fig-crs-grades-add").click().run()
    assert_clean(at)
    report = _report(at)
    assert len(report) == 1
    fig = report.items[0].figure
    assert fig.title == "CRS grade distribution"
    assert fig.caption.endswith("synthetic demo cohort") and "n = 41" in fig.caption
    assert fig.stat == "n = 41 with a recorded grade"
    assert fig.synthetic and fig.name == "crs-grades"
    assert any("Added" in t.value for t in at.toast)

    widget(at, "fig-crs-grades-add").click().run()
    assert len(_report(at)) == 1
    assert any("already in the report" in t.value for t in at.toast)

    widget(at, "fig-icans-grades-add").click().run()
    assert [i.figure.name for i in _report(at)] == ["crs-grades", "icans-grades"]


def test_filter_change_keeps_the_report_and_new_pins_carry_the_new_caption(app_test):
    at = app_test("views/cohort.py")
    widget(at, "fig-crs-grades-add").click().run()
    widget(at, "flt_crs_grade").set_value([1, 2]).run()
    assert_clean(at)
    assert len(_report(at)) == 1  # kept
    widget(at, "fig-crs-grades-add").click().run()  # same chart name, new data and caption
    first, second = _report(at).items
    assert "n = 41" in first.figure.caption
    assert "CRS" in second.figure.caption and "n = 33" in second.figure.caption
    assert second.figure.caption != first.figure.caption


# --------------------------------------------------------------------------------------------
# the lazy download callables and the session memo
# --------------------------------------------------------------------------------------------

def test_lazy_png_is_rendered_once_and_then_served_from_the_memo():
    memo = rs.RenderMemo()
    spec = FigureSpec(_bar(), title="CRS grades", caption="n = 41 · synthetic demo cohort",
                      stat="n = 36 with a grade", name="crs-grades", synthetic=True)
    data = figures.lazy_figure(spec, "png", memo)
    png = data()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(png))
    assert image.width >= 3000
    assert image.info["dpi"][0] == pytest.approx(300, abs=1)
    assert data() is png and memo.renders == 1
    # the same chart drawn again on a later rerun (a new, equal object) hits the memo
    again = FigureSpec(_bar(), title="CRS grades", caption="n = 41 · synthetic demo cohort",
                       stat="n = 36 with a grade", name="crs-grades", synthetic=True)
    assert figures.lazy_figure(again, "png", memo)() is png and memo.renders == 1
    # a different caption is a different image
    other = FigureSpec(_bar(), title="CRS grades", caption="CRS 1-2 · n = 33", synthetic=True)
    assert figures.lazy_figure(other, "png", memo)() != png and memo.renders == 2
    svg = figures.lazy_figure(spec, "svg", memo)().decode()
    assert "n = 41" in svg and SYNTHETIC_LABEL.split()[0] in svg
    assert figures.lazy_figure(spec, "pdf", memo)()[:5] == b"%PDF-"


def test_render_memo_is_bounded_by_bytes():
    memo = rs.RenderMemo(max_bytes=10)
    memo.put(("a",), b"123456")
    memo.put(("b",), b"123456")
    assert memo.get(("a",)) is None and memo.get(("b",)) == b"123456"


def test_table_height_fits_up_to_40_rows():
    assert figures.table_height(3) == 4 * 35 + 3
    assert figures.table_height(40) == 41 * 35 + 3
    assert figures.table_height(500) == figures.table_height(40)
    assert figures.table_height(0) == figures.table_height(1)
