"""core.endpoints: hand-built patients with the expected value worked out in each test.

LLN of fibrinogen is 200 mg/dL (core.schema default) unless a test sets another one, so the CTCAE
v5 boundaries are 150 (0.75 x LLN), 100 (0.5 x), 50 (0.25 x and the absolute 50 mg/dL).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import endpoints as ep
from core.errors import ColumnError, ValidationError

DATA = Path(__file__).resolve().parent.parent / "data"


def labs(*rows: tuple) -> pd.DataFrame:
    """rows: (patient_id, day, analyte, value[, unit])."""
    cols = ["patient_id", "day", "analyte", "value", "unit"]
    return pd.DataFrame([r if len(r) == 5 else (*r, None) for r in rows], columns=cols)


def fib_course(pid: str, *points: tuple[float, float]) -> list[tuple]:
    return [(pid, d, "fibrinogen", v) for d, v in points]


def one(res: ep.Endpoints, pid: str) -> pd.Series:
    return res.patients.set_index("patient_id").loc[pid]


# ---------------------------------------------------------------- CTCAE grade boundaries

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
    res = ep.derive(labs(*fib_course("P", (0, 300), (4, 320), (6, nadir), (9, 250))))
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


# ---------------------------------------------------------------- abnormal baseline

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
    res = ep.derive(labs(*fib_course("P", (-2, 175), (0, 180), (5, nadir), (12, 182))))
    row = one(res, "P")
    assert row["fibrinogen_baseline"] == 180
    assert row["hypofibrinogenemia_grade"] == grade
    if grade:
        assert row["hypofibrinogenemia_onset_day"] == 5
        # recovery = back to baseline (182 >= 180) on day 12
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


# ---------------------------------------------------------------- courses

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


def test_patient_without_labs() -> None:
    pts = pd.DataFrame({"patient_id": ["A", "B"]})
    tx = pd.DataFrame({"patient_id": ["A"], "day": [2], "drug": ["tocilizumab"], "dose": [800],
                       "unit": ["mg"]})
    res = ep.derive(labs(*fib_course("A", (0, 300), (5, 150))), tx, patients=pts)
    b = one(res, "B")
    assert pd.isna(b["fibrinogen_nadir"]) and pd.isna(b["hypofibrinogenemia_grade"])
    assert pd.isna(b["dic_score_max"]) and pd.isna(b["iec_hs"])
    assert b["tocilizumab"] == 0 and b["tocilizumab_doses"] == 0 and b["tocilizumab_cum_mg"] == 0
    assert one(res, "A")["days_toci_to_hypofibrinogenemia"] == 3


def test_no_treatment_table_leaves_treatment_endpoints_unknown() -> None:
    row = one(ep.derive(labs(*fib_course("A", (0, 300), (5, 150)))), "A")
    assert pd.isna(row["tocilizumab"]) and pd.isna(row["fibrinogen_substitution_g"])


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


# ---------------------------------------------------------------- messy input

def test_duplicate_same_day_values_use_the_mean_and_are_listed() -> None:
    res = ep.derive(labs(*fib_course("P", (0, 300), (5, 90), (5, 130), (8, 150), (8, 150))))
    row = one(res, "P")
    assert row["fibrinogen_nadir"] == 110                 # mean of 90 and 130 -> grade 2
    assert row["hypofibrinogenemia_grade"] == 2
    iss = res.issues
    same = iss[iss["problem"].str.contains("same day")]
    assert len(same) == 2 and same["problem"].str.contains("mean 110").all()
    exact = iss[iss["problem"].str.contains("exact duplicate")]
    assert len(exact) == 1 and exact["day"].iloc[0] == 8


def test_unsorted_rows_give_the_same_result_and_a_message() -> None:
    rows = fib_course("P", (0, 300), (3, 320), (6, 120), (9, 180), (15, 210))
    ordered = ep.derive(labs(*rows))
    shuffled = ep.derive(labs(*[rows[i] for i in (3, 0, 4, 2, 1)]))
    pd.testing.assert_frame_equal(ordered.patients, shuffled.patients)
    assert any("not in day order" in m for m in shuffled.messages)
    assert not any("not in day order" in m for m in ordered.messages)


def test_negative_and_fractional_days() -> None:
    res = ep.derive(labs(*fib_course("P", (-3, 400), (-0.5, 310), (2.5, 190), (2.75, 170),
                                     (-100, 250))))
    row = one(res, "P")
    assert row["fibrinogen_baseline"] == 310              # last value on or before day 0
    assert row["hypofibrinogenemia_onset_day"] == 2.5
    assert row["fibrinogen_nadir_day"] == 2.75
    assert any("fractional" in m for m in res.messages)
    assert any("before infusion" in m for m in res.messages)
    out = res.issues[res.issues["day"] == -100]
    assert len(out) == 1 and "outside" in out["problem"].iloc[0]


def test_bad_input_is_listed_never_dropped_silently() -> None:
    raw = pd.DataFrame({
        "patient_id": ["A", "A", "A", "A", "A", "B", "A", "A", None, "C", "A"],
        "day": [0, 3, 4, 5, 5, 5, "x", 6, 2, 1, 7],
        "analyte": ["fibrinogen", "Fibrinogen", "sodium", "d-dimer", "ferritin", "fibrinogen",
                    "crp", "crp", "crp", "fibrinogen", "alt"],
        "value": ["300", "150", "140", "<0.5", "n.a.", "200", "1", "2,5", "3", "250", "40"],
        "unit": ["mg/dL", "mg/dl", "mmol/L", "mg/L FEU", "ng/mL", "mg/dL", "mg/dL", "mg/dL",
                 "mg/dL", "mg/dL", "furlongs"],
    })
    pts = pd.DataFrame({"patient_id": ["A", "B"]})
    res = ep.derive(raw, patients=pts)
    iss = res.issues.set_index("row")
    assert "unknown analyte" in iss.loc[2, "problem"]
    assert "censored result: used as 0.5" in iss.loc[3, "problem"]
    assert "no numeric result" in iss.loc[4, "problem"]
    assert "day missing" in iss.loc[6, "problem"]
    assert "no patient_id" in iss.loc[8, "problem"]
    assert "not in the patient table" in iss.loc[9, "problem"]
    assert "unknown unit" in iss.loc[10, "problem"]
    # every input row is either used or listed: used = 0, 1, 3 (censored), 5, 7 (decimal comma)
    assert set(iss.index) == {2, 3, 4, 6, 8, 9, 10}
    a = one(res, "A")
    assert a["d_dimer_max"] == 0.5 and a["crp_max"] == 2.5 and a["fibrinogen_nadir"] == 150
    assert one(res, "B")["fibrinogen_nadir"] == 200
    assert list(res.patients["patient_id"]) == ["A", "B"]


def test_unit_contradicting_values_is_detected() -> None:
    # fibrinogen in g/L labelled mg/dL: median 2.5 -> "looks like g/l", not used
    res = ep.derive(labs(("P", 0, "fibrinogen", 3.1, "mg/dL"), ("P", 4, "fibrinogen", 2.5, "mg/dL"),
                         ("P", 6, "fibrinogen", 1.2, "mg/dL"), ("Q", 0, "fibrinogen", 3.0, "g/L"),
                         ("Q", 5, "fibrinogen", 1.4, "g/L")))
    bad = res.issues[res.issues["patient_id"] == "P"]
    assert len(bad) == 3 and bad["problem"].str.contains("look like g/l").all()
    assert pd.isna(one(res, "P")["fibrinogen_nadir"])
    q = one(res, "Q")                                    # g/L correctly converted
    assert q["fibrinogen_baseline"] == 300 and q["fibrinogen_nadir"] == 140
    assert q["hypofibrinogenemia_grade"] == 2


def test_missing_required_column() -> None:
    with pytest.raises(ColumnError, match="analyte"):
        ep.derive(pd.DataFrame({"patient_id": ["A"], "day": [1], "value": [1.0]}))


# ---------------------------------------------------------------- ISTH DIC score

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
    assert list(d.loc[3, ["platelets_pts", "d_dimer_pts", "pt_pts", "fibrinogen_pts"]]) == [2, 3, 2, 1]
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


# ---------------------------------------------------------------- IEC-HS

def iec_labs(alt_day: float, ferritin_base: float | None = None) -> pd.DataFrame:
    rows = [*fib_course("P", (0, 300), (5, 150), (12, 250)),
            ("P", 6, "ferritin", 1000),              # > 2 x 400
            ("P", alt_day, "alt", 300),              # > 5 x 50
            ("P", 1, "ast", 30)]
    if ferritin_base is not None:
        rows.append(("P", 0, "ferritin", ferritin_base))
    return labs(*rows)


def test_iec_hs_positive_within_72h() -> None:
    # fibrinogen < LLN day 5, ferritin day 6, ALT day 8: all within 3 days
    assert one(ep.derive(iec_labs(8)), "P")["iec_hs"] == 1


def test_iec_hs_negative_outside_72h() -> None:
    # ALT on day 9: 4 days after the only low fibrinogen (day 5)
    assert one(ep.derive(iec_labs(9)), "P")["iec_hs"] == 0


def test_iec_hs_uses_an_elevated_baseline() -> None:
    # ferritin baseline 600 > ULN: the threshold becomes 2 x 600 = 1200; 1000 is not enough
    assert one(ep.derive(iec_labs(6, ferritin_base=600)), "P")["iec_hs"] == 0
    assert one(ep.derive(iec_labs(6, ferritin_base=300)), "P")["iec_hs"] == 1


def test_iec_hs_not_evaluable_without_ferritin() -> None:
    res = ep.derive(labs(*fib_course("P", (0, 300), (5, 100)), ("P", 5, "alt", 900)))
    assert pd.isna(one(res, "P")["iec_hs"])


# ---------------------------------------------------------------- treatments

def test_tocilizumab_steroid_and_substitution_counts() -> None:
    tx = pd.DataFrame({
        "patient_id": ["P"] * 8,
        "day": [2, 3, 5, 4, 6, 9, 10, 11],
        "drug": ["tocilizumab", "Tocilizumab", "RoActemra", "dexamethasone",
                 "methylprednisolone", "fibrinogen concentrate", "fibrinogen_concentrate",
                 "vitamin K"],
        "dose": [800, 720, 0.8, 10, 1000, 2, 1000, 10],
        "unit": ["mg", "mg", "g", "mg", "mg", "g", "mg", "mg"],
    })
    res = ep.derive(labs(*fib_course("P", (0, 300), (9, 140))), tx)
    row = one(res, "P")
    assert row["tocilizumab"] == 1 and row["tocilizumab_doses"] == 3
    assert row["tocilizumab_cum_mg"] == 800 + 720 + 800
    assert (row["tocilizumab_first_day"], row["tocilizumab_last_day"]) == (2, 5)
    assert row["tocilizumab_duration_days"] == 3
    assert row["days_toci_to_hypofibrinogenemia"] == 9 - 2
    assert row["corticosteroids"] == 1 and row["corticosteroids_first_day"] == 4
    assert row["days_corticosteroids_to_hypofibrinogenemia"] == 9 - 4
    assert row["fibrinogen_substitution_g"] == 3
    other = res.issues[res.issues["table"] == "treatments"]
    assert list(other["analyte"]) == ["vitamin K"]


def test_missing_tocilizumab_dose_leaves_cumulative_empty() -> None:
    tx = pd.DataFrame({"patient_id": ["P", "P"], "day": [1, 2], "drug": ["tocilizumab"] * 2,
                       "dose": [800, None], "unit": ["mg", "mg"]})
    row = one(ep.derive(None, tx), "P")
    assert row["tocilizumab_doses"] == 2 and pd.isna(row["tocilizumab_cum_mg"])


# ---------------------------------------------------------------- reconcile / apply

def test_reconcile_lists_disagreements_and_apply_uses_derived() -> None:
    res = ep.derive(labs(*fib_course("A", (0, 300), (5, 140)), *fib_course("B", (0, 300))))
    up = pd.DataFrame({"patient_id": ["A", "B", "C"], "hypofibrinogenemia_grade": [3, 0, 2],
                       "fibrinogen_nadir": [140.0, 250.0, 80.0]})
    rec = ep.reconcile(up, res)
    assert rec.to_dict("records") == [
        {"patient_id": "A", "column": "hypofibrinogenemia_grade", "uploaded": 3, "derived": 2},
        {"patient_id": "B", "column": "fibrinogen_nadir", "uploaded": 250.0, "derived": 300.0},
    ]
    merged = ep.apply_derived(up, res).set_index("patient_id")
    assert merged.loc["A", "hypofibrinogenemia_grade"] == 2
    assert merged.loc["C", "fibrinogen_nadir"] == 80      # no labs: uploaded value stays
    assert "dic_score_max" in merged.columns


def test_reconcile_blank_uploaded_cells_are_not_disagreements() -> None:
    res = ep.derive(labs(*fib_course("A", (0, 300), (5, 140)), *fib_course("B", (0, 300),
                                                                            (4, 90))))
    up = pd.DataFrame({
        "patient_id": ["A", "B"],
        "fibrinogen_nadir": [np.nan, None],                       # missing numbers
        "hypofibrinogenemia_grade": pd.array([pd.NA, 1], dtype="Int64"),   # B: 1 vs 3
        "fibrinogen_nadir_day": ["", "  "],                       # empty text
        "fibrinogen_recovered": ["n.a.", "NA"],                   # NA tokens
        "dic_score_max": [None, "viel"],                          # B: text is a value
    })
    rec = ep.reconcile(up, res)
    assert rec[["patient_id", "column"]].values.tolist() == [
        ["B", "hypofibrinogenemia_grade"], ["B", "dic_score_max"]]


def test_reconcile_upload_templates_have_no_disagreements() -> None:
    """The app's own templates (blank cells for what the labs derive) disagree nowhere."""
    from core import loading

    d = DATA / "templates"
    cohort = loading.load_upload(loading.Upload("patients.csv", (d / "patients.csv").read_bytes()),
                                 loading.Upload("labs.csv", (d / "labs.csv").read_bytes()))
    derived = ep.apply_to_cohort(cohort)
    assert derived.disagreements.empty, derived.disagreements
    # the template's values agree with the derivation (140 mg/dL nadir on day 5)
    row = derived.cohort.patients.set_index("patient_id").loc["P001"]
    assert row["fibrinogen_nadir"] == 140 and row["fibrinogen_nadir_day"] == 5


