"""core.analyses.paper_figures: the paper's findings reproduced on the synthetic demo cohort.

The demo values are recorded (direction to 3 decimals, p to 3 significant digits) as a
regression pin, so that a change in the demo generator, the statistics or the finding
definitions is noticed. They were copied from this code's output; the independent check
beside them (:func:`test_findings_equal_scipy_on_hand_made_subsets`) recomputes every finding
with scipy directly on subsets selected here by hand.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from core import ingest
from core.analyses import paper_figures as paper
from core.analyses.paper_figures import FINDINGS, Finding, reproduce

#: finding -> (direction: Spearman r / rho vs grade / median difference, p, n) on the demo;
#: copied from this code's output (a regression pin, checked independently below)
DEMO_REGRESSION_PIN = {
    "1A": (-0.605, 0.00232, 41),
    "1B": (0.698, 0.000312, 41),
    "1C": (-0.543, 0.000245, 41),
    "1D": (-0.563, 0.0026, 41),
    "1E": (0.434, 0.00922, 41),
    "1F": (0.398, 0.0105, 41),
    "2A": (0.764, 8.16e-05, 41),
    "2B": (0.164, 0.324, 41),
    "2C": (-0.062, 0.0956, 41),
    "2D": (-0.902, 1.48e-06, 41),
    "3A": (-177.000, 2.61e-05, 33),
    "3B": (-0.810, 1.39e-10, 41),
    "3C": (0.506, 0.0193, 21),
    "3D": (0.823, 9.6e-06, 41),
    "S3A": (0.823, 4.05e-11, 41),
    "S3B": (0.525, 0.0146, 21),
    "S3C": (-0.602, 0.000546, 29),
}
#: every finding reproduces on the demo (2C since the generator keeps CRS 3's CHE middling)
NOT_BUILT_TO_AGREE: set[str] = set()


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return reproduce(ingest.load_demo().patients).set_index("finding")


def test_findings_cover_the_brief():
    assert [f.id for f in FINDINGS] == list(DEMO_REGRESSION_PIN)
    assert all(isinstance(f, Finding) for f in FINDINGS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        FINDINGS[0].sign = 1  # type: ignore[misc]  # frozen
    b3 = paper.BY_ID["3B"]
    assert (b3.paper_r, b3.paper_p, b3.paper_p_op) == (-0.44, 0.004, "=")
    assert paper.BY_ID["1C"].columns == ("fibrinogen_nadir", "d_dimer_max")
    assert paper.BY_ID["1C"].paper_p_op == "<" and paper.BY_ID["3D"].paper_p_op == "<"
    assert paper.BY_ID["2B"].significant is False and paper.BY_ID["1A"].significant is None


def test_columns_of_the_result(table):  # noqa: ANN001
    assert list(table.reset_index().columns) == list(paper.RESULT_COLUMNS)


@pytest.mark.parametrize("fid", list(DEMO_REGRESSION_PIN))
def test_demo_values_regression_pin(table, fid):  # noqa: ANN001
    direction, p, n = DEMO_REGRESSION_PIN[fid]
    row = table.loc[fid]
    assert round(row["direction"], 3) == pytest.approx(direction, abs=1e-9)
    assert row["computed_p"] == pytest.approx(p, rel=5e-3)
    assert row["n"] == n


@pytest.mark.parametrize("f", [f for f in FINDINGS if f.id not in NOT_BUILT_TO_AGREE],
                         ids=lambda f: f.id)
def test_demo_agrees_with_the_paper(table, f):  # noqa: ANN001
    row = table.loc[f.id]
    assert row["agrees"] is True
    if f.significant:  # same sign and p <= 0.05
        assert math.copysign(1, row["direction"]) == f.sign and row["computed_p"] <= 0.05


def test_the_demo_was_built_for_these(table):  # noqa: ANN001
    # DESIGN: fibrinogen vs D-dimer r ~ -0.57 and D-dimer / gGT / albumin by CRS p < 0.05
    assert -0.7 < table.loc["1C", "computed_r"] < -0.45
    for fid in ("1B", "2A", "2D"):
        assert table.loc[fid, "computed_p"] < 0.05
    # cumulative dose vs nadir: negative and significant; stronger than the paper's -0.44
    # on all 41 patients (the generator tuned -0.44 on the 29 treated, tests/test_demo.py)
    assert table.loc["3B", "computed_r"] < -0.44 and table.loc["3B", "computed_p"] < 0.004


def test_2c_che_differs_only_in_crs_4_and_is_not_significant(table):  # noqa: ANN001
    # the paper: CHE reduced only in CRS grade 4, Kruskal-Wallis P = 0.65
    assert table.loc["2C", "agrees"] is True and table.loc["2C", "computed_p"] > 0.05
    che = ingest.load_demo().patients.groupby("crs_grade")["che_min"].median()
    assert che.idxmin() == 4 and che[4] < 0.6 * che.drop(4).min()


def test_missing_columns_and_small_data_give_notes_not_errors():
    p = ingest.load_demo().patients
    out = reproduce(p.drop(columns=["d_dimer_max", "tocilizumab_duration_days"])) \
        .set_index("finding")
    assert out.loc["1B", "agrees"] is None and "d_dimer_max" in out.loc["1B", "note"]
    assert out.loc["S3C", "agrees"] is None
    assert out.loc["2A", "agrees"] is True
    tiny = reproduce(p.head(3)).set_index("finding")
    # 3A still runs (three CRS 1-2 patients, both arms) and honestly does not agree
    assert tiny.loc["3A", "n"] == 3 and tiny.loc["3A", "agrees"] is False
    rest = tiny.drop(index="3A")
    assert rest["agrees"].isna().all() and (rest["note"] != "").all()


def test_agreement_rule():
    f = paper.BY_ID["3B"]  # r = -0.44, P = 0.004
    assert paper._agrees(f, -0.3, 0.01) is True
    assert paper._agrees(f, 0.3, 0.01) is False          # wrong sign
    assert paper._agrees(f, -0.3, 0.2) is False          # not significant
    ns = paper.BY_ID["2B"]  # P = 0.15
    assert paper._agrees(ns, -0.1, 0.4) is True and paper._agrees(ns, 0.3, 0.01) is False
    no_p = paper.BY_ID["1A"]
    assert paper._agrees(no_p, -0.2, 0.9) is True and paper._agrees(no_p, 0.2, 0.01) is False


def _by_hand(p: pd.DataFrame, fid: str) -> tuple[float, float, int]:
    """(direction, p, n) of one finding from scipy, on patients selected here without the
    app's code: Spearman for correlations (direction r), Kruskal-Wallis across the groups
    (direction: Spearman of the value against the group), Mann-Whitney for 3A (direction:
    median treated - median untreated)."""
    f = paper.BY_ID[fid]
    a, b = f.columns
    d = p.copy()
    rec = (d["fibrinogen_recovered"] == 1) & (d["hypofibrinogenemia_grade"] >= 1)
    d["fibrinogen_recovery_from_nadir_days"] = (d["fibrinogen_recovery_day"]
                                                - d["fibrinogen_nadir_day"]).where(rec)
    d["hypofibrinogenemia_duration_days"] = (d["fibrinogen_recovery_day"]
                                             - d["hypofibrinogenemia_onset_day"]).where(rec)
    if f.subset == "treated":
        d = d[d["tocilizumab"] == 1]
    elif f.subset == "recovered":
        d = d[rec]
    elif f.subset == "crs12":
        d = d[d["crs_grade"].isin([1, 2])]
    d = d[[a, b]].dropna().astype(float)
    rho = sps.spearmanr(d[a], d[b])
    if f.kind == "correlate":
        return float(rho.statistic), float(rho.pvalue), len(d)
    groups = [g[a].to_numpy() for _, g in d.groupby(b)]
    if fid == "3A":
        untreated, treated = groups
        test = sps.mannwhitneyu(treated, untreated, alternative="two-sided")
        return float(np.median(treated) - np.median(untreated)), float(test.pvalue), len(d)
    return float(rho.statistic), float(sps.kruskal(*groups).pvalue), len(d)


@pytest.mark.parametrize("fid", list(DEMO_REGRESSION_PIN))
def test_findings_equal_scipy_on_hand_made_subsets(table, fid):  # noqa: ANN001
    direction, p, n = _by_hand(ingest.load_demo().patients, fid)
    row = table.loc[fid]
    assert row["n"] == n
    assert row["direction"] == pytest.approx(direction, rel=1e-9, abs=1e-12)
    assert row["computed_p"] == pytest.approx(p, rel=1e-9)
