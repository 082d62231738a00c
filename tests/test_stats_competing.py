"""core.stats.cumulative_incidence (Aalen-Johansen, cmprsk's variance) and Gray's test against
R 4.2 with cmprsk 2.2-11.

Fixtures and the R code: tests/fixtures/stats_models/make_competing_fixtures.R (its printed
output is kept beside it as reference_competing.txt). melanoma.csv is MASS::Melanoma with
cause 1 = death from melanoma, 2 = death from other causes, 0 = alive (censored); mgus2_cr.csv
is survival::mgus2 with cause 1 = progression to a plasma-cell malignancy, 2 = death without
it (times in months: many ties).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import ColumnError, InsufficientDataError
from core.stats import CumulativeIncidenceResult, cumulative_incidence

FIX = Path(__file__).parent / "fixtures" / "stats_models"
REL = 1e-4


@pytest.fixture(scope="module")
def mel() -> pd.DataFrame:
    return pd.read_csv(FIX / "melanoma.csv")


@pytest.fixture(scope="module")
def mgus() -> pd.DataFrame:
    return pd.read_csv(FIX / "mgus2_cr.csv")


def _check_points(res: CumulativeIncidenceResult, times, expected) -> None:
    """expected: {group: [(est, var, low, high), ...]} in the order of ``times``."""
    at = res.cif_at(times)
    for group, rows in expected.items():
        got = at[at["group"] == group]
        for (est, var, low, high), (_, row) in zip(rows, got.iterrows(), strict=True):
            assert row["cif"] == pytest.approx(est, rel=REL)
            assert row["var"] == pytest.approx(var, rel=REL)
            assert row["ci_low"] == pytest.approx(low, rel=REL)
            assert row["ci_high"] == pytest.approx(high, rel=REL)


# R, for every block below:
#   loglog <- function(est, var) {
#     s <- qnorm(0.975) * sqrt(var) / (est * log(est))
#     cbind(est = est, var = var, low = est^exp(-s), high = est^exp(s)) }
#   tp <- timepoints(ci, times); loglog(tp$est[r, ], tp$var[r, ])  for each row r

def test_melanoma_by_ulcer_matches_cuminc(mel):
    # ci <- cuminc(mel$time, mel$cause, mel$ulcer); ci$Tests
    #     stat           pv              df
    #   1 26.1207190334  3.207239639e-07  1
    #   2  0.1586620384  6.903913443e-01  1
    res = cumulative_incidence(mel, "time", "cause", "ulcer")
    assert (res.gray.statistic, res.gray.df) == (pytest.approx(26.1207190334, rel=REL), 1)
    assert res.gray.pvalue == pytest.approx(3.207239639e-07, rel=REL)
    # timepoints(ci, c(1000, 2000, 4000)): "0 1" and "1 1"
    _check_points(res, [1000, 2000, 4000], {
        "0": [(0.03509041939, 0.0002997449229, 0.01143719219, 0.08127876269),
              (0.10322275982, 0.0008952562001, 0.05412938033, 0.17063447524),
              (0.18165408734, 0.0019180376050, 0.10538596896, 0.27446660532)],
        "1": [(0.2444444444, 0.002079639896, 0.1610158505, 0.3373210963),
              (0.3897274633, 0.002692946243, 0.2885162759, 0.4895086714),
              (0.5330696614, 0.004632013531, 0.3920299958, 0.6553120222)]})
    other = cumulative_incidence(mel, "time", "cause", "ulcer", event_of_interest=2)
    assert other.gray.statistic == pytest.approx(0.1586620384, rel=REL)
    assert other.gray.pvalue == pytest.approx(6.903913443e-01, rel=REL)
    # "0 2" and "1 2" (the last value carried forward after the last death of cause 2)
    _check_points(other, [1000, 2000, 4000], {
        "0": [(0.01746825702, 0.0001512405769, 0.003374159279, 0.05623970971),
              (0.02624086187, 0.0002255429085, 0.007053859187, 0.06890192743),
              (0.12960814444, 0.0029626458824, 0.047036322962, 0.25519291201)],
        "1": [(0.05555555556, 0.0005902877545, 0.02048302623, 0.1166428179),
              (0.07981431566, 0.0008546096748, 0.03479675294, 0.1491057137),
              (0.07981431566, 0.0008546096748, 0.03479675294, 0.1491057137)]})
    assert list(res.curves.columns) == ["group", "time", "cif", "ci_low", "ci_high", "var",
                                        "at_risk", "events", "competing", "censored"]
    # table(mel$ulcer, mel$cause): ulcer 0: 92 16 7; ulcer 1: 42 41 7
    assert res.summary.to_dict("records") == [
        {"group": "0", "n": 115, "events": 16, "competing": 7, "censored": 92},
        {"group": "1", "n": 90, "events": 41, "competing": 7, "censored": 42}]
    assert (res.n, res.events, res.competing, res.n_dropped) == (205, 57, 14, 0)


def test_melanoma_overall_matches_cuminc(mel):
    # ci1 <- cuminc(mel$time, mel$cause)   (no group: no test)
    res = cumulative_incidence(mel, "time", "cause")
    assert res.gray is None and res.groups == ["All"] and res.messages == ()
    _check_points(res, [1000, 2000, 4000], {
        "All": [(0.1274571360, 0.0005481186382, 0.08600363445, 0.1773440390),
                (0.2301396344, 0.0009001171861, 0.17409675574, 0.2909668974),
                (0.3387175089, 0.0016907597030, 0.25957962557, 0.4193752476)]})


def test_three_groups_matches_cuminc(mel):
    # ci3 <- cuminc(mel$time, mel$cause, mel$thick3); ci3$Tests
    #   1 24.2215934275 5.499811639e-06 2
    #   2  0.2623748242 8.770533886e-01 2
    res = cumulative_incidence(mel, "time", "cause", "thick3")
    assert res.gray.statistic == pytest.approx(24.2215934275, rel=REL)
    assert res.gray.df == 2 and res.gray.pvalue == pytest.approx(5.499811639e-06, rel=REL)
    other = cumulative_incidence(mel, "time", "cause", "thick3", event_of_interest=2)
    assert other.gray.statistic == pytest.approx(0.2623748242, rel=REL)
    assert other.gray.pvalue == pytest.approx(8.770533886e-01, rel=REL)
    # timepoints(ci3, c(1500, 3000))
    _check_points(res, [1500, 3000], {
        "a": [(0.03571428571, 0.0006266945809, 0.006522258049, 0.1101006039),
              (0.13828903654, 0.0031075066347, 0.052365218852, 0.2652628809)],
        "b": [(0.09210526316, 0.001115820590, 0.04023823849, 0.1703074256),
              (0.29036456571, 0.004168586926, 0.17219971358, 0.4192358142)],
        "c": [(0.3750000000, 0.003317047293, 0.2636453936, 0.4859650428),
              (0.4660311199, 0.004091633238, 0.3375612673, 0.5846335847)]})
    _check_points(other, [1500, 3000], {
        "a": [(0.03571428571, 0.0006262649688, 0.006526898669, 0.1100662721),
              (0.06347887992, 0.0013629239676, 0.015472732208, 0.1614699894)],
        "c": [(0.05555555556, 0.0007403847068, 0.01779301868, 0.1257379461),
              (0.07061457061, 0.0009463414037, 0.02578587518, 0.1465257353)]})


def test_tied_times_mgus2_matches_cuminc(mgus):
    # cm <- cuminc(mg2$etime, mg2$cause, mg2$sex); cm$Tests
    #   1  1.194507825 0.2744221567880 1
    #   2 11.651259012 0.0006415909764 1
    res = cumulative_incidence(mgus, "etime", "cause", "sex")
    assert res.gray.statistic == pytest.approx(1.194507825, rel=REL)
    assert res.gray.pvalue == pytest.approx(0.2744221567880, rel=REL)
    death = cumulative_incidence(mgus, "etime", "cause", "sex", event_of_interest=2)
    assert death.gray.statistic == pytest.approx(11.651259012, rel=REL)
    assert death.gray.pvalue == pytest.approx(0.0006415909764, rel=REL)
    # timepoints(cm, c(60, 120, 240))
    _check_points(res, [60, 120, 240], {
        "F": [(0.03978962150, 6.091510738e-05, 0.02645103463, 0.05716948640),
              (0.07388566438, 1.162397817e-04, 0.05461073137, 0.09687088719),
              (0.10494067419, 2.049839324e-04, 0.07900320616, 0.13503672533)],
        "M": [(0.02934628446, 3.806070663e-05, 0.01895581209, 0.04329569661),
              (0.05531024065, 7.487352964e-05, 0.04002505307, 0.07398791291),
              (0.09565075503, 1.853717047e-04, 0.07112652142, 0.12443031914)]})
    _check_points(death, [60, 120, 240], {
        "F": [(0.2639651455, 0.0003095938537, 0.2301079338, 0.2989452966),
              (0.4804900458, 0.0004338570048, 0.4390975435, 0.5206256280),
              (0.6953078030, 0.0005645337248, 0.6460067652, 0.7391645635)],
        "M": [(0.3676269856, 0.0003104941945, 0.3331437815, 0.4021147871),
              (0.5751784889, 0.0003594516428, 0.5370820603, 0.6113409379),
              (0.7481278893, 0.0004327006349, 0.7045960093, 0.7862373790)]})
    # the two cumulative incidences and the all-cause KM add up: F1 + F2 = 1 - S
    from core.stats import kaplan_meier
    km = kaplan_meier(mgus.assign(any=(mgus["cause"] > 0).astype(int)), "etime", "any", "sex")
    s = km.survival_at([120]).set_index("group")["survival"]
    f1 = res.cif_at([120]).set_index("group")["cif"]
    f2 = death.cif_at([120]).set_index("group")["cif"]
    assert np.allclose(f1 + f2, 1 - s, rtol=1e-12)


def test_gray_rho_one_matches_cuminc(mel):
    # cuminc(mel$time, mel$cause, mel$ulcer, rho = 1)$Tests
    #   1 27.7538249277 1.377755339e-07 1
    res = cumulative_incidence(mel, "time", "cause", "ulcer", rho=1.0)
    assert res.gray.statistic == pytest.approx(27.7538249277, rel=REL)
    assert res.gray.pvalue == pytest.approx(1.377755339e-07, rel=REL)


def test_estimate_equals_lifelines_aalen_johansen_without_ties(mel):
    # lifelines jitters tied times (it warns); on untied data its estimate is ours
    from lifelines import AalenJohansenFitter
    untied = mel.drop_duplicates("time")
    aj = AalenJohansenFitter(calculate_variance=False).fit(untied["time"], untied["cause"],
                                                           event_of_interest=1)
    ours = cumulative_incidence(untied, "time", "cause")
    times = aj.cumulative_density_.index.to_numpy()
    got = ours.cif_at(times[times <= untied["time"].max()])["cif"].to_numpy()
    assert np.allclose(got, aj.cumulative_density_["CIF_1"].to_numpy()[:len(got)], atol=1e-12)


def test_missing_values_and_codes(mel):
    df = mel.astype({"cause": float}).copy()
    df.loc[[0, 1], "cause"] = np.nan
    res = cumulative_incidence(df, "time", "cause", "ulcer")
    assert res.n == 203 and res.n_dropped == 2
    with pytest.raises(ColumnError, match="0 = censored"):
        cumulative_incidence(mel.assign(cause=mel["cause"] - 0.5), "time", "cause")
    with pytest.raises(ColumnError, match="0 = censored"):
        cumulative_incidence(mel.assign(cause="dead"), "time", "cause")
    with pytest.raises(ColumnError, match="negative"):
        cumulative_incidence(mel.assign(time=-mel["time"]), "time", "cause")
    with pytest.raises(ValueError, match=">= 1"):
        cumulative_incidence(mel, "time", "cause", event_of_interest=0)
    with pytest.raises(TypeError):
        cumulative_incidence(mel, "time", "cause", event_of_interest="1")  # type: ignore[arg-type]
    with pytest.raises(InsufficientDataError):
        cumulative_incidence(mel.iloc[:0], "time", "cause")
    # true/false: 1 = the event, nothing competes
    bool_res = cumulative_incidence(mel.assign(e=mel["cause"] == 1), "time", "e")
    assert bool_res.events == 57 and bool_res.competing == 0


def test_absent_cause_and_one_group_are_notes(mel):
    res = cumulative_incidence(mel, "time", "cause", "ulcer", event_of_interest=3)
    assert (res.curves["cif"] == 0).all() and np.isnan(res.gray.pvalue)
    assert {n.kind for n in res.notes} == {"gray", "no_events"}
    one = cumulative_incidence(mel.assign(g="x"), "time", "cause", "g")
    assert one.gray is None and one.messages == ("Only one group: no Gray test.",)


# ------------------------------------------------------------------------- degenerate data

def _frame(t, e, g) -> pd.DataFrame:
    return pd.DataFrame({"t": pd.Series(t, dtype=float), "e": pd.Series(e, dtype=float),
                         "g": pd.Series(g, dtype=object)})


DEGENERATE = {
    "one patient": _frame([5], [1], ["a"]),
    "two patients, one per group": _frame([5, 10], [1, 2], ["a", "b"]),
    "events at one time": _frame([5] * 6, [1, 2, 1, 2, 1, 1], list("ab") * 3),
    "all censored": _frame(range(1, 9), [0] * 8, list("ab") * 4),
    "only competing events": _frame(range(1, 9), [2] * 8, list("ab") * 4),
    "all events of interest": _frame(range(1, 9), [1] * 8, list("ab") * 4),
    "all times zero": _frame([0.0] * 6, [1, 0, 2] * 2, list("ab") * 3),
    "a group fails out first": _frame([1, 1, 5, 6, 7, 8], [1, 1, 1, 0, 2, 1], list("aabbbb")),
}


def _obeys_the_rule(df: pd.DataFrame, group: str | None) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            res = cumulative_incidence(df, "t", "e", group)
        except (InsufficientDataError, ColumnError) as exc:
            assert len(str(exc)) > 20
            return
    c = res.curves
    assert ((c["cif"] >= 0) & (c["cif"] <= 1 + 1e-12)).all()
    if res.gray is not None and np.isnan(res.gray.pvalue):
        assert res.messages, "a blank Gray test without a message"


@pytest.mark.parametrize("group", [None, "g"])
@pytest.mark.parametrize("df", DEGENERATE.values(), ids=DEGENERATE.keys())
def test_degenerate_data_give_a_result_or_a_message(df, group):
    _obeys_the_rule(df, group)


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(0, 10), data=st.data())
def test_random_small_frames_give_a_result_or_a_message(n, data):
    def column(values):
        return data.draw(st.lists(st.sampled_from(values), min_size=n, max_size=n))
    df = _frame(column([0.0, 1.0, 2.0, 2.0, 5.0, np.nan]), column([0, 1, 1, 2, 3, np.nan]),
                column(["a", "b", "c", None]))
    _obeys_the_rule(df, "g")
    _obeys_the_rule(df, None)
