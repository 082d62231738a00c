"""core.endpoints on the messy hospital export (core.demo.messy): the hand-written patient MX01
loaded from German cp1252 CSV (dates, g/l, /µl, trade names) and derived, every endpoint worked
out by hand below from core.demo.messy.ANCHOR_LABS / ANCHOR_TREATMENTS (infusion 04.03.2024 =
day 0; 06:00 = .25 of a day)."""

from __future__ import annotations

import pandas as pd
import pytest

from core import endpoints as ep
from core import ingest
from core.demo.messy import make_messy_export


@pytest.fixture(scope="module")
def derived() -> ep.DerivedCohort:
    m = make_messy_export(n_patients=12, seed=11)
    c = ingest.load_upload(*(ingest.Upload(f"{t}.csv", m.csv(t))
                             for t in ("patients", "labs", "treatments")))
    return ep.apply_to_cohort(c)


def test_anchor_patient_episodes(derived: ep.DerivedCohort) -> None:
    res = derived.endpoints
    assert res is not None
    row = res.patients.set_index("patient_id").loc["MX01"]
    # fibrinogen (g/l x 100): 310 on 01.03 07:30 (baseline), 560 day 3.75, 145 day 6.25
    # (< 150: grade 2, onset), 95 day 10.25 (< 100: grade 3, the nadir), 220 day 20.25 and
    # 245 day 23.25 (two values >= 200: recovery on 20.25; Haemocomplettan day 10.54 and
    # Kryopraezipitat day 11.375 are > 3 days before), 160 day 32.25 (second episode,
    # grade 1), "n.a." on day 39.25 (no value), 230 day 46.25: a single last value, not
    # sustained -> not recovered, censored at day 46.25
    assert row["fibrinogen_baseline"] == 310
    assert (row["fibrinogen_nadir"], row["fibrinogen_nadir_day"]) == (95, 10.25)
    assert row["hypofibrinogenemia_grade"] == 3
    assert row["hypofibrinogenemia_onset_day"] == 6.25
    assert row["hypofibrinogenemia_episodes"] == 2
    assert row["fibrinogen_recovered"] == 0 and row["fibrinogen_recovery_day"] == 46.25
    e = res.episodes[res.episodes["patient_id"] == "MX01"]
    assert e[["onset_day", "nadir", "grade", "recovery_day"]].fillna(-1).values.tolist() == [
        [6.25, 95, 3, 20.25], [32.25, 160, 1, -1]]


def test_anchor_patient_steroids_toci_dic(derived: ep.DerivedCohort) -> None:
    res = derived.endpoints
    assert res is not None
    row = res.patients.set_index("patient_id").loc["MX01"]
    # Fortecortin 8 mg on 03.03 08:00 (day -0.67): premedication, not counted;
    # Fortecortin 10 mg on 07.03 12:00 (day 3.5): exactly the 10 mg threshold, counted
    assert row["corticosteroids"] == 1 and row["corticosteroids_first_day"] == 3.5
    st = res.steroids[res.steroids["patient_id"] == "MX01"]
    assert st["counted"].tolist() == [False, True]
    assert st["why"].iloc[0].startswith("premedication")
    # RoActemra 640 mg + 0,64 g
    assert row["tocilizumab_cum_mg"] == 1280
    # DIC on 14.03 06:00 (day 10.25): platelets 41000/µl = 41 (2) + fibrinogen 95 (1); the
    # D-dimer "<0,19" is 48 h older and INR only at baseline: 3 of 2 components (a lower bound)
    assert row["dic_score_max"] == 3 and row["dic_score_components"] == 2


def test_the_export_has_two_episode_patients_and_premedication(derived: ep.DerivedCohort
                                                                ) -> None:
    res = derived.endpoints
    assert res is not None
    counts = res.patients["hypofibrinogenemia_episodes"].dropna()
    assert (counts == 2).sum() >= 2
    assert res.steroids["why"].str.startswith("premedication").sum() >= 1
    assert not res.steroids.loc[res.steroids["day"] < 0, "counted"].any()
    assert isinstance(derived.disagreements, pd.DataFrame)
