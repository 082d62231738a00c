"""Benchmark: the whole registry-scale path (issue 13), ingest to pages, per cohort size.

For each size (default: the 41-patient demo, 10,000 and 100,000 patients) a cohort is written
as CSV files to a temporary directory (never committed): the demo as generated; larger sizes
are :func:`core.demo.generate` on a base of at most ``BASE_N`` patients, labs restricted to
``LAB_ANALYTES`` (about 100 lab rows per patient, so 100k patients give about 10M lab rows),
tiled with new patient IDs (``<id>-<k>``). The labs file is written by pyarrow.

Then, in a fresh subprocess per size (so peak RSS is the size's own), it times:

- the ingest steps inside one ``core.ingest.load_upload`` of the three files, from its progress
  hook: reading (steps named "Reading ...") and validating + normalising (every other step),
- the whole ``load_upload``, endpoint derivation (``core.endpoints.apply_to_cohort``), the
  derived cohort's content hash (``Cohort.fingerprint``, which the store and the session's
  caches use; timed once), the store build (``core.store.CohortStore``) and their sum (the
  ingest as the app runs it),
- each page's computation after a filter change: the list of ``benchmarks/pages_scale.py``
  (the same core calls with the same arguments as the views),
- peak RSS (ru_maxrss after each step: it only grows),

against two baselines in the same process: DuckDB's own ``read_csv`` of the labs file (into a
table) and plain pandas (``pd.read_csv`` of the labs file + a groupby min/max of the value per
patient and analyte).

Figures are medians of ``RUNS`` runs; a step slower than ``SLOW_S`` on its first run is timed
once (marked ``*``). Run: ``.venv/bin/python benchmarks/scale.py [--sizes 41 10000 100000]
[--skip "Risk factors (auto)" ...] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

RUNS = 3
SLOW_S = 5.0
DEMO_N = 41
BASE_N = 2_000
#: about 94 + 8 lab rows per patient in core.demo.generate
LAB_ANALYTES = ("fibrinogen", "d_dimer", "anc", "haemoglobin", "ldh", "creatinine")
TABLES = ("patients", "labs", "treatments")


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux


def _timed(fn: Callable[[], object]) -> tuple[float, bool, object]:
    """(median seconds, timed once?, last result): RUNS runs, or one above SLOW_S."""
    times: list[float] = []
    out: object = None
    for i in range(RUNS):
        out = None  # free the last result before the next run
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        if i == 0 and times[0] > SLOW_S:
            return times[0], True, out
    return statistics.median(times), False, out


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------

def write_files(n: int, directory: Path) -> dict[str, Path]:
    """The CSV files of an ``n``-patient cohort in ``directory`` (see the module docstring)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    from core import demo

    paths = {t: directory / f"{t}_{n}.csv" for t in TABLES}
    if n <= DEMO_N:
        cohort = demo.generate(n=n)
        for t in TABLES:
            getattr(cohort, t).to_csv(paths[t], index=False)
        return paths
    base_n = min(n, BASE_N)
    cohort = demo.generate(n=base_n)
    k = -(-n // base_n)
    patients = cohort.patients
    labs = cohort.labs[cohort.labs["analyte"].isin(LAB_ANALYTES)].reset_index(drop=True)
    tx = cohort.treatments

    def ids(frame: pd.DataFrame, i: int) -> pd.Series:
        return frame["patient_id"].astype(str) + f"-{i}"

    parts = []
    for i in range(k):
        part = patients.copy()
        part["patient_id"] = ids(patients, i)
        parts.append(part)
    tiled = pd.concat(parts, ignore_index=True).iloc[:n]
    tiled.to_csv(paths["patients"], index=False)
    keep = pa.array(tiled["patient_id"].to_numpy(dtype=object))
    for name, frame in (("labs", labs), ("treatments", tx)):
        table = pa.Table.from_pandas(frame, preserve_index=False)
        pid = table.column("patient_id").cast(pa.string())
        chunks = []
        for i in range(k):
            new = pc.binary_join_element_wise(pid, pa.scalar(f"-{i}"), "")
            chunks.append(table.set_column(0, "patient_id", new))
        out = pa.concat_tables(chunks)
        out = out.filter(pc.is_in(out.column("patient_id"), value_set=keep))
        pacsv.write_csv(out, paths[name])
    return paths


# --------------------------------------------------------------------------------------------
# one size, in a fresh process
# --------------------------------------------------------------------------------------------

def worker(directory: Path, n: int, skip: set[str]) -> dict[str, object]:
    """Every step on one size; seconds and GB."""
    import duckdb
    import pandas as pd

    from core.endpoints import apply_to_cohort
    from core.ingest import Upload, load_upload
    from core.store import CohortStore

    paths = {t: directory / f"{t}_{n}.csv" for t in TABLES}
    data = {t: p.read_bytes() for t, p in paths.items()}
    res: dict[str, object] = {"patients": n, "lab_rows": data["labs"].count(b"\n") - 1,
                              "labs_mb": len(data["labs"]) / 1e6}
    rows: list[tuple[str, str, float, bool, float]] = []  # (part, step, s, once, peak GB)

    def record(part: str, step: str, fn: Callable[[], object]) -> object:
        secs, once, out = _timed(fn)
        rows.append((part, step, secs, once, _peak_gb()))
        print(f"  n={n:,} {step}: {secs:.3f} s{' (once)' if once else ''}", file=sys.stderr,
              flush=True)
        return out

    # baselines
    con = duckdb.connect(":memory:")
    record("baseline", "DuckDB read_csv (labs)", lambda: con.execute(
        "CREATE OR REPLACE TABLE t AS SELECT * FROM read_csv(?)", [str(paths["labs"])]))
    con.close()
    record("baseline", "pandas read_csv + groupby (labs)", lambda: pd.read_csv(
        paths["labs"]).groupby(["patient_id", "analyte"])["value"].agg(["min", "max"]))

    # the ingest, split by its progress hook
    uploads = [Upload(f"{t}.csv", data[t]) for t in TABLES]
    split: list[tuple[float, float]] = []

    def ingest() -> object:
        marks: list[tuple[str, float]] = []
        t0 = time.perf_counter()
        cohort = load_upload(uploads[0], uploads[1], uploads[2],
                             progress=lambda label, _f: marks.append((label, time.perf_counter())))
        marks.append(("end", time.perf_counter()))
        read = other = 0.0
        last = t0
        label = ""
        for nxt, at in marks:
            if label.startswith("Reading"):
                read += at - last
            else:
                other += at - last
            label, last = nxt, at
        split.append((read, other))
        return cohort

    cohort: Any = record("ingest", "load_upload (3 files)", ingest)
    read_s = statistics.median(s[0] for s in split)
    check_s = statistics.median(s[1] for s in split)
    derived: Any = record("ingest", "apply_to_cohort", lambda: apply_to_cohort(cohort))
    # the content hash the session keys its caches by (the store reads it; computed once per
    # Cohort, so timed once here and not inside the store build)
    t0 = time.perf_counter()
    _ = derived.cohort.fingerprint
    rows.append(("ingest", "Cohort.fingerprint (once)", time.perf_counter() - t0, True,
                 _peak_gb()))
    store: Any = record("ingest", "CohortStore build", lambda: CohortStore(derived.cohort))
    whole = sum(r[2] for r in rows if r[0] == "ingest")
    rows.insert(2, ("ingest", "  read (progress: Reading ...)", read_s, len(split) == 1,
                    math.nan))
    rows.insert(3, ("ingest", "  validate + normalise (other steps)", check_s,
                    len(split) == 1, math.nan))
    rows.append(("ingest", "whole ingest (load + derive + store)", whole, False, _peak_gb()))
    res["cohort"] = {"patients": len(derived.cohort.patients), "labs": len(derived.cohort.labs)}

    # the pages
    import pages_scale

    for name, fn in pages_scale.steps(store).items():
        if name in skip:
            continue
        try:
            record("page", name, fn)
        except Exception as exc:  # noqa: BLE001 - report, keep measuring
            print(f"  {name} at n={n}: {type(exc).__name__}: {exc}", file=sys.stderr)
            rows.append(("page", name, math.nan, False, _peak_gb()))
    res["rows"] = rows
    res["peak_gb"] = _peak_gb()
    return res


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------

def report(results: list[dict[str, Any]]) -> None:
    sizes = [r["patients"] for r in results]
    print(f"\nmedian of {RUNS} runs, seconds (* timed once: over {SLOW_S:g} s); ratio to "
          "DuckDB's read_csv / to pandas read_csv + groupby of the same labs file, same run")
    for r in results:
        print(f"  n = {r['patients']:,}: {r['lab_rows']:,} lab rows, {r['labs_mb']:.0f} MB of "
              f"labs CSV, peak RSS {r['peak_gb']:.2f} GB")
    head = "".join(f"{f'n = {n:,}':>30s}" for n in sizes)
    print(f"{'step':44s}{head}")
    by_size = [{step: (s, once) for _p, step, s, once, _g in r["rows"]} for r in results]
    base = [(d["DuckDB read_csv (labs)"][0], d["pandas read_csv + groupby (labs)"][0])
            for d in by_size]
    steps = list(dict.fromkeys(step for d in by_size for step in d))
    for step in steps:
        cells = []
        for d, (duck, pdb) in zip(by_size, base, strict=True):
            if step not in d:
                cells.append(f"{'-':>30s}")
                continue
            s, once = d[step]
            mark = "*" if once else " "
            cells.append(f"{s:>10.3f}{mark} ({s / duck:5.1f}x / {s / pdb:5.2f}x)")
        print(f"{step:44s}" + "".join(cells))
    last = by_size[-1]
    pages = {step for _p, step, *_ in results[-1]["rows"] if _p == "page"}
    over = [s for s in steps if s in pages and last[s][0] > 1.0]
    print(f"page computations over 1 s at n = {sizes[-1]:,}: {', '.join(over) or 'none'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[DEMO_N, 10_000, 100_000],
                    help="patients per size (default: 41 10000 100000)")
    ap.add_argument("--skip", nargs="*", default=[], help="page computations not to time")
    ap.add_argument("--json", action="store_true", help="print the raw figures as JSON too")
    ap.add_argument("--worker", nargs=2, metavar=("DIR", "N"), help=argparse.SUPPRESS)
    ap.add_argument("--write", nargs=2, metavar=("DIR", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.write:
        write_files(int(args.write[1]), Path(args.write[0]))
        return
    if args.worker:
        print(json.dumps(worker(Path(args.worker[0]), int(args.worker[1]), set(args.skip))))
        return
    results = []
    with tempfile.TemporaryDirectory(prefix="scale_") as tmp:
        for n in args.sizes:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--write", tmp, str(n)], check=True)
            print(f"n={n:,}: files written in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
            proc = subprocess.run([sys.executable, __file__, "--worker", tmp, str(n),
                                   "--skip", *args.skip], check=True, stdout=subprocess.PIPE,
                                  text=True)
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            for t in TABLES:
                (Path(tmp) / f"{t}_{n}.csv").unlink()
    report(results)
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
