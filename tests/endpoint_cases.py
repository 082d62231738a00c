"""Shared by the core.endpoints tests: hand-built lab courses.

LLN of fibrinogen is 200 mg/dL (core.schema default) unless a test sets another one, so the CTCAE
v5 boundaries are 150 (0.75 x LLN), 100 (0.5 x), 50 (0.25 x and the absolute 50 mg/dL).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core import endpoints as ep

DATA = Path(__file__).resolve().parent.parent / "data"


def labs(*rows: tuple) -> pd.DataFrame:
    """rows: (patient_id, day, analyte, value[, unit])."""
    cols = ["patient_id", "day", "analyte", "value", "unit"]
    return pd.DataFrame([r if len(r) == 5 else (*r, None) for r in rows], columns=cols)


def fib_course(pid: str, *points: tuple[float, float]) -> list[tuple]:
    return [(pid, d, "fibrinogen", v) for d, v in points]


def one(res: ep.Endpoints, pid: str) -> pd.Series:
    return res.patients.set_index("patient_id").loc[pid]
