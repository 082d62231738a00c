"""Contracts of core.stats: options checked at runtime, typed notes with documented kinds.

A bad argument that no user can cause (an unknown option, a wrong type) is a programmer error:
ValueError or TypeError, never a CohortError (which pages show to the user as something to
fix). Every note a result carries is a :class:`core.notes.Note` whose kind is documented in the
result's docstring, and ``messages`` are the notes' texts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import CohortError
from core.notes import Note, of_kind
from core.stats import (
    CONTINGENCY_TESTS,
    CORRELATION_METHODS,
    LOGISTIC_METHODS,
    compare_groups,
    contingency,
    correlate,
    correlation_matrix_frame,
    cox,
    kaplan_meier,
    logistic,
    tukey_box,
)

MODELS = Path(__file__).parent / "fixtures" / "stats_models"
GROUPS = Path(__file__).parent / "fixtures" / "stats_groups"


def _models(name: str) -> pd.DataFrame:
    return pd.read_csv(MODELS / name)


@pytest.fixture(scope="module")
def mtcars() -> pd.DataFrame:
    return _models("mtcars.csv")


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    df = _models("lung.csv")
    return df.assign(status=df["status"] - 1)


# ------------------------------------------------------------------------------ options

@pytest.mark.parametrize("call, allowed", [
    (lambda d: logistic(d, "vs", ["mpg"], method="frith"), LOGISTIC_METHODS),
    (lambda d: correlate(d, "mpg", "wt", method="kendall"), CORRELATION_METHODS),
    (lambda d: correlation_matrix_frame(d, ["mpg", "wt"], method="Spearman"),
     CORRELATION_METHODS),
    (lambda d: contingency(d, "am", "vs", test="g-test"), CONTINGENCY_TESTS),
    (lambda d: contingency(d, "am", "vs", test=None), CONTINGENCY_TESTS),
], ids=["logistic method", "correlate method", "matrix method", "contingency test",
        "contingency None"])
def test_unknown_option_is_a_value_error_naming_the_allowed_values(mtcars, call, allowed):
    with pytest.raises(ValueError) as exc:
        call(mtcars)
    assert not isinstance(exc.value, CohortError)
    for value in allowed:
        assert repr(value) in str(exc.value)


def test_frith_used_to_fit_ml_silently(mtcars):
    # before issue 10 an unknown method fell through to maximum likelihood
    with pytest.raises(ValueError, match="Unknown method 'frith'; use one of: 'auto', 'ml', "
                                         "'firth'"):
        logistic(mtcars, "vs", ["mpg"], method="frith")  # type: ignore[arg-type]


@pytest.mark.parametrize("call, error", [
    (lambda d: compare_groups(d, "mpg", "cyl", order="468"), TypeError),
    (lambda d: tukey_box(d, "mpg", "cyl", order=4), TypeError),
    (lambda d: logistic(d, "vs", ["mpg"], reference=[("mpg", "1")]), TypeError),
    (lambda d: cox(d.assign(t=d["mpg"]), "t", "vs", ["am"], reference="am"), TypeError),
    (lambda d: kaplan_meier(d.assign(t=d["mpg"]), "t", "vs", landmark="30"), TypeError),
    (lambda d: kaplan_meier(d.assign(t=d["mpg"]), "t", "vs", landmark=True), TypeError),
    (lambda d: kaplan_meier(d.assign(t=d["mpg"]), "t", "vs", landmark=-1), ValueError),
    (lambda d: kaplan_meier(d.assign(t=d["mpg"]), "t", "vs", landmark=float("nan")),
     ValueError),
], ids=["order str", "order int", "reference list", "reference str", "landmark str",
        "landmark bool", "landmark negative", "landmark nan"])
def test_bad_arguments_are_programmer_errors(mtcars, call, error):
    with pytest.raises(error) as exc:
        call(mtcars)
    assert not isinstance(exc.value, CohortError)


def test_valid_options_and_orders_still_work(mtcars):
    assert compare_groups(mtcars, "mpg", "cyl", order=(8, 6, 4)).groups == (8, 6, 4)
    assert compare_groups(mtcars, "mpg", "cyl", order=np.array([4, 6, 8])).groups == (4, 6, 8)
    assert kaplan_meier(mtcars.assign(t=mtcars["mpg"]), "t", "vs", landmark=15).n == 27
    assert kaplan_meier(mtcars.assign(t=mtcars["mpg"]), "t", "vs",
                        landmark=np.float64(15.0)).n == 27
    assert logistic(mtcars, "vs", "mpg").table["term"].tolist() == ["(Intercept)", "mpg"]


# ------------------------------------------------------------------------------ notes

def _notes_cases() -> dict[str, object]:
    mt = _models("mtcars.csv")
    lung = _models("lung.csv").assign(status=lambda d: d["status"] - 1)
    aml = _models("aml.csv")
    endo = _models("endometrial.csv")
    few = aml.copy()
    few.loc[few["x"] == "Maintained", "status"] = 0
    air = pd.read_csv(GROUPS / "airquality.csv")
    return {
        "compare: dropped, groups": (lambda: compare_groups(air, "Ozone", "Month",
                                                            order=[5, 6, 7, 8, 9, 10]),
                                     {"dropped", "groups"}),
        "compare: single observation": (lambda: compare_groups(
            pd.DataFrame({"v": [1.0, 2, 3, 4, 5], "g": list("aabbc")}), "v", "g"),
            {"small_sample"}),
        "compare: constant": (lambda: compare_groups(
            pd.DataFrame({"v": [1.0] * 6, "g": list("aabbcc")}), "v", "g"), {"constant"}),
        "compare: Mann-Whitney approximation": (lambda: compare_groups(
            mt[mt["cyl"] != 6], "mpg", "cyl"), {"method"}),
        "correlate: spearman": (lambda: correlate(air, "Ozone", "Day"), {"dropped", "method"}),
        "contingency: auto chooses Fisher": (lambda: contingency(mt, "am", "cyl"), {"method"}),
        "contingency: chi2 with small counts": (lambda: contingency(mt, "am", "cyl",
                                                                    test="chi2"),
                                                {"method", "small_sample"}),
        "logistic: separation": (lambda: logistic(endo, "HG", ["NV", "PI", "EH"]),
                                 {"separation"}),
        "logistic: epv": (lambda: logistic(mt, "vs", ["mpg", "am"], method="ml"), {"epv"}),
        "kaplan_meier: landmark, median, logrank": (lambda: kaplan_meier(
            lung, "time", "status", "sex", landmark=180), {"landmark"}),
        "kaplan_meier: one group": (lambda: kaplan_meier(aml.assign(g="a"), "time", "status",
                                                         "g"), {"logrank"}),
        "kaplan_meier: no events": (lambda: kaplan_meier(aml.assign(status=0), "time",
                                                         "status", "x"),
                                    {"no_events", "median", "logrank"}),
        "cox: infinite hazard ratio": (lambda: cox(few, "time", "status", ["x"]),
                                       {"convergence", "ph_test"}),
    }


NOTES_CASES = _notes_cases()


@pytest.mark.parametrize("name", NOTES_CASES)
def test_notes_are_typed_documented_and_messages_are_their_texts(name):
    call, expected_kinds = NOTES_CASES[name]
    result = call()
    assert result.notes and all(isinstance(n, Note) for n in result.notes)
    assert result.messages == tuple(n.text for n in result.notes)
    kinds = {n.kind for n in result.notes}
    assert expected_kinds <= kinds, kinds
    for kind in kinds:  # every kind a result emits is documented in its class docstring
        assert f'"{kind}"' in type(result).__doc__, (type(result).__name__, kind)


def test_notes_select_by_kind_not_by_wording(mtcars):
    res = logistic(_models("endometrial.csv"), "HG", ["NV", "PI", "EH"])
    (separation,) = of_kind(res.notes, "separation")
    assert separation.level == "warning" and "separated by NV" in separation.text
    assert not of_kind(res.notes, "epv")  # 79 patients, 30 events for 3 terms
    ml = logistic(mtcars, "vs", ["mpg", "am"], method="ml")
    assert [n.kind for n in ml.notes] == ["epv"] and ml.epv == pytest.approx(7.0)
