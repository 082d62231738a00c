"""core.endpoints.dic: the ISTH overt DIC score per draw (Taylor 2001), components combined
within 24 h."""

from __future__ import annotations

import pytest
from endpoint_cases import labs, one

from core import endpoints as ep
from core.errors import ValidationError


def test_dic_score_examples() -> None:
    res = ep.derive(labs(
        # day 3: platelets 40 (2) + D-dimer 6 (3) + INR 1.6 (2) + fibrinogen 90 (1) = 8
        ("P", 3, "platelets", 40), ("P", 3, "d_dimer", 6.0), ("P", 3, "inr", 1.6),
        ("P", 3, "fibrinogen", 90),
        # day 4, all at the boundaries: 100 (1) + 0.5 (0) + 1.3 (0) + 100 (0) = 1
        ("P", 4, "platelets", 100), ("P", 4, "d_dimer", 0.5), ("P", 4, "inr", 1.3),
        ("P", 4, "fibrinogen", 100),
        # day 5: 50 (1) + 5.0 (2) + 1.5 (1) = 4; fibrinogen not drawn: day 4's 100 (0 points)
        # is exactly 24 h old and is carried forward (the window is inclusive)
        ("P", 5, "platelets", 50), ("P", 5, "d_dimer", 5.0), ("P", 5, "inr", 1.5),
        # day 6.2: platelets 120 (0) + D-dimer 5.01 (3); day 5's values are 29 h old: 3 of 2
        # day 6.7: platelets 49 (2) + D-dimer 5.01 from 6.2 (3) + INR 1.51 (2) = 7 of 3
        ("P", 6.2, "platelets", 120), ("P", 6.7, "platelets", 49), ("P", 6.2, "d_dimer", 5.01),
        ("P", 6.7, "inr", 1.51),
        # before infusion: not scored
        ("P", -1, "platelets", 10)))
    d = res.dic.set_index("day")
    assert d.loc[3, "score"] == 8
    points = ["platelets_pts", "d_dimer_pts", "pt_pts", "fibrinogen_pts"]
    assert list(d.loc[3, points]) == [2, 3, 2, 1]
    assert d.loc[4, "score"] == 1 and d.loc[4, "n_components"] == 4
    assert d.loc[5, "score"] == 4 and d.loc[5, "n_components"] == 4
    assert d.loc[5, "fibrinogen_pts"] == 0
    assert d.loc[6.2, "score"] == 3 and d.loc[6.2, "n_components"] == 2
    assert d.loc[6.7, "score"] == 2 + 3 + 2 and d.loc[6.7, "n_components"] == 3
    assert -1 not in d.index
    row = one(res, "P")
    assert row["dic_score_max"] == 8 and row["dic_score_components"] == 4


@pytest.mark.parametrize("hours, score, n", [(23, 2 + 3, 2), (24, 2 + 3, 2), (25, 3, 1)])
def test_components_combine_within_24_hours(hours: float, score: int, n: int) -> None:
    # platelets 40 (2 points) at day 2.0, D-dimer 6 (3 points) `hours` later: within 24 h
    # (inclusive) the platelets are carried forward; 25 h apart they are not
    res = ep.derive(labs(("P", 2.0, "platelets", 40), ("P", 2.0 + hours / 24, "d_dimer", 6.0)))
    row = one(res, "P")
    assert row["dic_score_max"] == score and row["dic_score_components"] == n


def test_last_value_is_carried_forward_not_the_worst() -> None:
    # platelets 40 (2) at 08:00, 120 (0) at 20:00, D-dimer 6 (3) at 22:00: the last platelet
    # count (120) is the one combined, 0 + 3; the first draw alone gives 2
    res = ep.derive(labs(("P", 3 + 8 / 24, "platelets", 40), ("P", 3 + 20 / 24, "platelets", 120),
                         ("P", 3 + 22 / 24, "d_dimer", 6.0)))
    assert list(res.dic["score"]) == [2, 0, 3]
    assert one(res, "P")["dic_score_max"] == 3


