"""core.endpoints.treatments: tocilizumab exposure, corticosteroids, fibrinogen substitution."""

from __future__ import annotations

import pandas as pd
import pytest
from endpoint_cases import fib_course, labs, one

from core import endpoints as ep


def test_patient_without_labs() -> None:
    pts = pd.DataFrame({"patient_id": ["A", "B"]})
    tx = pd.DataFrame({"patient_id": ["A"], "day": [2], "drug": ["tocilizumab"], "dose": [800],
                       "unit": ["mg"]})
    res = ep.derive(labs(*fib_course("A", (0, 300), (5, 150))), tx, patients=pts)
    b = one(res, "B")
    assert pd.isna(b["fibrinogen_nadir"]) and pd.isna(b["hypofibrinogenemia_grade"])
    assert pd.isna(b["dic_score_max"]) and pd.isna(b["iec_hs"])
    assert b["tocilizumab"] == 0 and b["tocilizumab_doses"] == 0 and b["tocilizumab_cum_mg"] == 0
    assert one(res, "A")["days_toci_to_hypofibrinogenemia"] == 3


def test_no_treatment_table_leaves_treatment_endpoints_unknown() -> None:
    row = one(ep.derive(labs(*fib_course("A", (0, 300), (5, 150)))), "A")
    assert pd.isna(row["tocilizumab"]) and pd.isna(row["fibrinogen_substitution_g"])


def test_tocilizumab_steroid_and_substitution_counts() -> None:
    tx = pd.DataFrame({
        "patient_id": ["P"] * 8,
        "day": [2, 3, 5, 4, 6, 9, 10, 11],
        "drug": ["tocilizumab", "Tocilizumab", "RoActemra", "dexamethasone",
                 "methylprednisolone", "fibrinogen concentrate", "fibrinogen_concentrate",
                 "vitamin K"],
        "dose": [800, 720, 0.8, 10, 1000, 2, 1000, 10],
        "unit": ["mg", "mg", "g", "mg", "mg", "g", "mg", "mg"],
    })
    res = ep.derive(labs(*fib_course("P", (0, 300), (9, 140))), tx)
    row = one(res, "P")
    assert row["tocilizumab"] == 1 and row["tocilizumab_doses"] == 3
    assert row["tocilizumab_cum_mg"] == 800 + 720 + 800
    assert (row["tocilizumab_first_day"], row["tocilizumab_last_day"]) == (2, 5)
    assert row["tocilizumab_duration_days"] == 3
    assert row["days_toci_to_hypofibrinogenemia"] == 9 - 2
    assert row["corticosteroids"] == 1 and row["corticosteroids_first_day"] == 4
    assert row["days_corticosteroids_to_hypofibrinogenemia"] == 9 - 4
    assert row["fibrinogen_substitution_g"] == 3
    other = res.issues[res.issues["table"] == "treatments"]
    assert list(other["analyte"]) == ["vitamin K"]


def test_missing_tocilizumab_dose_leaves_cumulative_empty() -> None:
    tx = pd.DataFrame({"patient_id": ["P", "P"], "day": [1, 2], "drug": ["tocilizumab"] * 2,
                       "dose": [800, None], "unit": ["mg", "mg"]})
    row = one(ep.derive(None, tx), "P")
    assert row["tocilizumab_doses"] == 2 and pd.isna(row["tocilizumab_cum_mg"])


# ------------------------------------------------------------------ corticosteroids (issue 11)

def _steroids(*rows: tuple) -> pd.DataFrame:
    """rows: (day, drug, dose in mg) of patient P."""
    return pd.DataFrame({"patient_id": ["P"] * len(rows), "day": [r[0] for r in rows],
                         "drug": [r[1] for r in rows], "dose": [r[2] for r in rows],
                         "unit": ["mg"] * len(rows)})


