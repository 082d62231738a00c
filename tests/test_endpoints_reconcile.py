"""core.endpoints.reconcile: uploaded vs derived values, and the demo's equality with its own
derivation."""

from __future__ import annotations

import numpy as np
import pandas as pd
from endpoint_cases import DATA, fib_course, labs

from core import endpoints as ep


def test_reconcile_lists_disagreements_and_apply_keeps_uploaded_by_default() -> None:
    res = ep.derive(labs(*fib_course("A", (0, 300), (5, 140)), *fib_course("B", (0, 300))))
    up = pd.DataFrame({"patient_id": ["A", "B", "C"], "hypofibrinogenemia_grade": [3, 0, 2],
                       "fibrinogen_nadir": [140.0, 250.0, 80.0]})
    rec = ep.reconcile(up, res)
    assert rec.to_dict("records") == [
        {"patient_id": "A", "column": "hypofibrinogenemia_grade", "uploaded": 3, "derived": 2},
        {"patient_id": "B", "column": "fibrinogen_nadir", "uploaded": 250.0, "derived": 300.0},
    ]
    # issue 11: an uploaded (adjudicated) value wins by default ...
    merged = ep.apply_derived(up, res).set_index("patient_id")
    assert merged.loc["A", "hypofibrinogenemia_grade"] == 3
    assert merged.loc["B", "fibrinogen_nadir"] == 250
    assert merged.loc["C", "fibrinogen_nadir"] == 80      # no labs: uploaded value stays
    assert "dic_score_max" in merged.columns             # a column the upload lacks: derived
    # ... unless the user lets the derived value win in that column
    merged = ep.apply_derived(up, res, ["hypofibrinogenemia_grade"]).set_index("patient_id")
    assert merged.loc["A", "hypofibrinogenemia_grade"] == 2
    assert merged.loc["B", "fibrinogen_nadir"] == 250
    assert merged.loc["C", "fibrinogen_nadir"] == 80
    merged = ep.apply_derived(up, res, True).set_index("patient_id")
    assert merged.loc["B", "fibrinogen_nadir"] == 300


def test_blank_uploaded_cells_take_the_derived_value() -> None:
    res = ep.derive(labs(*fib_course("A", (0, 300), (5, 140)), *fib_course("B", (0, 300),
                                                                            (4, 90))))
    up = pd.DataFrame({"patient_id": ["A", "B"],
                       "fibrinogen_nadir": [np.nan, 95.0],
                       "iec_hs": ["n.a.", ""]})
    merged = ep.apply_derived(up, res).set_index("patient_id")
    assert merged.loc["A", "fibrinogen_nadir"] == 140     # blank: derived
    assert merged.loc["B", "fibrinogen_nadir"] == 95      # uploaded wins over 90
    assert ep.reconcile(up, res)[["patient_id", "column"]].values.tolist() == [
        ["B", "fibrinogen_nadir"]]


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
    from core import ingest

    d = DATA / "templates"
    cohort = ingest.load_upload(ingest.Upload("patients.csv", (d / "patients.csv").read_bytes()),
                                 ingest.Upload("labs.csv", (d / "labs.csv").read_bytes()))
    derived = ep.apply_to_cohort(cohort)
    assert derived.disagreements.empty, derived.disagreements
    # the template's values agree with the derivation (140 mg/dL nadir on day 5)
    row = derived.cohort.patients.set_index("patient_id").loc["P001"]
    assert row["fibrinogen_nadir"] == 140 and row["fibrinogen_nadir_day"] == 5


def test_demo_patient_columns_equal_derivation() -> None:
    patients = pd.read_csv(DATA / "demo_patients.csv")
    res = ep.derive(pd.read_csv(DATA / "demo_labs.csv"),
                    pd.read_csv(DATA / "demo_treatments.csv"), patients=patients)
    assert res.issues.empty
    derived = res.patients.set_index("patient_id")
    stored = patients.set_index("patient_id")
    for col in ep.ENDPOINT_COLUMNS:
        if stored[col].dtype == object:   # text: the risk scores' baseline rule and missing
            assert stored[col].fillna("").tolist() == derived.loc[
                stored.index, col].fillna("").tolist(), col
            continue
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
