"""Benchmark: the computations behind a page redraw, where DuckDB does the aggregation.

For the 41-patient demo (baseline, same process) and synthetic cohorts of 2,000 and 10,000
patients (core.demo.generate), prints the median of 5 runs and the ratio to the baseline of:
a Lab values panel (box statistics in SQL + capped points + Kruskal-Wallis/Dunn), the
Time course data (sampled curves + median/IQR band in SQL + doses), and Table 1.
Run: `.venv/bin/python benchmarks/panels.py` (or `make bench`).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import median_ms  # noqa: E402
from core import demo, ingest  # noqa: E402
from core.analyses import cohort as table1  # noqa: E402
from core.analyses import lab_values as panels  # noqa: E402
from core.analyses import time_course as timecourse  # noqa: E402
from core.filters import CohortFilter  # noqa: E402
from core.store import CohortStore  # noqa: E402

RUNS = 5
FILTER = CohortFilter().where("crs_grade", [1, 2, 3, 4])



def measure(n: int) -> dict[str, float]:
    c = demo.generate(n=n)
    store = CohortStore(ingest.load_frames(c.patients, c.labs, c.treatments))
    patients = store.patients(FILTER)
    tc = timecourse.time_course(store, FILTER, "fibrinogen")
    return {
        "Lab values panel (D-dimer by CRS)": median_ms(
            lambda: panels.group_panel(store, FILTER, "d_dimer_max", "crs_grade"), RUNS),
        "Time course (fibrinogen, 30 curves + band)": median_ms(
            lambda: timecourse.time_course(store, FILTER, "fibrinogen"), RUNS),
        "Table 1 stratified by tocilizumab": median_ms(
            lambda: table1.table_one(patients, by="tocilizumab"), RUNS),
        "_curve_rows": float(len(tc.curves)),
    }


def main() -> None:
    sizes = [41, 2_000, 10_000]
    results = {n: measure(n) for n in sizes}
    base = results[41]
    print(f"median of {RUNS} runs, milliseconds (ratio to the 41-patient demo)")
    print(f"{'computation':44s}" + "".join(f"{f'n = {n:,}':>20s}" for n in sizes))
    for step in (k for k in base if not k.startswith("_")):
        print(f"{step:44s}" + "".join(
            f"{results[n][step]:>11.1f} ({results[n][step] / base[step]:>4.1f}x)" for n in sizes))
    print(f"{'rows sent to the time-course chart':44s}"
          + "".join(f"{int(results[n]['_curve_rows']):>20,d}" for n in sizes))


if __name__ == "__main__":
    main()
