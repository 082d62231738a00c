"""The demo cohort assembled: :func:`generate` (a pure function of ``n`` and ``seed``), the
check that every target was met, and :func:`write` (``python -m core.demo``)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core import endpoints as ep
from core.demo.archetypes import DEFAULT_N, DEFAULT_SEED, assign_times, expand, template
from core.demo.baseline import add_baseline_labs
from core.demo.labs import labs_table
from core.demo.patients import demographics, survival
from core.demo.timeline import timeline
from core.demo.treatments import treatments_table
from core.schema import PATIENT_COLUMNS

DATA_DIR = Path(__file__).resolve().parent.parent.parent / "data"

@dataclass(frozen=True)
class DemoCohort:
    """A synthetic cohort.

    Attributes
    ----------
    patients : DataFrame
        One row per patient, canonical columns of core.schema (``patient_id`` "DEMO-001", ...).
    labs : DataFrame
        ``patient_id, day, analyte, value, unit`` (canonical units).
    treatments : DataFrame
        ``patient_id, day, drug, dose, unit``.
    """

    patients: pd.DataFrame
    labs: pd.DataFrame
    treatments: pd.DataFrame


def generate(n: int = DEFAULT_N, seed: int = DEFAULT_SEED) -> DemoCohort:
    """Generate a synthetic CAR-T cohort.

    Parameters
    ----------
    n : int
        Number of patients. 41 reproduces the paper's counts exactly; any other n gives the same
        proportions (for benchmarks).
    seed : int
        Seed of the random generator; the output is a pure function of ``(n, seed)``.

    Returns
    -------
    DemoCohort
        ``patients`` (patient_id "DEMO-001"..., demographics, product, crs_grade, icans_grade,
        the endpoint columns of :data:`core.endpoints.ENDPOINT_COLUMNS`, bleeding_grade,
        thrombosis_grade, pfs_days, pfs_event, os_days, os_event), ``labs`` (patient_id, day,
        analyte, value, unit) and ``treatments`` (patient_id, day, drug, dose, unit).

    Raises
    ------
    ValueError
        ``n < 1``.
    RuntimeError
        A generated series misses its target (a bug; never happens for the defaults).

    Notes
    -----
    Counts and times follow Perl et al., Haematologica 2024; grades CTCAE v5; DIC score
    Taylor 2001 (ISTH); IEC-HS Hines 2023 (as implemented in core.endpoints).
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    rng = np.random.default_rng(seed)
    t = assign_times(template(), rng)
    a = expand(t, n, rng)
    demo = demographics(n, rng)
    width = max(3, len(str(n)))
    ids = np.array([f"DEMO-{i:0{width}d}" for i in range(1, n + 1)], dtype=object)
    tl = timeline(a, demo, rng)
    labs = labs_table(a, tl, demo, ids, rng)
    # the risk scores' baseline analytes: their own generator, so the series above and every
    # paper number stay bit-identical
    labs = add_baseline_labs(labs, demo, a["crs"].to_numpy(), ids, seed)
    tx = treatments_table(a, tl, ids, rng)
    surv = survival(a, tl, seed, check=(n == DEFAULT_N))

    base = pd.DataFrame({"patient_id": ids})
    base = pd.concat([base, demo], axis=1)
    base["crs_grade"] = a["crs"].to_numpy()
    base["icans_grade"] = a["icans"].to_numpy()
    res = ep.derive(labs, tx, patients=base)
    if len(res.issues):  # pragma: no cover
        raise RuntimeError("endpoint derivation rejected demo rows:\n" + res.issues.to_string())
    derived = res.patients
    patients = base.merge(derived, on="patient_id", how="left")
    patients["bleeding_grade"] = a["bleeding"].to_numpy()
    patients["thrombosis_grade"] = a["thrombosis"].to_numpy()
    patients = pd.concat([patients, surv], axis=1)
    order = [c for c in PATIENT_COLUMNS if c in patients.columns]
    patients = patients.loc[:, order]
    _check(patients, a, tl)
    return DemoCohort(patients, labs, tx)


def _check(p: pd.DataFrame, a: pd.DataFrame, tl: pd.DataFrame) -> None:
    """Every per-patient target realised by the derived endpoints (else RuntimeError)."""
    def same(x: pd.Series, y: np.ndarray) -> bool:
        xv = x.to_numpy(float)
        return bool(np.all((xv == y) | (np.isnan(xv) & np.isnan(y))))
    hyp = a["grade"].to_numpy() >= 1
    checks = {
        "grade": same(p["hypofibrinogenemia_grade"].astype(float), a["grade"].to_numpy(float)),
        "onset": same(p["hypofibrinogenemia_onset_day"], tl["O"].to_numpy()),
        "nadir_day": same(p["fibrinogen_nadir_day"].where(pd.Series(hyp)),
                          tl["Nd"].to_numpy()),
        "recovery": same(p["fibrinogen_recovery_day"],
                         np.where(hyp, np.where(np.isnan(tl["R"]), tl["lf"], tl["R"]), np.nan)),
        "dic": bool(np.all((p["dic_score_max"].to_numpy(float) >= 5) == (a["dic"] == 1))),
        "iec": bool(np.all(p["iec_hs"].to_numpy(float) == a["iec"].to_numpy())),
        "doses": bool(np.all(p["tocilizumab_doses"].to_numpy(float) == a["doses"].to_numpy())),
        "subst": bool(np.allclose(p["fibrinogen_substitution_g"], a["subst"])),
    }
    bad = [k for k, ok in checks.items() if not ok]
    if bad:
        raise RuntimeError(f"demo generator missed its targets: {', '.join(bad)}")


def write(directory: str | Path = DATA_DIR, n: int = DEFAULT_N,
          seed: int = DEFAULT_SEED) -> dict[str, Path]:
    """Write ``demo_patients.csv``, ``demo_labs.csv``, ``demo_treatments.csv``.

    Returns
    -------
    dict
        Table name -> path written. Plain CSV (comma, dot decimals, UTF-8, no comment lines).
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    c = generate(n, seed)
    paths = {}
    for name, frame in (("patients", c.patients), ("labs", c.labs),
                        ("treatments", c.treatments)):
        path = d / f"demo_{name}.csv"
        frame.to_csv(path, index=False, lineterminator="\n")
        paths[name] = path
    return paths


def main(argv: list[str] | None = None) -> None:
    """``python -m core.demo [--n N] [--seed S] [--out DIR]``."""
    ap = argparse.ArgumentParser(description="Write the synthetic demo cohort CSVs.")
    ap.add_argument("--n", type=int, default=DEFAULT_N)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--out", type=Path, default=DATA_DIR)
    args = ap.parse_args(argv)
    for name, path in write(args.out, args.n, args.seed).items():
        print(f"{name}: {path}")
