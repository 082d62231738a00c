"""Reloading the tab loses the upload and the report: the browser asks first.

The sidebar registers a ``beforeunload`` handler while an upload is loaded or the report has
pinned figures, so Chromium shows its "Leave site?" dialog on reload or close; on the demo
with nothing pinned it does not.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import screenshot, wait_idle

pytestmark = pytest.mark.browser
DATA = Path(__file__).resolve().parent.parent / "data"


def dialogs_on_close(page) -> list[str]:  # noqa: ANN001
    """Close the page running its beforeunload handlers; the dialog types it raised."""
    seen: list[str] = []

    def answer(dialog) -> None:  # noqa: ANN001
        seen.append(dialog.type)
        dialog.accept()

    page.on("dialog", answer)
    page.close(run_before_unload=True)
    page.wait_for_event("close", timeout=10_000)
    return seen


def test_demo_without_pins_leaves_without_asking(page, server):
    page.goto(server)
    wait_idle(page)
    page.get_by_text("Demo cohort", exact=True).first.click()   # a user gesture, as in use
    wait_idle(page)
    assert page.evaluate("window.__cartLeaveArmed") is False
    assert dialogs_on_close(page) == []


def test_an_upload_makes_the_browser_ask_before_leaving(page, server):
    page.goto(server)
    wait_idle(page)
    page.get_by_text("Upload", exact=True).first.click()
    wait_idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(
        str(DATA / "demo_patients.csv"))
    page.get_by_text("41 of 41").first.wait_for(timeout=60_000)
    wait_idle(page)
    note = page.get_by_text("reloading returns to the demo").first
    note.scroll_into_view_if_needed()
    assert note.is_visible()
    assert page.evaluate("window.__cartLeaveArmed") is True
    screenshot(page, "reload-warning-sidebar")
    assert dialogs_on_close(page) == ["beforeunload"]


def test_all_files_dropped_at_once_are_sorted(page, server):
    page.goto(server)
    wait_idle(page)
    page.get_by_text("Upload", exact=True).first.click()
    wait_idle(page)
    # the fourth drop zone takes several files at once, in any order
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').nth(3).set_input_files(
        [str(DATA / f"demo_{t}.csv") for t in ("treatments", "patients", "labs")])
    page.get_by_text("41 of 41").first.wait_for(timeout=60_000)
    wait_idle(page)
    assert page.get_by_text("labs ← demo_labs.csv").first.is_visible()
    lab_rows = (DATA / "demo_labs.csv").read_bytes().count(b"\n") - 1  # header line
    assert page.get_by_text(f"{lab_rows} rows read").first.is_visible()
