"""core.endpoints.iec_hs: the IEC-HS laboratory screen (Hines 2023)."""

from __future__ import annotations

import pandas as pd
from endpoint_cases import fib_course, labs, one

from core import endpoints as ep


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


# ------------------------------------------------------------------ tied to CRS timing (issue 11)

def _patients(resolution: float | None) -> pd.DataFrame:
    return pd.DataFrame({"patient_id": ["P"], "crs_onset_day": [1.0],
                         "crs_resolution_day": [resolution]})


def test_without_crs_days_it_is_a_laboratory_screen() -> None:
    res = ep.derive(iec_labs(8), patients=pd.DataFrame({"patient_id": ["P"]}))
    assert one(res, "P")["iec_hs"] == 1 and res.iec_basis == "laboratory screen"


def test_tied_to_crs_resolution() -> None:
    # the lab signature (fibrinogen day 5, ferritin day 6, ALT day 8) starts on day 5
    # CRS resolved on day 4: the signature starts after it -> IEC-HS
    res = ep.derive(iec_labs(8), patients=_patients(4))
    assert one(res, "P")["iec_hs"] == 1 and res.iec_basis == "CRS timing"
    # CRS resolved on day 5 (the day the signature starts) or later: not after -> negative
    assert one(ep.derive(iec_labs(8), patients=_patients(5)), "P")["iec_hs"] == 0
    assert one(ep.derive(iec_labs(8), patients=_patients(7)), "P")["iec_hs"] == 0


def test_patients_without_a_resolution_day_keep_the_laboratory_screen() -> None:
    pts = pd.DataFrame({"patient_id": ["P", "Q"], "crs_onset_day": [1.0, 1.0],
                        "crs_resolution_day": [7.0, None]})
    lab = pd.concat([iec_labs(8), iec_labs(8).assign(patient_id="Q")], ignore_index=True)
    res = ep.derive(lab, patients=pts)
    assert one(res, "P")["iec_hs"] == 0 and one(res, "Q")["iec_hs"] == 1
    assert res.iec_basis == "CRS timing for 1 patients, laboratory screen for 1"
