"""Big-upload formats in a real browser: a Parquet patient table and a gzip-compressed lab CSV
dropped together go through Streamlit's file input, a progress bar at the top of the page names
the load's steps, and the bar is gone once the cohort is loaded.

The files are built here from the demo CSVs (small: the bar's texts are caught by a
MutationObserver in the page, since a small load passes in well under a second).
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

from conftest import screenshot, wait_idle

pytestmark = pytest.mark.browser
DATA = Path(__file__).resolve().parent.parent / "data"

#: records every text a progress bar shows, in order, from now on (with "(sidebar)" appended
#: when the bar is in the sidebar rather than the main area)
_WATCH_PROGRESS = """() => {
  window.__progressTexts = [];
  const look = () => document.querySelectorAll('[data-testid="stProgress"]').forEach((e) => {
    const where = e.closest('[data-testid="stSidebar"]') ? " (sidebar)" : "";
    const t = e.innerText.trim() + where;
    if (t && window.__progressTexts[window.__progressTexts.length - 1] !== t)
      window.__progressTexts.push(t);
  });
  new MutationObserver(look).observe(document.body,
    {subtree: true, childList: true, characterData: true, attributes: true});
}"""


def _parquet_patients() -> bytes:
    import pandas as pd

    buf = io.BytesIO()
    pd.read_csv(DATA / "demo_patients.csv").to_parquet(buf, index=False)
    return buf.getvalue()


def test_parquet_and_gzip_uploads_show_progress_steps_then_the_cohort(page, server):
    labs_csv = (DATA / "demo_labs.csv").read_bytes()
    lab_rows = labs_csv.count(b"\n") - 1                       # less the header
    labs_gz = gzip.compress(labs_csv)
    parquet = _parquet_patients()
    assert parquet.startswith(b"PAR1") and labs_gz[:2] == b"\x1f\x8b"
    page.goto(server)
    wait_idle(page)
    page.get_by_text("Upload", exact=True).first.click()
    wait_idle(page)
    assert page.get_by_text("up to 1 GB per file").first.is_visible()
    page.evaluate(_WATCH_PROGRESS)
    # both files dropped together: the sorter places them by name (labs.csv.gz -> labs)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').nth(3).set_input_files([
        {"name": "patients.parquet", "mimeType": "application/octet-stream",
         "buffer": parquet},
        {"name": "labs.csv.gz", "mimeType": "application/gzip", "buffer": labs_gz}])
    page.get_by_text("41 of 41").first.wait_for(timeout=120_000)
    wait_idle(page)
    page.get_by_text("labs ← labs.csv.gz").first.scroll_into_view_if_needed()
    screenshot(page, "upload-parquet-gzip-loaded")
    assert page.get_by_text("labs ← labs.csv.gz").first.is_visible()
    assert page.get_by_text("patients ← patients.parquet").first.is_visible()
    assert page.get_by_text(f"labs: {lab_rows} rows read").first.is_visible()
    texts = page.evaluate("window.__progressTexts")
    # the bar named the steps in order: the core's reading of a file, then the sidebar's own;
    # it was at the top of the main area (in view wherever the sidebar is scrolled to)
    assert not any(t.endswith("(sidebar)") for t in texts), texts
    # which steps a browser paints depends on its speed (a step of a few ms can be batched
    # away with the next; AppTest's test_sidebar checks every step): at least one is seen,
    # each is a known step, and they come in the load's order
    phase = {"Deriving endpoints": 1, "Building the database": 2}
    ingest = ("Reading ", "Checking values in ", "Converting units", "Loaded")
    assert texts, "no progress step was shown"
    order = []
    for t in texts:
        assert t in phase or t.startswith(ingest), texts
        order.append(phase.get(t, 0))
    assert order == sorted(order), texts
    # and is gone once the cohort is loaded
    assert page.locator('[data-testid="stProgress"]').count() == 0
    body = page.inner_text("body")
    assert "Traceback" not in body
    assert "Parquet file. Export" not in body                  # not refused as before
