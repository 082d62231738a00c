"""load_upload reads the lab and treatment files in a background thread while it checks the
patient table; what it raises and reports is what reading them one after the other gives:
the patient file's error first, a lab file's error when the patient file is fine, progress
steps in file order, and no reading thread left running afterwards."""

from __future__ import annotations

import threading

import pytest

from core.errors import DataFormatError
from core.ingest import Upload, load_upload

PATIENTS = b"patient_id,age\nP1,50\nP2,60\n"
LABS = b"patient_id,day,analyte,value,unit\nP1,0,crp,12,mg/L\nP2,1,crp,3,mg/L\nP9,1,crp,4,mg/L\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def _reading_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("ingest-read")]


def test_patient_file_error_comes_first() -> None:
    with pytest.raises(DataFormatError, match="'patients.csv' is empty"):
        load_upload(Upload("patients.csv", b""), Upload("labs.csv", PNG))
    assert _reading_threads() == []


def test_lab_file_error_when_the_patient_file_is_fine() -> None:
    with pytest.raises(DataFormatError, match="labs.png"):
        load_upload(Upload("patients.csv", PATIENTS), Upload("labs.png", PNG))
    assert _reading_threads() == []


def test_tables_and_progress_as_read_in_turn() -> None:
    steps: list[str] = []
    cohort = load_upload(Upload("patients.csv", PATIENTS), Upload("labs.csv", LABS),
                         Upload("treatments.csv", b"patient_id,day,drug\nP1,0,tocilizumab\n"),
                         progress=lambda label, frac: steps.append(label))
    assert steps == ["Reading patients.csv", "Checking values in patients.csv",
                     "Reading labs.csv", "Checking values in labs.csv", "Converting units",
                     "Reading treatments.csv", "Checking values in treatments.csv",
                     "Converting units", "Loaded"]
    assert list(cohort.patients["patient_id"]) == ["P1", "P2"]
    assert list(cohort.labs["patient_id"]) == ["P1", "P2"]  # P9 is not a patient
    assert cohort.reports["labs"].rejected["reason"].tolist() == [
        "patient_id 'P9' is not in the patient table"]
    assert list(cohort.treatments["drug"]) == ["tocilizumab"]
    assert _reading_threads() == []
