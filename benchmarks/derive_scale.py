"""Benchmark: endpoint derivation (``core.endpoints.apply_to_cohort``) at 1M and 10M lab rows.

Loads the 1M-lab-row cohort (1,812 patients of :func:`core.demo.generate`, written as CSV by
``benchmarks/ingest_scale.py:write_files``; ``/tmp/scale`` is used when it holds the files) with
``core.ingest.load_upload``, gives the long tables' key columns the dtype the ingest gives them
(pandas Categorical: labs ``patient_id, analyte, unit``; treatments ``patient_id, drug, unit``)
and tiles it ten times with new patient IDs, in memory, for 10M rows (18,120 patients). Per size
it prints the median of ``RUNS`` runs of

- the baseline: plain pandas ``labs.groupby(["patient_id", "analyte"])["value"].agg(["min",
  "max"])`` on the same frame (the floor of any per-patient, per-analyte derivation),
- ``apply_to_cohort`` (the cohort's fingerprint computed beforehand, as the app has it),
- its ``clean_labs`` step alone,

with the ratio to the baseline and the process's peak RSS (ru_maxrss; it only grows, so each
figure is the peak so far), the same medians in CPU seconds of this process (steadier on
a shared machine), and the most memory the call itself held at once (tracemalloc, one more
run: numpy and pandas allocations included). ``--object`` runs the same with plain object
key columns (as frames built by hand have them); ``--split 6`` splits every patient into 6 by
day (day mod 6, lab and treatment rows alike), for the registry's shape: 10M rows of ~109,000
patients.

``--files DIR`` instead loads the ``patients_N.csv``, ``labs_N.csv`` and ``treatments_N.csv``
of ``DIR`` (as ``benchmarks/scale.py:write_files`` writes them, e.g. ``/tmp/s100k``: 100,000
patients, 10.1M lab rows) with ``load_upload`` and adds DuckDB's ``read_csv`` of the labs file
(the ingest's yardstick) beside the baseline.

Run: ``.venv/bin/python benchmarks/derive_scale.py [--sizes 1 10] [--object] [--split 6]``
or ``.venv/bin/python benchmarks/derive_scale.py --files /tmp/s100k``.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

RUNS = 3
N_PATIENTS = 1812  # ~1M lab rows
SCALE_DIR = Path("/tmp/scale")
KEYS = {"labs": ("patient_id", "analyte", "unit"), "treatments": ("patient_id", "drug", "unit")}


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux


def _median_s(fn: Callable[[], object], runs: int = RUNS) -> tuple[float, float]:
    """Median wall and CPU seconds of ``runs`` calls."""
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        del out
    return statistics.median(wall), statistics.median(cpu)


def _held_gb(fn: Callable[[], object]) -> float:
    """The most memory ``fn`` held at once while it ran (tracemalloc), GB."""
    import tracemalloc
    tracemalloc.start()
    out = fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del out
    return peak / 1024**3


def load_1m() -> object:
    """The 1M-lab-row cohort as ``load_upload`` returns it."""
    from core.ingest import Upload, load_upload

    def load(d: Path) -> object:
        ups = [Upload(f"{t}.csv", (d / f"{t}_{N_PATIENTS}.csv").read_bytes())
               for t in ("patients", "labs", "treatments")]
        return load_upload(*ups)

    if all((SCALE_DIR / f"{t}_{N_PATIENTS}.csv").exists()
           for t in ("patients", "labs", "treatments")):
        return load(SCALE_DIR)
    from ingest_scale import write_files
    with tempfile.TemporaryDirectory(prefix="derive_scale_") as tmp:
        write_files(N_PATIENTS, Path(tmp))
        return load(Path(tmp))


def as_dtype(cohort: object, categorical: bool) -> object:
    """The cohort with the long tables' key columns categorical (as the ingest gives them) or
    plain object."""
    kw = {}
    for table, cols in KEYS.items():
        df = getattr(cohort, table)
        kind = "category" if categorical else object
        kw[table] = df.astype({c: kind for c in cols if c in df})
    return dataclasses.replace(cohort, **kw)


def tile(cohort: object, k: int) -> object:
    """``k`` copies of the cohort, copy ``i > 0`` with patient IDs suffixed ``-T{i}``."""
    if k == 1:
        return cohort
    kw = {}
    for table in ("patients", "labs", "treatments"):
        df = getattr(cohort, table)
        parts = []
        for i in range(k):
            part = df.copy()
            ids = part["patient_id"].astype(object)
            part["patient_id"] = ids if i == 0 else ids.astype(str) + f"-T{i}"
            parts.append(part)
        out = pd.concat(parts, ignore_index=True)
        for c in KEYS.get(table, ()):
            if c in df and isinstance(df[c].dtype, pd.CategoricalDtype):
                out[c] = out[c].astype("category")
        kw[table] = out
    return dataclasses.replace(cohort, **kw)


def split(cohort: object, k: int) -> object:
    """Every patient as ``k`` patients (IDs suffixed ``~j``), row by row by day mod ``k``; the
    patient table lists them patient by patient and the long tables are sorted by patient in
    that order (as a registry export is)."""
    if k == 1:
        return cohort
    pats = cohort.patients  # type: ignore[attr-defined]
    rep = pats.iloc[np.repeat(np.arange(len(pats)), k)].reset_index(drop=True)
    j = np.tile(np.arange(k), len(pats))
    kw = {"patients": rep.assign(patient_id=rep["patient_id"].astype(str).to_numpy(object)
                                 + np.char.add("~", j.astype(str)).astype(object))}
    place = {p: i for i, p in enumerate(pats["patient_id"].astype(str))}
    for table in ("labs", "treatments"):
        df = getattr(cohort, table)
        jj = (df["day"].fillna(0).to_numpy() // 1 % k).astype(int)
        ids = df["patient_id"].astype(str).to_numpy(object)
        order = np.argsort(np.array([place.get(p, len(place)) for p in ids]) * k + jj,
                           kind="stable")
        out = df.assign(patient_id=ids + np.char.add("~", jj.astype(str)).astype(object))
        kw[table] = out.iloc[order].reset_index(drop=True)
    return dataclasses.replace(cohort, **kw)


def load_files(d: Path) -> tuple[object, Path]:
    """The cohort of the three CSV files in ``d`` as ``load_upload`` returns it, and the labs
    file's path."""
    from core.ingest import Upload, load_upload

    paths = {t: sorted(d.glob(f"{t}_*.csv"))[0] for t in ("patients", "labs", "treatments")}
    cohort = load_upload(*[Upload(f"{t}.csv", p.read_bytes()) for t, p in paths.items()])
    return cohort, paths["labs"]


