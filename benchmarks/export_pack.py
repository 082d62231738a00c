"""Benchmark: how long does the 12-figure meeting pack (PPTX + PDF + ZIP) take to build?

Run from the repository root::

    .venv/bin/python benchmarks/export_pack.py [--runs 5] [--figures 12]

Baseline (same process): rendering ONE figure to a slide-size 300-dpi PNG, median of ``--runs``.
Then the whole pack via :func:`core.export.build_pack` (each figure rendered once, shared by
PPTX, PDF and ZIP), median of ``--runs``, each run with a fresh render cache. Prints a table and
the ratio pack / single figure, plus a breakdown of one pack build by phase. Aim: pack < 10 s.

The charts are realistic stand-ins for what core.charts draws: boxplots with ~200 jittered
points, a scatter with a regression line, lab time courses (layered lines + points), a
Kaplan-Meier-style step chart, a stacked bar chart and a faceted chart. Data are random
(seeded), so nothing here is patient data.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import export  # noqa: E402
from core.export import FigureSpec, RenderCache, Report, ReportMeta  # noqa: E402

CAPTION = "CRS 1-2 \u00b7 tisa-cel, axi-cel \u00b7 tocilizumab \u2265 1 dose \u00b7 n = 200"


def _patients(n: int = 200, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    crs = rng.choice(["0", "1", "2", "3-4"], n, p=[0.1, 0.3, 0.45, 0.15])
    dose = rng.gamma(2.0, 400.0, n)
    return pd.DataFrame({
        "patient_id": [f"P{i:04d}" for i in range(n)],
        "crs_grade": crs,
        "product": rng.choice(["tisa-cel", "axi-cel", "ide-cel", "brexu-cel"], n),
        "tocilizumab_cum_mg": dose.round(0),
        "fibrinogen_nadir": (320 - 0.06 * dose + rng.normal(0, 60, n)).clip(30).round(1),
        "d_dimer_max": rng.lognormal(1.2, 0.8, n).round(2),
        "ferritin_max": rng.lognormal(7, 1, n).round(0),
        "crp_max": rng.lognormal(2, 0.7, n).round(1),
        "os_days": rng.exponential(400, n).round(0),
        "os_event": rng.integers(0, 2, n),
        "hypofibrinogenemia_grade": rng.integers(0, 5, n).astype(str),
    })


def _labs(patients: pd.DataFrame, days: int = 30, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for pid, grade in zip(patients["patient_id"][:41], patients["crs_grade"][:41]):
        curve = 350 + 150 * np.sin(np.linspace(0, 3, days)) - 8 * np.arange(days)
        rows.append(pd.DataFrame({"patient_id": pid, "crs_grade": grade,
                                  "day": np.arange(days),
                                  "fibrinogen": curve + rng.normal(0, 40, days)}))
    return pd.concat(rows, ignore_index=True)


def _boxplot(df: pd.DataFrame, value: str, group: str) -> alt.LayerChart:
    base = alt.Chart(df)
    box = base.mark_boxplot(extent=1.5, opacity=0.5, outliers=False).encode(
        x=alt.X(f"{group}:N", title=group), y=alt.Y(f"{value}:Q", title=value))
    points = base.mark_circle(size=30, opacity=0.6).encode(
        x=alt.X(f"{group}:N"), xOffset="jitter:Q", y=f"{value}:Q",
        tooltip=["patient_id", f"{value}:Q"],
    ).transform_calculate(jitter="random()")
    return (box + points).properties(width=620, height=300)


def _scatter(df: pd.DataFrame, x: str, y: str) -> alt.LayerChart:
    base = alt.Chart(df).encode(x=alt.X(f"{x}:Q"), y=alt.Y(f"{y}:Q"))
    return (base.mark_circle(size=40, opacity=0.6)
            + base.transform_regression(x, y).mark_line(color="firebrick")
            ).properties(width=620, height=300)


def _course(labs: pd.DataFrame) -> alt.LayerChart:
    base = alt.Chart(labs).encode(x="day:Q", y=alt.Y("fibrinogen:Q", title="fibrinogen (mg/dL)"),
                                  detail="patient_id:N", color="crs_grade:N")
    return (base.mark_line(opacity=0.4) + base.mark_point(size=12)).properties(width=620,
                                                                               height=300)


def _km(df: pd.DataFrame) -> alt.Chart:
    rows = []
    for grade, sub in df.groupby("crs_grade"):
        t = np.sort(sub["os_days"].to_numpy())
        rows.append(pd.DataFrame({"group": grade, "time": t,
                                  "survival": 1 - np.arange(1, len(t) + 1) / (len(t) + 1)}))
    curves = pd.concat(rows)
    return alt.Chart(curves).mark_line(interpolate="step-after").encode(
        x="time:Q", y=alt.Y("survival:Q", scale=alt.Scale(domain=[0, 1])), color="group:N"
    ).properties(width=620, height=300)


def _bars(df: pd.DataFrame) -> alt.Chart:
    return alt.Chart(df).mark_bar().encode(
        x="crs_grade:N", y="count():Q", color="hypofibrinogenemia_grade:N"
    ).properties(width=620, height=300)


def _facet(df: pd.DataFrame) -> alt.FacetChart:
    return alt.Chart(df).mark_circle(opacity=0.6).encode(
        x="tocilizumab_cum_mg:Q", y="fibrinogen_nadir:Q"
    ).properties(width=260, height=220).facet(column="product:N")


def make_report(n_figures: int = 12) -> tuple[Report, ReportMeta, pd.DataFrame]:
    """A realistic pack: boxplots, scatters, time course, KM, bars and a facet."""
    patients = _patients()
    labs = _labs(patients)
    makers: list[tuple[str, Callable[[], alt.TopLevelMixin], str | None]] = [
        ("Fibrinogen nadir by CRS grade", lambda: _boxplot(patients, "fibrinogen_nadir",
                                                           "crs_grade"),
         "Kruskal-Wallis p = 0.004"),
        ("Tocilizumab dose vs fibrinogen nadir", lambda: _scatter(
            patients, "tocilizumab_cum_mg", "fibrinogen_nadir"), "Spearman r = -0.44, p < 0.001"),
        ("Fibrinogen course after infusion", lambda: _course(labs), None),
        ("D-dimer by CRS grade", lambda: _boxplot(patients, "d_dimer_max", "crs_grade"),
         "Kruskal-Wallis p = 0.03"),
        ("Overall survival by CRS grade", lambda: _km(patients), "log-rank p = 0.21"),
        ("Hypofibrinogenemia grade by CRS grade", lambda: _bars(patients),
         "Fisher exact p = 0.002"),
        ("Ferritin by product", lambda: _boxplot(patients, "ferritin_max", "product"),
         "Kruskal-Wallis p = 0.5"),
        ("Fibrinogen vs D-dimer", lambda: _scatter(patients, "d_dimer_max", "fibrinogen_nadir"),
         "Spearman r = -0.57"),
        ("Dose vs nadir by product", lambda: _facet(patients), None),
        ("CRP by CRS grade", lambda: _boxplot(patients, "crp_max", "crs_grade"),
         "Kruskal-Wallis p = 0.01"),
        ("CRP vs ferritin", lambda: _scatter(patients, "crp_max", "ferritin_max"),
         "Spearman r = 0.31"),
        ("Fibrinogen nadir by product", lambda: _boxplot(patients, "fibrinogen_nadir",
                                                         "product"), "Kruskal-Wallis p = 0.7"),
    ]
    report = Report(title="CAR-T board (benchmark)")
    for i in range(n_figures):
        title, make, stat = makers[i % len(makers)]
        report = report.add(FigureSpec(chart=make(), title=title, caption=CAPTION, stat=stat,
                                       name=title, synthetic=True))
    meta = ReportMeta(cohort="Benchmark cohort (random, 200 patients)", filters=CAPTION,
                      n=len(patients), when=date.today(), synthetic=True)
    return report, meta, patients


def _median_time(fn: Callable[[], object], runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--figures", type=int, default=12)
    args = parser.parse_args(argv)

    report, meta, patients = make_report(args.figures)
    first = report.items[0].figure

    start = time.perf_counter()
    export.render(first, "png")  # start vl-convert's JS engine; not counted
    warmup = time.perf_counter() - start

    single, single_all = _median_time(lambda: export.render(first, "png"), args.runs)
    pack_out: dict[str, bytes] = {}

    def build() -> None:
        pack_out.update(export.build_pack(report, meta, patients))

    pack, pack_all = _median_time(build, args.runs)

    # one more build, phase by phase, to show where the time goes
    cache = RenderCache()
    phases: list[tuple[str, float]] = []
    for label, fn in [
        (f"render SVG+PNG x{len(report)}",
         lambda: [cache.get(item.figure, "png") for item in report]),
        ("PPTX", lambda: export.build_pptx(report, meta, cache=cache)),
        ("PDF", lambda: export.build_pdf(report, meta, cache=cache)),
        ("ZIP", lambda: export.build_zip(report, meta, patients, cache=cache)),
    ]:
        start = time.perf_counter()
        fn()
        phases.append((label, time.perf_counter() - start))

    print(f"figures in pack: {len(report)}   runs: {args.runs}   "
          f"vl-convert warm-up (not counted): {warmup:.2f} s")
    print()
    print(f"{'measure':<40}{'median s':>10}{'min s':>10}{'max s':>10}")
    print("-" * 70)
    print(f"{'single figure PNG (render)':<40}{single:>10.3f}{min(single_all):>10.3f}"
          f"{max(single_all):>10.3f}")
    print(f"{'pack PPTX+PDF+ZIP (build_pack)':<40}{pack:>10.3f}{min(pack_all):>10.3f}"
          f"{max(pack_all):>10.3f}")
    print("-" * 70)
    print(f"{'ratio pack / single':<40}{pack / single:>10.1f}")
    print(f"{'pack per figure':<40}{pack / len(report):>10.3f}")
    print(f"{'target pack < 10 s':<40}{'met' if pack < 10 else 'MISSED':>10}")
    print()
    print("one build by phase:")
    for label, seconds in phases:
        print(f"  {label:<38}{seconds:>10.3f}")
    print()
    sizes = ", ".join(f"{k.upper()} {len(v) / 1e6:.1f} MB" for k, v in pack_out.items())
    print(f"output sizes: {sizes}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
