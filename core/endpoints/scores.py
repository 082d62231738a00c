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
#: Decimals of EASIX and m-EASIX in the patient table.
DECIMALS = 4
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


def baseline_matrix(series: LabSeries, days: tuple[float, ...], n: int
                    ) -> list[np.ndarray]:
    """The last value on or before each of ``days`` of every component, per patient position.

    Parameters
    ----------
    series : LabSeries
        Rows contiguous per (patient, analyte) and sorted by day within (as
        :func:`core.endpoints.clean.clean_labs` returns them).
    days : tuple of float
        Cut-off days (each <= 0), e.g. ``(-5.0, 0.0)``.
    n : int
        Number of patient positions.

    Returns
    -------
    list of ndarray, one per day, each of shape (n, len(COMPONENTS))
        Column ``j`` holds component ``COMPONENTS[j]``; NaN where the patient has no such row.
        One pass over every row (day <= 0 and a component), then passes over that subset
        only; no loop over patients or components.
    """
    lut = np.full(max(ACODE.values()) + 1, -1, dtype=np.int64)
    lut[[ACODE[a] for a in COMPONENTS]] = np.arange(len(COMPONENTS))
    idx = np.flatnonzero(series.D <= max(0.0, *days))
    comp = lut[series.A[idx]]
    idx, comp = idx[comp >= 0], comp[comp >= 0]
    p, d, v = series.P[idx], series.D[idx], series.V[idx]
    out = []
    for day in days:
        m = np.full((n, len(COMPONENTS)), np.nan)
        k = np.flatnonzero(d <= day)
        if len(k):
            pk, ck = p[k], comp[k]
            end = np.r_[(pk[1:] != pk[:-1]) | (ck[1:] != ck[:-1]), True]
            m[pk[end], ck[end]] = v[k[end]]
        out.append(m)
    return out


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
        ``m_easix`` (float, rounded to :data:`DECIMALS` decimals), ``score_baseline_rule``
        (object: "before lymphodepletion" when every component found was drawn on or before
        the lymphodepletion day, "on or before day 0 (anc, crp)" naming the components taken
        from the fallback, "on or before day 0" when the lymphodepletion day is 0, None
        without any component) and ``score_missing`` (object: the missing components,
        "ldh, creatinine", or None).

    Notes
    -----
    Rejeski et al., Blood 2021 (CAR-HEMATOTOX, before lymphodepletion); Pennisi et al.,
    Blood Adv 2021 (m-EASIX); Korell et al., Front Immunol 2022 (EASIX before lymphodepletion).
    Cut-offs: :func:`hematotox_points`.
    """
    ld = float(settings.window_lymphodepletion_day)
    at_ld, at_d0 = baseline_matrix(series, (ld, 0.0), n)
    fb = np.isnan(at_ld) & ~np.isnan(at_d0)
    both = np.where(fb, at_d0, at_ld)
    base = {a: both[:, j] for j, a in enumerate(COMPONENTS)}
    ht = hematotox_points(*(base[a] for a in NEEDS["car_hematotox"]))
    out: dict[str, np.ndarray] = {
        "car_hematotox": ht,
        "car_hematotox_high": np.where(np.isnan(ht), np.nan, (ht >= HEMATOTOX_HIGH) * 1.0),
        # 4 decimals: more is noise, and a written and re-read table gives the same numbers
        "easix": np.round(easix(base["ldh"], base["creatinine"], base["platelets"]), DECIMALS),
        "m_easix": np.round(easix(base["ldh"], base["crp"], base["platelets"]), DECIMALS),
    }
    out["score_missing"] = _names(np.isnan(both), n)
    rule = np.full(n, None, dtype=object)
    rule[~np.isnan(both).all(axis=1)] = BEFORE_LD if ld < 0 else DAY0
    used = _names(fb, n, DAY0 + " ({})")
    rule[fb.any(axis=1)] = used[fb.any(axis=1)]
    out["score_baseline_rule"] = rule
    return out


def _names(flags: np.ndarray, n: int, template: str = "{}") -> np.ndarray:
    """Per patient (row of ``flags``, one column per component of :data:`COMPONENTS`), the
    names of the flagged components joined by ", " into ``template`` (None where none is):
    the text is built once per distinct pattern, not per patient."""
    out = np.full(n, None, dtype=object)
    if not n:
        return out
    bits = (flags.astype(np.int64) << np.arange(flags.shape[1])).sum(axis=1)
    for code in np.unique(bits[bits > 0]):
        out[bits == code] = template.format(
            ", ".join(a for i, a in enumerate(COMPONENTS) if code >> i & 1))
    return out
