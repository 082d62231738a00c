"""Benchmark: every page's computation after a filter change, at registry scale (issue 13).

For the 41-patient demo, 10,000 and 100,000 generated patients (core.demo.generate; above 1,000
patients the lab table keeps fibrinogen and D-dimer only, LAB_ANALYTES, and 100k is the validated
10k cohort tiled ten times with new patient IDs, so the build fits in memory and time), builds a
CohortStore, applies a filter and times (median of RUNS) the same core calls, with the same
arguments, that the views make: Table 1, lab values panel, correlation panel + matrix, tocilizumab
panels, time course, paper figures, risk factors, survival (KM, Cox, time-varying, competing), the
endpoints summary, the store's filtered patients/labs queries and ``ui.session``'s memo key of the
view's patients.

Run: `.venv/bin/python benchmarks/pages_scale.py [N ...]` (default: 41 10000 100000). The goal is
<= 1 s per row at 100k.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import median_ms  # noqa: E402
from core import demo, ingest  # noqa: E402
from core.analyses import cohort as table1  # noqa: E402
from core.analyses import (  # noqa: E402
    columns,
    competing,
    correlations,
    indicators,
    lab_values,
    risk_factors,
    survival,
    time_course,
    time_varying,
    tocilizumab,
)
from core.analyses import paper_figures as paper  # noqa: E402
from core.analyses.common import POOL_CRS_34  # noqa: E402
from core.analyses.endpoints import summarise  # noqa: E402
from core.filters import CohortFilter  # noqa: E402
from core.ingest import Cohort  # noqa: E402
from core.store import CohortStore  # noqa: E402

RUNS = 3
#: a computation slower than this is timed once (it is far over the goal anyway)
SLOW_MS = 5_000
FILTER = CohortFilter().where("crs_grade", [1, 2, 3, 4])
LAB_ANALYTES = ("fibrinogen", "d_dimer")
BASE_N = 10_000
MATRIX = ("fibrinogen_nadir", "d_dimer_max", "platelets_min", "inr_max", "ptt_max", "ggt_max",
          "albumin_min", "crp_max", "tocilizumab_cum_mg")


def build(n: int) -> CohortStore:
    """A store of ``n`` patients. Above BASE_N the validated BASE_N-patient cohort (labs:
    LAB_ANALYTES, so that it fits in time and memory) is tiled with new patient IDs: the
    generator and the ingest would take minutes there and are benchmarked elsewhere."""
    if n <= BASE_N:
        return CohortStore(_validated(n))
    base = _validated(BASE_N)
    k = -(-n // BASE_N)

    def tile(df: pd.DataFrame, rows: int | None = None) -> pd.DataFrame:
        parts = []
        for i in range(k):
            part = df.copy()
            part["patient_id"] = part["patient_id"].astype(str) + f"-{i}"
            parts.append(part)
        return pd.concat(parts, ignore_index=True).iloc[:rows]

    patients = tile(base.patients, n)
    keep = set(patients["patient_id"])
    labs, tx = tile(base.labs), tile(base.treatments)
    return CohortStore(dataclasses.replace(
        base, patients=patients, labs=labs[labs["patient_id"].isin(keep)].reset_index(drop=True),
        treatments=tx[tx["patient_id"].isin(keep)].reset_index(drop=True)))


@functools.lru_cache(maxsize=1)
def _validated(n: int) -> Cohort:
    c = demo.generate(n=n)
    labs = c.labs if n <= 1_000 else c.labs[c.labs["analyte"].isin(LAB_ANALYTES)]
    return ingest.load_frames(c.patients, labs, c.treatments)


def steps(store: CohortStore) -> dict[str, Callable[[], object]]:
    from ui import session

    df = store.patients(FILTER)
    matrix = [c for c in MATRIX if c in df.columns]
    tz = columns.only(df, tocilizumab.DOSE_COLUMNS)
    pf = columns.only(df, paper.COLUMNS)
    ep = survival.endpoints(df)[0]
    spec = indicators.HYPOFIB_ANY
    predictors = tuple(indicators.default_predictors(df, spec))
    exposure = next(e for e in [indicators.HYPOFIB_GROUP, "tocilizumab", "corticosteroids"]
                    if survival.exposure_day(df, e))
    question = competing.competing_questions(df)[0]
    analyte = time_course.analytes(store, FILTER)[0]

    view = session.CohortView(df, len(df), len(df), "", FILTER, store, False, "benchmark",
                              "view-key")

    def in_view(fn: Callable[[], object]) -> object:
        """``fn`` with ``view`` as the session's current view (as ``session.cohort()`` sets)."""
        saved = session.st.session_state
        session.st.session_state = {"_view": view}  # type: ignore[assignment]
        try:
            return fn()
        finally:
            session.st.session_state = saved

    def survival_page() -> None:
        survival.survival_analysis(df, ep.time, ep.event, indicators.HYPOFIB_SEVERE, None,
                                   None, (), None)

    def cox() -> None:
        survival.survival_analysis(df, ep.time, ep.event, indicators.HYPOFIB_SEVERE, None,
                                   None, (indicators.HYPOFIB_SEVERE,), None)

    return {
        "store: filtered patients": lambda: store.patients(FILTER),
        "store: filtered labs": lambda: store.labs(FILTER),
        "session.memo key: a frame's content": lambda: session._key(df.copy(deep=False)),
        "session.memo key: view's patients + subset": lambda: in_view(
            lambda: (session._key(df), session._key(columns.only(df, matrix)))),
        "Table 1 (by tocilizumab)": lambda: table1.table_one(df, "tocilizumab", ()),
        "Lab values panel (D-dimer by CRS)": lambda: lab_values.group_panel(
            store, FILTER, "d_dimer_max", "crs_grade", pool=None),
        "Correlation panel": lambda: correlations.correlation_panel(
            columns.only(df, ("patient_id", "tocilizumab_cum_mg", "fibrinogen_nadir",
                              "crs_grade")),
            "tocilizumab_cum_mg", "fibrinogen_nadir", color="crs_grade"),
        "Correlation matrix (9 columns)": lambda: correlations.correlation_matrix(
            columns.only(df, matrix), tuple(matrix), "spearman"),
        "Tocilizumab dose panels (all)": lambda: [
            tocilizumab.dose_panel(tz, pid, method="spearman", treated_only=False)
            for pid in tocilizumab.DOSE_PANELS],
        "Tocilizumab box panel (3A)": lambda: tocilizumab.tocilizumab_box_panel(
            tz, pool=POOL_CRS_34),
        "Tocilizumab CRS 1-2 + grade by doses": lambda: (
            tocilizumab.crs12_tocilizumab(tz), tocilizumab.grade_by_doses(tz)),
        "Time course (default)": lambda: time_course.time_course(
            store, FILTER, analyte, align="infusion", group="tocilizumab",
            x_range=(float(time_course.X_RANGE[0]), float(time_course.X_RANGE[1])),
            sample=int(time_course.DEFAULT_SAMPLE), seed=0, patients=()),
        "Time course patient options": lambda: time_course.patient_options(
            store, FILTER, analyte, align="infusion"),
        "Paper figures (reproduce)": lambda: paper.reproduce(pf),
        "Risk factors (auto)": lambda: risk_factors.risk_factor_analysis(
            df, spec, predictors, "auto", False),
        "Risk factors (Firth vs ML)": lambda: risk_factors.risk_factor_analysis(
            df, spec, predictors, "firth", True),
        "Survival: KM + log-rank": survival_page,
        "Survival: Cox": cox,
        "Survival: time-varying Cox": lambda: time_varying.time_varying_cox(
            df, ep.time, ep.event, exposure),
        "Survival: competing risks": lambda: competing.competing_analysis(
            df, question, "tocilizumab", None, None),
        "Endpoints summary": lambda: summarise(df),
    }


