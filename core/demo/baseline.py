"""Baseline labs of the demo cohort for the CAR-T risk scores: ANC, haemoglobin, LDH and
creatinine at lymphodepletion (day -5) and on the day of infusion (day 0).

SYNTHETIC values from their OWN seeded generator (``default_rng([seed, BASELINE_STREAM])``), so
every series of :mod:`core.demo.labs` and every paper number stays bit-identical: the rows
here are only added to the long table. Platelets, CRP and ferritin at baseline come from the
existing series.

Plausible, not fitted: ANC log-normal around 2.5 x10^9/L (about one in six below 1.2),
haemoglobin about 11 g/dL (lower in myeloma, lower in women), LDH log-normal around 230 U/L
rising with the CRS grade to come (EASIX and m-EASIX before lymphodepletion predict severe
CRS/ICANS, Korell 2022, Pennisi 2021), creatinine about 0.8 (women) / 1.0 (men) mg/dL. On day 0,
after fludarabine/cyclophosphamide, ANC has fallen (x 0.2-0.7) and haemoglobin a little. About
one patient in eight has no LDH/creatinine on day -5 (drawn only on day 0): their scores use
the day-0 fallback and say so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.schema import ANALYTES

#: Second entry of the seed sequence of the baseline generator (issue 14).
BASELINE_STREAM = 14
#: The analytes added, in the order they follow the series of core.demo.labs on a day.
BASELINE_ANALYTES: tuple[str, ...] = ("anc", "haemoglobin", "ldh", "creatinine")
_DECIMALS = {"anc": 2, "haemoglobin": 1, "ldh": 0, "creatinine": 2}
LD_DAY, INFUSION_DAY = -5, 0


def baseline_values(crs: np.ndarray, sex: np.ndarray, disease: np.ndarray,
                    rng: np.random.Generator) -> pd.DataFrame:
    """The four analytes per patient at day -5 and day 0 (NaN: not drawn), canonical units.

    Returns
    -------
    DataFrame
        One row per patient: ``<analyte>_ld`` and ``<analyte>_d0`` for each of
        :data:`BASELINE_ANALYTES`.
    """
    n = len(crs)
    female = sex == "F"
    myeloma = disease == "Multiple myeloma"
    anc = np.exp(rng.normal(np.log(2.5), 0.6, n))
    hb = rng.normal(11.2, 1.4, n) - 0.6 * female - 1.0 * myeloma
    ldh = np.exp(rng.normal(np.log(230) + 0.18 * crs, 0.35, n))
    crea = np.exp(rng.normal(np.log(np.where(female, 0.8, 1.0)) + 0.04 * crs, 0.2, n))
    anc0 = anc * rng.uniform(0.2, 0.7, n)
    hb0 = hb - rng.uniform(0.0, 0.8, n)
    ldh0 = ldh * rng.uniform(0.9, 1.2, n)
    crea0 = crea * rng.uniform(0.9, 1.1, n)
    late = rng.random(n) < 0.125          # LDH/creatinine not drawn at lymphodepletion
    out = {"anc_ld": anc, "anc_d0": anc0, "haemoglobin_ld": np.clip(hb, 6.0, 17.0),
           "haemoglobin_d0": np.clip(hb0, 5.5, 17.0),
           "ldh_ld": np.where(late, np.nan, ldh), "ldh_d0": ldh0,
           "creatinine_ld": np.where(late, np.nan, crea), "creatinine_d0": crea0}
    return pd.DataFrame(out)


def add_baseline_labs(labs: pd.DataFrame, patients: pd.DataFrame, crs: np.ndarray,
                      ids: np.ndarray, seed: int) -> pd.DataFrame:
    """The long lab table with the baseline rows of :data:`BASELINE_ANALYTES` added.

    Parameters
    ----------
    labs : the table of :func:`core.demo.labs.labs_table` (sorted by patient, day, analyte).
    patients : demographics (``sex``, ``disease``), one row per patient in ``ids`` order.
    crs : the CRS grade each patient will have.
    ids : patient IDs.
    seed : the cohort's seed; the generator is ``default_rng([seed, BASELINE_STREAM])``.

    Returns
    -------
    DataFrame
        ``patient_id, day, analyte, value, unit``: the input rows unchanged (same values, same
        relative order) and the new ones, sorted by patient, day, then analyte (the new
        analytes after the existing ones of a day).
    """
    rng = np.random.default_rng([seed, BASELINE_STREAM])
    v = baseline_values(np.asarray(crs, dtype=float), patients["sex"].to_numpy(object),
                        patients["disease"].to_numpy(object), rng)
    frames = []
    for name in BASELINE_ANALYTES:
        for day, col in ((LD_DAY, "ld"), (INFUSION_DAY, "d0")):
            x = v[f"{name}_{col}"].to_numpy(float)
            ok = ~np.isnan(x)
            frames.append(pd.DataFrame({
                "patient_id": ids[ok], "day": day, "analyte": name,
                "value": np.round(x[ok], _DECIMALS[name]), "unit": ANALYTES[name].unit}))
    new = pd.concat(frames, ignore_index=True)
    rank = {p: i for i, p in enumerate(ids)}
    old_key = np.arange(len(labs))
    out = pd.concat([labs, new], ignore_index=True)
    # the existing rows keep their order; a new row goes after every existing row of its
    # (patient, day) and the new ones among themselves in BASELINE_ANALYTES order
    prank = out["patient_id"].map(rank).to_numpy(np.int64)
    within = np.r_[old_key, len(labs) + new["analyte"].map(
        {a: i for i, a in enumerate(BASELINE_ANALYTES)}).to_numpy(np.int64)]
    order = np.lexsort((within, out["day"].to_numpy(float), prank))
    out = out.iloc[order].reset_index(drop=True)
    out["day"] = out["day"].astype(int)
    return out
