"""The synthetic demo cohort reproduces the paper's counts (Perl et al., Haematologica 2024).

Every count of DESIGN.md "The demo cohort" is asserted on the committed CSVs and on a fresh
``generate()``; the committed CSVs must be byte-identical to what ``core.demo.write`` produces.
"""

from __future__ import annotations

import filecmp
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kruskal, spearmanr

from core import demo
from core.schema import ANALYTES, PATIENT_COLUMNS

DATA = Path(__file__).resolve().parent.parent / "data"


def _committed() -> demo.DemoCohort:
    return demo.DemoCohort(pd.read_csv(DATA / "demo_patients.csv"),
                           pd.read_csv(DATA / "demo_labs.csv"),
                           pd.read_csv(DATA / "demo_treatments.csv"))


_FRESH = demo.generate()


@pytest.fixture(params=["committed", "generated"])
def cohort(request: pytest.FixtureRequest) -> demo.DemoCohort:
    return _committed() if request.param == "committed" else _FRESH


def test_committed_csvs_equal_generate(tmp_path: Path) -> None:
    paths = demo.write(tmp_path)
    for name, path in paths.items():
        assert filecmp.cmp(path, DATA / f"demo_{name}.csv", shallow=False), name


def test_generate_is_deterministic() -> None:
    again = demo.generate()
    pd.testing.assert_frame_equal(again.patients, _FRESH.patients)
    pd.testing.assert_frame_equal(again.labs, _FRESH.labs)
    pd.testing.assert_frame_equal(again.treatments, _FRESH.treatments)


def test_csvs_are_plain_and_synthetic() -> None:
    for name in ("patients", "labs", "treatments"):
        first = (DATA / f"demo_{name}.csv").read_text().splitlines()[0]
        assert first.startswith("patient_id,"), name  # no comment lines
    p = _committed().patients
    assert p["patient_id"].str.fullmatch(r"DEMO-\d{3}").all()
    assert p["patient_id"].is_unique
    assert "synthetic" in (demo.__doc__ or "").lower()
    assert set(p.columns) <= set(PATIENT_COLUMNS)


def test_table1_counts(cohort: demo.DemoCohort) -> None:
    p = cohort.patients
    assert len(p) == 41
    assert p["age"].median() == 69 and p["age"].min() == 38 and p["age"].max() == 83
    assert (p["sex"] == "F").sum() == 22
    assert p["disease"].value_counts().to_dict() == {
        "High-grade B-NHL": 30, "Multiple myeloma": 5, "Follicular lymphoma": 3,
        "Mantle cell lymphoma": 2, "Acute lymphoblastic leukemia": 1}
    hg = p[p["disease"] == "High-grade B-NHL"]
    assert hg["disease_subtype"].value_counts().to_dict() == {"primary": 21, "transformed": 9}
    assert p.loc[p["disease"] != "High-grade B-NHL", "disease_subtype"].isna().all()
    assert p["bulky"].sum() == 13
    assert p["product"].value_counts().to_dict() == {
        "tisa-cel": 18, "axi-cel": 14, "ide-cel": 5, "brexu-cel": 3,
        "CD19/CD20 (experimental)": 1}
    assert p["crs_grade"].value_counts().sort_index().to_dict() == {0: 3, 1: 13, 2: 20, 3: 3, 4: 2}
    assert (p["icans_grade"] > 0).sum() == 12
    assert p.loc[p["icans_grade"] > 0, "icans_grade"].value_counts().sort_index().to_dict() == {
        1: 7, 2: 3, 4: 2}
    assert p["tocilizumab"].sum() == 29
    assert p["corticosteroids"].sum() == 14


def test_products_match_diseases(cohort: demo.DemoCohort) -> None:
    p = cohort.patients
    allowed = {
        "ide-cel": {"Multiple myeloma"},
        "brexu-cel": {"Mantle cell lymphoma", "Acute lymphoblastic leukemia"},
        "tisa-cel": {"High-grade B-NHL", "Follicular lymphoma"},
        "axi-cel": {"High-grade B-NHL", "Follicular lymphoma"},
        "CD19/CD20 (experimental)": {"High-grade B-NHL"},
    }
    for prod, diseases in allowed.items():
        assert set(p.loc[p["product"] == prod, "disease"]) <= diseases, prod
    target = {"tisa-cel": "CD19", "axi-cel": "CD19", "ide-cel": "BCMA", "brexu-cel": "CD19",
              "CD19/CD20 (experimental)": "CD19/CD20"}
    assert (p["target"] == p["product"].map(target)).all()
    costim = {"tisa-cel": "4-1BB", "ide-cel": "4-1BB", "axi-cel": "CD28", "brexu-cel": "CD28"}
    known = p["product"].isin(list(costim))
    assert (p.loc[known, "costimulation"] == p.loc[known, "product"].map(costim)).all()
    assert set(p["lymphodepletion"]) == {"Flu/Cy", "Benda"}
    assert set(p.loc[p["lymphodepletion"] == "Benda", "product"]) == {"tisa-cel"}


