"""Shared by the core.ingest tests: the bad-input corpus in tests/fixtures/uploads (written by
make_uploads.py there) and small ways to load a file of it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core import ingest

UPLOADS = Path(__file__).parent / "fixtures" / "uploads"


def upload(name: str) -> ingest.Upload:
    return ingest.Upload(name, (UPLOADS / name).read_bytes())


def load_patients(name: str) -> tuple[pd.DataFrame, ingest.LoadReport]:
    cohort = ingest.load_upload(upload(name))
    return cohort.patients, cohort.reports["patients"]


def load_patients_bytes(data: bytes, name: str = "x.csv"):
    cohort = ingest.load_upload(ingest.Upload(name, data))
    return cohort.patients, cohort.reports["patients"]
