"""core.analyses.survival: Kaplan-Meier by group, numbers at risk, landmark, Cox and the
proportional-hazards note on the synthetic demo cohort (the paper's Figure S1).

The statistics underneath (core.stats.kaplan_meier / cox) are validated against R in
test_stats_survival.py. The demo's log-rank p is this code's own output, kept as a
regression pin with a log-rank test written out by hand beside it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.analyses import competing, indicators, survival, time_varying
from core.errors import ColumnError, InsufficientDataError


def test_risk_times():
    assert survival.risk_times(926) == tuple(range(0, 901, 90))
    assert survival.risk_times(100)[:3] == (0, 14, 28)
    assert survival.risk_times(400, step=180) == (0, 180, 360)
    assert survival.risk_times(0) == (0,)


# ------------------------------------------------------------------------------ survival

def test_pfs_by_hypofibrinogenemia_as_in_figure_s1(demo):
    res = survival.survival_analysis(demo)   # defaults: PFS, hypofibrinogenemia yes/no
    assert res.endpoint.label == "PFS" and res.group == "Hypofibrinogenemia"
    assert res.km.groups == ["Hypofibrinogenemia: no", "Hypofibrinogenemia: yes"]
    assert res.km.n == 41 and res.km.events == 22
    assert res.logrank_p > 0.05                         # the paper: p = 0.4
    assert res.times == tuple(float(t) for t in range(0, 901, 90))
    first = res.at_risk[res.at_risk["time"] == 0].set_index("group")["at_risk"]
    assert first.to_dict() == {"Hypofibrinogenemia: no": 14, "Hypofibrinogenemia: yes": 27}
    assert res.cox is None


def test_pfs_logrank_regression_pin(demo):
    """The demo's log-rank p as this code gives it (a pin); independent check:
    :func:`test_logrank_written_out_by_hand`."""
    assert round(survival.survival_analysis(demo).logrank_p, 3) == 0.345


def test_logrank_written_out_by_hand(demo):
    """Two-group log-rank test: at each event time, observed minus expected events in one
    group and the hypergeometric variance, summed; chi-square with 1 df."""
    from scipy import stats as sps

    d = demo.dropna(subset=["pfs_days", "pfs_event", "hypofibrinogenemia_grade"])
    t = d["pfs_days"].to_numpy(float)
    e = d["pfs_event"].to_numpy(float)
    g = (d["hypofibrinogenemia_grade"] >= 1).to_numpy()
    o_minus_e = var = 0.0
    for time in np.unique(t[e == 1]):
        at_risk = t >= time
        n, n1 = at_risk.sum(), (at_risk & g).sum()
        dead = (t == time) & (e == 1)
        d_all, d1 = dead.sum(), (dead & g).sum()
        o_minus_e += d1 - d_all * n1 / n
        if n > 1:
            var += d_all * (n1 / n) * (1 - n1 / n) * (n - d_all) / (n - 1)
    chi2 = o_minus_e ** 2 / var
    p = sps.chi2.sf(chi2, 1)
    res = survival.survival_analysis(demo)
    assert res.logrank_p == pytest.approx(p, rel=1e-9)
    assert res.km.logrank.statistic == pytest.approx(chi2, rel=1e-9)
    # what tests/test_page_survival.py reads on the page: "Log-rank p = 0.35 (χ² = 0.89"
    assert round(p, 3) == 0.345 and f"{p:.2g} {chi2:.2f}" == "0.35 0.89"


def test_landmark_reduces_n_and_shifts_time(demo):
    full = survival.survival_analysis(demo)
    lm = survival.survival_analysis(demo, landmark=90)
    assert lm.km.n < full.km.n
    assert lm.km.n == int((demo["pfs_days"] >= 90).sum())
    assert lm.notes_of("landmark")
    assert lm.km.curves["time"].max() == demo["pfs_days"].max() - 90
    with pytest.raises(InsufficientDataError):
        survival.survival_analysis(demo, landmark=10_000)
    with pytest.raises(ColumnError):
        survival.survival_analysis(demo, landmark=-1)


def test_group_by_column_none_and_os(demo):
    crs = survival.survival_analysis(demo, group_spec="crs_grade")
    assert crs.km.groups == [f"crs_grade = {g}" for g in range(5)]
    assert len(crs.km.pairwise) == 10 and crs.km.pairwise["pvalue_holm"].notna().any()
    one = survival.survival_analysis(demo, "os_days", "os_event", group_spec=None, step=180)
    assert one.km.logrank is None and one.endpoint.label == "OS"
    assert one.times == (0.0, 180.0, 360.0, 540.0, 720.0, 900.0)


def test_cox_with_the_derived_group_and_a_column(demo):
    res = survival.survival_analysis(demo, covariates=[indicators.HYPOFIB_GROUP, "age"])
    assert list(res.cox.table["term"]) == ["Hypofibrinogenemia", "age"]
    assert res.cox.n == 41 and res.cox.events == 22
    assert list(res.cox.ph_test["term"]) == ["Hypofibrinogenemia", "age", "GLOBAL"]
    hr = res.cox.table.set_index("term").loc["Hypofibrinogenemia", "hazard_ratio"]
    assert 0.5 < hr < 5


def test_cox_that_cannot_be_fitted_is_a_note(demo):
    res = survival.survival_analysis(demo.assign(const=1), covariates=["const"])
    assert res.cox is None and res.km.n == 41
    (note,) = res.notes_of("cox")
    assert note.level == "error" and "const" in note.text


def test_ph_violation_is_noted():
    rng = np.random.default_rng(1)
    n = 200
    x = np.r_[np.zeros(n // 2), np.ones(n // 2)]
    # crossing hazards: group 1 dies early or survives long
    t = np.where(x == 1, np.where(rng.random(n) < 0.5, rng.exponential(10, n),
                                  rng.exponential(400, n)), rng.exponential(80, n))
    df = pd.DataFrame({"t_days": t, "t_event": 1, "x": x})
    res = survival.survival_analysis(df, "t_days", "t_event", group_spec="x",
                                     covariates=["x"])
    ph = res.notes_of("ph")
    assert ph and "x" in ph[0].text


def test_endpoint_and_group_choices_on_the_demo(demo):
    assert [(e.time, e.event, e.label) for e in survival.endpoints(demo)] == [
        ("pfs_days", "pfs_event", "PFS"), ("os_days", "os_event", "OS")]
    groups = survival.group_options(demo)
    assert {"crs_grade", "tocilizumab", "product"} <= set(groups)
    assert "pfs_event" not in groups and "age" not in groups


# ------------------------------------------------------------------------------ landmark by status

def test_landmark_groups_by_status_at_the_landmark(demo):
    from core.stats import kaplan_meier

    L = 14
    res = survival.survival_analysis(demo, landmark=L)
    info = res.landmark_info
    assert info.by_status and info.exposure_day == "hypofibrinogenemia_onset_day"
    assert res.km.groups == ["Hypofibrinogenemia by day 14: no",
                             "Hypofibrinogenemia by day 14: yes"]
    ever = demo["hypofibrinogenemia_grade"] >= 1
    onset = demo["hypofibrinogenemia_onset_day"]
    followed = demo["pfs_days"] >= L
    assert info.n_before == int((~followed).sum())
    assert info.n_exposed_later == int((followed & ever & (onset > L)).sum()) > 0
    assert info.n_unknown_day == 0
    # the same analysis written out: status at L, patients followed at L, time from L
    at_l = demo.assign(g=np.where(ever & (onset <= L), "yes", "no"))
    ref = kaplan_meier(at_l, "pfs_days", "pfs_event", "g", landmark=L)
    assert res.km.logrank.statistic == pytest.approx(ref.logrank.statistic, rel=1e-12)
    assert res.km.medians["n"].tolist() == ref.medians["n"].tolist()
    assert res.km.n == int(followed.sum())
    (note,) = [n for n in res.notes_of("landmark") if "by status" in n.text]
    assert f"{info.n_exposed_later} patient(s) whose Hypofibrinogenemia began after day 14" \
        in note.text
    assert not res.notes_of("immortal_time")


def test_landmark_leaves_out_unknown_onset_days(demo):
    df = demo.copy()
    exposed = df.index[(df["hypofibrinogenemia_grade"] >= 1) & (df["pfs_days"] >= 30)][:2]
    df.loc[exposed, "hypofibrinogenemia_onset_day"] = np.nan
    res = survival.survival_analysis(df, landmark=30)
    assert res.landmark_info.n_unknown_day == 2
    assert res.km.n == int((df["pfs_days"] >= 30).sum()) - 2
    assert any("2 patient(s) with Hypofibrinogenemia but no hypofibrinogenemia_onset_day are "
               "left out" in n.text for n in res.notes_of("landmark"))


def test_landmark_status_also_for_the_cox_covariate(demo):
    res = survival.survival_analysis(demo, landmark=14, covariates=[indicators.HYPOFIB_GROUP])
    ever = demo["hypofibrinogenemia_grade"] >= 1
    at_l = (ever & (demo["hypofibrinogenemia_onset_day"] <= 14)).astype(float)
    from core.stats import cox

    lm = demo[demo["pfs_days"] >= 14].assign(t=lambda d: d["pfs_days"] - 14,
                                             Hypofibrinogenemia=at_l)
    ref = cox(lm, "t", "pfs_event", ["Hypofibrinogenemia"])
    assert res.cox.table["coef"].iloc[0] == pytest.approx(ref.table["coef"].iloc[0], rel=1e-9)


def test_immortal_time_warning_and_what_it_offers(demo):
    res = survival.survival_analysis(demo)
    (note,) = res.notes_of("immortal_time")
    assert note.level == "warning" and "immortal-time bias" in note.text
    assert "landmark" in note.text and "time-varying Cox" in note.text
    # a grouping known at infusion: no warning, and the landmark does not regroup
    product = survival.survival_analysis(demo, group_spec="product", landmark=30)
    assert not product.notes_of("immortal_time")
    assert not product.landmark_info.by_status
    assert survival.survival_analysis(demo, group_spec="product").notes_of("immortal_time") == []
    # after infusion but no day column in the data: the landmark says it cannot regroup
    crs = survival.survival_analysis(demo, group_spec="crs_grade", landmark=30)
    assert not crs.landmark_info.by_status
    assert any("no day it started" in n.text for n in crs.notes_of("landmark"))
    assert survival.post_infusion("tocilizumab") and not survival.post_infusion("age")


# ------------------------------------------------------------------------------ time-varying Cox

def test_start_stop_table_splits_at_the_onset_day(demo):
    table, unknown, zero = time_varying.start_stop_table(demo, "pfs_days", "pfs_event",
                                                     indicators.HYPOFIB_GROUP)
    assert (unknown, zero) == (0, 0)
    assert (table["start"] < table["stop"]).all()
    by_id = table.groupby("id")
    assert len(by_id) == len(demo)
    assert (by_id["start"].min() == 0).all()
    assert by_id["stop"].max().sort_index().tolist() == \
        demo.set_index("patient_id")["pfs_days"].sort_index().tolist()
    assert table["event"].sum() == demo["pfs_event"].sum()   # the event is on the last row only
    ever = demo["hypofibrinogenemia_grade"] >= 1
    onset = demo["hypofibrinogenemia_onset_day"]
    split = ever & (onset > 0) & (onset < demo["pfs_days"])
    assert len(table) == len(demo) + int(split.sum())
    p = demo[split].iloc[0]
    rows = table[table["id"] == p["patient_id"]]
    assert rows[["start", "stop", "event", "Hypofibrinogenemia"]].values.tolist() == [
        [0, p["hypofibrinogenemia_onset_day"], 0, 0],
        [p["hypofibrinogenemia_onset_day"], p["pfs_days"], p["pfs_event"], 1]]


def test_time_varying_cox_on_the_demo(demo):
    from core.stats import cox

    res = time_varying.time_varying_cox(demo, covariates=["age"])
    assert list(res.cox.table["term"]) == ["Hypofibrinogenemia", "age"]
    assert (res.cox.n, res.cox.events) == (41, 22)
    ref = cox(res.table, "stop", "event", ["Hypofibrinogenemia", "age"], start="start",
              id="id")
    assert res.cox.table["coef"].tolist() == pytest.approx(ref.table["coef"].tolist())
    # an exposed patient without an onset day is left out and counted
    df = demo.copy()
    df.loc[df.index[df["hypofibrinogenemia_grade"] >= 1][0], "hypofibrinogenemia_onset_day"] = \
        np.nan
    missing = time_varying.time_varying_cox(df)
    assert missing.n_unknown_day == 1 and missing.cox.n == 40
    assert any("no hypofibrinogenemia_onset_day" in n.text for n in missing.notes)
    with pytest.raises(ColumnError, match="no day column"):
        time_varying.time_varying_cox(demo, exposure="crs_grade")
    none = time_varying.time_varying_cox(demo.assign(pfs_event=0))
    assert none.cox is None and none.notes[-1].kind == "cox"


# ------------------------------------------------------------------------------ competing risks

def test_competing_questions_and_hypofib_onset(demo):
    from core.stats import cumulative_incidence

    assert competing.competing_questions(demo) == ["hypofib_onset", "toci_to_onset",
                                                  "fibrinogen_recovery"]
    res = competing.competing_analysis(demo, "hypofib_onset", "tocilizumab")
    assert res.group == "tocilizumab" and res.cif.gray.df == 1
    ever = demo["hypofibrinogenemia_grade"] >= 1
    assert res.cif.events == int(ever.sum())
    assert (res.data["time"] <= competing.ONSET_WINDOW).all()
    # the same numbers from core.stats on the frame written out
    ref = cumulative_incidence(res.data.assign(g=demo["tocilizumab"]), "time", "cause", "g")
    assert res.cif.gray.statistic == pytest.approx(ref.gray.statistic, rel=1e-12)
    assert res.at_risk["time"].iloc[0] == 0
    assert res.notes[0].kind == "method"


def test_recovery_and_progression_questions(demo):
    rec = competing.competing_analysis(demo, "fibrinogen_recovery")
    ever = (demo["hypofibrinogenemia_grade"] >= 1).sum()
    assert rec.cif.n == ever and rec.cif.gray is None
    assert (rec.data["time"] >= 0).all()
    df = demo.assign(pfs_cause=np.where(demo["pfs_event"] == 1,
                                        np.where(demo["os_event"] == 1, 2, 1), 0))
    assert "progression" in competing.competing_questions(df)
    prog = competing.competing_analysis(df, "progression", indicators.HYPOFIB_GROUP)
    assert prog.cif.groups == ["Hypofibrinogenemia: no", "Hypofibrinogenemia: yes"]
    assert prog.cif.events + prog.cif.competing == int(demo["pfs_event"].sum())
    with pytest.raises(ColumnError):
        competing.competing_analysis(demo, "progression")
    with pytest.raises(ValueError, match="Unknown question"):
        competing.competing_analysis(demo, "relapse")


def test_onset_after_the_first_tocilizumab_dose(demo):
    res = competing.competing_analysis(demo, "toci_to_onset", "tocilizumab_doses")
    treated = demo[demo["tocilizumab"] == 1]
    ever = treated["hypofibrinogenemia_grade"] >= 1
    before = ever & (treated["hypofibrinogenemia_onset_day"] < treated["tocilizumab_first_day"])
    assert res.cif.n == len(treated) - int(before.sum())
    hit = res.data[res.data["cause"] == 1]
    expected = (treated["hypofibrinogenemia_onset_day"]
                - treated["tocilizumab_first_day"])[ever & ~before]
    assert sorted(hit["time"]) == sorted(expected)
    assert res.group == "tocilizumab_doses" and res.cif.gray is not None
