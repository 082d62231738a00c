"""core.analyses.indicators: outcome definitions (a 0/1 column or a comparison), their labels
and errors, and the predictor choices on the demo cohort."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.analyses import indicators
from core.analyses.indicators import HYPOFIB_ANY, HYPOFIB_SEVERE, OutcomeSpec
from core.errors import ColumnError

# ------------------------------------------------------------------------------ OutcomeSpec

def test_threshold_outcomes_keep_missing_values_missing():
    df = pd.DataFrame({"g": pd.array([0, 1, 2, 3, 4, None], dtype="Int64")})
    any_grade = OutcomeSpec("g", ">=", 1).values(df)
    severe = OutcomeSpec("g", ">=", 3).values(df)
    assert any_grade.iloc[:5].tolist() == [0, 1, 1, 1, 1]
    assert severe.iloc[:5].tolist() == [0, 0, 0, 1, 1]
    assert np.isnan(any_grade.iloc[5]) and np.isnan(severe.iloc[5])
    assert OutcomeSpec("g", "<", 2).values(df).iloc[:5].tolist() == [1, 1, 0, 0, 0]
    assert OutcomeSpec("g", "==", 3).values(df).iloc[:5].tolist() == [0, 0, 0, 1, 0]


def test_binary_and_text_outcomes():
    df = pd.DataFrame({"b": [0, 1, None, 1], "c": ["CD28", "4-1BB", None, "CD28"]})
    assert OutcomeSpec("b").values(df).tolist()[:2] == [0, 1]
    assert np.isnan(OutcomeSpec("b").values(df).iloc[2])
    cd28 = OutcomeSpec("c", "==", "CD28", "CD28 costimulation").values(df)
    assert cd28.name == "CD28 costimulation"
    assert cd28.iloc[[0, 1, 3]].tolist() == [1, 0, 1] and np.isnan(cd28.iloc[2])
    assert OutcomeSpec("c", "!=", "CD28").values(df).iloc[[0, 1]].tolist() == [0, 1]


def test_outcome_labels_and_descriptions():
    assert HYPOFIB_ANY.description == "hypofibrinogenemia_grade ≥ 1"
    assert HYPOFIB_SEVERE.name == "Hypofibrinogenemia grade ≥ 3"
    assert OutcomeSpec("x", ">", 2.5).name == "x > 2.5"
    assert OutcomeSpec("tocilizumab").name == "tocilizumab"


def test_bad_outcome_definitions_say_what_to_do():
    df = pd.DataFrame({"g": [0, 1, 2], "t": ["a", "b", "c"]})
    with pytest.raises(ColumnError, match="threshold"):
        OutcomeSpec("g").values(df)
    with pytest.raises(ColumnError, match="numeric"):
        OutcomeSpec("t", ">=", 1).values(df)
    with pytest.raises(ColumnError, match="not in the data"):
        OutcomeSpec("nope", ">=", 1).values(df)
    with pytest.raises(ColumnError):
        OutcomeSpec("g", ">=")
    with pytest.raises(ColumnError):
        OutcomeSpec("t", ">=", "a")


def test_predictor_choices_on_the_demo(demo):
    # 27 events, 14 non-events: one term, the exposure (the paper's 8 would be 1.8 per term)
    assert indicators.default_predictors(demo) == ["tocilizumab"]
    opts = indicators.predictor_options(demo, HYPOFIB_ANY)
    assert opts[:8] == list(indicators.PAPER_PREDICTORS)
    assert "hypofibrinogenemia_grade" not in opts and "patient_id" not in opts


def test_an_unknown_comparison_is_a_value_error():
    with pytest.raises(ValueError, match="comparison"):
        OutcomeSpec("g", "=>", 1)  # type: ignore[arg-type]
