"""core.endpoints.treatments: tocilizumab exposure, corticosteroids, fibrinogen substitution."""

from __future__ import annotations

import pandas as pd
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
