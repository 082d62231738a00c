"""core.endpoints.apply_to_cohort: the app's path from the source cohort to the store (moved
here from the time-course tests; it belongs with the endpoint tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import endpoints as ep
from core import ingest
from core.analyses.endpoints import summarise


@pytest.fixture(scope="module")
def demo_cohort() -> ingest.Cohort:
    return ingest.load_demo()


def test_apply_to_cohort_on_demo_changes_nothing(demo_cohort):  # noqa: ANN001
    d = ep.apply_to_cohort(demo_cohort, ep.EndpointSettings())
    assert d.derived and d.disagreements.empty
    pd.testing.assert_frame_equal(d.cohort.patients, demo_cohort.patients)
    assert d.cohort.fingerprint == demo_cohort.fingerprint == d.source_fingerprint
    s = summarise(d.cohort.patients)
    assert (s.hypo, s.grade3, s.never_recovered, s.iec_hs, s.dic5) == (27, 11, 6, 4, 15)
    assert np.median(s.onset_days) == 6 and (min(s.onset_days), max(s.onset_days)) == (2, 27)
    assert np.median(s.recovery_days) == 44


def test_apply_to_cohort_lower_lln_changes_grades_and_lists_disagreements(demo_cohort):  # noqa
    d = ep.apply_to_cohort(demo_cohort, ep.EndpointSettings(fibrinogen_lln=150))
    assert summarise(d.cohort.patients).hypo == 20
    assert "hypofibrinogenemia_grade" in set(d.disagreements["column"])
    assert d.cohort.fingerprint != demo_cohort.fingerprint
    assert d.source_fingerprint == demo_cohort.fingerprint


PATIENTS = b"""patient_id,crs_grade,fibrinogen_nadir,hypofibrinogenemia_grade
P1,2,999,0
P2,1,,
P3,0,250,0
"""
LABS = b"""patient_id,day,analyte,value,unit
P1,0,fibrinogen,300,mg/dL
P1,5,fibrinogen,120,mg/dL
P1,5,fibrinogen,130,mg/dL
P1,9,fibrinogen,210,mg/dL
P2,0,fibrinogen,280,mg/dL
P2,4,fibrinogen,<50,mg/dL
P2,8,fibrinogen,220,mg/dL
P2,3,unobtainium,1,U/L
"""


def test_apply_to_cohort_lists_contradictory_upload_and_keeps_it_by_default():
    c = ingest.load_upload(ingest.Upload("p.csv", PATIENTS), ingest.Upload("l.csv", LABS))
    d = ep.apply_to_cohort(c, ep.EndpointSettings())
    dis = d.disagreements
    row = dis[(dis["patient_id"] == "P1") & (dis["column"] == "fibrinogen_nadir")]
    assert len(row) == 1 and float(row["uploaded"].iloc[0]) == 999
    assert float(row["derived"].iloc[0]) == 125          # same-day 120 and 130 -> mean
    # issue 11: the uploaded value wins by default (listed as a disagreement) ...
    p = d.cohort.patients.set_index("patient_id")
    assert p.loc["P1", "fibrinogen_nadir"] == 999 and p.loc["P1", "hypofibrinogenemia_grade"] == 0
    # ... the user can let the derived value win per column
    s = ep.EndpointSettings(derived_wins=("fibrinogen_nadir", "hypofibrinogenemia_grade"))
    p = ep.apply_to_cohort(c, s).cohort.patients.set_index("patient_id")
    assert p.loc["P1", "fibrinogen_nadir"] == 125 and p.loc["P1", "hypofibrinogenemia_grade"] == 2
    assert str(p["hypofibrinogenemia_grade"].dtype) == "Int64"
    assert p.loc["P2", "fibrinogen_nadir"] == 50         # "<50" used as 50 and listed
    assert p.loc["P3", "fibrinogen_nadir"] == 250        # no labs: uploaded value kept
    problems = " ".join(d.endpoints.issues["problem"].astype(str)).lower()
    assert "same day" in problems or "same-day" in problems or "duplicate" in problems
    assert "unobtainium" in set(d.endpoints.issues["analyte"].astype(str)) or \
        any("unobtainium" in m for m in d.endpoints.messages)
    assert d.cohort.labs is c.labs and d.cohort.reports == c.reports


def test_apply_to_cohort_without_labs_returns_the_cohort():
    c = ingest.load_upload(ingest.Upload("p.csv", PATIENTS))
    d = ep.apply_to_cohort(c)
    assert not d.derived and d.cohort is c and d.disagreements.empty
