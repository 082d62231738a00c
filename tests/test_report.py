"""The Report page (views/report.py): list, retitle, reorder, remove, build the pack.

AppTest cannot read a download's bytes, so the built pack is taken from the session state
(where the page keeps it) and opened with python-pptx, pypdf and zipfile.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date

import pytest
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pypdf import PdfReader

from conftest import assert_clean, widget
from core.export import SYNTHETIC_LABEL, Report
from ui import report as rs


def _report(at) -> Report:  # noqa: ANN001
    return at.session_state["report"]


@pytest.fixture()
def pinned(app_test):
    """Cohort page with the CRS and ICANS charts pinned, then switched to the Report page."""
    at = app_test("views/cohort.py")
    widget(at, "fig-crs-grades-add").click().run()
    widget(at, "fig-icans-grades-add").click().run()
    at.switch_page("views/report.py")
    at.run()
    assert_clean(at)
    return at


def test_empty_report_says_how_to_add_figures(app_test):
    at = app_test("views/report.py")
    assert_clean(at)
    assert len(at.info) == 1 and "Add to report" in at.info[0].value
    assert not at.download_button


def test_report_lists_pinned_figures_with_editable_titles(pinned):
    at = pinned
    titles = [t.value for t in at.text_input]
    assert titles == ["CAR-T cohort report", "CRS grade distribution",
                      "ICANS grade distribution"]
    ids = [i.id for i in _report(at)]
    assert widget(at, f"rep-up-{ids[0]}").disabled
    assert widget(at, f"rep-down-{ids[1]}").disabled
    assert len(at.get("vega_lite_chart")) == 2  # a preview per item


def test_retitle_move_and_remove(pinned):
    at = pinned
    first, second = (i.id for i in _report(at))
    at.text_input(key=f"rep-title-{first}").input("CRS grades, whole cohort").run()
    assert _report(at).items[0].figure.title == "CRS grades, whole cohort"

    widget(at, f"rep-down-{first}").click().run()
    assert [i.id for i in _report(at)] == [second, first]
    widget(at, f"rep-up-{first}").click().run()
    assert [i.id for i in _report(at)] == [first, second]

    widget(at, f"rep-remove-{first}").click().run()
    assert_clean(at)
    assert [i.id for i in _report(at)] == [second]
    assert [t.value for t in at.text_input][1:] == ["ICANS grade distribution"]

    at.text_input(key="rep-pack-title").input("CAR-T board 24 Nov").run()
    assert _report(at).title == "CAR-T board 24 Nov"

    widget(at, f"rep-remove-{second}").click().run()
    assert len(at.info) == 1 and "Nothing pinned yet" in at.info[0].value


def test_build_puts_a_deck_pdf_and_zip_in_the_session(pinned):
    at = pinned
    assert not at.download_button  # nothing to download before a build
    widget(at, "rep-build").click().run()
    assert_clean(at)
    assert [b.key for b in at.download_button] == ["rep-dl-pptx", "rep-dl-pdf", "rep-dl-zip"]
    pack = at.session_state[rs.PACK_KEY]

    deck = Presentation(io.BytesIO(pack.files["pptx"]))
    slides = list(deck.slides)
    assert len(slides) == 3  # title slide + 2 figures
    assert abs(deck.slide_width / deck.slide_height - 16 / 9) < 0.01
    assert slides[1].shapes.title.text == "CRS grade distribution"
    for slide in slides[1:]:
        assert any(s.shape_type == MSO_SHAPE_TYPE.PICTURE for s in slide.shapes)
    title_text = "\n".join(s.text_frame.text for s in slides[0].shapes if s.has_text_frame)
    assert "n = 41" in title_text and SYNTHETIC_LABEL in title_text

    assert len(PdfReader(io.BytesIO(pack.files["pdf"])).pages) == 3
    names = zipfile.ZipFile(io.BytesIO(pack.files["zip"])).namelist()
    assert "README.txt" in names and any(n.startswith("patients_") for n in names)
    assert sum(n.endswith(".png") for n in names) == 2

    # a reorder makes the built pack stale; rebuilding reuses every rendered figure
    first = _report(at).items[0].id
    widget(at, f"rep-down-{first}").click().run()
    assert not at.download_button
    assert any("build again" in c.value for c in at.caption)
    widget(at, "rep-build").click().run()
    rebuilt = at.session_state[rs.PACK_KEY]
    assert rebuilt.renders == 0
    deck = Presentation(io.BytesIO(rebuilt.files["pptx"]))
    assert list(deck.slides)[1].shapes.title.text == "ICANS grade distribution"


def test_filter_change_keeps_the_report(pinned):
    at = pinned
    widget(at, "flt_crs_grade").set_value([1, 2]).run()
    assert_clean(at)
    assert len(_report(at)) == 2
    assert [t.value for t in at.text_input][1:] == ["CRS grade distribution",
                                                   "ICANS grade distribution"]
    at.switch_page("views/cohort.py")
    at.run()
    widget(at, "fig-crs-grades-add").click().run()
    report = _report(at)
    assert len(report) == 3 and "n = 33" in report.items[2].figure.caption
    at.switch_page("views/report.py")
    at.run()
    assert any("different filters" in w.value for w in at.warning)


def test_report_meta_comes_from_the_session_view(pinned):
    at = pinned
    view = at.session_state["_view"]
    meta = rs.report_meta(view, _report(at), when=date(2026, 11, 24))
    assert meta.synthetic and meta.n == 41 and meta.filters == view.caption
    assert meta.cohort == view.source
    import core
    assert meta.app_version == core.__version__
