"""core.endpoints on integer codes (issue 13): Categorical key columns, as the loader gives
them, give what plain object columns give; row and patient order never change a result.

Expected values are worked out by hand in each test (LLN of fibrinogen 200 mg/dL: grade 2 is
100 <= v < 150; ISTH DIC points as in core.endpoints.dic: platelets < 50 -> 2, D-dimer above
the strong cut-off (7 mg/L FEU) -> 3, INR <= 1.5 -> 0, fibrinogen >= 100 mg/dL -> 0).
"""

from __future__ import annotations

import dataclasses

import pandas as pd
from endpoint_cases import fib_course, labs, one

from core import endpoints as ep

KEYS = {"patient_id": "category", "analyte": "category", "unit": "category"}


def _messy() -> pd.DataFrame:
    """Two patients, rows out of order, with every kind of problem clean_labs lists."""
    return labs(
        ("P2", 6, "fibrinogen", 130), ("P1", 0, "fibrinogen", 300), ("P2", 0, "fibrinogen", 280),
        ("P1", 4, "Fibrinogen", 1.2, "g/L"),        # 120 mg/dL: grade 2
        ("P1", 4, "platelets", 150), ("P1", 4, "platelets", 150),    # exact duplicate
        ("P2", 6, "fibrinogen", 90),                 # same day as 130: mean 110
        (" P2 ", 9, "fibrinogen", 170),              # padded ID: patient P2
        ("P1", 7, "crp", "<0.5"),                    # censored: used as 0.5
        ("P1", 7, "ferritin", 500, "furlongs"),      # unknown unit: not used
        ("P1", 8, "unobtainium", 3),                 # unknown analyte: kept, not used
        (None, 8, "fibrinogen", 10),                 # no patient ID
        ("P1", 2.5, "fibrinogen", 250),              # a time of day
    )


def test_categorical_keys_give_the_same_endpoints_as_object_keys() -> None:
    raw = _messy()
    obj = ep.derive(raw)
    cat = ep.derive(raw.astype(KEYS))
    for f in dataclasses.fields(ep.Endpoints):
        a, b = getattr(obj, f.name), getattr(cat, f.name)
        if isinstance(a, pd.DataFrame):
            if f.name == "issues":   # the raw cells: a Categorical's missing cell is NaN,
                a, b = (x.where(x.notna(), None) for x in (a, b))   # an object one's None
            pd.testing.assert_frame_equal(a, b, obj=f.name)
        else:
            assert a == b, f.name
    # worked out by hand
    p1, p2 = one(obj, "P1"), one(obj, "P2")
    assert p1["fibrinogen_nadir"] == 120 and p1["hypofibrinogenemia_grade"] == 2
    assert p2["fibrinogen_nadir"] == 110 and p2["hypofibrinogenemia_grade"] == 2
    assert p1["crp_max"] == 0.5 and pd.isna(p1["ferritin_max"])
    problems = obj.issues["problem"]
    assert problems.str.contains("values 90, 130 on the same day: their mean 110").sum() == 2
    assert problems.str.contains("exact duplicate").sum() == 1
    assert problems.str.contains("unknown unit for ferritin").sum() == 1
    assert problems.str.contains("unknown analyte").sum() == 1
    assert problems.str.contains("no patient_id").sum() == 1
    assert any("not in day order" in m for m in obj.messages)


def test_same_day_values_are_listed_in_ascending_order_whatever_the_row_order() -> None:
    for values in ((130, 90, 110), (90, 110, 130), (110, 130, 90)):
        res = ep.derive(labs(*fib_course("P", (0, 300), *((5, v) for v in values))))
        assert one(res, "P")["fibrinogen_nadir"] == 110      # (90 + 110 + 130) / 3
        listed = res.issues["problem"]
        assert (listed == "values 90, 110, 130 on the same day: their mean 110 is used").sum() == 3


def test_fractional_days_out_of_order_sort_by_day() -> None:
    rows = fib_course("P", (0, 300), (2.75, 170), (2.5, 190), (1.25, 240), (3.5, 260))
    res = ep.derive(labs(*rows))
    row = one(res, "P")
    assert row["fibrinogen_nadir"] == 170 and row["fibrinogen_nadir_day"] == 2.75
    assert row["hypofibrinogenemia_onset_day"] == 2.5        # first value below LLN 200
    pd.testing.assert_frame_equal(res.patients, ep.derive(labs(*sorted(rows, key=lambda r: r[1]))
                                                          ).patients)


def test_patient_table_order_does_not_change_the_dic_score() -> None:
    rows = []
    for pid, plt, dd in (("A", 40, 10.0), ("B", 200, 0.2)):
        for day in (0, 1, 2):
            rows += [(pid, day, "platelets", plt), (pid, day, "d_dimer", dd),
                     (pid, day, "inr", 1.0), (pid, day, "fibrinogen", 300)]
    for order in (["A", "B"], ["B", "A"]):
        res = ep.derive(labs(*rows), patients=pd.DataFrame({"patient_id": order}))
        assert one(res, "A")["dic_score_max"] == 5            # 2 (platelets) + 3 (D-dimer)
        assert one(res, "B")["dic_score_max"] == 0
        assert list(res.patients["patient_id"]) == order
