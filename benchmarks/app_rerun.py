"""Benchmark: a filter change in the real app (AppTest) on an uploaded registry-size cohort.

Uploads a patient table (and, given, labs and treatments) through the sidebar's uploaders as a
user would, then on every page of the navigation changes the CRS-grade filter back and forth and
times the rerun (the whole script: sidebar, page, computations, charts). With ``--profile`` the
slowest page's rerun is profiled (cProfile) and the functions that took longest are printed, and
every rerun is checked for per-row work that does not depend on the filter: hashing frames
(``hash_pandas_object``), the cohort fingerprint, copies of the upload's bytes
(``UploadedFile.getvalue``), re-reading or re-deriving the cohort.

Baseline in the same run: the same reruns on the 41-patient demo, so the ratio says what the
upload's size costs.

Run: `.venv/bin/python benchmarks/app_rerun.py [PATIENTS.csv [LABS] [TREATMENTS]] [--profile]
[--pages=endpoints,data]`; without files, a 10,000-patient cohort written by
``benchmarks/scale.py``'s ``write_files`` to a temporary directory
(e.g. the 100,000-patient, 10-million-lab-row files tiled from benchmarks/ingest_scale.py's
output). The goal is <= 1 s per page.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import widget  # noqa: E402

RUNS = 2
#: functions whose calls during a filter change mean per-row work that the filter does not need
SUSPECTS = ("hash_pandas_object", "fingerprint", "getvalue", "load_upload", "apply_to_cohort",
            "CohortStore.__init__", "copy")
FILTERS = ([1, 2], [2, 3])


def _pages() -> list[str]:
    import ast

    tree = ast.parse((ROOT / "app.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "PAGES":
            return [p[1] for p in ast.literal_eval(node.value) if (ROOT / p[1]).exists()]
    raise SystemExit("app.py has no PAGES list")


def _app(files: list[Path]):  # noqa: ANN202 - AppTest
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=1800)
    at.run()
    if files:
        at.radio(key="data_source").set_value("upload").run()
        for slot, path in enumerate(files):
            at.sidebar.file_uploader[slot].set_value((path.name, path.read_bytes(),
                                                      "application/octet-stream"))
        t0 = time.perf_counter()
        at.run()
        print(f"upload loaded in the app: {time.perf_counter() - t0:.1f} s "
              f"({', '.join(p.name for p in files)})", file=sys.stderr, flush=True)
    if at.exception:
        raise SystemExit(f"the app failed: {[e.value for e in at.exception]}")
    return at


#: the profiler of the reruns being measured (the script runs in AppTest's own thread)
_ACTIVE: list[cProfile.Profile] = []


def _profile_script_thread() -> None:
    """Profile the script's thread: cProfile only sees the thread that enables it."""
    from streamlit.runtime.scriptrunner.script_runner import ScriptRunner

    original = ScriptRunner._run_script

    def run_script(self, rerun_data):  # noqa: ANN001, ANN202
        if not _ACTIVE:
            return original(self, rerun_data)
        _ACTIVE[0].enable()
        try:
            return original(self, rerun_data)
        finally:
            _ACTIVE[0].disable()

    ScriptRunner._run_script = run_script  # type: ignore[method-assign]


def _rerun_s(at, page: str, profile: cProfile.Profile | None = None) -> list[float]:  # noqa: ANN001
    at.switch_page(page).run()
    times = []
    for i in range(RUNS * len(FILTERS)):
        w = widget(at, "flt_crs_grade").set_value(FILTERS[i % len(FILTERS)])
        t0 = time.perf_counter()
        if profile is not None:
            _ACTIVE.append(profile)
        try:
            w.run()
        finally:
            _ACTIVE.clear()
        times.append(time.perf_counter() - t0)
        if at.exception:
            print(f"  {page}: {[e.value[:200] for e in at.exception]}", file=sys.stderr)
    return times


def _suspects(profile: cProfile.Profile) -> list[str]:
    stats = pstats.Stats(profile)
    out = []
    for (file, _, name), (_, ncalls, _, cum, _) in stats.stats.items():  # type: ignore[attr-defined]
        if any(s == name or s in f"{Path(file).stem}.{name}" for s in SUSPECTS) and cum > 0.01:
            out.append(f"{Path(file).name}:{name} x{ncalls} {cum:.2f} s")
    return out


def main(argv: list[str]) -> None:
    profile_on = "--profile" in argv
    files = [Path(a) for a in argv if not a.startswith("--")]
    if not files:  # `make bench`: a generated 10,000-patient cohort (~1M lab rows)
        import tempfile

        from scale import write_files

        tmp = Path(tempfile.mkdtemp(prefix="app_rerun_"))
        paths = write_files(10_000, tmp)
        files = [paths[t] for t in ("patients", "labs", "treatments")]
    pages = _pages()
    only = [a.split("=", 1)[1] for a in argv if a.startswith("--pages=")]
    if only:
        pages = [p for p in pages if any(o in p for o in only[0].split(","))]
    if profile_on:
        _profile_script_thread()
    results: dict[str, dict[str, float]] = {}
    profiles: dict[str, cProfile.Profile] = {}
    for label, upload in (("demo (41)", []), ("upload", files)):
        at = _app(upload)
        n = at.session_state["_view"].n_total
        label = f"{label}" if not upload else f"upload ({n:,})"
        results[label] = {}
        for page in pages:
            prof = cProfile.Profile() if profile_on and upload else None
            times = _rerun_s(at, page, prof)
            results[label][page] = statistics.median(times)
            if prof is not None:
                profiles[page] = prof
            print(f"  {label} {page}: {results[label][page]:.2f} s", file=sys.stderr,
                  flush=True)
        del at
    base, big = results.values()
    print(f"filter change (crs_grade {FILTERS[0]} <-> {FILTERS[1]}), whole rerun in AppTest, "
          f"median of {RUNS * len(FILTERS)}, seconds (ratio to the demo)")
    names = list(results)
    print(f"{'page':28s}{names[0]:>16s}{names[1]:>24s}")
    for page in pages:
        print(f"{page:28s}{base[page]:>16.2f}{big[page]:>16.2f} ({big[page] / base[page]:>4.0f}x)")
    print(f"over 1 s: {', '.join(p for p in pages if big[p] > 1) or 'none'}")
    if profiles:
        for page, prof in profiles.items():
            found = _suspects(prof)
            print(f"{page}: per-rerun suspects: {'; '.join(found) if found else 'none'}")
        for page in sorted(pages, key=lambda p: -big[p])[:3]:
            buf = io.StringIO()
            stats = pstats.Stats(profiles[page], stream=buf).sort_stats("cumulative")
            stats.print_stats(str(ROOT) + r"/(core|ui|views)/", 30)
            stats.sort_stats("tottime").print_stats(15)
            print(f"\nprofile of {page} ({RUNS * len(FILTERS)} reruns):")
            print(buf.getvalue())


if __name__ == "__main__":
    main(sys.argv[1:])