def test_components_behind_the_max_and_the_window_setting() -> None:
    # day 1: all four, score 0 + 2 + 0 + 0 = 2; day 5: platelets 40 + D-dimer 6 = 5 of 2:
    # the maximum 5 rests on 2 components (a lower bound)
    rows = [("P", 1, "platelets", 200), ("P", 1, "d_dimer", 1.0), ("P", 1, "inr", 1.0),
            ("P", 1, "fibrinogen", 300), ("P", 5, "platelets", 40), ("P", 5, "d_dimer", 6.0)]
    row = one(ep.derive(labs(*rows)), "P")
    assert row["dic_score_max"] == 5 and row["dic_score_components"] == 2
    # a 5-day window carries day 1's INR and fibrinogen (0 points each) into day 5: still 5,
    # now of 4 components
    wide = one(ep.derive(labs(*rows), settings=ep.EndpointSettings(dic_window_hours=96)), "P")
    assert wide["dic_score_max"] == 5 and wide["dic_score_components"] == 4


def test_dic_cutoffs_are_settings() -> None:
    s = ep.EndpointSettings(dic_d_dimer_moderate=1.0, dic_d_dimer_strong=10.0)
    res = ep.derive(labs(("P", 3, "d_dimer", 6.0), ("P", 3, "platelets", 80)), settings=s)
    assert res.dic["score"].iloc[0] == 2 + 1
    with pytest.raises(ValidationError, match="swap"):
        ep.EndpointSettings(dic_inr_moderate=2.0, dic_inr_strong=1.5)


def test_window_starting_before_infusion_scores_negative_days() -> None:
    # window from day -3: platelets 40 (2) on day -1.5 and D-dimer 6 (3) on day -1: 5 of 2
    s = ep.EndpointSettings(window_start=-3)
    res = ep.derive(labs(("P", -1.5, "platelets", 40), ("P", -1, "d_dimer", 6.0),
                         ("Q", 2, "platelets", 200)), settings=s)
    row = one(res, "P")
    assert row["dic_score_max"] == 5 and row["dic_score_components"] == 2
    assert res.dic.loc[res.dic["patient_id"] == "P", "day"].tolist() == [-1.5, -1.0]
    assert one(res, "Q")["dic_score_max"] == 0


def test_whole_days_of_several_patients_never_borrow_a_draw() -> None:
    # whole-number days (the patients x days grid); worked by hand:
    # A day 1: platelets 40 (2) + D-dimer 6 (3) = 5 of 2
    # B day 1: INR 1.6 (2); A's platelets and D-dimer of the same day are not B's: 2 of 1
    # B day 2: platelets 120 (0) + day 1's INR, 24 h old (inclusive), 2 = 2 of 2
    # B day 4: D-dimer 0.4 (0); INR 3 days and platelets 2 days old are not carried: 0 of 1
    # fibrinogen is never drawn: its points are missing on every draw
    res = ep.derive(labs(("A", 1, "platelets", 40), ("A", 1, "d_dimer", 6.0),
                         ("B", 1, "inr", 1.6), ("B", 2, "platelets", 120),
                         ("B", 4, "d_dimer", 0.4)))
    d = res.dic
    assert list(zip(d["patient_id"], d["day"], strict=True)) == [
        ("A", 1.0), ("B", 1.0), ("B", 2.0), ("B", 4.0)]
    assert list(d["score"]) == [5, 2, 2, 0]
    assert list(d["n_components"]) == [2, 1, 2, 1]
    assert list(d["platelets_pts"].fillna(-1)) == [2, -1, 0, -1]
    assert list(d["d_dimer_pts"].fillna(-1)) == [3, -1, -1, 0]
    assert list(d["pt_pts"].fillna(-1)) == [-1, 2, 2, -1]
    assert d["fibrinogen_pts"].isna().all() and str(d["fibrinogen_pts"].dtype) == "Int64"
    a, b = one(res, "A"), one(res, "B")
    assert a["dic_score_max"] == 5 and a["dic_score_components"] == 2
    assert b["dic_score_max"] == 2 and b["dic_score_components"] == 2
