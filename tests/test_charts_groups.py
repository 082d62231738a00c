"""core.charts.groups: chart structure (to_dict) and one real render each (vl-convert)."""

from __future__ import annotations

from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import pytest
import vl_convert as vlc

from core.charts.groups import boxplot, correlation_matrix, ols_band, scatter
from core.errors import ColumnError
from core.stats import correlation_matrix_frame, tukey_box

FIX = Path(__file__).parent / "fixtures" / "stats_groups"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def airquality() -> pd.DataFrame:
    return pd.read_csv(FIX / "airquality.csv")


@pytest.fixture(scope="module")
def mtcars() -> pd.DataFrame:
    return pd.read_csv(FIX / "mtcars.csv").rename(columns={"model": "patient_id"})


def _data(spec: dict, layer: dict) -> list[dict]:
    """Rows of a layer's data (Altair lifts data shared by all layers to the top level)."""
    return spec["datasets"][layer.get("data", spec.get("data"))["name"]]


def _marks(spec: dict) -> list[str]:
    return [layer["mark"]["type"] for layer in spec["layer"]]


def _render(chart: alt.TopLevelMixin) -> bytes:
    png = vlc.vegalite_to_png(chart.to_json())
    assert png.startswith(PNG)
    return png


# ------------------------------------------------------------------------------------------
# boxplot
# ------------------------------------------------------------------------------------------

def _points(df: pd.DataFrame) -> pd.DataFrame:
    d = df.dropna(subset=["Ozone"])
    return pd.DataFrame({"group": d["Month"], "value": d["Ozone"],
                         "patient_id": [f"P{i}" for i in d["Day"]]})


def test_boxplot_layers_and_n_labels(airquality):
    box = tukey_box(airquality, "Ozone", "Month", order=[9, 8, 7, 6, 5])
    chart = boxplot(box, _points(airquality), value_label="Ozone (ppb)", group_label="Month")
    spec = chart.to_dict()
    assert _marks(spec) == ["rule", "bar", "tick", "circle", "text"]
    whisker, bar, tick, points, labels = spec["layer"]
    assert (whisker["encoding"]["y"]["field"], whisker["encoding"]["y2"]["field"]) == (
        "whisker_low", "whisker_high")
    assert (bar["encoding"]["y"]["field"], bar["encoding"]["y2"]["field"]) == ("q1", "q3")
    assert tick["encoding"]["y"]["field"] == "median"
    # group order follows the box frame (here reversed), as text labels
    assert whisker["encoding"]["x"]["sort"] == ["9", "8", "7", "6", "5"]
    assert whisker["encoding"]["y"]["title"] == "Ozone (ppb)"
    # n labels: one per box, "n = k" from the box frame
    label_rows = _data(spec, labels)
    assert [(r["group"], r["label"]) for r in label_rows] == [
        ("9", "n = 29"), ("8", "n = 26"), ("7", "n = 26"), ("6", "n = 9"), ("5", "n = 26")]
    assert labels["encoding"]["text"]["field"] == "label"
    # jittered points with the patient in the tooltip
    assert points["encoding"]["xOffset"]["field"] == "jitter"
    jitter = [r["jitter"] for r in _data(spec, points)]
    assert len(jitter) == 116 and max(map(abs, jitter)) <= 0.3
    assert any(t["field"] == "patient_id" for t in points["encoding"]["tooltip"])
    _render(chart)


def test_boxplot_jitter_is_reproducible(airquality):
    box = tukey_box(airquality, "Ozone", "Month")
    a = boxplot(box, _points(airquality), value_label="v", group_label="g").to_dict()
    b = boxplot(box, _points(airquality), value_label="v", group_label="g").to_dict()
    assert a["datasets"] == b["datasets"]


def test_boxplot_ref_lines_log_scale_and_no_labels(airquality):
    box = tukey_box(airquality, "Ozone", "Month")
    refs = [(200.0, "LLN"), (100.0, "G2"), (50.0, "G4")]
    chart = boxplot(box, None, value_label="Fibrinogen (mg/dL)", group_label="CRS grade",
                    log_scale=True, ref_lines=refs, n_labels=False)
    spec = chart.to_dict()
    assert _marks(spec) == ["rule", "bar", "tick", "rule", "text"]
    assert spec["layer"][0]["encoding"]["y"]["scale"]["type"] == "log"
    ref_rule, ref_text = spec["layer"][3:]
    assert ref_rule["mark"]["strokeDash"] == [5, 4]
    assert [(r["value"], r["label"]) for r in _data(spec, ref_rule)] == refs
    assert ref_text["encoding"]["text"]["field"] == "label"
    _render(chart)


