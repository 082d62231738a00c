"""Offline: the app works on a hospital PC without internet and calls no outside host.

Records every request the browser makes while the app opens and several pages are visited,
and asserts that all of them go to the app's own server (or are data:/blob: URLs). Streamlit
bundles its fonts, including Material Symbols for the page icons in the menu (checked here);
only a Material icon as the tab icon (``page_icon=":material/..."``) is fetched from
fonts.gstatic.com, so the tab icon is a PNG in the repository (assets/favicon.png).
"""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from conftest import screenshot, wait_idle

pytestmark = pytest.mark.browser
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
#: sidebar navigation labels of pages visited after the landing page
VISITED = ("Lab values", "Time course", "Survival", "Report", "Data")


def outside(urls: list[str]) -> list[str]:
    """The URLs that leave the machine (not loopback, not data:/blob:)."""
    return [u for u in urls if urlparse(u).scheme not in ("data", "blob")
            and urlparse(u).hostname not in LOCAL_HOSTS]


def test_outside_filter():
    assert outside(["http://127.0.0.1:8501/x", "data:image/png;base64,AA", "blob:http://"
                    "127.0.0.1/1", "http://localhost/x"]) == []
    assert outside(["https://fonts.gstatic.com/s/x.woff2"]) == ["https://fonts.gstatic.com/s/"
                                                                  "x.woff2"]


def test_no_request_leaves_the_machine(page, server):
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    page.goto(server)
    wait_idle(page)
    page.wait_for_selector(".vega-embed", timeout=60_000)
    for name in VISITED:
        page.locator('[data-testid="stSidebarNav"]').get_by_text(name, exact=True).click()
        wait_idle(page)
    assert len(urls) > 10, urls                      # the recorder saw the app load
    assert outside(urls) == [], "\n".join(outside(urls))
    # the tab icon is the app's own PNG (assets/favicon.png, served from the app's /media)
    href = page.locator('link[rel="shortcut icon"], link[rel="icon"]').first.get_attribute("href")
    assert href.endswith(".png") and outside([href]) == [], href
    assert page.request.get(href).body()[:8] == b"\x89PNG\r\n\x1a\n"
    screenshot(page, "offline-data-page")
