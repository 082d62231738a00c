"""End to end in a real browser: `streamlit run` + Debian's headless Chromium (Playwright).

Covers what only a browser shows: the app starting, a file going through the real upload
widget, charts being drawn. Screenshots land in test-artifacts/ for people to look at.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import screenshot, wait_idle

pytestmark = pytest.mark.browser
DATA = Path(__file__).resolve().parent.parent / "data"


def test_upload_demo_patients_through_the_file_input(page, server):
    page.goto(server)
    wait_idle(page)
    assert page.get_by_text("41 of 41").first.is_visible()
    # charts are drawn (vega-embed canvases/svgs), not just declared
    page.wait_for_selector(".vega-embed", timeout=60_000)
    screenshot(page, "cohort-demo")

    page.get_by_text("Upload", exact=True).first.click()
    wait_idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(
        str(DATA / "demo_patients.csv"))
    page.get_by_text("41 of 41").first.wait_for(timeout=60_000)
    wait_idle(page)
    assert page.get_by_text("41 rows read").first.is_visible()
    # the upload is the user's data, so the synthetic label is gone from the sidebar
    assert page.get_by_text("Synthetic demo cohort", exact=True).count() == 0
    screenshot(page, "cohort-uploaded")
    body = page.inner_text("body")
    assert "Traceback" not in body
