"""core.endpoints.clean: messy lab input is listed, never dropped silently."""

from __future__ import annotations

import pandas as pd
import pytest
from endpoint_cases import fib_course, labs, one

from core import endpoints as ep
from core.errors import ColumnError


def test_duplicate_same_day_values_use_the_mean_and_are_listed() -> None:
    res = ep.derive(labs(*fib_course("P", (0, 300), (5, 90), (5, 130), (8, 150), (8, 150))))
    row = one(res, "P")
    assert row["fibrinogen_nadir"] == 110                 # mean of 90 and 130 -> grade 2
    assert row["hypofibrinogenemia_grade"] == 2
    iss = res.issues
    same = iss[iss["problem"].str.contains("same day")]
    assert len(same) == 2 and same["problem"].str.contains("mean 110").all()
    exact = iss[iss["problem"].str.contains("exact duplicate")]
    assert len(exact) == 1 and exact["day"].iloc[0] == 8


def test_unsorted_rows_give_the_same_result_and_a_message() -> None:
    rows = fib_course("P", (0, 300), (3, 320), (6, 120), (9, 180), (15, 210))
    ordered = ep.derive(labs(*rows))
    shuffled = ep.derive(labs(*[rows[i] for i in (3, 0, 4, 2, 1)]))
    pd.testing.assert_frame_equal(ordered.patients, shuffled.patients)
    assert any("not in day order" in m for m in shuffled.messages)
    assert not any("not in day order" in m for m in ordered.messages)


def test_negative_and_fractional_days() -> None:
    res = ep.derive(labs(*fib_course("P", (-3, 400), (-0.5, 310), (2.5, 190), (2.75, 170),
                                     (-100, 250))))
    row = one(res, "P")
    assert row["fibrinogen_baseline"] == 310              # last value on or before day 0
    assert row["hypofibrinogenemia_onset_day"] == 2.5
    assert row["fibrinogen_nadir_day"] == 2.75
    assert any("fractional" in m for m in res.messages)
    assert any("before infusion" in m for m in res.messages)
    out = res.issues[res.issues["day"] == -100]
    assert len(out) == 1 and "outside" in out["problem"].iloc[0]


def test_bad_input_is_listed_never_dropped_silently() -> None:
    raw = pd.DataFrame({
        "patient_id": ["A", "A", "A", "A", "A", "B", "A", "A", None, "C", "A"],
        "day": [0, 3, 4, 5, 5, 5, "x", 6, 2, 1, 7],
        "analyte": ["fibrinogen", "Fibrinogen", "sodium", "d-dimer", "ferritin", "fibrinogen",
                    "crp", "crp", "crp", "fibrinogen", "alt"],
        "value": ["300", "150", "140", "<0.5", "n.a.", "200", "1", "2,5", "3", "250", "40"],
        "unit": ["mg/dL", "mg/dl", "mmol/L", "mg/L FEU", "ng/mL", "mg/dL", "mg/dL", "mg/dL",
                 "mg/dL", "mg/dL", "furlongs"],
    })
    pts = pd.DataFrame({"patient_id": ["A", "B"]})
    res = ep.derive(raw, patients=pts)
    iss = res.issues.set_index("row")
    assert "unknown analyte" in iss.loc[2, "problem"]
    assert "censored result: used as 0.5" in iss.loc[3, "problem"]
    assert "no numeric result" in iss.loc[4, "problem"]
    assert "day missing" in iss.loc[6, "problem"]
    assert "no patient_id" in iss.loc[8, "problem"]
    assert "not in the patient table" in iss.loc[9, "problem"]
    assert "unknown unit" in iss.loc[10, "problem"]
    # every input row is either used or listed: used = 0, 1, 3 (censored), 5, 7 (decimal comma)
    assert set(iss.index) == {2, 3, 4, 6, 8, 9, 10}
    a = one(res, "A")
    assert a["d_dimer_max"] == 0.5 and a["crp_max"] == 2.5 and a["fibrinogen_nadir"] == 150
    assert one(res, "B")["fibrinogen_nadir"] == 200
    assert list(res.patients["patient_id"]) == ["A", "B"]


def test_unit_contradicting_values_is_detected() -> None:
    # fibrinogen in g/L labelled mg/dL: median 2.5 -> "looks like g/l", not used
    res = ep.derive(labs(("P", 0, "fibrinogen", 3.1, "mg/dL"), ("P", 4, "fibrinogen", 2.5, "mg/dL"),
                         ("P", 6, "fibrinogen", 1.2, "mg/dL"), ("Q", 0, "fibrinogen", 3.0, "g/L"),
                         ("Q", 5, "fibrinogen", 1.4, "g/L")))
    bad = res.issues[res.issues["patient_id"] == "P"]
    assert len(bad) == 3 and bad["problem"].str.contains("look like g/l").all()
    assert pd.isna(one(res, "P")["fibrinogen_nadir"])
    q = one(res, "Q")                                    # g/L correctly converted
    assert q["fibrinogen_baseline"] == 300 and q["fibrinogen_nadir"] == 140
    assert q["hypofibrinogenemia_grade"] == 2


def test_missing_required_column() -> None:
    with pytest.raises(ColumnError, match="analyte"):
        ep.derive(pd.DataFrame({"patient_id": ["A"], "day": [1], "value": [1.0]}))
