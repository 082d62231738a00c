"""load_upload's progress hook: step labels naming the files, fractions in [0, 1] that never
go back, ending with ("Loaded", 1.0); the loaded cohort is the one loaded without a hook."""

from __future__ import annotations

import pandas as pd

from core.ingest import DATA_DIR, Progress, Upload, load_upload


def _uploads() -> tuple[Upload, Upload, Upload]:
    return tuple(Upload(f"{t}.csv", (DATA_DIR / f"demo_{t}.csv").read_bytes())  # type: ignore[return-value]
                 for t in ("patients", "labs", "treatments"))


def test_progress_steps_name_files_and_fractions_never_decrease() -> None:
    calls: list[tuple[str, float]] = []
    hook: Progress = lambda label, fraction: calls.append((label, fraction))  # noqa: E731
    patients, labs, treatments = _uploads()
    with_hook = load_upload(patients, labs, treatments, progress=hook)
    labels = [c[0] for c in calls]
    # the order written by hand: per file read then check; labs also convert units
    assert labels == ["Reading patients.csv", "Checking values in patients.csv",
                      "Reading labs.csv", "Checking values in labs.csv", "Converting units",
                      "Reading treatments.csv", "Checking values in treatments.csv",
                      "Converting units", "Loaded"]
    fractions = [c[1] for c in calls]
    assert fractions[0] == 0.0
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert all(b >= a for a, b in zip(fractions, fractions[1:]))
    assert calls[-1] == ("Loaded", 1.0)
    # the labs file is by far the largest: reading it starts after the patients' share
    share = len(patients.data) / sum(len(u.data) for u in (patients, labs, treatments))
    assert fractions[2] == share
    without = load_upload(patients, labs, treatments)
    for name in ("patients", "labs", "treatments"):
        pd.testing.assert_frame_equal(getattr(with_hook, name), getattr(without, name))


def test_progress_with_patients_only_ends_loaded() -> None:
    calls: list[tuple[str, float]] = []
    patients = _uploads()[0]
    load_upload(patients, progress=lambda label, f: calls.append((label, f)))
    assert [c[0] for c in calls] == ["Reading patients.csv", "Checking values in patients.csv",
                                     "Loaded"]
    assert [c[1] for c in calls] == [0.0, 0.45, 1.0]
