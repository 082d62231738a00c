"""Benchmark: ingest of long lab tables at registry scale (issue 13), against the columnar limit.

Generates synthetic cohorts with :func:`core.demo.generate` (about 550 lab rows per patient) at
about 23k and 1M lab rows (10M with ``--big``), writes their CSV files to a temporary directory
(the benchmark may use disk; the app never does) and, in a fresh process per size, prints the
median of 3 runs of each step:

- pyarrow.csv.read_csv of the labs bytes (the physical limit),
- DuckDB's own read_csv of the same file (the reference of the ratios),
- ``core.ingest.read_table`` of the labs bytes (``coded=True``, as ``load_upload`` reads them),
- validate + normalise: ``load_upload`` of patients + labs minus ``read_table`` of the labs and
  minus ``load_upload`` of the patients alone (both timed in the same run); ``load_upload``
  parses the lab file in a background thread while it checks the patient table, so this
  difference is a lower bound (the overlap is subtracted twice),
- the whole ``load_upload`` (patients, labs, treatments),
- endpoint derivation (``core.endpoints.apply_to_cohort``),
- the store build (``core.store.CohortStore``),

with the ratio to DuckDB's read and the process's peak RSS after each step (ru_maxrss: it
only grows, so each figure is the peak so far).

Run: ``.venv/bin/python benchmarks/ingest_scale.py [--rows 23000 1000000] [--big] [--dir D]``
(``--dir``: write the files there once and reuse them; ``--rows --big``: 10M rows only).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RUNS = 3
ROWS_PER_PATIENT = 552  # core.demo.generate: 22,654 lab rows for its 41 patients


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux


def _median_s(fn: Callable[[], object], runs: int = RUNS) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        out = None  # free the last result before the next run
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def write_files(n_patients: int, directory: Path) -> dict[str, Path]:
    """The cohort's patients, labs and treatments as plain CSV files in ``directory``."""
    from core import demo

    cohort = demo.generate(n=n_patients)
    paths = {}
    for name in ("patients", "labs", "treatments"):
        paths[name] = directory / f"{name}_{n_patients}.csv"
        getattr(cohort, name).to_csv(paths[name], index=False)
    return paths


def worker(directory: Path, n_patients: int) -> dict[str, object]:
    """All steps on one size, in this (fresh) process; seconds and GB."""
    import duckdb
    import pyarrow.csv as pacsv

    from core.endpoints import apply_to_cohort
    from core.ingest import Upload, load_upload, read_table
    from core.store import CohortStore

    data = {t: (directory / f"{t}_{n_patients}.csv").read_bytes()
            for t in ("patients", "labs", "treatments")}
    labs_path = directory / f"labs_{n_patients}.csv"
    out: dict[str, object] = {"patients": n_patients, "lab_rows": data["labs"].count(b"\n") - 1,
                              "labs_mb": len(data["labs"]) / 1e6, "start_gb": _peak_gb()}
    steps: dict[str, tuple[float, float]] = {}

    def step(label: str, fn: Callable[[], object]) -> object:
        secs, res = _median_s(fn)
        steps[label] = (secs, _peak_gb())
        return res

    import io
    step("pyarrow.csv.read_csv", lambda: pacsv.read_csv(io.BytesIO(data["labs"])))
    con = duckdb.connect(":memory:")
    step("duckdb read_csv", lambda: con.execute(
        "CREATE OR REPLACE TABLE t AS SELECT * FROM read_csv(?)", [str(labs_path)]))
    con.close()
    step("read_table (labs)", lambda: read_table(data["labs"], "labs.csv", "labs", coded=True))
    p_up = Upload("patients.csv", data["patients"])
    l_up = Upload("labs.csv", data["labs"])
    t_up = Upload("treatments.csv", data["treatments"])
    step("load_upload (patients only)", lambda: load_upload(p_up))
    step("load_upload (patients + labs)", lambda: load_upload(p_up, l_up))
    cohort = step("load_upload (all three)", lambda: load_upload(p_up, l_up, t_up))
    derived = step("apply_to_cohort", lambda: apply_to_cohort(cohort))  # type: ignore[arg-type]
    step("CohortStore build", lambda: CohortStore(derived.cohort).close())  # type: ignore[attr-defined]
    validate = (steps["load_upload (patients + labs)"][0] - steps["read_table (labs)"][0]
                - steps["load_upload (patients only)"][0])
    steps["validate + normalise (labs, derived)"] = (validate, float("nan"))
    out["steps"] = steps
    return out


def report(res: dict[str, object]) -> None:
    steps: dict[str, tuple[float, float]] = res["steps"]  # type: ignore[assignment]
    duck = steps["duckdb read_csv"][0]
    print(f"\n{res['patients']:,} patients, {res['lab_rows']:,} lab rows "
          f"({res['labs_mb']:.1f} MB of labs CSV); median of {RUNS} runs")
    print(f"{'step':40s}{'seconds':>10s}{'x DuckDB':>10s}{'peak RSS GB':>13s}")
    for label, (secs, gb) in steps.items():
        rss = "" if gb != gb else f"{gb:13.2f}"
        print(f"{label:40s}{secs:10.3f}{secs / duck:10.1f}{rss}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="*", default=[23_000, 1_000_000],
                    help="approximate lab rows per size (default 23000 1000000)")
    ap.add_argument("--big", action="store_true", help="add 10M lab rows")
    ap.add_argument("--worker", nargs=2, metavar=("DIR", "N"), help=argparse.SUPPRESS)
    ap.add_argument("--json", action="store_true", help="print the raw figures as JSON too")
    ap.add_argument("--dir", type=Path, help="reuse the files written there before (written "
                    "there when missing) instead of a temporary directory")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(Path(args.worker[0]), int(args.worker[1]))))
        return
    sizes = list(args.rows) + ([10_000_000] if args.big else [])
    with tempfile.TemporaryDirectory(prefix="ingest_scale_") as tmp_dir:
        tmp = str(args.dir or tmp_dir)
        for rows in sizes:
            n = max(1, round(rows / ROWS_PER_PATIENT))
            if not (Path(tmp) / f"treatments_{n}.csv").exists():
                Path(tmp).mkdir(parents=True, exist_ok=True)
                write_files(n, Path(tmp))
            proc = subprocess.run([sys.executable, __file__, "--worker", tmp, str(n)],
                                  check=True, capture_output=True, text=True)
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            report(res)
            if args.json:
                print(json.dumps(res))


if __name__ == "__main__":
    main()