def test_settings_sources_are_documented() -> None:
    src = ep.EndpointSettings().source_table()
    text = " ".join(src["source"])
    assert "CTCAE" in text and "Taylor" in text and "Hines" in text
    assert list(src.columns) == ["setting", "source"]


# ---------------------------------------------------------------- the demo equality

def test_demo_patient_columns_equal_derivation() -> None:
    patients = pd.read_csv(DATA / "demo_patients.csv")
    res = ep.derive(pd.read_csv(DATA / "demo_labs.csv"),
                    pd.read_csv(DATA / "demo_treatments.csv"), patients=patients)
    assert res.issues.empty
    derived = res.patients.set_index("patient_id")
    stored = patients.set_index("patient_id")
    for col in ep.ENDPOINT_COLUMNS:
        a = stored[col].to_numpy(float)
        b = derived.loc[stored.index, col].to_numpy(float)
        assert np.array_equal(a, b, equal_nan=True), col
    assert ep.reconcile(patients, res).empty


def test_large_cohort_has_one_row_per_patient() -> None:
    from core import demo
    c = demo.generate(300, seed=3)
    res = ep.derive(c.labs, c.treatments)
    assert len(res.patients) == 300 and res.issues.empty
    assert res.dic.groupby("patient_id")["score"].max().reindex(
        res.patients["patient_id"]).to_numpy().tolist() == res.patients["dic_score_max"].tolist()