def test_hypofibrinogenemia_counts(cohort: demo.DemoCohort) -> None:
    p = cohort.patients
    hypo = p["hypofibrinogenemia_grade"] >= 1
    assert hypo.sum() == 27
    assert (hypo & (p["tocilizumab"] == 1)).sum() == 27          # 27/29 treated
    assert (hypo & (p["tocilizumab"] == 0)).sum() == 0           # 0/12 untreated
    assert (p["hypofibrinogenemia_grade"] >= 3).sum() == 11
    by = p.groupby(p["crs_grade"].clip(upper=3))
    assert by.apply(lambda g: int((g["hypofibrinogenemia_grade"] >= 1).sum())).to_dict() == {
        0: 0, 1: 5, 2: 18, 3: 4}
    # the paper: fibrinogen above LLN before CAR-T in all but one patient
    assert (p["fibrinogen_baseline"] < ANALYTES["fibrinogen"].lln).sum() == 1


def test_iec_hs_and_dic_counts(cohort: demo.DemoCohort) -> None:
    p = cohort.patients
    assert p["iec_hs"].sum() == 4
    assert p.loc[p["iec_hs"] == 1, "crs_grade"].value_counts().to_dict() == {2: 3, 4: 1}
    dic = p["dic_score_max"] >= 5
    grp = p["crs_grade"].clip(upper=3)
    assert dic.groupby(grp).sum().to_dict() == {0: 0, 1: 2, 2: 8, 3: 5}
    assert grp.value_counts().sort_index().to_dict() == {0: 3, 1: 13, 2: 20, 3: 5}


def test_paper_times(cohort: demo.DemoCohort) -> None:
    p = cohort.patients
    h = p[p["hypofibrinogenemia_grade"] >= 1]
    k = h["days_toci_to_hypofibrinogenemia"]
    assert (k.median(), k.min(), k.max()) == (6, 2, 27)
    rec = h[h["fibrinogen_recovered"] == 1]["fibrinogen_recovery_day"]
    assert (rec.median(), rec.min(), rec.max()) == (44, 9, 181)
    assert (h["fibrinogen_recovered"] == 0).sum() == 6
    subst = p.loc[p["fibrinogen_substitution_g"] > 0, "fibrinogen_substitution_g"]
    assert len(subst) == 8 and set(subst.index) <= set(h.index)
    assert (subst.median(), subst.min(), subst.max()) == (3, 1, 9)


def test_tocilizumab_dosing(cohort: demo.DemoCohort) -> None:
    p = cohort.patients
    t = p[p["tocilizumab"] == 1]
    per_dose = t["tocilizumab_cum_mg"] / t["tocilizumab_doses"]
    assert per_dose.between(560, 800).all() and (per_dose == 800).sum() >= 3
    assert t["tocilizumab_doses"].between(1, 4).all()
    severe = t[t["hypofibrinogenemia_grade"] >= 3]
    assert (severe["tocilizumab_doses"] >= 3).mean() > 0.5     # mostly after >= 3 doses
    mean_doses = t.groupby(t["crs_grade"].clip(upper=3))["tocilizumab_doses"].mean()
    assert mean_doses.is_monotonic_increasing                   # more doses in higher CRS


def test_paper_correlations(cohort: demo.DemoCohort) -> None:
    p = cohort.patients
    t = p[p["tocilizumab"] == 1]
    r, pv = spearmanr(t["tocilizumab_cum_mg"], t["fibrinogen_nadir"])
    assert -0.65 < r < -0.4 and pv < 0.01                       # paper r = -0.44
    r, pv = spearmanr(p["fibrinogen_nadir"], p["d_dimer_max"])
    assert -0.7 < r < -0.45 and pv < 0.001                      # paper R = -0.57
    r, pv = spearmanr(t["tocilizumab_doses"], t["hypofibrinogenemia_grade"])
    assert 0.35 < r < 0.65 and pv < 0.01                        # paper R = 0.44


