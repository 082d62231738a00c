"""core.analyses.endpoints: the Endpoints page's summary of the derived endpoint columns (the
page itself is tests/test_page_endpoints.py); a hand-built table with the counts worked out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.analyses.endpoints import summarise


def test_counts_and_times_of_a_hand_built_table():
    patients = pd.DataFrame({
        "hypofibrinogenemia_grade": [0, 1, 2, 3, 4, np.nan],
        "days_toci_to_hypofibrinogenemia": [np.nan, 2, np.nan, 5, 7, 1],
        "fibrinogen_recovered": [np.nan, 1, 0, 1, 0, 1],
        "fibrinogen_recovery_day": [np.nan, 10, 30, 20, 40, 5],
        "iec_hs": [0, 0, 1, 1, 0, np.nan],
        "dic_score_max": [1, 5, 4, 6, np.nan, 7],
    })
    s = summarise(patients)
    assert (s.n, s.n_graded, s.hypo, s.grade3) == (6, 5, 4, 2)
    # onset among grade >= 1 with a tocilizumab day (the ungraded patient's 1 does not count)
    assert s.onset_days == (2.0, 5.0, 7.0)
    # recovery among grade >= 1 who recovered; never recovered = grade >= 1 with recovered 0
    assert s.recovery_days == (10.0, 20.0) and s.never_recovered == 2
    assert (s.iec_hs, s.dic5) == (2, 3)


def test_missing_or_empty_columns_count_as_empty():
    s = summarise(pd.DataFrame({"hypofibrinogenemia_grade": [1, 0], "iec_hs": [np.nan] * 2}))
    assert (s.hypo, s.onset_days, s.recovery_days, s.never_recovered) == (1, (), (), 0)
    assert s.iec_hs is None and s.dic5 is None
    assert summarise(pd.DataFrame()).n == 0


def test_a_table_that_is_not_a_frame_is_a_programming_error():
    with pytest.raises(TypeError):
        summarise([{"hypofibrinogenemia_grade": 1}])  # type: ignore[arg-type]


def test_recovery_median_is_kaplan_meier_with_the_never_recovered_censored():
    # 5 patients with hypofibrinogenemia: recovered on days 10, 20, 25; censored (never
    # recovered) at their last fibrinogen on days 15 and 30.
    # KM: day 10: 1 of 5 -> S = 0.8; day 15 censored; day 20: 1 of 3 -> S = 0.8 x 2/3 = 0.533;
    # day 25: 1 of 2 -> S = 0.267 <= 0.5: the KM median is day 25.
    # Among the recovered only (the paper's way): median(10, 20, 25) = 20.
    patients = pd.DataFrame({
        "hypofibrinogenemia_grade": [1, 2, 3, 1, 2, 0],
        "fibrinogen_recovered": [1, 0, 1, 1, 0, np.nan],
        "fibrinogen_recovery_day": [10, 15, 20, 25, 30, np.nan],
    })
    s = summarise(patients)
    assert s.recovery_km_median == 25 and s.recovery_km_n == 5
    assert np.median(s.recovery_days) == 20 and s.never_recovered == 2


def test_recovery_km_median_not_reached():
    # 1 of 3 recovered: S stays at 0.667 -> no median
    s = summarise(pd.DataFrame({"hypofibrinogenemia_grade": [1, 1, 1],
                                "fibrinogen_recovered": [1, 0, 0],
                                "fibrinogen_recovery_day": [10, 20, 30]}))
    assert s.recovery_km_median is None and s.recovery_km_n == 3


def test_incidence_denominator_is_the_patients_with_fibrinogen_measured():
    # 4 patients, fibrinogen measured (a grade) in 3; 2 with grade >= 1: 2 of 3, not 2 of 4
    s = summarise(pd.DataFrame({"hypofibrinogenemia_grade": [0, 1, 3, np.nan],
                                "dic_score_max": [5, 6, 2, np.nan],
                                "dic_score_components": [4, 2, 4, np.nan]}))
    assert (s.n, s.n_measured, s.hypo) == (4, 3, 2)
    assert s.dic_lower_bound == 1       # the 6 rests on 2 of 4 components


def test_demo_times_km_and_among_the_resolved():
    from core import endpoints as ep
    from core import ingest
    d = ep.apply_to_cohort(ingest.load_demo())
    s = summarise(d.cohort.patients)
    # the paper's figures among the resolved: recovery median day 44 (9-181), 6 of 27 never
    assert (np.median(s.recovery_days), min(s.recovery_days), max(s.recovery_days)) == (44, 9,
                                                                                          181)
    assert s.never_recovered == 6 and s.hypo == 27 and s.n_measured == 41
    assert (np.median(s.onset_days), min(s.onset_days), max(s.onset_days)) == (6, 2, 27)
    # with the 6 censored the Kaplan-Meier median is later than the resolved-only median
    assert s.recovery_km_median is not None and s.recovery_km_median > 44
