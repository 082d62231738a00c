"""Shared fixtures: an AppTest factory for page tests, and a live `streamlit run` server with
headless Chromium (Debian's binary, driven by Playwright) for browser tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")


# --------------------------------------------------------------------------------------------
# AppTest
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def demo() -> Iterator[object]:
    """The demo patients as a page sees them (through the DuckDB store); shared by the test
    session, so tests must not modify it (use ``.assign`` / ``.copy``)."""
    from core import ingest
    from core.filters import CohortFilter
    from core.store import CohortStore

    store = CohortStore(ingest.load_demo())
    try:
        yield store.patients(CohortFilter())
    finally:
        store.close()


@pytest.fixture()
def app_test() -> Callable:
    """Factory: ``app_test("views/cohort.py")`` -> an AppTest of the entry point that has run
    once and switched to that page (the sidebar and filters are the real ones)."""
    from streamlit.testing.v1 import AppTest

    def make(page: str | None = None, *, query: dict[str, str] | None = None) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        if query:
            at.query_params.update(query)
        at.run()
        if page:
            at.switch_page(page)
            at.run()
        return at

    return make


def widget(at, key: str):  # noqa: ANN001, ANN201 - AppTest element
    """The widget with ``key`` on the current AppTest run (searching every element type)."""
    for kind in ("multiselect", "selectbox", "slider", "radio", "toggle", "checkbox",
                 "number_input", "text_input", "button", "select_slider"):
        for w in getattr(at, kind):
            if getattr(w, "key", None) == key:
                return w
    raise KeyError(key)


def upload(at, name: str, data: bytes, slot: int = 0):  # noqa: ANN001, ANN201
    """Switch the sidebar to "Upload" and put ``data`` into upload slot ``slot`` (0 patients,
    1 labs, 2 treatments), as a user would; returns the rerun AppTest."""
    if at.radio(key="data_source").value != "upload":
        at.radio(key="data_source").set_value("upload").run()
    return at.sidebar.file_uploader[slot].set_value((name, data, "text/csv")).run()


def assert_clean(at) -> None:  # noqa: ANN001
    """No exception and no error box on the page."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


# --------------------------------------------------------------------------------------------
# Browser
# --------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    """`streamlit run app.py` on a free loopback port; yields its URL."""
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port",
         str(port), "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        else:
            raise RuntimeError("streamlit did not start: " + proc.stdout.read(4000).decode())
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Debian chromium through Playwright (no browser download)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's 'chromium' "
                    "(.ci/run does) or set CHROMIUM=/path/to/chromium.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()


@pytest.fixture()
def page(browser, server):  # noqa: ANN001, ANN201
    """A fresh browser context and page on the app (a new Streamlit session)."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    pg = ctx.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    ctx.close()


def wait_idle(page, timeout: float = 60_000) -> None:  # noqa: ANN001
    """Wait until the Streamlit script has finished running."""
    page.wait_for_selector('[data-test-script-state="notRunning"]', timeout=timeout,
                           state="attached")
    page.wait_for_timeout(300)
    page.wait_for_selector('[data-test-script-state="notRunning"]', timeout=timeout,
                           state="attached")


def screenshot(page, name: str) -> Path:  # noqa: ANN001
    """Save a full-page screenshot under test-artifacts/ (for people to look at)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# --------------------------------------------------------------------------------------------
# Generated uploads
# --------------------------------------------------------------------------------------------

def wide_patients_csv(n_columns: int = 2000, seed: int = 1) -> bytes:
    """The demo patient table widened to ``n_columns`` columns, as CSV bytes.

    Like a registry export that carries every field: the demo's columns, then extra columns
    cycling through kinds: continuous numbers, small integer codes (0-4), 0/1 flags, text
    categories, free text (one value per patient), a constant, and an empty column.
    """
    import numpy as np
    import pandas as pd

    from core import ingest

    base = ingest.load_demo().patients
    n = len(base)
    rng = np.random.default_rng(seed)
    kinds = [lambda: rng.normal(50, 10, n).round(2), lambda: rng.integers(0, 5, n),
             lambda: rng.integers(0, 2, n), lambda: rng.choice(["a", "b", "c"], n),
             lambda: [f"note {i}" for i in rng.permutation(n)], lambda: ["x"] * n,
             lambda: [None] * n]
    extra = {f"extra_{i:04d}": kinds[i % len(kinds)]()
             for i in range(max(0, n_columns - len(base.columns)))}
    wide = pd.concat([base.reset_index(drop=True), pd.DataFrame(extra)], axis=1)
    return wide.to_csv(index=False).encode()
