"""Benchmark: the Swimmer plot page's computation after a filter change, at registry scale
(issues 13 and 14).

Builds the same stores as ``benchmarks/pages_scale.py`` (41 demo patients, 10,000 generated,
100,000 = the 10k cohort tiled with new IDs) and times (median of RUNS) what the page computes
on a filter change: the page's path (lanes, their treatments, the session's derived episodes,
marks), and its parts: the filtered patients, the lane choice (a partial selection over every
patient in view), the shown lanes' treatment and lab rows (semi-join on IDs), the whole
``swimmer_of`` (what Show code prints: lanes, their episodes derived from the lab table, marks)
for the first N, a seeded sample and 200 lanes, and the chart (Streamlit sends its frames as
Arrow, so the page does not pay altair's validation of inline data).

Run: `.venv/bin/python benchmarks/swimmer_scale.py [N ...]` (default: 41 10000 100000). The goal
is <= 1 s per row at 100k.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pages_scale import FILTER, build  # noqa: E402

from _timing import median_ms  # noqa: E402
from core.analyses import swimmer  # noqa: E402
from core.charts.swimmer import swimmer_chart  # noqa: E402
from core.endpoints import EndpointSettings  # noqa: E402
from core.store import CohortStore  # noqa: E402

RUNS = 3
LANES = swimmer.DEFAULT_MAX_LANES


def steps(store: CohortStore) -> dict[str, Callable[[], object]]:
    p = store.patients(FILTER)
    ids = list(swimmer.select_lanes(p, max_lanes=LANES)["patient_id"])
    s = EndpointSettings()
    sw = swimmer.swimmer_of(p, store, s, max_lanes=LANES)
    # the session's derived episodes, as many rows as patients (only their size matters here)
    n = len(store.cohort.patients)
    episodes = pd.DataFrame({"patient_id": store.cohort.patients["patient_id"].astype(str),
                             "episode": 1, "onset_day": 5.0, "grade": 2, "recovery_day": 20.0,
                             "last_day": 30.0}, index=range(n))

    def page() -> object:
        """What views/swimmer.py runs: lanes, their treatments, derived episodes, marks."""
        ids = tuple(swimmer.select_lanes(p, max_lanes=LANES)["patient_id"])
        tx = swimmer.lane_treatments(store, ids)
        ep = episodes[episodes["patient_id"].isin(ids)].reset_index(drop=True)
        return swimmer.swimmer(p, tx, ep, max_lanes=LANES)

    return {
        "page (derived episodes)": page,
        "filtered patients (store)": lambda: store.patients(FILTER),
        f"select_lanes ({LANES}, by follow-up)": lambda: swimmer.select_lanes(p, max_lanes=LANES),
        "select_lanes (by CRS grade)": lambda: swimmer.select_lanes(p, "crs_grade",
                                                                    max_lanes=LANES),
        "lane treatments (semi-join)": lambda: swimmer.lane_treatments(store, ids),
        "lane labs (semi-join)": lambda: swimmer._rows_of(store, "labs", ids),
        "swimmer_of, first N": lambda: swimmer.swimmer_of(p, store, s, max_lanes=LANES),
        "swimmer_of, seeded sample": lambda: swimmer.swimmer_of(p, store, s, max_lanes=LANES,
                                                                sample="random"),
        f"swimmer_of, {swimmer.MAX_LANES} lanes": lambda: swimmer.swimmer_of(
            p, store, s, max_lanes=swimmer.MAX_LANES),
        "chart build": lambda: swimmer_chart(sw, time_scale="symlog"),
    }


def measure(n: int) -> dict[str, float]:
    store = build(n)
    out = {name: median_ms(fn, RUNS) for name, fn in steps(store).items()}
    for name, ms in out.items():
        print(f"  n={n:,} {name}: {ms:.0f} ms", file=sys.stderr, flush=True)
    print(f"  n={n:,}: {len(store.cohort.patients):,} patients, "
          f"{len(store.cohort.labs):,} lab rows, {len(store.cohort.treatments):,} treatment rows",
          file=sys.stderr, flush=True)
    store.close()
    return out


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or [41, 10_000, 100_000]
    results = {n: measure(n) for n in sizes}
    base = results[sizes[0]]
    print(f"median of {RUNS} runs after the filter {FILTER!r}, milliseconds "
          f"(ratio to n = {sizes[0]:,})")
    print(f"{'computation':40s}" + "".join(f"{f'n = {n:,}':>20s}" for n in sizes))
    for step in base:
        print(f"{step:40s}" + "".join(
            f"{results[n][step]:>11.0f} ({results[n][step] / base[step]:>5.0f}x)"
            for n in sizes))
    over = [s for s in base if results[sizes[-1]][s] > 1000]
    print(f"over 1 s at n = {sizes[-1]:,}: {', '.join(over) or 'none'}")


if __name__ == "__main__":
    main(sys.argv[1:])
