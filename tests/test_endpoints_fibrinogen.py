"""core.endpoints.fibrinogen: CTCAE v5 grade boundaries, the abnormal-baseline variant, onset,
nadir and recovery; hand-built patients with the expected value worked out in each test.

LLN of fibrinogen is 200 mg/dL (core.schema default) unless a test sets another one, so the CTCAE
v5 boundaries are 150 (0.75 x LLN), 100 (0.5 x), 50 (0.25 x and the absolute 50 mg/dL).
"""

from __future__ import annotations

import pandas as pd
import pytest
from endpoint_cases import fib_course, labs, one

from core import endpoints as ep
from core.errors import ValidationError


@pytest.mark.parametrize("nadir, grade", [
    (200, 0),     # = LLN: normal
    (199, 1),     # just below LLN
    (150, 1),     # exactly 0.75 x LLN: still grade 1 ("<1.0 - 0.75 x LLN")
    (149.9, 2),
    (100, 2),     # exactly 0.5 x LLN: grade 2
    (99.9, 3),
    (50, 3),      # exactly 0.25 x LLN = 50 mg/dL: grade 3 (G4 is "< 50")
    (49.9, 4),
    (10, 4),
])
def test_ctcae_grade_boundaries(nadir: float, grade: int) -> None:
    # recovery is sustained: day 9 and day 12 both >= LLN, so day 9
    res = ep.derive(labs(*fib_course("P", (0, 300), (4, 320), (6, nadir), (9, 250), (12, 260))))
    row = one(res, "P")
    assert row["hypofibrinogenemia_grade"] == grade
    assert row["fibrinogen_nadir"] == nadir and row["fibrinogen_nadir_day"] == 6
    if grade == 0:
        assert pd.isna(row["hypofibrinogenemia_onset_day"])
        assert pd.isna(row["fibrinogen_recovery_day"]) and pd.isna(row["fibrinogen_recovered"])
    else:
        assert row["hypofibrinogenemia_onset_day"] == 6
        assert row["fibrinogen_recovery_day"] == 9 and row["fibrinogen_recovered"] == 1


def test_absolute_50_is_grade_4_whatever_the_lln() -> None:
    # LLN 150: 45 mg/dL is 0.3 x LLN (grade 3 by ratio) but < 50 mg/dL -> grade 4
    res = ep.derive(labs(*fib_course("P", (0, 300), (5, 45))),
                    settings=ep.EndpointSettings(fibrinogen_lln=150))
    assert one(res, "P")["hypofibrinogenemia_grade"] == 4
    # LLN 400: 99 is 0.2475 x LLN -> grade 4 by ratio; 100 is 0.25 x -> grade 3
    s = ep.EndpointSettings(fibrinogen_lln=400)
    assert one(ep.derive(labs(*fib_course("P", (0, 450), (5, 99))), settings=s),
               "P")["hypofibrinogenemia_grade"] == 4
    assert one(ep.derive(labs(*fib_course("P", (0, 450), (5, 100))), settings=s),
               "P")["hypofibrinogenemia_grade"] == 3


@pytest.mark.parametrize("nadir, grade", [
    (185, 0),    # above the baseline of 180: no decrease
    (180, 0),    # = baseline
    (170, 1),    # 5.6 % decrease
    (135.1, 1),  # 24.9 % decrease
    (135, 2),    # exactly 25 % decrease -> grade 2 ("25 - <50 %")
    (90, 3),     # exactly 50 % -> grade 3
    (50, 3),     # 72.2 % decrease -> grade 3
    (49, 4),     # 72.8 % (relative grade 3) but < 50 mg/dL: the absolute criterion gives 4
])
def test_abnormal_baseline_graded_relative_to_baseline(nadir: float, grade: int) -> None:
    res = ep.derive(labs(*fib_course("P", (-2, 175), (0, 180), (5, nadir), (12, 182), (14, 185))))
    row = one(res, "P")
    assert row["fibrinogen_baseline"] == 180
    assert row["hypofibrinogenemia_grade"] == grade
    if grade:
        assert row["hypofibrinogenemia_onset_day"] == 5
        # recovery = back to baseline (182, 185 >= 180) on days 12 and 14: day 12
        assert row["fibrinogen_recovery_day"] == 12 and row["fibrinogen_recovered"] == 1


def test_abnormal_baseline_75_percent_fall_is_grade_4() -> None:
    # baseline 190, nadir 47.5 = exactly 0.25 x baseline: 75 % decrease -> grade 4
    res = ep.derive(labs(*fib_course("P", (0, 190), (4, 47.5))))
    assert one(res, "P")["hypofibrinogenemia_grade"] == 4


def test_abnormal_baseline_lln_variant() -> None:
    course = labs(*fib_course("P", (0, 180), (5, 185), (9, 190)))
    rel = one(ep.derive(course), "P")
    assert rel["hypofibrinogenemia_grade"] == 0          # never below its own baseline
    lln = one(ep.derive(course, settings=ep.EndpointSettings(abnormal_baseline="lln")), "P")
    assert lln["hypofibrinogenemia_grade"] == 1          # day 0 (180) is already < LLN
    assert lln["hypofibrinogenemia_onset_day"] == 0
    assert lln["fibrinogen_recovered"] == 0 and lln["fibrinogen_recovery_day"] == 9


def test_never_recovered_is_censored_at_last_fibrinogen() -> None:
    res = ep.derive(labs(*fib_course("P", (0, 300), (3, 150), (5, 120), (10, 160)),
                         ("P", 30, "crp", 1.0)))
    row = one(res, "P")
    assert row["hypofibrinogenemia_grade"] == 2
    assert row["hypofibrinogenemia_onset_day"] == 3
    assert (row["fibrinogen_nadir"], row["fibrinogen_nadir_day"]) == (120, 5)
    # censored at the last fibrinogen (day 10), not at the last lab of any kind (day 30)
    assert row["fibrinogen_recovery_day"] == 10 and row["fibrinogen_recovered"] == 0


def test_recovery_is_first_value_back_at_lln_after_the_nadir() -> None:
    # dips below LLN, briefly back (day 6 = 200 before the nadir), nadir on day 8, back on day 20
    res = ep.derive(labs(*fib_course("P", (0, 300), (4, 180), (6, 200), (8, 90), (14, 199),
                                     (20, 200), (30, 260))))
    row = one(res, "P")
    assert row["hypofibrinogenemia_onset_day"] == 4
    assert row["hypofibrinogenemia_grade"] == 3
    assert row["fibrinogen_recovery_day"] == 20 and row["fibrinogen_recovered"] == 1


def test_single_lab_value() -> None:
    row = one(ep.derive(labs(("P", 3, "fibrinogen", 150))), "P")
    assert pd.isna(row["fibrinogen_baseline"])            # nothing on or before day 0
    assert row["hypofibrinogenemia_grade"] == 1           # graded against the LLN
    assert row["hypofibrinogenemia_onset_day"] == 3
    assert row["fibrinogen_recovery_day"] == 3 and row["fibrinogen_recovered"] == 0


def test_window_setting() -> None:
    course = labs(*fib_course("P", (0, 300), (5, 150), (40, 90)))
    row = one(ep.derive(course, settings=ep.EndpointSettings(window_end=30)), "P")
    assert row["fibrinogen_nadir"] == 150 and row["hypofibrinogenemia_grade"] == 1
    with pytest.raises(ValidationError, match="swap"):
        ep.EndpointSettings(window_start=10, window_end=5)
