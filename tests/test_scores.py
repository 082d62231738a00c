"""CAR-T risk scores (core.endpoints.scores) on hand-built patients, worked out in the test.

Reference patient (all components on day -5, the default lymphodepletion day): ANC 2.0 x10^9/L,
haemoglobin 12 g/dL, platelets 200 x10^9/L, CRP 1.0 mg/dL, ferritin 300 ng/mL, LDH 200 U/L,
creatinine 1.0 mg/dL: CAR-HEMATOTOX 0 (every component on the 0-point side), EASIX
200 x 1.0 / 200 = 1.0, m-EASIX 200 x 1.0 / 200 = 1.0. Each case changes one component.

Cut-offs (Rejeski et al., Blood 2021): ANC < 1.2 -> 1; Hb < 9.0 -> 1; platelets 75-175 -> 1,
< 75 -> 2; CRP >= 3.0 -> 1; ferritin 650-2000 -> 1, > 2000 -> 2; high risk >= 2.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core import endpoints as ep
from core.endpoints import scores
from core.errors import ValidationError

REF = {"anc": 2.0, "haemoglobin": 12.0, "platelets": 200.0, "crp": 1.0, "ferritin": 300.0,
       "ldh": 200.0, "creatinine": 1.0}


def _patient(pid: str, day: float = -5, **change: float | None) -> list[tuple]:
    vals = {**REF, **change}
    return [(pid, day, a, v, None) for a, v in vals.items() if v is not None]


def _derive(rows: list[tuple], settings: ep.EndpointSettings | None = None) -> pd.DataFrame:
    labs = pd.DataFrame(rows, columns=["patient_id", "day", "analyte", "value", "unit"])
    res = ep.derive(labs, settings=settings)
    return res.patients.set_index("patient_id")


# (analyte, value, CAR-HEMATOTOX points of that component): just below / at / above each cut-off
CUTOFFS = [
    ("anc", 1.19, 1), ("anc", 1.2, 0), ("anc", 1.21, 0),
    ("haemoglobin", 8.9, 1), ("haemoglobin", 9.0, 0), ("haemoglobin", 9.1, 0),
    ("platelets", 74.0, 2), ("platelets", 75.0, 1), ("platelets", 76.0, 1),
    ("platelets", 174.0, 1), ("platelets", 175.0, 1), ("platelets", 176.0, 0),
    ("crp", 2.99, 0), ("crp", 3.0, 1), ("crp", 3.01, 1),
    ("ferritin", 649.0, 0), ("ferritin", 650.0, 1), ("ferritin", 651.0, 1),
    ("ferritin", 1999.0, 1), ("ferritin", 2000.0, 1), ("ferritin", 2001.0, 2),
]


def test_car_hematotox_at_every_cut_off():
    rows: list[tuple] = _patient("REF")
    for i, (a, v, _) in enumerate(CUTOFFS):
        rows += _patient(f"C{i:02d}", **{a: v})
    p = _derive(rows)
    assert p.loc["REF", "car_hematotox"] == 0 and p.loc["REF", "car_hematotox_high"] == 0
    assert p.loc["REF", "easix"] == pytest.approx(1.0)
    assert p.loc["REF", "m_easix"] == pytest.approx(1.0)
    for i, (a, v, pts) in enumerate(CUTOFFS):
        row = p.loc[f"C{i:02d}"]
        assert row["car_hematotox"] == pts, (a, v)
        assert row["car_hematotox_high"] == (1 if pts >= 2 else 0), (a, v)
        # EASIX = LDH x creatinine / platelets, m-EASIX = LDH x CRP / platelets (by hand)
        plt = v if a == "platelets" else 200.0
        crp = v if a == "crp" else 1.0
        assert row["easix"] == round(200.0 * 1.0 / plt, 4), (a, v)      # 4 decimals
        assert row["m_easix"] == round(200.0 * crp / plt, 4), (a, v)
        assert row["score_baseline_rule"] == "before lymphodepletion"
        assert pd.isna(row["score_missing"])


def test_risk_group_boundary_and_the_maximum():
    p = _derive(_patient("ONE", anc=1.0)                       # 1 point: low
                + _patient("TWO", anc=1.0, haemoglobin=8.0)    # 1 + 1 = 2: high
                + _patient("MAX", anc=0.5, haemoglobin=7.0, platelets=50.0, crp=5.0,
                           ferritin=3000.0))                   # 1 + 1 + 2 + 1 + 2 = 7
    assert p.loc["ONE", ["car_hematotox", "car_hematotox_high"]].tolist() == [1, 0]
    assert p.loc["TWO", ["car_hematotox", "car_hematotox_high"]].tolist() == [2, 1]
    assert p.loc["MAX", ["car_hematotox", "car_hematotox_high"]].tolist() == [7, 1]
    # MAX: EASIX 200 x 1.0 / 50 = 4.0, m-EASIX 200 x 5.0 / 50 = 20.0
    assert p.loc["MAX", "easix"] == pytest.approx(4.0)
    assert p.loc["MAX", "m_easix"] == pytest.approx(20.0)
    assert str(p["car_hematotox"].dtype) == "Int64" and str(p["car_hematotox_high"].dtype) == \
        "Int64"


def test_units_are_converted_before_scoring():
    """ANC 1100 /uL = 1.1 x10^9/L (1 point); Hb 5.4 mmol/L x 1.611 = 8.699 g/dL (1 point);
    platelets 150 Tsd/uL = 150 x10^9/L (1 point); CRP 30 mg/L = 3.0 mg/dL (1 point);
    ferritin 700 ug/L = 700 ng/mL (1 point): CAR-HEMATOTOX 5. LDH 4 ukat/L x 60 = 240 U/L,
    creatinine 88.4 umol/L / 88.4 = 1.0 mg/dL: EASIX 240 x 1.0 / 150 = 1.6, m-EASIX
    240 x 3.0 / 150 = 4.8."""
    rows = [("U", -5, "Neutrophile abs.", 1100.0, "/µL"), ("U", -5, "Hb", 5.4, "mmol/L"),
            ("U", -5, "Thrombozyten", 150.0, "Tsd/µL"), ("U", -5, "CRP", 30.0, "mg/L"),
            ("U", -5, "Ferritin", 700.0, "µg/L"), ("U", -5, "LDH", 4.0, "µkat/L"),
            ("U", -5, "Kreatinin", 88.4, "µmol/L")]
    p = _derive(rows)
    assert p.loc["U", "car_hematotox"] == 5 and p.loc["U", "car_hematotox_high"] == 1
    assert p.loc["U", "easix"] == pytest.approx(1.6)
    assert p.loc["U", "m_easix"] == pytest.approx(4.8)
    assert pd.isna(p.loc["U", "score_missing"])


def test_baseline_is_the_last_value_on_or_before_lymphodepletion():
    """ANC on days -7 (0.9: 1 point), -5 (2.0: 0), -3 (1.0: 1), 0 (0.8: 1), +2 (0.1: never).
    Default lymphodepletion day -5: the day -5 value counts (score 0). Lymphodepletion on day
    -7: the day -7 value (1). Lymphodepletion day 0: the last value on or before day 0 (1)."""
    rows = _patient("B", day=-5, anc=None) + [
        ("B", -7, "anc", 0.9, None), ("B", -5, "anc", 2.0, None), ("B", -3, "anc", 1.0, None),
        ("B", 0, "anc", 0.8, None), ("B", 2, "anc", 0.1, None)]
    p = _derive(rows)
    assert p.loc["B", "car_hematotox"] == 0
    assert p.loc["B", "score_baseline_rule"] == "before lymphodepletion"
    p7 = _derive(rows, ep.EndpointSettings(window_lymphodepletion_day=-7))
    # at day -7 only ANC was drawn: the other six components fall back to day 0 (day -5)
    assert p7.loc["B", "car_hematotox"] == 1
    assert p7.loc["B", "score_baseline_rule"] == (
        "on or before day 0 (haemoglobin, platelets, crp, ferritin, ldh, creatinine)")
    p0 = _derive(rows, ep.EndpointSettings(window_lymphodepletion_day=0))
    assert p0.loc["B", "car_hematotox"] == 1
    assert p0.loc["B", "score_baseline_rule"] == "on or before day 0"


def test_a_component_without_a_value_before_lymphodepletion_falls_back_to_day_0():
    """CRP only on day -2 (4.0: 1 point) and day +1 (never used): the score uses day -2 and
    says which component fell back; m-EASIX = 200 x 4.0 / 200 = 4.0."""
    rows = _patient("F", crp=None) + [("F", -2, "crp", 4.0, None), ("F", 1, "crp", 0.1, None)]
    p = _derive(rows)
    assert p.loc["F", "car_hematotox"] == 1
    assert p.loc["F", "m_easix"] == pytest.approx(4.0)
    assert p.loc["F", "score_baseline_rule"] == "on or before day 0 (crp)"


def test_missing_components_leave_the_score_empty_and_are_named():
    rows = (_patient("NOFER", ferritin=None)
            + _patient("NOLDH", ldh=None)
            + _patient("NOCREA", creatinine=None)
            + _patient("LATE", anc=None) + [("LATE", 1, "anc", 2.0, None)]   # after day 0 only
            + [("NONE", -5, "fibrinogen", 300.0, None)])
    p = _derive(rows)
    assert pd.isna(p.loc["NOFER", "car_hematotox"]) and pd.isna(
        p.loc["NOFER", "car_hematotox_high"])
    assert p.loc["NOFER", "easix"] == pytest.approx(1.0)
    assert p.loc["NOFER", "score_missing"] == "ferritin"
    assert p.loc["NOLDH", "car_hematotox"] == 0
    assert math.isnan(p.loc["NOLDH", "easix"]) and math.isnan(p.loc["NOLDH", "m_easix"])
    assert p.loc["NOLDH", "score_missing"] == "ldh"
    assert math.isnan(p.loc["NOCREA", "easix"])
    assert p.loc["NOCREA", "m_easix"] == pytest.approx(1.0)
    assert p.loc["NOCREA", "score_missing"] == "creatinine"
    assert pd.isna(p.loc["LATE", "car_hematotox"]) and p.loc["LATE", "score_missing"] == "anc"
    assert p.loc["NONE", "score_missing"] == ("anc, haemoglobin, platelets, crp, ferritin, "
                                               "ldh, creatinine")
    assert pd.isna(p.loc["NONE", "score_baseline_rule"])
    assert pd.isna(p.loc["NONE", "car_hematotox"]) and math.isnan(p.loc["NONE", "easix"])


def test_points_function_directly_with_nan():
    pts = scores.hematotox_points(np.array([1.0, np.nan]), np.array([8.0, 12.0]),
                                  np.array([50.0, 200.0]), np.array([3.0, 1.0]),
                                  np.array([2001.0, 300.0]))
    assert pts[0] == 7 and np.isnan(pts[1])
    assert np.isnan(scores.easix(np.array([200.0]), np.array([1.0]), np.array([0.0])))[0]


def test_lymphodepletion_after_infusion_is_refused():
    with pytest.raises(ValidationError, match="day <= 0"):
        ep.EndpointSettings(window_lymphodepletion_day=1)
    assert ep.EndpointSettings().window_lymphodepletion_day == -5
    assert "Rejeski" in ep.EndpointSettings().source_of("window_lymphodepletion_day")


def test_categorical_lab_columns_give_the_same_scores():
    rows = _patient("A") + _patient("B", anc=1.0, haemoglobin=8.0)
    labs = pd.DataFrame(rows, columns=["patient_id", "day", "analyte", "value", "unit"])
    cat = labs.astype({"patient_id": "category", "analyte": "category", "unit": "category"})
    a = ep.derive(labs).patients
    b = ep.derive(cat).patients
    cols = list(scores.SCORE_COLUMNS)
    pd.testing.assert_frame_equal(a[cols], b[cols])


# ---- the page's analyses on the demo (core.analyses.scores) --------------------------------

@pytest.fixture(scope="module")
def demo_store():
    from core import ingest
    from core.store import CohortStore
    s = CohortStore(ingest.load_demo())
    yield s
    s.close()


def test_risk_groups_are_the_crosstab_and_its_test(demo_store):
    from scipy.stats import fisher_exact

    from core.analyses import scores as sc
    from core.filters import CohortFilter
    p = demo_store.patients()
    rg = sc.risk_groups(demo_store, None, "crs_grade")
    ct = pd.crosstab(p["crs_grade"], p["car_hematotox_high"])
    assert rg.table["grade"].tolist() == ct.index.tolist()
    assert rg.table["low"].tolist() == ct[0].tolist()
    assert rg.table["high"].tolist() == ct[1].tolist()
    assert rg.n_missing == 0 and rg.test is not None and rg.test.n == 41
    # a filter to CRS 1-2 leaves a 2x2 table: Fisher's exact p as scipy (= R fisher.test)
    sub = sc.risk_groups(demo_store, CohortFilter().where("crs_grade", [1, 2]), "crs_grade")
    t = sub.table[["low", "high"]].to_numpy()
    assert sub.test is not None and sub.test.test == "fisher"
    assert sub.test.pvalue == pytest.approx(fisher_exact(t).pvalue)


def test_baseline_summary_counts_rules_and_missing(demo_store):
    from core.analyses import scores as sc
    p = demo_store.patients()
    s = sc.baseline_summary(demo_store, None)
    rules = s[s["what"] == "baseline"].set_index("value")["n"].to_dict()
    assert rules == p["score_baseline_rule"].value_counts().to_dict()
    assert s[s["what"] == "missing"].set_index("value")["n"].to_dict() == {"none": 41}


def test_scores_are_offered_as_risk_factor_predictors(demo_store):
    from core.analyses import indicators
    options = indicators.predictor_options(demo_store.patients())
    assert {"car_hematotox", "car_hematotox_high", "easix", "m_easix"} <= set(options)
    # measured before infusion: not flagged as post-exposure
    assert not any(indicators.post_exposure(c) for c in ("car_hematotox", "easix", "m_easix"))


def test_score_panel_refuses_other_columns(demo_store):
    from core.analyses import scores as sc
    with pytest.raises(ValueError, match="score must be one of"):
        sc.score_panel(demo_store, None, "age", "crs_grade")
