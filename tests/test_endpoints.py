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
