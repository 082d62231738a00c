"""Chart builders of core.charts.survival: structure via to_dict(), one PNG render each."""

from __future__ import annotations

from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import pytest
import vl_convert as vlc

from core.charts.survival import at_risk_table, forest_plot, km_plot, km_with_risk_table
from core.stats import cox, kaplan_meier, logistic

FIX = Path(__file__).parent / "fixtures" / "stats_models"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def km():
    lung = pd.read_csv(FIX / "lung.csv")
    return kaplan_meier(lung.assign(status=lung["status"] - 1), "time", "status", "sex")


def _marks(spec: dict) -> list[str]:
    out = []
    for layer in spec["layer"]:
        mark = layer["mark"]
        out.append(mark if isinstance(mark, str) else mark["type"])
    return out


def _png(chart: alt.TopLevelMixin) -> bytes:
    png = vlc.vegalite_to_png(chart.to_json())
    assert png[:8] == PNG
    return png


def _dataset(spec: dict) -> list[dict]:
    (rows,) = spec["datasets"].values() if len(spec["datasets"]) == 1 else \
        [max(spec["datasets"].values(), key=len)]
    return rows


def test_km_plot_layers_and_encodings(km):
    chart = km_plot(km, time_label="Days since infusion")
    spec = chart.to_dict()
    assert _marks(spec) == ["area", "line", "tick"]
    band, line, ticks = spec["layer"]
    assert band["mark"]["interpolate"] == "step-after"
    assert line["mark"]["interpolate"] == "step-after"
    assert band["encoding"]["y2"]["field"] == "ci_high"
    assert line["encoding"]["x"]["title"] == "Days since infusion"
    assert ticks["mark"]["orient"] == "vertical"
    assert ticks["transform"][0]["filter"] == "datum.censored > 0"
    legend = {r["legend"] for r in _dataset(spec)}
    assert legend == {"1 (n=138)", "2 (n=90)"}
    assert line["encoding"]["color"]["title"] == "Group (n)"
    _png(chart)


def test_km_plot_options_and_single_group():
    aml = pd.read_csv(FIX / "aml.csv")
    chart = km_plot(kaplan_meier(aml, "time", "status"), show_ci=False, show_censors=False)
    spec = chart.to_dict()
    assert _marks(spec) == ["line"]
    assert "legend" in spec["layer"][0]["encoding"]["color"]  # legend None for one curve
    _png(chart)


def test_at_risk_table_and_stack_share_x(km):
    times = [0, 250, 500, 750, 1000]
    table = at_risk_table(km.survival_at(times))
    spec = table.to_dict()
    assert spec["mark"]["type"] == "text"
    assert spec["encoding"]["text"]["field"] == "at_risk"
    assert spec["encoding"]["y"]["field"] == "row"
    rows = _dataset(spec)
    # R: summary(survfit(Surv(time, status) ~ sex, data = lung), times = c(0, 250, 500, 750,
    #    1000), extend = TRUE)$n.risk -> sex=1: 138 62 20 7 2; sex=2: 90 53 21 3 0
    assert [r["at_risk"] for r in rows if r["group"] == "1"] == [138, 62, 20, 7, 2]
    assert [r["at_risk"] for r in rows if r["group"] == "2"] == [90, 53, 21, 3, 0]
    stacked = km_with_risk_table(km, times)
    sspec = stacked.to_dict()
    assert len(sspec["vconcat"]) == 2
    assert sspec["resolve"]["scale"]["x"] == "shared"
    plot_x = sspec["vconcat"][0]["layer"][1]["encoding"]["x"]["scale"]["domain"]
    table_x = sspec["vconcat"][1]["encoding"]["x"]["scale"]["domain"]
    assert plot_x == table_x == [0.0, 1022.0]
    table_rows = sspec["datasets"][sspec["vconcat"][1]["data"]["name"]]
    assert {r["row"] for r in table_rows} == {"1 (n=138)", "2 (n=90)"}
    _png(stacked)


def test_forest_plot_logistic_separation_is_clipped_and_marked():
    # ML on the separated endometrial data: NV's OR ~ 1e11 with CI (0, inf)
    endo = pd.read_csv(FIX / "endometrial.csv")
    res = logistic(endo, "HG", ["NV", "PI", "EH"], method="ml")
    chart = forest_plot(res.table)
    spec = chart.to_dict()
    assert _marks(spec) == ["rule", "rule", "point", "point", "point"]
    ref, rule, point, left, right = spec["layer"]
    assert rule["encoding"]["x"]["scale"]["type"] == "log"
    assert point["encoding"]["x"]["scale"]["type"] == "log"
    assert spec["datasets"][ref["data"]["name"]] == [{"ref": 1.0}]
    rows = {r["term"]: r for r in _dataset(spec)}
    assert "(Intercept)" not in rows
    nv = rows["NV"]
    assert nv["clipped_low"] and nv["clipped_high"]
    assert nv["low"] == pytest.approx(1e-3) and nv["high"] == pytest.approx(1e3)
    assert not rows["EH"]["clipped_high"] and not rows["EH"]["clipped_low"]
    assert all(np.isfinite(rows[t][k]) for t in rows for k in ("est", "low", "high"))
    assert left["mark"]["shape"] == "triangle-left" and right["mark"]["shape"] == "triangle-right"
    _png(chart)


def test_forest_plot_cox_hazard_ratios():
    vet = pd.read_csv(FIX / "veteran.csv")
    res = cox(vet, "time", "status", ["trt", "celltype", "karno"])
    chart = forest_plot(res.table, estimate="hazard_ratio")
    spec = chart.to_dict()
    rows = _dataset(spec)
    assert len(rows) == 5 and not any(r["clipped_low"] or r["clipped_high"] for r in rows)
    assert spec["layer"][1]["encoding"]["x"]["title"] == "Hazard ratio"
    domain = spec["layer"][1]["encoding"]["x"]["scale"]["domain"]
    assert domain[0] < min(r["low"] for r in rows) and domain[1] > max(r["high"] for r in rows)
    _png(chart)


# ------------------------------------------------------------------------- cumulative incidence

def test_cif_plot_and_risk_table():
    from core.charts.models import SCHEME, cif_figure
    from core.charts.survival import cif_plot, cif_with_risk_table
    from core.stats import cumulative_incidence

    mel = pd.read_csv(FIX / "melanoma.csv")
    res = cumulative_incidence(mel, "time", "cause", "ulcer")
    spec = cif_plot(res).to_dict()
    assert _marks(spec) == ["area", "line"]
    legend = spec["layer"][1]["encoding"]["color"]
    assert legend["title"] == "Group (n)" and legend["sort"] == ["0 (n=115)", "1 (n=90)"]
    assert spec["layer"][1]["encoding"]["y"]["title"] == "Cumulative incidence"
    stack = cif_with_risk_table(res, [0, 1000, 2000, 3000, 4000, 5000])
    plot, table = stack.to_dict()["vconcat"]
    assert table["encoding"]["text"]["field"] == "at_risk"
    rows = res.cif_at([0, 1000])
    assert rows.loc[rows["time"] == 0, "at_risk"].tolist() == [115, 90]
    fig = cif_figure(res, [0, 2000, 4000])
    fspec = fig.to_dict()
    assert fspec["autosize"]["type"] == "fit-x"
    assert fspec["vconcat"][1]["encoding"]["color"]["scale"]["scheme"] == SCHEME
    _png(fig)
    single = cumulative_incidence(mel.assign(cause=0), "time", "cause")   # no events: flat 0
    _png(cif_figure(single, [0, 1000]))
