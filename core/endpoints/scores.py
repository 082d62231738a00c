"""CAR-T risk scores from baseline labs: CAR-HEMATOTOX, EASIX and m-EASIX, per patient.

:func:`score_columns` is called by :func:`core.endpoints.derive.derive` on the cleaned lab series
(values already in the canonical units of :data:`core.schema.ANALYTES`) and returns one array
per column of :data:`SCORE_COLUMNS` over the output's patient positions. Everything is O(rows)
with numpy: one pass per component analyte, no loop over patients.

Baseline (the same rule for every component, :data:`COMPONENTS`): the last value on or before
the day of lymphodepletion (``EndpointSettings.window_lymphodepletion_day``, default day -5); a
component without such a value takes the last value on or before day 0 instead, and
``score_baseline_rule`` says so (naming the components). A component without any value on or
before day 0 is missing: every score that needs it is missing (never 0), and
``score_missing`` names it.

Canonical units (conversion by :mod:`core.ingest.units` on loading): ANC and platelets 10^9/L,
haemoglobin g/dL, CRP mg/dL, ferritin ng/mL, LDH U/L, creatinine mg/dL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from core.endpoints.analytes import ACODE, LabSeries

if TYPE_CHECKING:
    from core.endpoints.settings import EndpointSettings

#: Columns :func:`score_columns` fills, in the order of core.schema.PATIENT_COLUMNS.
SCORE_COLUMNS: tuple[str, ...] = ("car_hematotox", "car_hematotox_high", "easix", "m_easix",
                                  "score_baseline_rule", "score_missing")
#: Score columns that hold whole numbers (nullable integers in the patient table).
SCORE_INTEGER_COLUMNS: tuple[str, ...] = ("car_hematotox", "car_hematotox_high")
#: Score columns that hold text (object arrays).
SCORE_TEXT_COLUMNS: tuple[str, ...] = ("score_baseline_rule", "score_missing")

#: Component analytes, in the order ``score_missing`` names them.
COMPONENTS: tuple[str, ...] = ("anc", "haemoglobin", "platelets", "crp", "ferritin", "ldh",
                               "creatinine")
#: The components of each score.
NEEDS: dict[str, tuple[str, ...]] = {
    "car_hematotox": ("anc", "haemoglobin", "platelets", "crp", "ferritin"),
    "easix": ("ldh", "creatinine", "platelets"),
    "m_easix": ("ldh", "crp", "platelets"),
}

#: CAR-HEMATOTOX cut-offs (Rejeski 2021) in the canonical units:
#: ANC < 1.2 x10^9/L -> 1; haemoglobin < 9.0 g/dL -> 1; platelets 75-175 x10^9/L -> 1,
#: < 75 -> 2; CRP >= 3.0 mg/dL -> 1; ferritin 650-2000 ng/mL -> 1, > 2000 -> 2.
ANC_LOW = 1.2
HB_LOW = 9.0
PLT_MID, PLT_LOW = 175.0, 75.0
CRP_HIGH = 3.0
FERRITIN_MID, FERRITIN_HIGH = 650.0, 2000.0
#: CAR-HEMATOTOX high-risk group: score >= this (low 0-1).
HEMATOTOX_HIGH = 2

BEFORE_LD = "before lymphodepletion"
DAY0 = "on or before day 0"

REJESKI = ("Rejeski K et al., Blood 2021;138(24):2499-2513, doi:10.1182/blood.2020010543 "
           "(CAR-HEMATOTOX)")
PENNISI = ("Pennisi M et al., Blood Adv 2021;5(17):3397-3406 (m-EASIX: LDH x CRP / platelets, "
           "before lymphodepletion)")
KORELL = ("Korell F et al., Front Immunol 2022;13:877477, doi:10.3389/fimmu.2022.877477 "
          "(EASIX: LDH x creatinine / platelets immediately before lymphodepletion)")


def last_before(series: LabSeries, analyte: str, day: float, n: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """The last value (and its day) of one analyte on or before ``day``, per patient position.

    Parameters
    ----------
    series : LabSeries
        Cleaned rows, contiguous per (patient, analyte) and sorted by day within (as
        :func:`core.endpoints.clean.clean_labs` returns them).
    analyte : str
        Canonical analyte name (a key of :data:`core.endpoints.analytes.ACODE`).
    day : float
        Rows with ``D <= day`` count.
    n : int
        Number of patient positions.

    Returns
    -------
    (values, days) : two float arrays of length ``n``, NaN where the patient has no such row.
    """
    vals, days = np.full(n, np.nan), np.full(n, np.nan)
    idx = np.flatnonzero((series.A == ACODE[analyte]) & (series.D <= day))
    if not len(idx):
        return vals, days
    p = series.P[idx]
    last = idx[np.r_[p[1:] != p[:-1], True]]
    vals[series.P[last]] = series.V[last]
    days[series.P[last]] = series.D[last]
    return vals, days


def hematotox_points(anc: np.ndarray, hb: np.ndarray, plt: np.ndarray, crp: np.ndarray,
                     ferritin: np.ndarray) -> np.ndarray:
    """The CAR-HEMATOTOX score (0-7) from its five components; NaN where one is missing.

    Parameters
    ----------
    anc : ANC, 10^9/L.
    hb : haemoglobin, g/dL.
    plt : platelets, 10^9/L.
    crp : CRP, mg/dL.
    ferritin : ferritin, ng/mL.

    Returns
    -------
    ndarray of float
        ``[ANC < 1.2] + [Hb < 9.0] + [75 <= PLT <= 175] + 2 [PLT < 75] + [CRP >= 3.0]
        + [650 <= ferritin <= 2000] + 2 [ferritin > 2000]``.

    Notes
    -----
    Cut-offs of Rejeski et al., Blood 2021 (CAR-HEMATOTOX; determined before lymphodepletion,
    e.g. day -5; low risk 0-1, high risk >= 2): ANC > 1200/uL 0, < 1200/uL 1 point;
    haemoglobin > 9.0 g/dL 0, < 9.0 g/dL 1; platelets > 175,000/uL 0, 75,000-175,000/uL 1,
    < 75,000/uL 2; CRP < 3.0 mg/dL 0, > 3.0 mg/dL 1; ferritin < 650 ng/mL 0, 650-2000 ng/mL 1,
    > 2000 ng/mL 2. The paper does not say where a value exactly at a cut-off falls; here the
    stated ranges are closed (platelets 75 and 175, ferritin 650 and 2000 score 1) and the
    open-ended "<" sides strict (ANC 1.2 and haemoglobin 9.0 score 0); CRP exactly 3.0 scores
    1, as in the published online calculator (MDCalc, "CRP >= 3.0 mg/dL").
    """
    with np.errstate(invalid="ignore"):
        pts = ((anc < ANC_LOW).astype(float) + (hb < HB_LOW)
               + np.where(plt < PLT_LOW, 2.0, (plt <= PLT_MID).astype(float))
               + (crp >= CRP_HIGH)
               + np.where(ferritin > FERRITIN_HIGH, 2.0, (ferritin >= FERRITIN_MID).astype(float)))
    missing = np.isnan(anc) | np.isnan(hb) | np.isnan(plt) | np.isnan(crp) | np.isnan(ferritin)
    return np.where(missing, np.nan, pts)


def easix(ldh: np.ndarray, factor: np.ndarray, plt: np.ndarray) -> np.ndarray:
    """``LDH x factor / platelets``: EASIX with creatinine (mg/dL), m-EASIX with CRP (mg/dL).

    Parameters
    ----------
    ldh : LDH, U/L.
    factor : creatinine (EASIX) or CRP (m-EASIX), mg/dL.
    plt : platelets, 10^9/L.

    Returns
    -------
    ndarray of float
        NaN where a component is missing or platelets are 0 (the ratio is undefined).

    Notes
    -----
    EASIX: Luft T et al., Lancet Haematol 2017 (LDH [U/L] x creatinine [mg/dL] / platelets
    [10^9/L]), before CAR-T: Korell et al. 2022; m-EASIX (CRP [mg/dL] for creatinine):
    Pennisi et al., Blood Adv 2021.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        out = ldh * factor / plt
    return np.where(plt > 0, out, np.nan)


