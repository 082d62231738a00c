"""Benchmark: the heavy statistics at registry scale (issue 13), large-n path against the small-n
path in the same process.

On a synthetic cohort of N patients (numpy, seeded: follow-up days, event, an exposure with a day,
age in years with a decimal so that rows are distinct, a binary and a 3-level covariate, a
binary outcome that tocilizumab separates, as in the paper), times (median of RUNS) the calls the
Survival and Risk factors pages make: cox with one binary covariate (fit + concordance +
cox.zph), cox with three covariates, the time-varying cox on start-stop rows, logistic "auto"
(separated: Firth with profile CIs and LRT p) and logistic "ml", univariable and multivariable.
Each is timed on the large-n path (from FAST_MIN_ROWS rows: core.stats.efron / cox_model's own
Newton-Raphson, logistic on distinct rows with counts) and on the small-n path (the switch
moved above N: lifelines' fitters and the loops, statsmodels, firthmodels on every row), and
the two results are compared (largest relative difference of the table's numbers).

Run: `.venv/bin/python benchmarks/stats_scale.py [N ...]` (default: 10000 100000). The small-n
path of the time-varying Cox takes minutes at 100k (pass SLOW=0 in the environment to skip
the small-n runs).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import median_ms  # noqa: E402
from core.stats import cox, cox_model, efron, firth, logistic, regression  # noqa: E402

RUNS = 3
MODULES = (efron, cox_model, firth, regression)


def cohort(n: int) -> pd.DataFrame:
    """A synthetic cohort of ``n`` patients (seeded)."""
    rng = np.random.default_rng(20240328)
    toci = (rng.random(n) < 0.6).astype(int)
    age = np.round(rng.normal(60, 10, n), 1)
    product = rng.choice(["axi-cel", "tisa-cel", "liso-cel"], n)
    bulky = (rng.random(n) < 0.3).astype(int)
    hazard = np.exp(0.3 * toci + 0.01 * (age - 60) - 0.2 * bulky)
    time = np.ceil(rng.exponential(365 / hazard)).clip(1, 1100)
    event = (rng.random(n) < 0.7).astype(int)
    day = np.where(toci == 1, rng.integers(1, 60, n), np.nan)
    hypofib = toci * (rng.random(n) < 1 / (1 + np.exp(-(-0.5 + 0.02 * (age - 60)))))
    return pd.DataFrame({"id": np.arange(n), "time": time, "event": event, "toci": toci,
                         "day": day, "age": age, "product": product, "bulky": bulky,
                         "hypofib": hypofib})


def start_stop(df: pd.DataFrame) -> pd.DataFrame:
    """Counting-process rows: exposed from ``day`` on when it falls inside the follow-up."""
    split = (df["toci"] == 1) & (df["day"] < df["time"])
    whole = df[~split].assign(start=0.0, stop=df["time"], exposed=0.0)
    before = df[split].assign(start=0.0, stop=df["day"], event=0, exposed=0.0)
    after = df[split].assign(start=df["day"], stop=df["time"], exposed=1.0)
    return pd.concat([whole, before, after], ignore_index=True)


def calls(df: pd.DataFrame) -> dict[str, Callable[[], object]]:
    tv = start_stop(df)
    return {
        "cox ~ toci": lambda: cox(df, "time", "event", ["toci"]),
        "cox ~ toci + age + product": lambda: cox(df, "time", "event",
                                                  ["toci", "age", "product"]),
        "time-varying cox ~ exposed + age": lambda: cox(tv, "stop", "event", ["exposed", "age"],
                                                        start="start", id="id"),
        "logistic auto ~ toci (Firth)": lambda: logistic(df, "hypofib", ["toci"]),
        "logistic auto ~ toci + age + bulky + product": lambda: logistic(
            df, "hypofib", ["toci", "age", "bulky", "product"]),
        "logistic ml ~ age + bulky + product": lambda: logistic(
            df, "hypofib", ["age", "bulky", "product"], method="ml"),
    }


def _switch(at: int) -> None:
    for module in MODULES:
        module.FAST_MIN_ROWS = at  # type: ignore[attr-defined]


def _numbers(result: object) -> np.ndarray:
    return np.asarray(result.table.select_dtypes("number"), dtype=float)  # type: ignore[attr-defined]


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or [10_000, 100_000]
    slow = os.environ.get("SLOW", "1") != "0"
    default = efron.FAST_MIN_ROWS
    warnings.simplefilter("ignore")
    print(f"median of {RUNS} runs, milliseconds: large-n path (from {default:,} rows), "
          "small-n path, ratio, largest relative difference of the results")
    for n in sizes:
        for name, fn in calls(cohort(n)).items():
            _switch(default)
            fast_result, fast = fn(), median_ms(fn, RUNS)
            line = f"n={n:>7,} {name:45s} {fast:8.0f}"
            if slow:
                _switch(10**12)
                slow_result, slow_ms = fn(), median_ms(fn, 1)
                a, b = _numbers(fast_result), _numbers(slow_result)
                with np.errstate(all="ignore"):
                    rel = np.nanmax(np.abs(a - b) / np.abs(b)) if a.size else 0.0
                line += f" {slow_ms:8.0f} {slow_ms / fast:6.1f}x  {rel:.1e}"
            print(line, flush=True)
    _switch(default)


if __name__ == "__main__":
    main(sys.argv[1:])
