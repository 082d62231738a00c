"""core.charts.models: the Kaplan-Meier figure and the forest plot fit the page and keep long
labels."""

from __future__ import annotations

from core.analyses import risk_factors, survival
from core.analyses.indicators import HYPOFIB_ANY

# ------------------------------------------------------------------------- figure builders

def test_outcome_figures_fit_the_page_and_keep_long_labels(demo):
    from core.charts.models import LABEL_LIMIT, forest, km_figure

    res = survival.survival_analysis(demo)
    spec = km_figure(res.km, res.times, time_label="Days").to_dict()
    assert spec["autosize"] == {"type": "fit-x", "contains": "padding"}
    plot, table = spec["vconcat"]
    colors = [layer["encoding"]["color"] for layer in plot["layer"]]
    assert all(c["scale"] == {"scheme": "tableau10"} for c in colors)
    assert all(c["legend"]["labelLimit"] == LABEL_LIMIT for c in colors)
    assert table["encoding"]["y"]["axis"]["labelLimit"] == LABEL_LIMIT
    assert table["encoding"]["y"]["axis"]["offset"] == 16       # the builder's own settings kept
    model = risk_factors.risk_factor_analysis(demo, HYPOFIB_ANY, ["age", "bulky", "cci"]).model
    f3 = forest(model.table).to_dict()
    f1 = forest(model.table.iloc[:2]).to_dict()
    assert f3["height"] > f1["height"]
    assert f3["layer"][1]["encoding"]["y"]["axis"]["labelOverlap"] is False
