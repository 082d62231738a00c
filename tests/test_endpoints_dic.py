"""core.endpoints.dic: the ISTH overt DIC score per day (Taylor 2001)."""

from __future__ import annotations

import pandas as pd
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
        # day 5: 50 (1) + 5.0 (2) + 1.5 (1) = 4, fibrinogen not measured
        ("P", 5, "platelets", 50), ("P", 5, "d_dimer", 5.0), ("P", 5, "inr", 1.5),
        # day 6, two samples: worst of the day: platelets 49 (2) + D-dimer 5.01 (3) = 5
        ("P", 6.2, "platelets", 120), ("P", 6.7, "platelets", 49), ("P", 6.2, "d_dimer", 5.01),
        ("P", 6.7, "inr", 1.51),
        # before infusion: not scored
        ("P", -1, "platelets", 10)))
    d = res.dic.set_index("day")
    assert d.loc[3, "score"] == 8
    points = ["platelets_pts", "d_dimer_pts", "pt_pts", "fibrinogen_pts"]
    assert list(d.loc[3, points]) == [2, 3, 2, 1]
    assert d.loc[4, "score"] == 1 and d.loc[4, "n_components"] == 4
    assert d.loc[5, "score"] == 4 and d.loc[5, "n_components"] == 3
    assert pd.isna(d.loc[5, "fibrinogen_pts"])
    assert d.loc[6, "score"] == 2 + 3 + 2
    assert -1 not in d.index
    assert one(res, "P")["dic_score_max"] == 8


def test_dic_cutoffs_are_settings() -> None:
    s = ep.EndpointSettings(dic_d_dimer_moderate=1.0, dic_d_dimer_strong=10.0)
    res = ep.derive(labs(("P", 3, "d_dimer", 6.0), ("P", 3, "platelets", 80)), settings=s)
    assert res.dic["score"].iloc[0] == 2 + 1
    with pytest.raises(ValidationError, match="swap"):
        ep.EndpointSettings(dic_inr_moderate=2.0, dic_inr_strong=1.5)
