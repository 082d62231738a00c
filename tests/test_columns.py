"""core.analyses.columns: reference lines and axis defaults from the schema, and the column
choices of the pages (value axes, groupings, 0/1 outcomes, thresholds)."""

from __future__ import annotations

import pandas as pd

from core.analyses import columns


def test_reference_lines_and_log_defaults():
    lines = columns.reference_lines("fibrinogen_nadir")
    assert [v for v, _ in lines] == [200, 150, 100, 50]
    assert columns.reference_lines("d_dimer_max") == []
    assert [v for v, _ in columns.reference_lines("fibrinogen_nadir", lln=180)] == \
        [180, 135, 90, 45]
    assert columns.log_scale_default("d_dimer_max") and columns.log_scale_default("ferritin_max")
    assert not columns.log_scale_default("fibrinogen_nadir")
    assert not columns.log_scale_default("age")



def test_outcome_column_choices_on_the_demo(demo):
    assert {"tocilizumab", "bulky", "iec_hs", "pfs_event"} <= set(columns.zero_one_columns(demo))
    assert "hypofibrinogenemia_grade" in columns.threshold_columns(demo)


def test_group_columns_one_picker_for_every_page():
    df = pd.DataFrame({"patient_id": list("abcdef"), "one": [1] * 6, "two": [0, 1] * 3,
                       "six": list("uvwxyz"), "t_days": [1, 2, 3, 4, 5, 6], "t_event": [0, 1] * 3})
    assert columns.group_columns(df) == ["one", "two", "six", "t_days", "t_event"]
    assert columns.group_columns(df, 5, min_levels=2) == ["two"] + ["t_event"]
    assert columns.group_columns(df, 6, min_levels=2, exclude=["t_days", "t_event"]) == \
        ["two", "six"]
