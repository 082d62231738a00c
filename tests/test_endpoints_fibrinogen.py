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


# ------------------------------------------------------------------ episodes (issue 11)

def _tx(*rows: tuple) -> pd.DataFrame:
    """rows: (patient_id, day, drug, dose, unit)."""
    return pd.DataFrame(list(rows), columns=["patient_id", "day", "drug", "dose", "unit"])


def test_a_value_exactly_at_the_lln_counts_as_recovered() -> None:
    # 150 on day 3 (grade 1); 200 = LLN on days 6 and 8: two consecutive values >= LLN -> day 6
    row = one(ep.derive(labs(*fib_course("P", (0, 300), (3, 150), (6, 200), (8, 200)))), "P")
    assert row["fibrinogen_recovery_day"] == 6 and row["fibrinogen_recovered"] == 1
    assert row["hypofibrinogenemia_episodes"] == 1


def test_a_single_value_at_lln_then_a_drop_is_not_recovery() -> None:
    # day 6: 210 >= LLN, but day 8: 180 < LLN: not sustained, the episode goes on;
    # days 10 and 12 both >= LLN: recovery on day 10; one episode
    res = ep.derive(labs(*fib_course("P", (0, 300), (3, 150), (6, 210), (8, 180), (10, 220),
                                     (12, 230))))
    row = one(res, "P")
    assert row["hypofibrinogenemia_episodes"] == 1
    assert row["fibrinogen_recovery_day"] == 10 and row["fibrinogen_recovered"] == 1
    assert res.episodes[["onset_day", "nadir", "nadir_day", "recovery_day"]].values.tolist() == [
        [3, 150, 3, 10]]


def test_one_value_back_is_enough_when_the_setting_says_so() -> None:
    # recovery_values = 1: day 6 (210) ends the first episode, day 8 (180) opens a second,
    # day 10 ends it: 2 episodes, recovered on day 10
    s = ep.EndpointSettings(recovery_values=1)
    res = ep.derive(labs(*fib_course("P", (0, 300), (3, 150), (6, 210), (8, 180), (10, 220))),
                    settings=s)
    assert one(res, "P")["hypofibrinogenemia_episodes"] == 2
    assert res.episodes["recovery_day"].tolist() == [6, 10]
    with pytest.raises(ValidationError, match="whole number"):
        ep.EndpointSettings(recovery_values=1.5)
    with pytest.raises(ValidationError, match="at least 1"):
        ep.EndpointSettings(recovery_values=0)


def test_the_last_value_alone_is_censored_not_recovered() -> None:
    # nadir 120 on day 5, one value >= LLN (250) on day 9, the last: not sustained ->
    # censored at day 9
    row = one(ep.derive(labs(*fib_course("P", (0, 300), (5, 120), (9, 250)))), "P")
    assert row["fibrinogen_recovered"] == 0 and row["fibrinogen_recovery_day"] == 9


def test_two_episodes() -> None:
    # episode 1: days 3-5 (150, 90: grade 3, nadir 90 on day 5), back on days 8 and 10;
    # episode 2: days 20-25 (170, 160: grade 1, nadir 160 on day 25), back on days 30 and 35
    course = fib_course("P", (0, 300), (3, 150), (5, 90), (8, 210), (10, 230), (20, 170),
                        (25, 160), (30, 220), (35, 240))
    res = ep.derive(labs(*course))
    row = one(res, "P")
    assert row["hypofibrinogenemia_episodes"] == 2
    assert row["hypofibrinogenemia_onset_day"] == 3            # the first episode
    assert (row["fibrinogen_nadir"], row["fibrinogen_nadir_day"]) == (90, 5)
    assert row["hypofibrinogenemia_grade"] == 3
    assert row["fibrinogen_recovery_day"] == 30 and row["fibrinogen_recovered"] == 1
    e = res.episodes
    assert list(e.columns) == ["patient_id", "episode", "onset_day", "nadir", "nadir_day",
                               "grade", "recovery_day", "recovered", "last_day"]
    assert e[["episode", "onset_day", "nadir", "nadir_day", "grade", "recovery_day",
              "recovered"]].values.tolist() == [[1, 3, 90, 5, 3, 8, 1], [2, 20, 160, 25, 1, 30, 1]]


def test_the_last_episode_open_means_not_recovered() -> None:
    # as above without days 30 and 35: episode 2 never ends -> censored at day 25, the last
    # fibrinogen, although episode 1 recovered
    course = fib_course("P", (0, 300), (3, 150), (5, 90), (8, 210), (10, 230), (20, 170),
                        (25, 160))
    res = ep.derive(labs(*course))
    row = one(res, "P")
    assert row["hypofibrinogenemia_episodes"] == 2
    assert row["fibrinogen_recovered"] == 0 and row["fibrinogen_recovery_day"] == 25
    assert res.episodes["recovered"].tolist() == [1, 0]
    assert pd.isna(res.episodes["recovery_day"].iloc[1])