def test_lab_differences_by_crs(cohort: demo.DemoCohort) -> None:
    p = cohort.patients
    groups = lambda col: [g[col].to_numpy() for _, g in p.groupby("crs_grade")]  # noqa: E731
    for col in ("d_dimer_max", "ggt_max", "albumin_min"):
        assert kruskal(*groups(col)).pvalue < 0.05, col
    alb = p.groupby(p["crs_grade"].clip(upper=3))["albumin_min"].median()
    assert alb.is_monotonic_decreasing
    high = p["crs_grade"] >= 3
    assert p.loc[high, "platelets_min"].median() < 50 <= p.loc[~high, "platelets_min"].median()
    assert p.loc[high, "inr_max"].median() > 1.5 and p.loc[~high, "inr_max"].max() <= 1.3
    assert p.loc[high, "ptt_max"].median() > 40 and p.loc[~high, "ptt_max"].max() <= 37


def test_pfs_not_different_by_hypofibrinogenemia(cohort: demo.DemoCohort) -> None:
    from lifelines.statistics import logrank_test
    p = cohort.patients
    h = p["hypofibrinogenemia_grade"] >= 1
    res = logrank_test(p.loc[h, "pfs_days"], p.loc[~h, "pfs_days"], p.loc[h, "pfs_event"],
                       p.loc[~h, "pfs_event"])
    assert res.p_value > 0.2
    assert (p["os_days"] >= p["pfs_days"]).all()
    last_lab = cohort.labs.groupby("patient_id")["day"].max()
    assert (last_lab.reindex(p["patient_id"]).to_numpy() <= p["os_days"].to_numpy()).all()


def test_bleeding_and_thrombosis(cohort: demo.DemoCohort) -> None:
    p = cohort.patients
    assert ((p["bleeding_grade"] > 0) | (p["thrombosis_grade"] > 0)).sum() == 3
    assert sorted(p.loc[p["bleeding_grade"] > 0, "bleeding_grade"]) == [1, 3]
    assert sorted(p.loc[p["thrombosis_grade"] > 0, "thrombosis_grade"]) == [2, 3]


def test_lab_courses_follow_the_mechanism(cohort: demo.DemoCohort) -> None:
    p, labs = cohort.patients, cohort.labs
    fib = labs[labs["analyte"] == "fibrinogen"]
    assert set(labs["analyte"]) == {"fibrinogen", "d_dimer", "platelets", "inr", "ptt", "ggt",
                                    "alt", "ast", "che", "albumin", "ferritin", "crp", "il6",
                                    "anc", "haemoglobin", "ldh", "creatinine"}
    # ward sampling: daily days -5..14, sparse later, follow-up beyond day 200 for some
    days = set(fib["day"])
    assert set(range(-5, 15)) <= days and max(days) > 200
    # untreated patients with CRS: fibrinogen rises (acute phase) and stays >= baseline-ish
    untreated = p[(p["tocilizumab"] == 0) & (p["crs_grade"] >= 1)]
    assert (untreated["fibrinogen_max"] > 1.2 * untreated["fibrinogen_baseline"]).all()
    # treated: a peak during CRS, then the fall after the first tocilizumab dose
    t = p[p["hypofibrinogenemia_grade"] >= 1]
    assert (t["fibrinogen_max"] > t["fibrinogen_baseline"]).mean() > 0.8
    assert (t["fibrinogen_nadir_day"] > t["tocilizumab_first_day"]).all()


def test_treatments_table(cohort: demo.DemoCohort) -> None:
    tx, p = cohort.treatments, cohort.patients
    assert list(tx.columns) == ["patient_id", "day", "drug", "dose", "unit"]
    assert set(tx["drug"]) == {"tocilizumab", "dexamethasone", "methylprednisolone", "anakinra",
                               "fibrinogen_concentrate"}
    assert set(tx.loc[tx["drug"] == "tocilizumab", "unit"]) == {"mg"}
    assert set(tx.loc[tx["drug"] == "fibrinogen_concentrate", "unit"]) == {"g"}
    ana = tx.loc[tx["drug"] == "anakinra", "patient_id"].unique()
    assert len(ana) == 1 and p.set_index("patient_id").loc[ana[0], "iec_hs"] == 1


def test_other_seed_still_exact() -> None:
    c = demo.generate(41, seed=7)
    p = c.patients
    assert (p["hypofibrinogenemia_grade"] >= 1).sum() == 27
    assert (p["dic_score_max"] >= 5).sum() == 15 and p["iec_hs"].sum() == 4
    assert not c.patients.equals(_FRESH.patients)


