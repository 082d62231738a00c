"""core.charts.time_course: the overlay and small-multiples builders with small data."""

from __future__ import annotations

import pytest

from core import ingest
from core.analyses import time_course as tc
from core.charts import time_course as charts
from core.errors import ColumnError
from core.store import CohortStore


@pytest.fixture(scope="module")
def demo_store() -> CohortStore:
    return CohortStore(ingest.load_demo())


def test_chart_builders_return_charts_with_small_data(demo_store):  # noqa: ANN001
    res = tc.time_course(demo_store, None, "fibrinogen")
    lines = tc.ctcae_lines(200)
    ov = charts.overlay(res.curves, res.band, res.doses, lines, x_domain=(-7, 60))
    spec = ov.to_dict()
    # zero rule, grade lines (rule + label), curves, IQR area, median, doses
    assert len(spec["layer"]) == 6 and len(spec["layer"][1]["layer"]) == 2
    sm = charts.small_multiples(res.curves, res.doses, lines, log_scale=True, columns=5)
    d = sm.to_dict()
    assert d["columns"] == 5 and d["facet"]["field"] == "patient_id"
    n_rows = sum(len(v) for v in d["datasets"].values())
    assert n_rows < 3000
    with pytest.raises(ColumnError):
        charts.overlay(res.curves.drop(columns="group"))