def measure(n: int) -> dict[str, float]:
    store = build(n)
    out: dict[str, float] = {}
    skip = set(filter(None, os.environ.get("PAGES_SCALE_SKIP", "").split(",")))
    for name, fn in steps(store).items():
        if name in skip:
            out[name] = float("nan")
            continue
        try:
            first = median_ms(fn, 1)
            out[name] = first if first > SLOW_MS else median_ms(fn, RUNS)
        except Exception as exc:  # noqa: BLE001 - report, keep measuring
            print(f"  {name} at n={n}: {type(exc).__name__}: {exc}", file=sys.stderr)
            out[name] = float("nan")
        print(f"  n={n:,} {name}: {out[name]:.0f} ms", file=sys.stderr, flush=True)
    store.close()
    return out


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or [41, 10_000, 100_000]
    results = {n: measure(n) for n in sizes}
    base = results[sizes[0]]
    print(f"median of {RUNS} runs (one run above {SLOW_MS / 1000:g} s) after the filter "
          f"{FILTER!r}, milliseconds (ratio to n = {sizes[0]:,})")
    print(f"{'computation':40s}" + "".join(f"{f'n = {n:,}':>20s}" for n in sizes))
    for step in base:
        print(f"{step:40s}" + "".join(
            f"{results[n][step]:>11.0f} ({results[n][step] / base[step]:>5.0f}x)"
            for n in sizes))
    over = [s for s in base if results[sizes[-1]][s] > 1000]
    print(f"over 1 s at n = {sizes[-1]:,}: {', '.join(over) or 'none'}")


if __name__ == "__main__":
    main(sys.argv[1:])
