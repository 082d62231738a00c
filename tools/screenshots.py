"""Screenshot every page of the app on the synthetic demo cohort (for the README and for
people to look at). Starts `streamlit run` on a free port and drives Debian's chromium.

    .venv/bin/python tools/screenshots.py [out_dir]      # default: test-artifacts/pages
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["", "data", "endpoints", "lab_values", "correlations", "tocilizumab", "time_course",
         "paper_figures", "risk_factors", "survival", "report"]


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "test-artifacts" / "pages"
    out.mkdir(parents=True, exist_ok=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py",
                             "--server.port", str(port), "--server.headless", "true"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.3)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                        args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1440, "height": 2400})
            for name in PAGES:
                page.goto(f"{url}/{name}")
                page.wait_for_selector('[data-test-script-state="notRunning"]',
                                       state="attached", timeout=120_000)
                page.wait_for_timeout(2500)   # vega-embed draws after the script finishes
                path = out / f"{name or 'cohort'}.png"
                page.screenshot(path=str(path))
                print(path)
            browser.close()
    finally:
        proc.terminate()


if __name__ == "__main__":
    main()