@pytest.mark.parametrize("drug, dose, counts", [
    ("dexamethasone", 10, True),          # exactly the threshold (10 mg dex-eq)
    ("dexamethasone", 9.9, False),
    ("methylprednisolone", 53.4, True),   # 53.4 x 0.75/4 = 10.0125
    ("methylprednisolone", 53.3, False),  # 9.99
    ("prednisolone", 66.7, True),         # 66.7 x 0.75/5 = 10.005
    ("prednisolone", 66.6, False),        # 9.99
    ("hydrocortisone", 100, False),       # premedication-sized: 100 x 0.75/20 = 3.75
    ("hydrocortisone", 267, True),        # 10.0125
])
def test_corticosteroid_dose_threshold_in_dexamethasone_equivalents(
        drug: str, dose: float, counts: bool) -> None:
    res = ep.derive(None, _steroids((3, drug, dose)))
    row = one(res, "P")
    assert row["corticosteroids"] == int(counts)
    assert (row["corticosteroids_first_day"] == 3) if counts else \
        pd.isna(row["corticosteroids_first_day"])
    st = res.steroids
    assert st["counted"].tolist() == [counts]
    assert st["dex_equivalent_mg"].iloc[0] == pytest.approx(
        dose * {"dexamethasone": 1, "methylprednisolone": 0.75 / 4, "prednisolone": 0.75 / 5,
                "hydrocortisone": 0.75 / 20}[drug])


def test_premedication_before_day_0_is_listed_apart_and_not_counted() -> None:
    # dexamethasone 20 mg on day -1 (premedication), day 0 boundary counts
    res = ep.derive(None, _steroids((-1, "dexamethasone", 20)))
    assert one(res, "P")["corticosteroids"] == 0
    assert res.steroids["why"].iloc[0].startswith("premedication")
    res = ep.derive(None, _steroids((-1, "dexamethasone", 20), (0, "dexamethasone", 10)))
    row = one(res, "P")
    assert row["corticosteroids"] == 1 and row["corticosteroids_first_day"] == 0
    assert res.steroids["counted"].tolist() == [False, True]


def test_doses_of_one_day_add_up_and_a_missing_dose_counts() -> None:
    # two 5 mg doses of dexamethasone on day 2 = 10 mg a day: counts from day 2
    res = ep.derive(None, _steroids((2, "dexamethasone", 5), (2.5, "dexamethasone", 5),
                                    (4, "dexamethasone", 4)))
    assert one(res, "P")["corticosteroids_first_day"] == 2
    assert res.steroids["counted"].tolist() == [True, True, False]
    res = ep.derive(None, _steroids((6, "dexamethasone", None)))
    assert one(res, "P")["corticosteroids"] == 1
    assert "dose missing" in res.steroids["why"].iloc[0]


def test_threshold_is_a_setting_with_its_source() -> None:
    s = ep.EndpointSettings(steroid_dex_mg=20)
    assert one(ep.derive(None, _steroids((3, "dexamethasone", 10)), settings=s),
               "P")["corticosteroids"] == 0
    src = ep.EndpointSettings().source_of("steroid_dex_mg")
    assert "Liu" in src and "methylprednisolone 4 mg" in src


def test_corticosteroid_doses_in_grams_are_converted_and_odd_units_listed() -> None:
    # methylprednisolone "1 g" = 1000 mg = 187.5 mg dexamethasone-equivalent: counts;
    # dexamethasone "8000 µg" = 8 mg: below 10; "2 Amp." is no dose unit: listed, not used
    tx = pd.DataFrame({"patient_id": ["P", "Q", "R"], "day": [3, 3, 3],
                       "drug": ["Urbason", "dexamethasone", "dexamethasone"],
                       "dose": [1, 8000, 2], "unit": ["g", "µg", "Amp."]})
    res = ep.derive(None, tx, patients=pd.DataFrame({"patient_id": ["P", "Q", "R"]}))
    assert one(res, "P")["corticosteroids"] == 1
    assert res.steroids.set_index("patient_id").loc["P", "dose_mg"] == 1000
    assert one(res, "Q")["corticosteroids"] == 0
    assert res.steroids.set_index("patient_id").loc["Q", "dose_mg"] == 8
    assert one(res, "R")["corticosteroids"] == 0
    assert "unit not recognised" in res.issues.set_index("patient_id").loc["R", "problem"]