def test_large_cohort_shape() -> None:
    c = demo.generate(2000)
    p = c.patients
    assert len(p) == 2000 and p["patient_id"].is_unique
    assert p["patient_id"].str.fullmatch(r"DEMO-\d{4}").all()
    share = lambda m: float(np.mean(m))  # noqa: E731
    assert abs(share(p["tocilizumab"] == 1) - 29 / 41) < 0.03
    assert abs(share(p["hypofibrinogenemia_grade"] >= 1) - 27 / 41) < 0.03
    assert ((p["hypofibrinogenemia_grade"] >= 1) & (p["tocilizumab"] == 0)).sum() == 0
    assert abs(share(p["crs_grade"] == 2) - 20 / 41) < 0.03
    assert abs(share(p["dic_score_max"] >= 5) - 15 / 41) < 0.03
    assert abs(share(p["iec_hs"] == 1) - 4 / 41) < 0.02
    assert abs(share(p["product"] == "tisa-cel") - 18 / 41) < 0.05
    assert set(p.loc[p["product"] == "ide-cel", "disease"]) == {"Multiple myeloma"}
    r, _ = spearmanr(p["fibrinogen_nadir"], p["d_dimer_max"])
    assert r < -0.3
    assert len(c.labs) > 400 * 2000


def test_generate_rejects_bad_n() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        demo.generate(0)


# sha256 of data/demo_labs.csv and data/demo_patients.csv as committed before the risk-score
# analytes were added (git adcce81, issue 14): the series and endpoints that existed then must
# stay bit-identical (the baseline analytes come from their own generator)
_LABS_BEFORE_SCORES = "6fded78a3c56561b2d70818e610fb6a2092b223fda48a183f3e624f7c0424218"
_PATIENTS_BEFORE_SCORES = "e6e1e27c975cc80837baf533c5a185eb0bd6a790209d2f697fc5f6439ff60e1e"
_SCORE_ANALYTES = ("anc", "haemoglobin", "ldh", "creatinine")
_SCORE_COLUMNS = ("car_hematotox", "car_hematotox_high", "easix", "m_easix",
                  "score_baseline_rule", "score_missing")


def _sha(frame: pd.DataFrame) -> str:
    import hashlib
    return hashlib.sha256(frame.to_csv(index=False, lineterminator="\n").encode()).hexdigest()


def test_existing_series_bit_identical_after_the_score_analytes() -> None:
    old = _FRESH.labs[~_FRESH.labs["analyte"].isin(_SCORE_ANALYTES)].reset_index(drop=True)
    assert _sha(old) == _LABS_BEFORE_SCORES
    assert _sha(_FRESH.patients.drop(columns=list(_SCORE_COLUMNS))) == _PATIENTS_BEFORE_SCORES


def test_baseline_analytes_plausible(cohort: demo.DemoCohort) -> None:
    labs, p = cohort.labs, cohort.patients
    new = labs[labs["analyte"].isin(_SCORE_ANALYTES)]
    # drawn at lymphodepletion (day -5) and on the day of infusion only, canonical units
    assert set(new["day"]) == {-5, 0}
    assert dict(new.groupby("analyte")["unit"].first()) == {
        "anc": "10^9/L", "creatinine": "mg/dL", "haemoglobin": "g/dL", "ldh": "U/L"}
    for a in _SCORE_ANALYTES:
        lo, hi = ANALYTES[a].plausible
        v = new.loc[new["analyte"] == a, "value"]
        assert v.between(lo, hi).all(), a
    d5 = new[new["day"] == -5].pivot(index="patient_id", columns="analyte", values="value")
    assert d5["anc"].notna().all() and d5["haemoglobin"].notna().all()
    assert 0.5 < d5["anc"].median() < 5 and 9 < d5["haemoglobin"].median() < 13
    assert 150 < d5["ldh"].median() < 400 and 0.6 < d5["creatinine"].median() < 1.3
    # every patient has every score; a few via the day-0 fallback (LDH/creatinine not drawn
    # at lymphodepletion), said per patient
    assert p["car_hematotox"].notna().all() and p["easix"].notna().all()
    assert p["score_missing"].isna().all()
    rules = p["score_baseline_rule"].value_counts().to_dict()
    assert set(rules) == {"before lymphodepletion", "on or before day 0 (ldh, creatinine)"}
    assert rules["on or before day 0 (ldh, creatinine)"] == d5["ldh"].isna().sum() > 0
    assert set(p["car_hematotox_high"]) == {0, 1}
    assert ((p["car_hematotox"] >= 2) == (p["car_hematotox_high"] == 1)).all()