def test_a_value_the_day_after_cryoprecipitate_does_not_count_alone() -> None:
    # nadir 80 on day 4, cryoprecipitate (German: Kryopräzipitat) on day 5; 210 on day 6 and
    # 220 on day 8 are both within 3 days after it (8 - 5 = 3, inclusive): no recovery yet,
    # censored at day 8
    course = fib_course("P", (0, 300), (4, 80), (6, 210), (8, 220))
    cryo = _tx(("P", 5, "Kryopräzipitat", None, None))
    row = one(ep.derive(labs(*course), cryo), "P")
    assert row["fibrinogen_recovered"] == 0 and row["fibrinogen_recovery_day"] == 8
    # a third value on day 9 (4 days after, outside) confirms the run: recovery from day 6
    row = one(ep.derive(labs(*course, ("P", 9, "fibrinogen", 230)), cryo), "P")
    assert row["fibrinogen_recovered"] == 1 and row["fibrinogen_recovery_day"] == 6
    # without the substitution days 6 and 8 are two consecutive values: recovery day 6 too
    row = one(ep.derive(labs(*course)), "P")
    assert row["fibrinogen_recovered"] == 1 and row["fibrinogen_recovery_day"] == 6


@pytest.mark.parametrize("drug", ["FFP", "GFP", "Frischplasma", "cryo", "Haemocomplettan",
                                  "fibrinogen_concentrate"])
def test_every_substitute_is_recognised(drug: str) -> None:
    # one value >= LLN is enough (recovery_values = 1) unless it follows a substitution:
    # day 6 is 1 day after the substitution on day 5 and the last value -> not recovered
    s = ep.EndpointSettings(recovery_values=1)
    course = labs(*fib_course("P", (0, 300), (4, 80), (6, 210)))
    assert one(ep.derive(course, settings=s), "P")["fibrinogen_recovered"] == 1
    row = one(ep.derive(course, _tx(("P", 5, drug, 2, "g" if "fibrinogen" in drug.lower()
                                     or drug == "Haemocomplettan" else None)), settings=s), "P")
    assert row["fibrinogen_recovered"] == 0


def test_substitution_window_setting_and_its_boundary() -> None:
    # FFP on day 5, values >= LLN on day 7 (2 days after) and 9 (4 days after)
    course = labs(*fib_course("P", (0, 300), (4, 80), (7, 210)))
    ffp = _tx(("P", 5, "ffp", None, None))
    one_value = {"recovery_values": 1}
    # window 2 days: day 7 is exactly at the edge (inclusive): does not count alone
    s = ep.EndpointSettings(substitution_days=2, **one_value)
    assert one(ep.derive(course, ffp, settings=s), "P")["fibrinogen_recovered"] == 0
    # window 1 day: day 7 is outside: counts
    s = ep.EndpointSettings(substitution_days=1, **one_value)
    assert one(ep.derive(course, ffp, settings=s), "P")["fibrinogen_recovery_day"] == 7
    # a substitution after the value does not matter
    late = _tx(("P", 8, "ffp", None, None))
    s = ep.EndpointSettings(**one_value)
    assert one(ep.derive(course, late, settings=s), "P")["fibrinogen_recovery_day"] == 7


def test_patients_without_hypofibrinogenemia_have_zero_episodes() -> None:
    res = ep.derive(labs(*fib_course("A", (0, 300), (5, 250)), ("B", 3, "crp", 2.0)))
    assert one(res, "A")["hypofibrinogenemia_episodes"] == 0
    assert pd.isna(one(res, "B")["hypofibrinogenemia_episodes"])   # fibrinogen not measured
    assert res.episodes.empty


def test_a_substitution_before_infusion_counts_for_the_values_after_it() -> None:
    # window from day -2, graded against the LLN: 150 on day -2 opens an episode; FFP on day
    # -1, a value >= LLN on day 1 (2 days after) with recovery_values = 1: not alone
    s = ep.EndpointSettings(recovery_values=1, window_start=-2, abnormal_baseline="lln")
    course = labs(*fib_course("P", (-2, 150), (1, 210)))
    assert one(ep.derive(course, settings=s), "P")["fibrinogen_recovered"] == 1
    row = one(ep.derive(course, _tx(("P", -1, "FFP", None, None)), settings=s), "P")
    assert row["fibrinogen_recovered"] == 0
