"""Benchmark: the CAR-T risk scores (core.endpoints.scores.score_columns) at registry scale.

Builds a coded lab series in memory (no files) for ``--patients`` patients (default 100,000)
with ~60 rows each (the seven score components and two other analytes on days -7, -5, -2, 0 and
after infusion; some components missing, some only after lymphodepletion) and prints the median
of 5 runs of :func:`score_columns`, against :func:`core.endpoints.analytes.summarise_analytes`
on the same series (the per-analyte summary every endpoint already pays for) as the baseline
of the ratio.

Run: ``.venv/bin/python benchmarks/scores_scale.py [--patients 100000]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.endpoints.analytes import ACODE, LabSeries, summarise_analytes  # noqa: E402
from core.endpoints.scores import COMPONENTS, score_columns  # noqa: E402
from core.endpoints.settings import EndpointSettings  # noqa: E402


def series(n: int, seed: int = 1) -> LabSeries:
    """Rows contiguous per (patient, analyte), sorted by day within, like clean_labs's."""
    rng = np.random.default_rng(seed)
    analytes = np.array([ACODE[a] for a in (*COMPONENTS, "fibrinogen", "d_dimer")])
    days = np.array([-7.0, -5.0, -2.0, 0.0, 1.0, 3.0, 7.0])
    P = np.repeat(np.arange(n), len(analytes) * len(days))
    A = np.tile(np.repeat(analytes, len(days)), n)
    D = np.tile(np.tile(days, len(analytes)), n)
    V = rng.uniform(0.5, 300.0, len(P))
    keep = rng.random(len(P)) > 0.05          # 5 % of the draws missing
    return LabSeries(P[keep], A[keep], D[keep], V[keep], D[keep] >= 0)


def median_time(f: Callable[[], object], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=100_000)
    n = ap.parse_args().patients
    s = series(n)
    settings = EndpointSettings()
    base = median_time(lambda: summarise_analytes(s))
    t = median_time(lambda: score_columns(s, n, settings))
    print(f"{n} patients, {len(s.P):,} lab rows")
    print(f"summarise_analytes (baseline) {base:.3f} s")
    print(f"score_columns                 {t:.3f} s  ratio {t / base:.2f}")


if __name__ == "__main__":
    main()
