"""The Swimmer plot page in a real browser (`streamlit run` + headless Chromium): the chart is
drawn at one 20-px lane per demo patient, and a screenshot lands in test-artifacts/ for people
to look at (swimmer-demo.png)."""

from __future__ import annotations

import pytest

from conftest import screenshot, wait_idle

pytestmark = pytest.mark.browser


def test_swimmer_page_draws_one_lane_per_patient(page, server):
    page.goto(server + "/swimmer")
    wait_idle(page)
    page.wait_for_selector(".vega-embed", timeout=60_000)
    page.get_by_text("All 41 patients, by follow-up, longest first").first.wait_for(
        timeout=60_000)
    box = page.locator(".vega-embed").first.bounding_box()
    assert box is not None
    # 41 lanes x 20 px (core.charts.swimmer.lane_step(41)) plus the x axis: the plot is not
    # squeezed into the default 300-px view nor stretched per period sub-row
    assert 41 * 20 <= box["height"] <= 41 * 20 + 150, box
    screenshot(page, "swimmer-demo")
    body = page.inner_text("body")
    assert "Traceback" not in body and "Not in the data" in body
