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