def score_columns(series: LabSeries, n: int, settings: EndpointSettings
                  ) -> dict[str, np.ndarray]:
    """The score columns of :data:`SCORE_COLUMNS` over ``n`` patient positions.

    Parameters
    ----------
    series : LabSeries
        Every cleaned lab row (not only the window's), canonical units.
    n : int
        Number of patients (positions of the output's patient index).
    settings : EndpointSettings
        ``window_lymphodepletion_day``: the day of lymphodepletion (default -5).

    Returns
    -------
    dict of str -> ndarray
        ``car_hematotox`` (0-7, float, NaN when a component is missing),
        ``car_hematotox_high`` (1 when >= 2, 0 when 0-1, NaN when missing), ``easix``,
        ``m_easix`` (float), ``score_baseline_rule`` (object: "before lymphodepletion" when
        every component found was drawn on or before the lymphodepletion day, "on or before
        day 0 (anc, crp)" naming the components taken from the fallback, None without any
        component) and ``score_missing`` (object: the missing components, "ldh, creatinine",
        or None).

    Notes
    -----
    Rejeski et al., Blood 2021 (CAR-HEMATOTOX, before lymphodepletion); Pennisi et al.,
    Blood Adv 2021 (m-EASIX); Korell et al., Front Immunol 2022 (EASIX before lymphodepletion).
    Cut-offs: :func:`hematotox_points`.
    """
    ld = float(settings.window_lymphodepletion_day)
    base: dict[str, np.ndarray] = {}
    fallback: dict[str, np.ndarray] = {}
    for a in COMPONENTS:
        v, _ = last_before(series, a, ld, n)
        if ld < 0:
            v0, _ = last_before(series, a, 0.0, n)
            fb = np.isnan(v) & ~np.isnan(v0)
            v = np.where(fb, v0, v)
        else:
            fb = np.zeros(n, bool)
        base[a], fallback[a] = v, fb
    ht = hematotox_points(*(base[a] for a in NEEDS["car_hematotox"]))
    out: dict[str, np.ndarray] = {
        "car_hematotox": ht,
        "car_hematotox_high": np.where(np.isnan(ht), np.nan, (ht >= HEMATOTOX_HIGH) * 1.0),
        "easix": easix(base["ldh"], base["creatinine"], base["platelets"]),
        "m_easix": easix(base["ldh"], base["crp"], base["platelets"]),
    }
    out["score_missing"] = _names({a: np.isnan(base[a]) for a in COMPONENTS}, n)
    used = _names(fallback, n)
    anything = ~np.all([np.isnan(base[a]) for a in COMPONENTS], axis=0) if n else np.zeros(0, bool)
    rule = np.full(n, None, dtype=object)
    rule[anything] = BEFORE_LD if ld < 0 else DAY0
    fb_any = np.array([u is not None for u in used], dtype=bool)
    if fb_any.any():
        rule[fb_any] = DAY0 + " (" + used[fb_any].astype(str) + ")"
    out["score_baseline_rule"] = rule
    return out


def _names(flags: dict[str, np.ndarray], n: int) -> np.ndarray:
    """Per patient, the names whose flag is set, joined by ", " (None where none is):
    vectorised over patients by building the joined text for each distinct flag pattern."""
    out = np.full(n, None, dtype=object)
    if not n or not flags:
        return out
    names = list(flags)
    bits = np.zeros(n, np.int64)
    for i, a in enumerate(names):
        bits |= flags[a].astype(np.int64) << i
    for code in np.unique(bits[bits > 0]):
        out[bits == code] = ", ".join(a for i, a in enumerate(names) if code >> i & 1)
    return out
