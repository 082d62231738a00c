"""The demo cohort's lab series, built to realise each patient's targets: fibrinogen (rises
during CRS, falls after tocilizumab to the target nadir), D-dimer, platelets, INR/PTT, the
inflammation markers and the liver values."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.demo.archetypes import LLN, NADIR
from core.demo.timeline import grid
from core.schema import ANALYTES

_LAB_ORDER = ["fibrinogen", "d_dimer", "platelets", "inr", "ptt", "crp", "il6", "ferritin",
              "alt", "ast", "ggt", "che", "albumin"]


_DECIMALS = {"fibrinogen": 0, "d_dimer": 2, "platelets": 0, "inr": 2, "ptt": 1, "crp": 2,
             "il6": 1, "ferritin": 0, "alt": 0, "ast": 0, "ggt": 0, "che": 2, "albumin": 2}


def _bump(D: np.ndarray, center: np.ndarray, rise: float | np.ndarray,
          fall: float | np.ndarray) -> np.ndarray:
    c = center[:, None]
    w = np.where(D < c, np.broadcast_to(np.asarray(rise, float).reshape(-1, 1)
                                        if np.ndim(rise) else rise, D.shape),
                 np.broadcast_to(np.asarray(fall, float).reshape(-1, 1)
                                 if np.ndim(fall) else fall, D.shape))
    return np.exp(-(((D - c) / w) ** 2))


def _lerp(d: np.ndarray, x0, y0, x1, y1) -> np.ndarray:
    x0, y0, x1, y1 = (np.asarray(v, float)[:, None] for v in (x0, y0, x1, y1))
    span = np.where(x1 - x0 > 0, x1 - x0, 1.0)
    f = np.clip((d - x0) / span, 0.0, 1.0)
    return y0 + (y1 - y0) * f


def _fibrinogen(a: pd.DataFrame, tl: pd.DataFrame, D: np.ndarray,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n = len(a)
    Dz = np.where(np.isfinite(D), D, 0.0)
    grade = a["grade"].to_numpy()
    treated = a["doses"].to_numpy() > 0
    hyp = grade >= 1
    abnormal = a["abnormal"].to_numpy() == 1
    crs = a["crs"].to_numpy()
    b = np.where(abnormal, 182.0, np.round(rng.uniform(240, 420, n)))
    lo_n = np.array([NADIR.get(g, (0, 0))[0] for g in grade])
    hi_n = np.array([NADIR.get(g, (0, 0))[1] for g in grade])
    # within the grade's band, more tocilizumab doses -> a deeper nadir (dose dependence)
    doses = a["doses"].to_numpy()
    u = np.clip(0.7 * rng.random(n) + 0.3 * (1 - (doses - 1) / 3), 0, 1)
    N = np.where(hyp, np.round(lo_n + (hi_n - lo_n) * u), np.nan)
    P = np.where(crs == 0, b, b * np.where(treated, rng.uniform(1.15, 1.6, n),
                                           rng.uniform(1.3, 1.9, n)))
    P = np.minimum(P, 900)
    c0 = tl["c0"].to_numpy()
    c0f = np.where(np.isnan(c0), 1e9, c0)
    pk = np.where(np.isnan(tl["pk"]), 1e9, tl["pk"].to_numpy())
    O, Nd, R = (tl[c].to_numpy() for c in ("O", "Nd", "R"))
    lf = tl["lf"].to_numpy()
    noise = 1 + 0.04 * rng.standard_normal(D.shape)
    # rise: baseline until CRS onset, then to the peak
    v = _lerp(Dz, c0f, b, pk, P)
    v = np.where(Dz < c0f[:, None], b[:, None] * noise, v)
    # untreated: plateau, then a slow return to baseline
    v_un = _lerp(Dz, pk + 5, P, pk + 45, b)
    v = np.where(~treated[:, None] & (Dz > pk[:, None]), v_un * noise, v)
    # treated, no hypofibrinogenemia: dip to >= LLN, then back to baseline
    tr = pk + rng.integers(3, 8, n)
    nmin = rng.uniform(205, 260, n)
    v_t0 = np.where(Dz <= tr[:, None], _lerp(Dz, pk, P, tr, nmin), _lerp(Dz, tr, nmin, tr + 25, b))
    v = np.where((treated & ~hyp)[:, None] & (Dz > pk[:, None]), v_t0 * noise, v)
    # treated with hypofibrinogenemia: fall to LLN+m by O-1, to N at Nd, slow recovery
    m1 = rng.uniform(5, 30, n)
    Nf = np.nan_to_num(N, nan=100.0)
    vO = Nf + (LLN - 1 - Nf) * rng.uniform(0.3, 0.9, n)
    Of, Ndf = np.nan_to_num(O, nan=1e9), np.nan_to_num(Nd, nan=1e9)
    endlow = np.where(np.isnan(R), lf, R - 1)
    endlow = np.nan_to_num(endlow, nan=1e9)
    vR1 = np.maximum(Nf + 1, LLN - rng.uniform(3, 30, n))
    Rf = np.nan_to_num(R, nan=1e9)
    m3 = rng.uniform(2, 15, n)
    slope = rng.uniform(1.5, 6, n)
    seg1 = _lerp(Dz, pk, P, Of - 1, LLN + m1)
    seg2 = _lerp(Dz, Of, vO, Ndf, Nf)
    seg3 = _lerp(Dz, Ndf, Nf, endlow, vR1)
    seg4 = np.minimum(np.maximum(b, LLN + m3)[:, None], (LLN + m3)[:, None]
                      + slope[:, None] * (Dz - Rf[:, None]))
    vh = np.select([Dz < Of[:, None], Dz <= Ndf[:, None], Dz < Rf[:, None]],
                   [seg1, seg2, seg3], seg4) * noise
    v = np.where(hyp[:, None] & (Dz > pk[:, None]), vh, v)
    v = np.round(v)
    # enforce the targets exactly
    win = Dz >= 0
    v = np.where((Dz == 0), b[:, None], v)
    before = ~hyp[:, None] | (Dz < Of[:, None])
    low = hyp[:, None] & (Dz >= Of[:, None]) & (Dz < Rf[:, None])
    after = hyp[:, None] & (Dz >= Rf[:, None])
    normal_floor = np.where(abnormal, b + 1, LLN)[:, None]
    v = np.where(win & before & (Dz > 0), np.maximum(v, normal_floor), v)
    v = np.where(~abnormal[:, None] & (Dz < 0), np.maximum(v, LLN), v)
    v = np.where(low, np.clip(v, Nf[:, None] + 1, LLN - 1), v)
    v = np.where(hyp[:, None] & (Dz == Ndf[:, None]), Nf[:, None], v)
    v = np.where(after, np.maximum(v, LLN), v)
    return v, N


@dataclass(frozen=True)
class _Course:
    """What every lab series of the cohort is drawn from: the sampling days, the patients'
    targets and event days, and the generator (draws happen in a fixed order)."""

    rng: np.random.Generator
    D: np.ndarray            # sampling days (inf: padding)
    Dz: np.ndarray           # the same with padding at 0
    crs: np.ndarray
    dic: np.ndarray          # overt DIC targeted
    iec: np.ndarray          # IEC-HS targeted
    treated: np.ndarray      # tocilizumab given
    dic_day: np.ndarray
    pk: np.ndarray           # peak of the acute phase
    center_hi: np.ndarray    # the nadir day (or the day after the peak)

    @property
    def n(self) -> int:
        return len(self.crs)

    @property
    def hi_crs(self) -> np.ndarray:
        return self.crs >= 3

    def mult(self, lo: float, hi: float) -> np.ndarray:
        """One uniform draw per patient."""
        return self.rng.uniform(lo, hi, self.n)

    def noise(self, s: float) -> np.ndarray:
        """Multiplicative noise per sample."""
        return 1 + s * self.rng.standard_normal(self.D.shape)

    def by_crs(self, table: dict[int, tuple[float, float]]) -> np.ndarray:
        """One uniform draw per patient from the range of its CRS grade."""
        return np.array([self.rng.uniform(*table[c]) for c in self.crs])


def labs_table(a: pd.DataFrame, tl: pd.DataFrame, demo: pd.DataFrame, ids: np.ndarray,
               rng: np.random.Generator) -> pd.DataFrame:
    """The long lab table of the cohort (canonical units), sorted by patient, day, analyte."""
    D, valid = grid(tl)
    c = _course(a, tl, D, rng)
    vals: dict[str, np.ndarray] = {}
    vals["fibrinogen"], nadir = _fibrinogen(a, tl, D, rng)
    vals["d_dimer"] = _d_dimer(c, nadir)
    vals["platelets"] = _platelets(c, demo["disease"].to_numpy())
    vals.update(_coagulation(c))
    vals.update(_inflammation(c))
    vals.update(_liver(c))
    return _long_table(vals, D, valid, ids)


def _course(a: pd.DataFrame, tl: pd.DataFrame, D: np.ndarray,
            rng: np.random.Generator) -> _Course:
    dic_day = tl["dic_day"].to_numpy()
    dic_day = np.where(np.isnan(dic_day), 7.0, dic_day)
    pk = np.where(np.isnan(tl["pk"]), 3.0, tl["pk"].to_numpy())
    Nd = tl["Nd"].to_numpy()
    return _Course(rng, D, np.where(np.isfinite(D), D, 0.0), a["crs"].to_numpy(),
                   a["dic"].to_numpy() == 1, a["iec"].to_numpy() == 1,
                   a["doses"].to_numpy() > 0, dic_day, pk, np.where(np.isnan(Nd), pk + 2, Nd))


def _d_dimer(c: _Course, nadir: np.ndarray) -> np.ndarray:
    """Peak at the DIC day (overt DIC: > 5 mg/L FEU), height by CRS and nadir."""
    rng, n, Dz, dic, crs = c.rng, c.n, c.Dz, c.dic, c.crs
    db = np.exp(rng.normal(np.log(0.6), 0.35, n))
    depth = np.nan_to_num((LLN - nadir) / LLN, nan=0.0)
    dpk = np.exp(rng.normal(np.log(1.2) + 0.45 * crs + 1.0 * depth, 0.7))
    dpk = np.where(dic, np.where(c.hi_crs, c.mult(10, 35), np.clip(dpk, 5.6, 16) + c.mult(0, 2)),
                   dpk)
    dpk = np.where(~dic, np.minimum(dpk, 12), dpk)
    dcen = np.where(dic, c.dic_day, c.center_hi)
    v = np.maximum(db[:, None], db[:, None] + (dpk - db)[:, None]
                   * _bump(Dz, dcen, 2.5, 8)) * c.noise(0.03)
    return np.where(Dz == dcen[:, None], dpk[:, None], v)


def _platelets(c: _Course, disease: np.ndarray) -> np.ndarray:
    """Post-lymphodepletion trough; < 50 only with high-grade CRS (and 2 DIC at CRS 1)."""
    dic, crs, hi_crs, Dz = c.dic, c.crs, c.hi_crs, c.Dz
    pb = np.where(disease == "Multiple myeloma", c.mult(90, 180), c.mult(140, 320))
    plow = np.select([hi_crs, dic & (crs == 1), dic],
                     [c.mult(12, 45), c.mult(35, 48), c.mult(60, 95)], c.mult(58, 150))
    plow = np.minimum(plow, pb - 10)
    pcen = np.where(dic, c.dic_day, c.rng.uniform(6, 11, c.n))
    plt = pb[:, None] - (pb - plow)[:, None] * _bump(Dz, pcen, 5, 9)
    plt = plt * c.noise(0.03)
    plt = np.where(Dz == np.round(pcen)[:, None], plow[:, None], plt)
    floor = np.where(hi_crs | (dic & (crs == 1)), 5.0, np.where(dic, 55.0, 52.0))
    return np.maximum(plt, np.minimum(floor, plow)[:, None])


def _coagulation(c: _Course) -> dict[str, np.ndarray]:
    """INR and PTT: impaired only in high-grade CRS."""
    hi_crs, Dz = c.hi_crs, c.Dz
    ib = c.mult(0.92, 1.08)
    ipk = np.where(hi_crs, c.mult(1.6, 2.6), np.maximum(ib, c.mult(1.0, 1.27)))
    inr = np.minimum(ib[:, None] + (ipk - ib)[:, None] * _bump(Dz, c.dic_day, 2, 4),
                     np.where(hi_crs, 9.0, 1.28)[:, None])
    ptb = c.mult(26, 33)
    ptp = np.where(hi_crs, c.mult(42, 70), np.maximum(ptb, c.mult(29, 36)))
    ptt = ptb[:, None] + (ptp - ptb)[:, None] * _bump(Dz, c.dic_day, 2, 4) * c.noise(0.01)
    return {"inr": inr, "ptt": ptt}


def _inflammation(c: _Course) -> dict[str, np.ndarray]:
    """CRP, IL-6, ferritin peak with CRS; tocilizumab cuts CRP fast."""
    Dz, pk, iec = c.Dz, c.pk, c.iec
    crp_pk = c.by_crs({0: (0.5, 3), 1: (3, 12), 2: (6, 20), 3: (12, 30), 4: (15, 35)})
    crpb = c.mult(0.1, 1.5)
    crp = crpb[:, None] + (crp_pk - crpb)[:, None] * _bump(
        Dz, pk, 1.5, np.where(c.treated, 2.5, 6.0)) * c.noise(0.05)
    il6_pk = np.exp(c.by_crs({0: (np.log(10), np.log(50)), 1: (np.log(30), np.log(300)),
                              2: (np.log(100), np.log(2000)), 3: (np.log(1000), np.log(10000)),
                              4: (np.log(2000), np.log(20000))}))
    il6b = c.mult(2, 8)
    il6 = il6b[:, None] + (il6_pk - il6b)[:, None] * _bump(Dz, pk, 1.2, 2.5) * c.noise(.05)
    fb = np.clip(np.exp(c.rng.normal(np.log(350), 0.7, c.n)), 50, 3000)
    fpk = np.where(iec, 2.2 * np.maximum(400, fb) * c.mult(1.1, 2.0), fb * c.mult(1.2, 2.5))
    fcen = np.where(iec, c.center_hi, pk + 2)
    ferritin = fb[:, None] + (fpk - fb)[:, None] * _bump(Dz, fcen, 3, 10) * c.noise(0.03)
    ferritin = np.where(iec[:, None] & (Dz == fcen[:, None]), fpk[:, None], ferritin)
    return {"crp": crp, "il6": il6, "ferritin": ferritin}


def _liver(c: _Course) -> dict[str, np.ndarray]:
    """Transaminases > 5 x ULN only with IEC-HS; gGT rises, CHE/albumin fall with grade."""
    Dz, pk, iec, crs = c.Dz, c.pk, c.iec, c.crs
    vals: dict[str, np.ndarray] = {}
    for name, base_lo, base_hi in (("alt", 12, 40), ("ast", 15, 40)):
        base = c.mult(base_lo, base_hi)
        peak = np.where(crs == 4, c.mult(150, 230), c.mult(20, 110))
        peak = np.where(iec, 5 * np.maximum(50, base) * c.mult(1.3, 2.5), np.maximum(peak, base))
        cen = np.where(iec, c.center_hi, pk + 3)
        v = base[:, None] + (peak - base)[:, None] * _bump(Dz, cen, 3, 6) * c.noise(0.03)
        v = np.where(iec[:, None] & (Dz == cen[:, None]), peak[:, None], v)
        vals[name] = np.where(iec[:, None], v, np.minimum(v, 235))
    gb = c.mult(15, 55)
    gpk = gb * c.by_crs({0: (1.0, 1.4), 1: (1.1, 2.0), 2: (1.5, 3.5), 3: (3, 8), 4: (4, 10)})
    vals["ggt"] = gb[:, None] + (gpk - gb)[:, None] * _bump(Dz, pk + 5, 4, 15) * c.noise(0.03)
    cb = c.mult(5.5, 9.5)
    # CHE falls only in CRS grade 4 (the paper's Figure 2C, P = 0.65): grade 3 keeps a middling
    # baseline so chance high values do not make grade 3 stand out (no extra random draws)
    cb = np.where(crs == 3, 7.2, cb)
    cmin = np.where(crs == 4, c.mult(2.0, 3.5), cb * c.mult(0.75, 0.95))
    vals["che"] = cb[:, None] - (cb - cmin)[:, None] * _bump(Dz, pk + 4, 3, 12) * c.noise(0.01)
    ab = c.mult(3.7, 4.5)
    amin = np.minimum(ab, c.by_crs({0: (3.6, 4.2), 1: (3.2, 3.8), 2: (2.8, 3.4), 3: (2.4, 2.9),
                                    4: (2.1, 2.6)}))
    vals["albumin"] = ab[:, None] - (ab - amin)[:, None] * _bump(Dz, pk + 3, 3, 20) * c.noise(.01)
    return vals


def _long_table(vals: dict[str, np.ndarray], D: np.ndarray, valid: np.ndarray,
                ids: np.ndarray) -> pd.DataFrame:
    """The series as the long table, sampled as a ward does: che/albumin every other day in
    the first two weeks, IL-6 only days -1..10."""
    Dz = np.where(np.isfinite(D), D, 0.0)
    sched = {"che": (Dz > 14) | (Dz % 2 == 0), "albumin": (Dz > 14) | (Dz % 2 == 0),
             "il6": (Dz >= -1) & (Dz <= 10)}
    pid = np.repeat(ids, D.shape[1]).reshape(D.shape)
    frames = []
    for name in _LAB_ORDER:
        m = valid & sched.get(name, True)
        x = np.round(np.maximum(vals[name], 0.0), _DECIMALS[name])[m]
        frames.append(pd.DataFrame({"patient_id": pid[m], "day": D[m], "analyte": name,
                                    "value": x, "unit": ANALYTES[name].unit}))
    labs = pd.concat(frames, ignore_index=True)
    order = np.lexsort((labs["analyte"].map(_LAB_ORDER.index).to_numpy(), labs["day"].to_numpy(),
                        labs["patient_id"].to_numpy()))
    labs = labs.iloc[order].reset_index(drop=True)
    labs["day"] = labs["day"].astype(int)
    return labs