def test_boxplot_log_scale_with_zero_uses_symlog():
    df = pd.DataFrame({"v": [0.0, 1, 2, 3, 10, 20, 30], "g": [1, 1, 1, 1, 2, 2, 2]})
    spec = boxplot(tukey_box(df, "v", "g"), df.rename(columns={"v": "value", "g": "group"}),
                   value_label="v", group_label="g", log_scale=True).to_dict()
    assert spec["layer"][0]["encoding"]["y"]["scale"]["type"] == "symlog"


def test_boxplot_rejects_wrong_frame():
    with pytest.raises(ColumnError, match="median"):
        boxplot(pd.DataFrame({"group": [1], "n": [3]}), None, value_label="v", group_label="g")


# ------------------------------------------------------------------------------------------
# scatter and the OLS band
# ------------------------------------------------------------------------------------------

def test_ols_band_against_R(mtcars):
    # R 4.2: m <- lm(mpg ~ wt, data = mtcars)
    # predict(m, data.frame(wt = c(1.5, 3, 5)), interval = "confidence")
    #        fit          lwr         upr
    # 1 29.26841881 27.020302639 31.51653498
    # 2 21.25171145 20.124435587 22.37898731
    # 3 10.56276830  8.249130391 12.87640622
    band = ols_band(mtcars["wt"], mtcars["mpg"], at=[1.5, 3, 5])
    assert list(band.columns) == ["x", "fit", "ci_low", "ci_high"]
    assert band["fit"].tolist() == pytest.approx([29.26841881, 21.25171145, 10.56276830],
                                                 rel=1e-6)
    assert band["ci_low"].tolist() == pytest.approx([27.020302639, 20.124435587, 8.249130391],
                                                    rel=1e-6)
    assert band["ci_high"].tolist() == pytest.approx([31.51653498, 22.37898731, 12.87640622],
                                                     rel=1e-6)
    with pytest.raises(ColumnError):
        ols_band([1, 1, 1], [1, 2, 3])


def test_scatter_layers_color_and_band(mtcars):
    df = mtcars.copy()
    df.loc[0, "mpg"] = np.nan
    chart = scatter(df, "wt", "mpg", color="am", x_label="Weight", y_label="MPG")
    spec = chart.to_dict()
    assert _marks(spec) == ["area", "line", "circle"]
    area, line, points = spec["layer"]
    assert (area["encoding"]["y"]["field"], area["encoding"]["y2"]["field"]) == (
        "ci_low", "ci_high")
    assert line["encoding"]["y"]["field"] == "fit"
    band = _data(spec, area)
    assert len(band) == 100
    assert all(r["ci_low"] < r["fit"] < r["ci_high"] for r in band)
    assert points["encoding"]["color"]["field"] == "am"
    assert len(_data(spec, points)) == 31  # the missing mpg is not drawn
    assert points["encoding"]["x"]["title"] == "Weight"
    _render(chart)


def test_scatter_without_fit_or_with_too_few_points(mtcars):
    spec = scatter(mtcars, "wt", "mpg", fit=False, x_label="x", y_label="y").to_dict()
    assert _marks(spec) == ["circle"]
    tiny = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    assert _marks(scatter(tiny, "a", "b", x_label="a", y_label="b").to_dict()) == ["circle"]


# ------------------------------------------------------------------------------------------
# correlation matrix
# ------------------------------------------------------------------------------------------

def test_correlation_matrix_cells_and_text(mtcars):
    frame = correlation_matrix_frame(mtcars, ["mpg", "wt", "hp"])
    chart = correlation_matrix(frame, labels={"mpg": "MPG"})
    spec = chart.to_dict()
    assert _marks(spec) == ["rect", "text"]
    rect, text = spec["layer"]
    assert rect["encoding"]["color"]["field"] == "r"
    assert rect["encoding"]["color"]["scale"]["domain"] == [-1, 1]
    rows = _data(spec, rect)
    assert len(rows) == 9
    cell = next(r for r in rows if r["x"] == "MPG" and r["y"] == "wt")
    # R 4.2: cor(mtcars$mpg, mtcars$wt, method = "spearman") -> -0.8864220333
    assert cell["text"] == "-0.89\nn=32"
    assert text["mark"]["lineBreak"] == "\n"
    assert rect["encoding"]["x"]["sort"] == ["MPG", "wt", "hp"]
    _render(chart)


def test_correlation_matrix_shows_missing_r():
    df = pd.DataFrame({"a": [1.0, 2, 3, 4, 5], "b": [5.0, 5, 5, 5, 5]})
    spec = correlation_matrix(correlation_matrix_frame(df, ["a", "b"])).to_dict()
    texts = {(r["x"], r["y"]): r["text"] for r in _data(spec, spec["layer"][0])}
    assert texts[("a", "b")] == "–\nn=5"
    _render(correlation_matrix(correlation_matrix_frame(df, ["a", "b"])))