def _duckdb_read(path: Path) -> Callable[[], object]:
    """DuckDB reading the whole CSV file into a table (what the ingest is measured against)."""
    def read() -> object:
        import duckdb
        con = duckdb.connect()
        try:
            return con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{path}')").fetchall()
        finally:
            con.close()
    return read


def run(cohort: object, label: str, labs_csv: Path | None = None) -> None:
    from core.endpoints import apply_to_cohort
    from core.endpoints.clean import Issues, clean_labs

    labs = cohort.labs  # type: ignore[attr-defined]
    _ = cohort.fingerprint  # type: ignore[attr-defined]
    known = set(cohort.patients["patient_id"])  # type: ignore[attr-defined]
    base = _median_s(lambda: labs.groupby(["patient_id", "analyte"], observed=True, sort=False)
                     ["value"].agg(["min", "max"]))
    rows = [("pandas groupby min/max (baseline)", base, _peak_gb(), float("nan"))]
    if labs_csv is not None:
        rows.append(("DuckDB read_csv of the labs file", _median_s(_duckdb_read(labs_csv)),
                     _peak_gb(), float("nan")))
    t = _median_s(lambda: clean_labs(labs, known, Issues()))
    rows.append(("clean_labs", t, _peak_gb(), _held_gb(lambda: clean_labs(labs, known, Issues()))))
    t = _median_s(lambda: apply_to_cohort(cohort))  # type: ignore[arg-type]
    rows.append(("apply_to_cohort", t, _peak_gb(),
                 _held_gb(lambda: apply_to_cohort(cohort))))  # type: ignore[arg-type]
    print(f"\n{label}: {len(labs):,} lab rows, {len(cohort.patients):,} patients; "  # type: ignore[attr-defined]
          f"median of {RUNS} runs")
    print(f"{'step':36s}{'wall s':>9s}{'x base':>8s}{'CPU s':>9s}{'x base':>8s}"
          f"{'peak RSS GB':>13s}{'held GB':>9s}")
    for name, (wall, cpu), gb, held in rows:
        print(f"{name:36s}{wall:9.3f}{wall / base[0]:8.1f}{cpu:9.3f}{cpu / base[1]:8.1f}"
              f"{gb:13.2f}{held:9.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[1, 10],
                    help="copies of the 1M-row cohort (default 1 10)")
    ap.add_argument("--object", action="store_true",
                    help="object key columns instead of categorical ones")
    ap.add_argument("--split", type=int, default=1,
                    help="split every patient into this many by day (6: ~109k patients at 10M)")
    ap.add_argument("--files", type=Path, default=None,
                    help="load the cohort from this directory's CSV files instead")
    args = ap.parse_args()
    if args.files is not None:
        cohort, labs_csv = load_files(args.files)
        run(cohort, f"the cohort of {args.files}", labs_csv)
        return
    one = as_dtype(split(load_1m(), args.split), not args.object)
    kind = "object keys" if args.object else "categorical keys"
    if args.split > 1:
        kind += f", patients split in {args.split}"
    for k in args.sizes:
        cohort = tile(one, k)
        run(cohort, f"{k}x the 1M cohort ({kind})")
        del cohort


if __name__ == "__main__":
    main()
