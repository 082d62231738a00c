"""Benchmark: a registry-size upload through a real browser (issue 13).

Starts ``streamlit run app.py`` (the repository's config, so its upload limit) and Debian's
headless Chromium (Playwright, ``executable_path=/usr/bin/chromium``), switches the sidebar to
"Upload" and drops the patient, lab (and treatment) files together on the "drop all files at
once" input, as a user would. It records every text the sidebar's progress bar shows (with
the browser's clock) and the wall time until the cohort is loaded (the sidebar's load report
of the labs, the bar gone, the script idle), takes screenshots (the bar while it runs, the
loaded cohort) into test-artifacts/, and prints:

- the upload itself (file input set -> first progress text: the browser sending the bytes and
  Streamlit starting the rerun),
- each progress step's duration (from its text to the next one),
- the total wall time to the loaded cohort and the server's peak RSS (VmHWM),
- then two filter changes on the Cohort page (a CRS grade picked in the sidebar, to the page
  redrawn),
- the baseline in the same run: DuckDB's own ``read_csv`` of the labs file, and the ratio.

Files: ``PATIENTS LABS [TREATMENTS]`` paths, or none: a 100,000-patient cohort with ~10M lab
rows written to a temporary directory by ``benchmarks/scale.py``'s ``write_files``.
``--gzip`` uploads the labs as ``.csv.gz`` (compressed here first), ``--parquet`` as Parquet.

Run: ``.venv/bin/python benchmarks/browser_upload.py [PATIENTS LABS [TREATMENTS]] [--gzip |
--parquet]``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
TIMEOUT_MS = 1_800_000
#: records every progress-bar text with the browser's clock (ms), from now on
WATCH = """() => {
  window.__progress = [];
  const look = () => document.querySelectorAll('[data-testid="stProgress"]').forEach((e) => {
    const t = e.innerText.trim();
    const last = window.__progress[window.__progress.length - 1];
    if (t && (!last || last[0] !== t)) window.__progress.push([t, performance.now()]);
  });
  new MutationObserver(look).observe(document.body,
    {subtree: true, childList: true, characterData: true, attributes: true});
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server() -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port",
         str(port), "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit("streamlit did not start")


def _peak_rss_gb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    return float("nan")


def _duckdb_read_csv_s(path: Path) -> float:
    import duckdb

    con = duckdb.connect()
    t0 = time.perf_counter()
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{path}')")
    took = time.perf_counter() - t0
    con.close()
    return took


def _files(args: argparse.Namespace, tmp: Path) -> list[Path]:
    if args.files:
        files = [Path(f) for f in args.files]
    else:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        sys.path.insert(0, str(ROOT))
        from scale import write_files

        t0 = time.perf_counter()
        paths = write_files(100_000, tmp)
        print(f"wrote the 100,000-patient files in {time.perf_counter() - t0:.0f} s",
              file=sys.stderr)
        files = [paths["patients"], paths["labs"], paths["treatments"]]
    labs = files[1]
    if args.gzip:
        import gzip

        gz = tmp / (labs.name + ".gz")
        with labs.open("rb") as src, gzip.open(gz, "wb", compresslevel=6) as dst:
            shutil.copyfileobj(src, dst, 1 << 22)
        files[1] = gz
    elif args.parquet:
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        pq_path = tmp / (labs.stem + ".parquet")
        pq.write_table(pacsv.read_csv(labs), pq_path)
        files[1] = pq_path
    return files


def run(files: list[Path], csv_labs: Path) -> dict[str, object]:
    from playwright.sync_api import sync_playwright

    proc, url = _server()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"])
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(url)
            _idle(page)
            page.get_by_text("Upload", exact=True).first.click()
            _idle(page)
            page.evaluate(WATCH)
            start_ms = page.evaluate("performance.now()")
            t0 = time.perf_counter()
            page.locator('[data-testid="stFileUploaderDropzoneInput"]').nth(3).set_input_files(
                [str(f) for f in files])
            bar_shot = None
            try:
                # the upload of a big file takes a while before the first step; a small
                # load may be over before we look
                page.wait_for_selector('[data-testid="stProgress"]', timeout=180_000)
                page.wait_for_timeout(500)
                bar_shot = ARTIFACTS / "browser-upload-progress.png"
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(bar_shot))
            except Exception as exc:  # noqa: BLE001 - the bar may be gone before we look
                print(f"no progress bar screenshot: {exc}", file=sys.stderr)
            page.get_by_text(re.compile(r"labs: [\d,]+ rows read")).first.wait_for(
                timeout=TIMEOUT_MS)
            page.wait_for_selector('[data-testid="stProgress"]', state="detached",
                                   timeout=TIMEOUT_MS)
            _idle(page)
            wall = time.perf_counter() - t0
            end_ms = page.evaluate("performance.now()")
            steps = page.evaluate("window.__progress")
            shot = ARTIFACTS / "browser-upload-loaded.png"
            page.screenshot(path=str(shot))
            sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
            errors = page.locator('[data-testid="stAlertContentError"]').all_inner_texts()
            filter_s = _filter_change_s(page)
            browser.close()
        rss = _peak_rss_gb(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return {"files": files, "wall_s": wall, "steps": steps, "start_ms": start_ms,
            "end_ms": end_ms, "rss_gb": rss, "bar_shot": bar_shot, "shot": shot,
            "reports": [ln for ln in sidebar.splitlines() if "rows read" in ln],
            "errors": errors, "filter_s": filter_s, "duckdb_s": _duckdb_read_csv_s(csv_labs)}


def _filter_change_s(page) -> list[float]:  # noqa: ANN001
    """Seconds from picking a CRS grade in the sidebar's filter to the Cohort page redrawn
    (script idle), for grades 1 and 2 in turn (each a new filter: nothing memoised)."""
    times = []
    box = page.locator('[data-testid="stMultiSelect"]').filter(has_text="CRS grade").first
    for grade in ("1", "2"):
        try:
            box.locator("input").first.click(timeout=30_000)
            option = page.get_by_role("option", name=grade, exact=True).first
            option.wait_for(timeout=30_000)
            t0 = time.perf_counter()
            option.click(timeout=30_000)
            page.keyboard.press("Escape")
            page.wait_for_timeout(200)
            _idle(page)
            times.append(time.perf_counter() - t0)
        except Exception as exc:  # noqa: BLE001 - report the load figures anyway
            print(f"filter change not measured: {exc}", file=sys.stderr)
            break
    return times


def _idle(page) -> None:  # noqa: ANN001
    page.wait_for_selector('[data-test-script-state="notRunning"]', state="attached",
                           timeout=TIMEOUT_MS)
    page.wait_for_timeout(300)
    page.wait_for_selector('[data-test-script-state="notRunning"]', state="attached",
                           timeout=TIMEOUT_MS)


def report(res: dict) -> None:
    files = res["files"]
    print("files: " + ", ".join(f"{f.name} ({f.stat().st_size / 2**20:,.0f} MB)" for f in files))
    steps = res["steps"]
    if steps:
        print(f"{'upload (bytes to the server, rerun starts)':46s}"
              f"{(steps[0][1] - res['start_ms']) / 1000:>8.1f} s")
        for (label, at), nxt in zip(steps, [s[1] for s in steps[1:]] + [res["end_ms"]]):
            print(f"  {label:44s}{(nxt - at) / 1000:>8.1f} s")
    else:
        print("no progress text seen")
    print(f"{'wall time to the loaded cohort':46s}{res['wall_s']:>8.1f} s")
    print(f"{'DuckDB read_csv of the CSV labs (same run)':46s}{res['duckdb_s']:>8.1f} s "
          f"(ratio {res['wall_s'] / res['duckdb_s']:.1f}x)")
    print(f"{'server peak RSS':46s}{res['rss_gb']:>8.2f} GB")
    for i, s in enumerate(res["filter_s"], 1):
        print(f"{f'filter change {i} (CRS grade), Cohort page':46s}{s:>8.1f} s")
    print("progress texts seen: " + " | ".join(s[0] for s in steps))
    print("sidebar: " + " | ".join(res["reports"]))
    if res["errors"]:
        print("errors: " + " | ".join(res["errors"]))
    print(f"screenshots: {res['bar_shot']}, {res['shot']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", help="PATIENTS LABS [TREATMENTS] (CSV)")
    fmt = ap.add_mutually_exclusive_group()
    fmt.add_argument("--gzip", action="store_true", help="upload the labs as .csv.gz")
    fmt.add_argument("--parquet", action="store_true", help="upload the labs as Parquet")
    args = ap.parse_args()
    if args.files and len(args.files) < 2:
        ap.error("give PATIENTS LABS [TREATMENTS], or no files")
    with tempfile.TemporaryDirectory() as tmp:
        files = _files(args, Path(tmp))
        csv_labs = Path(args.files[1]) if args.files else Path(tmp) / "labs_100000.csv"
        report(run(files, csv_labs))


if __name__ == "__main__":
    main()
