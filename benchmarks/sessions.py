"""Twenty colleagues at once: first-page time and server CPU per new demo session.

Starts ``streamlit run app.py`` on a free loopback port, opens one warm-up session (it pays for
building the shared demo once per server process), then opens N browser sessions at once in
Debian's headless Chromium (Playwright) and waits until each has drawn the Cohort page.

Prints, for N concurrent sessions: first-page wall time (min / median / max) and the server
process's CPU time (user + system, from /proc) divided by N; once for N new browsers (each
downloads the app's JavaScript, as twenty colleagues opening it for the first time do) and
once for N new sessions in a browser that has the app's files cached (what a session costs in
Python). The warm-up session's figures are printed apart. The browser runs on the same
machine, so on 2 cores the wall times are mostly Chromium drawing 20 pages.
Run: ``.venv/bin/python benchmarks/sessions.py [N]``.

Needs chromium (``apt-get install chromium``) and playwright (requirements-dev.txt).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
IDLE = '[data-test-script-state="notRunning"]'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


def _start_server() -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port",
         str(port), "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("streamlit did not start")


async def _open(browser, url: str, ctx=None) -> float:  # noqa: ANN001
    """Seconds from navigation until the Cohort page has run to the end with Table 1 drawn.
    A new browser context (empty cache: the app's JavaScript is downloaded again) unless
    ``ctx`` is given (a tab of a browser that has the app's files cached)."""
    own = ctx is None
    if own:
        ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await ctx.new_page()
    t0 = time.perf_counter()
    await page.goto(url)
    await page.get_by_text("Table 1. Patients' characteristics").first.wait_for(
        timeout=300_000)
    await page.wait_for_selector(IDLE, state="attached", timeout=300_000)
    elapsed = time.perf_counter() - t0
    await (ctx.close() if own else page.close())
    return elapsed


async def _run(n: int, url: str, pid: int) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        cpu0 = _cpu_seconds(pid)
        warm = await _open(browser, url)
        cpu1 = _cpu_seconds(pid)
        print(f"warm-up session (builds the shared demo): {warm:.2f} s wall, "
              f"{cpu1 - cpu0:.2f} s server CPU")
        await _wave(f"{n} new browsers at once (empty cache)", n, pid,
                    lambda: _open(browser, url))
        shared = await browser.new_context(viewport={"width": 1400, "height": 1000})
        await _open(browser, url, shared)  # fills this browser's cache
        await _wave(f"{n} new sessions at once in one browser (app files cached)", n, pid,
                    lambda: _open(browser, url, shared))
        await browser.close()


async def _wave(label: str, n: int, pid: int, open_one) -> None:  # noqa: ANN001
    cpu0 = _cpu_seconds(pid)
    times = await asyncio.gather(*(open_one() for _ in range(n)))
    await asyncio.sleep(1.0)  # let the last sessions' reruns settle
    cpu1 = _cpu_seconds(pid)
    print(f"{label}: first page min {min(times):.2f} s · median "
          f"{statistics.median(times):.2f} s · max {max(times):.2f} s; server CPU per "
          f"session {(cpu1 - cpu0) / n:.3f} s (total {cpu1 - cpu0:.2f} s)")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"chromium not found at {CHROMIUM}")
    proc, url = _start_server()
    try:
        asyncio.run(_run(n, url, proc.pid))
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
