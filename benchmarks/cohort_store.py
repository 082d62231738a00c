"""Benchmark: loading an upload, building the per-session DuckDB store, filtering.

Prints medians of 5 runs for the 41-patient demo (the baseline, same process) and for
synthetic cohorts of 2,000 and 10,000 patients made by core.demo.generate, and the ratio to
the baseline. Run: `.venv/bin/python benchmarks/cohort_store.py` (or `make bench`).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import median_ms  # noqa: E402
from core import demo, ingest  # noqa: E402
from core.filters import CohortFilter  # noqa: E402
from core.store import CohortStore  # noqa: E402

RUNS = 5
FILTER = (CohortFilter().where("crs_grade", [1, 2]).where("product", ["axi-cel", "tisa-cel"])
          .between("tocilizumab_doses", 1, 4))



def measure(n: int) -> dict[str, float]:
    cohort = demo.generate(n=n)
    patients_csv = cohort.patients.to_csv(index=False, sep=";", decimal=",").encode("cp1252")
    frames = ingest.load_frames(cohort.patients, cohort.labs, cohort.treatments)
    store = CohortStore(frames)
    return {
        "parse + validate patients upload": median_ms(
            lambda: ingest.load_upload(ingest.Upload("p.csv", patients_csv)), RUNS),
        "build store (3 tables)": median_ms(lambda: CohortStore(frames).close(), RUNS),
        "filtered count": median_ms(lambda: store.count(FILTER), RUNS),
        "filtered patients": median_ms(lambda: store.patients(FILTER), RUNS),
        "filtered labs": median_ms(lambda: store.labs(FILTER), RUNS),
        "_rows": float(len(cohort.labs)),
    }


def main() -> None:
    sizes = [41, 2_000, 10_000]
    results = {n: measure(n) for n in sizes}
    base = results[41]
    steps = [k for k in base if not k.startswith("_")]
    print(f"median of {RUNS} runs, milliseconds (ratio to the 41-patient demo)")
    print(f"{'step':36s}" + "".join(f"{f'n = {n:,}':>22s}" for n in sizes))
    for step in steps:
        cells = "".join(f"{results[n][step]:>12.1f} ({results[n][step] / base[step]:>5.1f}x)"
                        for n in sizes)
        print(f"{step:36s}{cells}")
    print(f"{'lab rows':36s}" + "".join(f"{int(results[n]['_rows']):>22,d}" for n in sizes))


if __name__ == "__main__":
    main()
