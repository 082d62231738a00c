"""Export end to end in headless Chromium: a PNG from the cohort page, a deck from the Report page.

The download buttons use Streamlit's deferred ``data`` callables, so these tests also prove that
the click -> server render -> browser download path works with Debian's chromium.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE

from conftest import ARTIFACTS, screenshot, wait_idle

pytestmark = pytest.mark.browser


def _chart_block(page, n: int):  # noqa: ANN001, ANN202
    """The n-th chart's action row: its Download popover and Add-to-report button."""
    return (page.locator('[data-testid="stPopover"]').filter(has_text="Download").nth(n)
            .locator("button").first,
            page.get_by_role("button", name="Add to report").nth(n))


def _download(page, click) -> bytes:  # noqa: ANN001, ANN202
    with page.expect_download(timeout=60_000) as info:
        click()
    download = info.value
    assert download.failure() is None, download.failure()
    return Path(download.path()).read_bytes(), download.suggested_filename


def test_download_png_from_the_first_chart(page, server):
    page.goto(server)
    wait_idle(page)
    page.wait_for_selector(".vega-embed", timeout=60_000)
    menu, _ = _chart_block(page, 0)
    menu.click()
    item = page.get_by_role("button", name="PNG · slides")
    item.wait_for()
    screenshot(page, "export-cohort-menu")
    png, name = _download(page, item.click)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert name.startswith("crs-grades_") and name.endswith(".png")
    image = Image.open(io.BytesIO(png))
    assert image.width >= 3000
    assert image.info["dpi"][0] == pytest.approx(300, abs=1)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "export-crs-grades.png").write_bytes(png)
    assert "Traceback" not in page.inner_text("body")


def test_pin_two_charts_and_download_the_deck(page, server):
    page.goto(server)
    wait_idle(page)
    page.wait_for_selector(".vega-embed", timeout=60_000)
    for n in (0, 1):
        _, add = _chart_block(page, n)
        add.click()
        wait_idle(page)
    page.get_by_text("to the report (2 figures)").first.wait_for()
    screenshot(page, "export-cohort-page")

    more = page.get_by_text(re.compile(r"^View \d+ more$"))  # the sidebar folds long lists
    if more.count():
        more.first.click()
    page.get_by_role("link", name="Report").click()
    wait_idle(page)
    page.get_by_role("button", name="Build meeting pack").click()
    page.get_by_role("button", name="PowerPoint (16:9)").wait_for(timeout=120_000)
    wait_idle(page)
    page.get_by_role("button", name="PowerPoint (16:9)").scroll_into_view_if_needed()
    screenshot(page, "export-report-page")
    data, name = _download(page, page.get_by_role("button", name="PowerPoint (16:9)").click)
    assert name.endswith(".pptx")
    deck = Presentation(io.BytesIO(data))
    slides = list(deck.slides)
    assert len(slides) == 3
    assert [s.shapes.title.text for s in slides[1:]] == ["CRS grade distribution",
                                                         "ICANS grade distribution"]
    for slide in slides[1:]:
        assert any(s.shape_type == MSO_SHAPE_TYPE.PICTURE for s in slide.shapes)
    assert "Traceback" not in page.inner_text("body")
