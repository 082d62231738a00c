"""Patient-level endpoints derived from lab series and treatments.

:func:`derive` turns the long ``labs`` and ``treatments`` tables into one row per patient with the
endpoint columns of :data:`core.schema.PATIENT_COLUMNS` (fibrinogen baseline/nadir, CTCAE grade of
hypofibrinogenemia, onset, recovery, tocilizumab exposure, ISTH DIC score, IEC-HS screen, ...),
plus the per-day DIC score and a list of every input row that could not be used and why.
:func:`reconcile` lists where an uploaded patient table disagrees with the derived values, and
:func:`apply_derived` puts the derived values into the patient table.

Everything is vectorised (pandas/numpy); there is no Python loop over patients, so 5000 patients
with ~3 million lab rows take a few seconds.

Definitions (every threshold is a field of :class:`EndpointSettings`)
--------------------------------------------------------------------
* Window: lab rows with ``window_start <= day <= window_end`` (default day 0 to the end).
* Baseline: the last value on or before day 0 (day 0 itself included, also before the window).
* Nadir / peak: lowest / highest value in the window, and the first day it occurred.
* Hypofibrinogenemia grade, CTCAE v5 "fibrinogen decreased", LLN = ``fibrinogen_lln``:
  G1 ``0.75 x LLN <= v < LLN``; G2 ``0.5 x LLN <= v < 0.75 x LLN``;
  G3 ``0.25 x LLN <= v < 0.5 x LLN``; G4 ``v < 0.25 x LLN`` or ``v < 50 mg/dL``.
  Abnormal baseline (baseline below LLN, ``abnormal_baseline="relative"``), CTCAE's "if abnormal"
  column, by the fall from baseline ``b``: G0 ``v >= b``; G1 decrease < 25 % (``v > 0.75 b``);
  G2 25 to < 50 % (``0.5 b < v <= 0.75 b``); G3 50 to < 75 % (``0.25 b < v <= 0.5 b``);
  G4 >= 75 % (``v <= 0.25 b``) or ``v < 50 mg/dL``. The patient grade is the worst grade of any
  value in the window. With ``abnormal_baseline="lln"`` every patient is graded against the LLN.
* Onset: first day in the window with grade >= 1 (below LLN; below baseline for an abnormal
  baseline graded relative to it).
* Recovery: first day after the nadir day with ``v >= LLN`` (``>= baseline`` for the
  baseline-relative variant); if there is none, the last fibrinogen day in the window with
  ``fibrinogen_recovered = 0`` (censored). Both are empty for grade 0.
* ISTH overt DIC score per calendar day (``floor(day)``) in the window, from the worst value of
  that day: platelets > 100 -> 0, 50-100 -> 1, < 50 -> 2 (x10^9/L); D-dimer <= moderate cut-off
  -> 0, above it -> 2, above the strong cut-off -> 3; INR <= moderate cut-off -> 0, above -> 1,
  above the strong cut-off -> 2; fibrinogen < 100 mg/dL -> 1. A component not measured that day
  adds 0 points (the score is then a lower bound; ``n_components`` says how many were measured).
* IEC-HS laboratory screen (Hines 2023): a fibrinogen value of grade >= 1, a ferritin above
  ``2 x max(ULN, baseline)`` and an ALT or AST above ``5 x max(ULN, baseline)``, all three within
  ``iec_window_days`` (72 h) of each other. Empty when one of the three analytes was never
  measured in the window.

Input problems and how they are treated (each affected row is listed in ``issues``)
-----------------------------------------------------------------------------------
* Unknown analyte or drug: kept in the user's tables, not used for endpoints.
* Censored result such as ``"<0.5"`` or ``">1000"``: the bound is used as the value (0.5, 1000)
  and the row is listed. Other text (``"n.a."``) or an empty result: not used.
* A unit that contradicts the values (fibrinogen "mg/dL" with a median of 2.5: that is g/L):
  the patient's rows of that analyte and unit are not used; the message names the likely unit.
  Unknown unit: not used. Recognised units are converted to the canonical unit.
* Values outside the analyte's plausible range, days outside -60..3650 or not a number, missing
  patient IDs, patients not in the patient table: not used.
* Several values of one analyte on the same day (same ``day`` value): exact duplicate rows count
  once; different values are replaced by their mean (a repeat measurement is noise around one
  true value; the mean neither favours the nadir nor the peak). All such rows are listed.
* Unsorted rows are sorted; negative days are used for baselines; fractional days are used as
  they are (DIC scores group them by calendar day). These produce messages, not issues.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from typing import Literal

import numpy as np
import pandas as pd

from core.errors import ColumnError, ValidationError
from core.schema import ANALYTES, CORTICOSTEROIDS, DAY_HI, DAY_LO, DRUGS, normalise_header

__all__ = ["ENDPOINT_COLUMNS", "EndpointSettings", "Endpoints", "derive", "reconcile",
           "apply_derived", "ANALYTE_ENDPOINTS"]

#: Per-patient min/max columns: column -> (analyte, "min" | "max").
ANALYTE_ENDPOINTS: dict[str, tuple[str, Literal["min", "max"]]] = {
    "fibrinogen_max": ("fibrinogen", "max"),
    "d_dimer_max": ("d_dimer", "max"),
    "platelets_min": ("platelets", "min"),
    "inr_max": ("inr", "max"),
    "ptt_max": ("ptt", "max"),
    "ggt_max": ("ggt", "max"),
    "alt_max": ("alt", "max"),
    "ast_max": ("ast", "max"),
    "che_min": ("che", "min"),
    "albumin_min": ("albumin", "min"),
    "ferritin_max": ("ferritin", "max"),
    "crp_max": ("crp", "max"),
    "il6_max": ("il6", "max"),
}

#: Every column :func:`derive` fills, in the order of core.schema.PATIENT_COLUMNS.
ENDPOINT_COLUMNS: tuple[str, ...] = (
    "tocilizumab", "tocilizumab_doses", "tocilizumab_cum_mg", "tocilizumab_first_day",
    "tocilizumab_last_day", "tocilizumab_duration_days", "corticosteroids",
    "fibrinogen_baseline", "fibrinogen_nadir", "fibrinogen_nadir_day", "hypofibrinogenemia_grade",
    "hypofibrinogenemia_onset_day", "fibrinogen_recovery_day", "fibrinogen_recovered",
    "days_toci_to_hypofibrinogenemia", "corticosteroids_first_day",
    "days_corticosteroids_to_hypofibrinogenemia", "fibrinogen_max", "d_dimer_max",
    "platelets_min", "inr_max", "ptt_max", "ggt_max", "alt_max", "ast_max", "che_min",
    "albumin_min", "ferritin_max", "crp_max", "il6_max", "dic_score_max", "iec_hs",
    "fibrinogen_substitution_g",
)
_INTEGER_COLUMNS = ("tocilizumab", "tocilizumab_doses", "corticosteroids",
                    "hypofibrinogenemia_grade", "fibrinogen_recovered", "dic_score_max", "iec_hs")

ISSUE_COLUMNS = ("table", "row", "patient_id", "analyte", "day", "value", "problem")
DIC_COLUMNS = ("patient_id", "day", "platelets_pts", "d_dimer_pts", "pt_pts", "fibrinogen_pts",
               "score", "n_components")
SUMMARY_COLUMNS = ("patient_id", "analyte", "n", "baseline", "baseline_day", "min", "min_day",
                   "max", "max_day", "last_day")

_CTCAE = "CTCAE v5.0 (2017), 'Fibrinogen decreased'"
_TAYLOR = "Taylor FB et al., Thromb Haemost 2001;86:1327 (ISTH overt DIC score)"
_HINES = "Hines MR et al., Transplant Cell Ther 2023;29:438 (IEC-HS)"


@dataclass(frozen=True)
class EndpointSettings:
    """Thresholds of the derived endpoints; every default is documented with its source.

    Attributes
    ----------
    fibrinogen_lln : float
        Lower limit of normal of fibrinogen, mg/dL. Default 200 (core.schema.ANALYTES, Clauss).
    window_start, window_end : float, float or None
        Days after infusion that count for nadirs, peaks, onset and scores. Default day 0 to the
        end of follow-up (``None``).
    abnormal_baseline : {"relative", "lln"}
        How to grade a patient whose baseline fibrinogen is below the LLN: by the fall relative to
        baseline (CTCAE v5's "if abnormal" column, default) or against the LLN like everyone else.
    g4_absolute : float
        Fibrinogen below this (mg/dL) is grade 4 regardless of the LLN. CTCAE v5: 50 mg/dL.
    ferritin_uln, alt_uln, ast_uln : float
        Upper limits of normal for the IEC-HS screen (defaults from core.schema.ANALYTES).
    dic_platelets_mild, dic_platelets_severe : float
        ISTH: platelets > 100 -> 0, 50-100 -> 1, < 50 -> 2 points (x10^9/L) (Taylor 2001).
    dic_d_dimer_moderate, dic_d_dimer_strong : float
        ISTH fibrin marker: D-dimer above ``moderate`` -> 2, above ``strong`` -> 3 points
        (mg/L FEU). Taylor 2001 leaves the cut-offs to the laboratory; defaults are the ULN
        (0.5) and 10 x ULN (5.0), a common choice. Set your laboratory's.
    dic_inr_moderate, dic_inr_strong : float
        ISTH PT prolongation, > 3 s -> 1 and > 6 s -> 2 points, expressed as INR: defaults
        1.3 and 1.5 (about +3 s and +6 s for a normal PT of about 12 s). Set your laboratory's.
    dic_fibrinogen : float
        ISTH: fibrinogen < 1.0 g/L (100 mg/dL) -> 1 point (Taylor 2001).
    iec_ferritin_factor, iec_transaminase_factor, iec_window_days : float
        IEC-HS: ferritin > 2 x ULN/baseline, ALT/AST > 5 x ULN/baseline, within 72 h of
        hypofibrinogenemia (Hines 2023).
    sources : tuple of (setting, source)
        Where each default comes from, for display next to the settings.
    """

    fibrinogen_lln: float = float(ANALYTES["fibrinogen"].lln)  # type: ignore[arg-type]
    window_start: float = 0.0
    window_end: float | None = None
    abnormal_baseline: Literal["relative", "lln"] = "relative"
    g4_absolute: float = 50.0
    ferritin_uln: float = float(ANALYTES["ferritin"].uln)  # type: ignore[arg-type]
    alt_uln: float = float(ANALYTES["alt"].uln)  # type: ignore[arg-type]
    ast_uln: float = float(ANALYTES["ast"].uln)  # type: ignore[arg-type]
    dic_platelets_mild: float = 100.0
    dic_platelets_severe: float = 50.0
    dic_d_dimer_moderate: float = 0.5
    dic_d_dimer_strong: float = 5.0
    dic_inr_moderate: float = 1.3
    dic_inr_strong: float = 1.5
    dic_fibrinogen: float = 100.0
    iec_ferritin_factor: float = 2.0
    iec_transaminase_factor: float = 5.0
    iec_window_days: float = 3.0
    sources: tuple[tuple[str, str], ...] = field(default=(
        ("fibrinogen_lln", "core.schema: " + ANALYTES["fibrinogen"].source),
        ("window_start, window_end", "study definition: from infusion (day 0) to last follow-up"),
        ("abnormal_baseline, g4_absolute", _CTCAE),
        ("ferritin_uln, alt_uln, ast_uln", "core.schema: " + ANALYTES["ferritin"].source),
        ("dic_platelets_*, dic_fibrinogen", _TAYLOR),
        ("dic_d_dimer_*", _TAYLOR + "; cut-offs lab-specific, defaults ULN and 10 x ULN"),
        ("dic_inr_*", _TAYLOR + "; PT +3 s / +6 s approximated as INR 1.3 / 1.5"),
        ("iec_*", _HINES),
    ), compare=False)

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, float) or isinstance(v, int) and not isinstance(v, bool):
                if not math.isfinite(v) or v < (-DAY_HI if f.name.startswith("window") else 0):
                    raise ValidationError(f"Endpoint setting {f.name} = {v!r} is not a valid "
                                          "number: enter a finite, non-negative value.")
        if self.fibrinogen_lln <= 0:
            raise ValidationError("The fibrinogen LLN must be above 0 mg/dL (default 200).")
        if self.window_end is not None and self.window_end < self.window_start:
            raise ValidationError(f"The window ends (day {self.window_end:g}) before it starts "
                                  f"(day {self.window_start:g}): swap the two days.")
        if self.abnormal_baseline not in ("relative", "lln"):
            raise ValidationError("abnormal_baseline must be 'relative' or 'lln'.")
        for lo, hi in (("dic_platelets_severe", "dic_platelets_mild"),
                       ("dic_d_dimer_moderate", "dic_d_dimer_strong"),
                       ("dic_inr_moderate", "dic_inr_strong")):
            if getattr(self, lo) > getattr(self, hi):
                raise ValidationError(f"{lo} ({getattr(self, lo):g}) must not exceed {hi} "
                                      f"({getattr(self, hi):g}): swap the two cut-offs.")

    def source_table(self) -> pd.DataFrame:
        """The defaults' sources as a frame with columns ``setting, source``."""
        return pd.DataFrame(list(self.sources), columns=["setting", "source"])


@dataclass(frozen=True)
class Endpoints:
    """Result of :func:`derive`.

    Attributes
    ----------
    patients : DataFrame
        One row per patient: ``patient_id`` and :data:`ENDPOINT_COLUMNS`.
    dic : DataFrame
        Per patient and calendar day in the window: ``patient_id, day, platelets_pts,
        d_dimer_pts, pt_pts, fibrinogen_pts, score, n_components``.
    analytes : DataFrame
        Per patient and analyte: ``patient_id, analyte, n`` (values in window), ``baseline,
        baseline_day, min, min_day, max, max_day, last_day``.
    issues : DataFrame
        Input rows not used as given: ``table, row, patient_id, analyte, day, value, problem``
        (``analyte`` holds the drug for treatment rows; ``row`` is the input frame's index).
    messages : tuple of str
        Summary sentences for the user (one per kind of problem, plus notes).
    settings : EndpointSettings
        The settings used.
    """

    patients: pd.DataFrame
    dic: pd.DataFrame
    analytes: pd.DataFrame
    issues: pd.DataFrame
    messages: tuple[str, ...]
    settings: EndpointSettings


# ----------------------------------------------------------------------------------------------
# parsing helpers

_CENSORED = re.compile(r"^\s*(<=|>=|<|>|≤|≥)\s*([-+]?\d+(?:[.,]\d+)?)\s*$")


def _ids(s: pd.Series) -> pd.Series:
    """Patient IDs as stripped text; integer-valued numbers without '.0'; missing -> NA."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        f = pd.to_numeric(s, errors="coerce")
        whole = f.notna() & (f == np.floor(f))
        out = f.astype(object).where(~whole, f.where(whole).astype("Int64"))
        out = out.astype(str).where(f.notna(), None)
        return out.astype(object)
    t = s.astype(object).where(s.notna(), None)
    t = t.map(lambda x: None if x is None else str(x).strip())
    return t.where(t.map(lambda x: bool(x)), None)


def _numbers(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse numbers: returns (values, censored flag). Decimal commas and '<x'/'>x' accepted."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return pd.to_numeric(s, errors="coerce").to_numpy(float), np.zeros(len(s), bool)
    vals = pd.to_numeric(s, errors="coerce").to_numpy(float)
    cens = np.zeros(len(s), bool)
    bad = np.isnan(vals) & s.notna().to_numpy()
    if bad.any():
        txt = s[bad].astype(str).str.strip()
        comma = pd.to_numeric(txt.str.replace(",", ".", regex=False), errors="coerce")
        ok = comma.notna().to_numpy()
        idx = np.flatnonzero(bad)
        vals[idx[ok]] = comma.to_numpy(float)[ok]
        rest = txt[~ok]
        m = rest.str.extract(_CENSORED)
        hit = m[1].notna().to_numpy()
        if hit.any():
            vals[idx[~ok][hit]] = m[1][hit].str.replace(",", ".", regex=False).astype(float)
            cens[idx[~ok][hit]] = True
    return vals, cens


def _unit_key(u: object) -> str:
    return re.sub(r"\s+", "", str(u).lower().replace("µ", "u").replace("μ", "u"))


_ANALYTE_NAMES: dict[str, str] = {}
for _a in ANALYTES.values():
    for _n in (_a.name, _a.label, *_a.aliases):
        _ANALYTE_NAMES.setdefault(normalise_header(_n), _a.name)

_DRUG_NAMES: dict[str, str] = {normalise_header(d): d for d in DRUGS}
_DRUG_NAMES.update({normalise_header(k): v for k, v in {
    "toci": "tocilizumab", "actemra": "tocilizumab", "roactemra": "tocilizumab",
    "dexa": "dexamethasone", "dex": "dexamethasone", "fortecortin": "dexamethasone",
    "methylpred": "methylprednisolone", "urbason": "methylprednisolone", "mp": "methylprednisolone",
    "solumedrol": "methylprednisolone", "kineret": "anakinra", "fibrinogen": "fibrinogen_concentrate",
    "fibrinogen concentrate": "fibrinogen_concentrate", "haemocomplettan": "fibrinogen_concentrate",
    "fibryga": "fibrinogen_concentrate", "riastap": "fibrinogen_concentrate",
}.items()})

#: Ranges in the canonical unit inside which real values fall; a patient's median outside the
#: range that lands inside it under another recognised unit means the unit is wrong.
_TYPICAL: dict[str, tuple[float, float]] = {
    "fibrinogen": (20.0, 1500.0), "albumin": (0.8, 7.0), "che": (0.3, 30.0),
    "d_dimer": (0.05, 150.0), "crp": (0.01, 80.0),
}
_DOSE_UNITS: dict[str, dict[str, float]] = {
    "tocilizumab": {"mg": 1.0, "g": 1000.0, "": 1.0},
    "fibrinogen_concentrate": {"g": 1.0, "mg": 0.001, "": 1.0},
}


class _Issues:
    def __init__(self) -> None:
        self.parts: list[pd.DataFrame] = []
        self.messages: list[str] = []

    def add(self, table: str, frame: pd.DataFrame, mask: np.ndarray, problem: pd.Series | str,
            message: str | None = None) -> None:
        if not mask.any():
            return
        sub = frame.loc[mask]
        prob = problem[mask] if isinstance(problem, pd.Series) else problem
        self.parts.append(pd.DataFrame({
            "table": table, "row": sub["row"].to_numpy(), "patient_id": sub["pid_raw"].to_numpy(),
            "analyte": sub["name_raw"].to_numpy(), "day": sub["day_raw"].to_numpy(),
            "value": sub["value_raw"].to_numpy(),
            "problem": prob.to_numpy() if isinstance(prob, pd.Series) else prob}))
        if message:
            self.messages.append(message.format(n=int(mask.sum())))

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in ISSUE_COLUMNS})
        out = pd.concat(self.parts, ignore_index=True)
        for c in ("patient_id", "analyte", "value", "day"):
            out[c] = out[c].astype(object)
        return out.loc[:, list(ISSUE_COLUMNS)]


def _require(frame: pd.DataFrame, table: str, cols: tuple[str, ...]) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ColumnError(f"The {table} table has no column {', '.join(map(repr, missing))}: "
                          f"it needs {', '.join(cols)} (map your headers to these names).")


def _frame_for(table: str, df: pd.DataFrame, name_col: str, value_col: str) -> pd.DataFrame:
    n = len(df)
    return pd.DataFrame({
        "row": df.index.to_numpy(),
        "pid_raw": df["patient_id"].to_numpy(object),
        "day_raw": df["day"].to_numpy(object),
        "name_raw": df[name_col].to_numpy(object),
        "value_raw": df[value_col].to_numpy(object) if value_col in df else np.full(n, None),
        "unit_raw": df["unit"].to_numpy(object) if "unit" in df else np.full(n, None),
    })


def _common_checks(table: str, f: pd.DataFrame, df: pd.DataFrame, known: set[str] | None,
                   iss: _Issues) -> np.ndarray:
    """Patient ID and day checks shared by labs and treatments; returns the usable mask."""
    f["pid"] = _ids(df["patient_id"]).to_numpy(object)
    day, _ = _numbers(df["day"])
    f["day"] = day
    no_id = pd.isna(f["pid"]).to_numpy()
    iss.add(table, f, no_id, "no patient_id: not used; fill in the patient ID",
            f"{{n}} {table} rows without a patient_id were not used.")
    bad_day = ~no_id & np.isnan(day)
    iss.add(table, f, bad_day, "day missing or not a number: not used; enter days after infusion",
            f"{{n}} {table} rows without a numeric day were not used.")
    out_day = ~no_id & ~np.isnan(day) & ((day < DAY_LO) | (day > DAY_HI))
    iss.add(table, f, out_day, f"day outside {DAY_LO:g}..{DAY_HI:g}: not used; check the day "
            "(days after infusion, not a date)",
            f"{{n}} {table} rows with a day outside {DAY_LO:g}..{DAY_HI:g} were not used.")
    ok = ~(no_id | bad_day | out_day)
    if known is not None:
        unknown = ok & ~f["pid"].isin(known).to_numpy()
        iss.add(table, f, unknown, "patient not in the patient table: not used; add the patient "
                "or correct the ID", f"{{n}} {table} rows belong to patients missing from the "
                "patient table and were not used.")
        ok &= ~unknown
    return ok


# ----------------------------------------------------------------------------------------------
# labs

def _clean_labs(labs: pd.DataFrame, known: set[str] | None, iss: _Issues) -> pd.DataFrame:
    _require(labs, "labs", ("patient_id", "day", "analyte", "value"))
    f = _frame_for("labs", labs, "analyte", "value")
    ok = _common_checks("labs", f, labs, known, iss)

    names = f["name_raw"].astype(object)
    uniq = pd.unique(names[ok])
    mapping = {u: _ANALYTE_NAMES.get(normalise_header(u)) if isinstance(u, str) else None
               for u in uniq}
    f["analyte"] = names.map(mapping).to_numpy(object)
    unknown = ok & pd.isna(f["analyte"]).to_numpy()
    iss.add("labs", f, unknown, "unknown analyte: kept, not used for endpoints (known: "
            + ", ".join(ANALYTES) + ")",
            "{n} lab rows have an analyte name core does not know; they are kept but not used "
            "for endpoints (see issues).")
    ok &= ~unknown

    vals, cens = _numbers(labs["value"])
    noval = ok & np.isnan(vals)
    iss.add("labs", f, noval, "no numeric result: not used",
            "{n} lab rows have no numeric result (empty or text such as 'n.a.') and were not "
            "used.")
    ok &= ~noval
    cens_ok = ok & cens
    iss.add("labs", f, cens_ok, pd.Series([f"censored result: used as {v:g}" for v in vals],
            index=f.index), "{n} censored lab results such as '<0.5' were used at their bound "
            "(listed in issues).")

    # units
    factor = np.ones(len(f))
    unit_given = np.zeros(len(f), bool)
    if "unit" in labs:
        ukey = f["unit_raw"].map(lambda u: "" if pd.isna(u) else _unit_key(u))
        unit_given = (ukey != "").to_numpy()
        bad_unit = np.zeros(len(f), bool)
        an = f["analyte"].to_numpy(object)
        for (a, u), idx in pd.Series(np.arange(len(f)))[ok & unit_given].groupby(
                [an[ok & unit_given], ukey[ok & unit_given].to_numpy()]).groups.items():
            table = {_unit_key(k): v for k, v in ANALYTES[a].units.items()}
            if u in table:
                factor[np.asarray(idx)] = table[u]
            else:
                bad_unit[np.asarray(idx)] = True
        prob = pd.Series(
            [f"unknown unit for {a}: not used; use one of "
             + ", ".join(repr(k) for k in ANALYTES[a].units if k) if isinstance(a, str) else ""
             for a in f["analyte"]], index=f.index)
        iss.add("labs", f, bad_unit, prob, "{n} lab rows have a unit core cannot convert and were"
                " not used (see issues).")
        ok &= ~bad_unit
    f["value"] = vals * factor

    # unit contradicted by the values: per patient, analyte and unit
    wrong = np.zeros(len(f), bool)
    problem = pd.Series("", index=f.index, dtype=object)
    cand = ok & f["analyte"].isin(list(_TYPICAL)).to_numpy()
    if cand.any():
        sub = f.loc[cand, ["pid", "analyte", "value"]].copy()
        sub["u"] = f.loc[cand, "unit_raw"].map(lambda u: "" if pd.isna(u) else str(u)).to_numpy()
        sub["factor"] = factor[cand]
        med = sub.groupby(["pid", "analyte", "u"], sort=False)["value"].transform("median")
        for (a, u), g in sub.assign(med=med).groupby(["analyte", "u"], sort=False):
            lo, hi = _TYPICAL[a]
            off = (g["med"] < lo) | (g["med"] > hi)
            if not off.any():
                continue
            g = g[off]
            for alt, fac in ANALYTES[a].units.items():
                ratio = fac / g["factor"]
                fits = (g["med"] * ratio >= lo) & (g["med"] * ratio <= hi)
                sel = g.index[fits & (problem[g.index] == "")]
                if len(sel):
                    wrong[sel] = True
                    shown = u or ANALYTES[a].unit + " (no unit given, canonical assumed)"
                    problem[sel] = (f"{a} values look like {alt} (patient median "
                                    + g.loc[sel, "med"].div(g.loc[sel, "factor"]).map("{:g}".format)
                                    + f"), not {shown}: not used; correct the unit or convert "
                                    "the values")
        iss.add("labs", f, wrong, problem, "{n} lab rows carry values that contradict their unit "
                "(e.g. fibrinogen in g/L labelled mg/dL) and were not used (see issues).")
        ok &= ~wrong

    # plausible range
    lo = f["analyte"].map(lambda a: ANALYTES[a].plausible[0] if isinstance(a, str) else -np.inf)
    hi = f["analyte"].map(lambda a: ANALYTES[a].plausible[1] if isinstance(a, str) else np.inf)
    implaus = ok & ((f["value"] < lo) | (f["value"] > hi)).to_numpy()
    iss.add("labs", f, implaus, pd.Series(
        [f"outside the plausible range {ANALYTES[a].plausible[0]:g}-{ANALYTES[a].plausible[1]:g}"
         f" {ANALYTES[a].unit}: not used; check for a typo or the unit" if isinstance(a, str)
         else "" for a in f["analyte"]], index=f.index),
        "{n} lab values outside the plausible range were not used (see issues).")
    ok &= ~implaus

    good = f.loc[ok, ["row", "pid_raw", "day_raw", "name_raw", "value_raw", "pid", "day",
                      "analyte", "value"]]
    # order
    if len(good):
        by_group = good.sort_values(["pid", "analyte"], kind="stable")
        same = by_group.duplicated(["pid", "analyte"], keep="first").to_numpy()
        back = np.diff(by_group["day"].to_numpy(), prepend=-np.inf) < 0
        if (same & back).any():
            iss.messages.append("Lab rows were not in day order; they were sorted (results do "
                                "not depend on row order).")
        g2 = good.sort_values(["pid", "analyte", "day"], kind="stable")
        good = g2
        dayv = good["day"].to_numpy()
        if (dayv != np.floor(dayv)).any():
            iss.messages.append(f"{int((dayv != np.floor(dayv)).sum())} lab rows have fractional "
                                "days (times of day); they are used as they are, and DIC scores "
                                "group them by calendar day.")
        if (dayv < 0).any():
            iss.messages.append(f"{int((dayv < 0).sum())} lab rows lie before infusion (day < 0);"
                                " they count for baselines only.")
    # duplicates
    if len(good):
        exact = good.duplicated(["pid", "analyte", "day", "value"], keep="first").to_numpy()
        if exact.any():
            tmp = good.assign(**{"row": good["row"]})
            iss.add("labs", tmp.reset_index(drop=True), exact,
                    "exact duplicate of another row: counted once",
                    "{n} exact duplicate lab rows were counted once.")
            good = good.loc[~exact]
        grp = good.groupby(["pid", "analyte", "day"], sort=False)["value"]
        cnt = grp.transform("size").to_numpy()
        multi = cnt > 1
        if multi.any():
            mean = grp.transform("mean")
            listing = grp.transform(lambda v: ", ".join(f"{x:g}" for x in v)) if multi.sum() < 5000 \
                else pd.Series("several", index=good.index)
            prob = ("values " + listing.astype(str) + " on the same day: their mean "
                    + mean.map("{:g}".format) + " is used")
            iss.add("labs", good.reset_index(drop=True), multi,
                    prob.reset_index(drop=True),
                    "{n} lab rows share patient, analyte and day with a different value; the "
                    "mean of each such set is used (see issues).")
            good = good.assign(value=mean.to_numpy())
            good = good.loc[~good.duplicated(["pid", "analyte", "day"], keep="first")]
    return good[["pid", "analyte", "day", "value"]].reset_index(drop=True)


# ----------------------------------------------------------------------------------------------
# treatments

def _clean_treatments(tx: pd.DataFrame, known: set[str] | None, iss: _Issues) -> pd.DataFrame:
    _require(tx, "treatments", ("patient_id", "day", "drug"))
    f = _frame_for("treatments", tx, "drug", "dose")
    ok = _common_checks("treatments", f, tx, known, iss)
    uniq = pd.unique(f["name_raw"][ok])
    mapping = {u: _DRUG_NAMES.get(normalise_header(u)) if isinstance(u, str) else None
               for u in uniq}
    f["drug"] = f["name_raw"].map(mapping).to_numpy(object)
    unknown = ok & pd.isna(f["drug"]).to_numpy()
    iss.add("treatments", f, unknown, "drug not used for endpoints (kept); known: "
            + ", ".join(DRUGS), "{n} treatment rows name a drug core does not use for endpoints;"
            " they are kept (see issues).")
    ok &= ~unknown
    if "dose" in tx:
        dose, cens = _numbers(tx["dose"])
    else:
        dose, cens = np.full(len(f), np.nan), np.zeros(len(f), bool)
    factor = np.ones(len(f))
    drug = f["drug"].to_numpy(object)
    ukey = f["unit_raw"].map(lambda u: "" if pd.isna(u) else _unit_key(u)).to_numpy(object)
    bad_unit = np.zeros(len(f), bool)
    for d, table in _DOSE_UNITS.items():
        sel = ok & (drug == d)
        for u in pd.unique(ukey[sel]):
            m = sel & (ukey == u)
            if u in table:
                factor[m] = table[u]
            else:
                bad_unit |= m
    iss.add("treatments", f, bad_unit, "dose unit not recognised: not used; use mg for "
            "tocilizumab and g for fibrinogen concentrate",
            "{n} treatment rows have a dose unit core cannot convert and were not used.")
    ok &= ~bad_unit
    dosed = ok & np.isin(drug, list(_DOSE_UNITS))
    nodose = dosed & np.isnan(dose)
    iss.add("treatments", f, nodose, "dose missing: counted as an administration; the patient's "
            "cumulative dose is left empty", "{n} tocilizumab/fibrinogen rows have no dose; "
            "cumulative doses of those patients are left empty.")
    iss.add("treatments", f, dosed & cens, "censored dose: bound used",
            "{n} censored doses were used at their bound.")
    f["dose"] = dose * factor
    good = f.loc[ok, ["pid", "drug", "day", "dose"]]
    return good.sort_values(["pid", "day"], kind="stable").reset_index(drop=True)


# ----------------------------------------------------------------------------------------------
# derivation

def _first_by(frame: pd.DataFrame, col: str, how: Literal["min", "max", "last"]) -> pd.DataFrame:
    """Per (pid, analyte): value and day of min/max (first occurrence) or of the last row."""
    if how == "last":
        idx = frame.groupby(["pid", "analyte"], sort=False)["day"].idxmax()
    else:
        g = frame.groupby(["pid", "analyte"], sort=False)[col]
        idx = g.idxmin() if how == "min" else g.idxmax()
    return frame.loc[idx.to_numpy(), ["pid", "analyte", col, "day"]]


def _grades(v: np.ndarray, base: np.ndarray, s: EndpointSettings) -> tuple[np.ndarray, np.ndarray]:
    """CTCAE v5 grade of each fibrinogen value and the recovery threshold per value."""
    lln = s.fibrinogen_lln
    rel = (s.abnormal_baseline == "relative") & ~np.isnan(base) & (base < lln)
    g_lln = np.select([v >= lln, v >= 0.75 * lln, v >= 0.5 * lln, v >= 0.25 * lln],
                      [0, 1, 2, 3], 4)
    with np.errstate(invalid="ignore"):
        g_rel = np.select([v >= base, v > 0.75 * base, v > 0.5 * base, v > 0.25 * base],
                          [0, 1, 2, 3], 4)
    g = np.where(rel, g_rel, g_lln)
    g = np.where(v < s.g4_absolute, 4, g)
    thr = np.where(rel, base, lln)
    return g.astype(int), thr


def derive(labs: pd.DataFrame | None, treatments: pd.DataFrame | None = None,
           settings: EndpointSettings = EndpointSettings(),
           patients: pd.DataFrame | None = None) -> Endpoints:
    """Derive the patient-level endpoints from lab series and treatments.

    Parameters
    ----------
    labs : DataFrame or None
        Long lab table: ``patient_id, day, analyte, value`` and optionally ``unit``. Values may
        be text (``"<0.5"``, ``"2,5"``); analytes and units may use the aliases of
        :data:`core.schema.ANALYTES`.
    treatments : DataFrame or None
        ``patient_id, day, drug`` and optionally ``dose, unit``. None: treatment endpoints are
        left empty (unknown), not 0.
    settings : EndpointSettings
        Thresholds; defaults documented there.
    patients : DataFrame or None
        Patient table; when given, its IDs define the output rows and lab/treatment rows of
        other patients are listed in ``issues`` and not used.

    Returns
    -------
    Endpoints
        ``patients`` (``patient_id`` + :data:`ENDPOINT_COLUMNS`: fibrinogen_baseline,
        fibrinogen_nadir, fibrinogen_nadir_day, hypofibrinogenemia_grade,
        hypofibrinogenemia_onset_day, fibrinogen_recovery_day, fibrinogen_recovered,
        tocilizumab, tocilizumab_doses, tocilizumab_cum_mg, tocilizumab_first_day,
        tocilizumab_last_day, tocilizumab_duration_days, days_toci_to_hypofibrinogenemia,
        corticosteroids, corticosteroids_first_day, days_corticosteroids_to_hypofibrinogenemia,
        the analyte min/max columns, dic_score_max, iec_hs, fibrinogen_substitution_g), ``dic``
        (patient_id, day, platelets_pts, d_dimer_pts, pt_pts, fibrinogen_pts, score,
        n_components), ``analytes``, ``issues`` (table, row, patient_id, analyte, day, value,
        problem) and ``messages``.

    Raises
    ------
    core.errors.ColumnError
        A required column is missing.

    Notes
    -----
    Grading follows CTCAE v5.0 "Fibrinogen decreased" (with its baseline-relative variant for
    an abnormal baseline), the DIC score Taylor et al. 2001 (ISTH), the IEC-HS screen Hines et
    al. 2023; the exact rules are in the module docstring.
    """
    s = settings
    iss = _Issues()
    known: set[str] | None = None
    ids: list[str] = []
    if patients is not None:
        _require(patients, "patient", ("patient_id",))
        pid = _ids(patients["patient_id"])
        ids = list(dict.fromkeys(x for x in pid if x is not None))
        known = set(ids)
    empty_labs = pd.DataFrame({"pid": pd.Series(dtype=object), "analyte": pd.Series(dtype=object),
                               "day": pd.Series(dtype=float), "value": pd.Series(dtype=float)})
    lab = _clean_labs(labs, known, iss) if labs is not None and len(labs.columns) else empty_labs
    tx = _clean_treatments(treatments, known, iss) if treatments is not None else None
    if patients is None:
        ids = list(dict.fromkeys([*lab["pid"], *(tx["pid"] if tx is not None else [])]))
        ids.sort()
    index = pd.Index(ids, name="patient_id", dtype=object)
    out = pd.DataFrame(index=index)

    # ---- analyte summaries
    inwin = (lab["day"] >= s.window_start).to_numpy()
    if s.window_end is not None:
        inwin &= (lab["day"] <= s.window_end).to_numpy()
    win = lab.loc[inwin]
    pre = lab.loc[(lab["day"] <= 0).to_numpy()]
    summ = pd.DataFrame(columns=list(SUMMARY_COLUMNS))
    if len(win) or len(pre):
        base = _first_by(pre, "value", "last").rename(columns={"value": "baseline",
                                                               "day": "baseline_day"})
        mn = _first_by(win, "value", "min").rename(columns={"value": "min", "day": "min_day"})
        mx = _first_by(win, "value", "max").rename(columns={"value": "max", "day": "max_day"})
        agg = win.groupby(["pid", "analyte"], sort=False)["day"].agg(["size", "max"]).rename(
            columns={"size": "n", "max": "last_day"}).reset_index()
        summ = agg.merge(base, on=["pid", "analyte"], how="outer").merge(
            mn, on=["pid", "analyte"], how="left").merge(mx, on=["pid", "analyte"], how="left")
        summ["n"] = summ["n"].fillna(0).astype(int)
        summ = summ.rename(columns={"pid": "patient_id"}).loc[:, list(SUMMARY_COLUMNS)]
        summ = summ.sort_values(["patient_id", "analyte"]).reset_index(drop=True)
        for col, (a, how) in ANALYTE_ENDPOINTS.items():
            sel = summ[summ["analyte"] == a].set_index("patient_id")[how]
            out[col] = sel.reindex(index).astype(float)
        bl = summ[summ["analyte"] == "fibrinogen"].set_index("patient_id")["baseline"]
    else:
        for col in ANALYTE_ENDPOINTS:
            out[col] = np.nan
        bl = pd.Series(dtype=float)
    out["fibrinogen_baseline"] = bl.reindex(index).astype(float)

    # ---- fibrinogen grade, onset, nadir, recovery
    fib = win[win["analyte"] == "fibrinogen"]
    fb = bl.reindex(fib["pid"]).to_numpy(float)
    g, thr = _grades(fib["value"].to_numpy(float), fb, s)
    fib = fib.assign(grade=g, thr=thr)
    gp = fib.groupby("pid", sort=False)
    grade = gp["grade"].max()
    nad_rows = fib.loc[gp["value"].idxmin().to_numpy()].set_index("pid") if len(fib) else \
        pd.DataFrame(columns=["value", "day"])
    onset = fib[fib["grade"] >= 1].groupby("pid", sort=False)["day"].min()
    nday = nad_rows["day"].reindex(fib["pid"]).to_numpy(float)
    rec = fib[(fib["day"].to_numpy() > nday) & (fib["value"].to_numpy() >= fib["thr"].to_numpy())]
    rec_day = rec.groupby("pid", sort=False)["day"].min()
    last_fib = gp["day"].max()
    out["fibrinogen_nadir"] = nad_rows["value"].reindex(index).astype(float)
    out["fibrinogen_nadir_day"] = nad_rows["day"].reindex(index).astype(float)
    gr = grade.reindex(index)
    out["hypofibrinogenemia_grade"] = gr.astype("Int64")
    out["hypofibrinogenemia_onset_day"] = onset.reindex(index).astype(float)
    hypo = (gr >= 1).fillna(False).to_numpy(bool)
    rd = rec_day.reindex(index)
    out["fibrinogen_recovery_day"] = np.where(hypo, rd.fillna(last_fib.reindex(index)), np.nan)
    out["fibrinogen_recovered"] = pd.array(np.where(hypo, rd.notna().astype(int), 0),
                                           dtype="Int64")
    out.loc[~hypo, "fibrinogen_recovered"] = pd.NA

    # ---- treatments
    if tx is not None:
        toci = tx[tx["drug"] == "tocilizumab"].groupby("pid", sort=False).agg(
            n=("day", "size"), cum=("dose", lambda x: x.sum(min_count=len(x)) if x.notna().all()
                                    else np.nan), first=("day", "min"), last=("day", "max"))
        t = toci.reindex(index)
        out["tocilizumab"] = pd.array(t["n"].notna().astype(int), dtype="Int64")
        out["tocilizumab_doses"] = pd.array(t["n"].fillna(0).astype(int), dtype="Int64")
        out["tocilizumab_cum_mg"] = t["cum"].where(t["n"].notna(), 0.0).astype(float)
        out["tocilizumab_first_day"] = t["first"].astype(float)
        out["tocilizumab_last_day"] = t["last"].astype(float)
        out["tocilizumab_duration_days"] = (t["last"] - t["first"]).astype(float)
        ster = tx[tx["drug"].isin(CORTICOSTEROIDS)].groupby("pid", sort=False)["day"].min()
        st = ster.reindex(index)
        out["corticosteroids"] = pd.array(st.notna().astype(int), dtype="Int64")
        out["corticosteroids_first_day"] = st.astype(float)
        fc = tx[tx["drug"] == "fibrinogen_concentrate"].groupby("pid", sort=False)["dose"].agg(
            lambda x: x.sum() if x.notna().all() else np.nan)
        out["fibrinogen_substitution_g"] = fc.reindex(index).fillna(0.0).where(
            ~fc.reindex(index).isna() | ~index.isin(fc.index), np.nan).astype(float)
    else:
        for c in ("tocilizumab", "tocilizumab_doses", "corticosteroids"):
            out[c] = pd.array([pd.NA] * len(index), dtype="Int64")
        for c in ("tocilizumab_cum_mg", "tocilizumab_first_day", "tocilizumab_last_day",
                  "tocilizumab_duration_days", "corticosteroids_first_day",
                  "fibrinogen_substitution_g"):
            out[c] = np.nan
    out["days_toci_to_hypofibrinogenemia"] = (out["hypofibrinogenemia_onset_day"]
                                              - out["tocilizumab_first_day"])
    out["days_corticosteroids_to_hypofibrinogenemia"] = (out["hypofibrinogenemia_onset_day"]
                                                         - out["corticosteroids_first_day"])

    # ---- DIC per calendar day
    dic = _dic(win, s)
    dmax = dic.groupby("patient_id", sort=False)["score"].max() if len(dic) else pd.Series(
        dtype=float)
    out["dic_score_max"] = pd.array(dmax.reindex(index).to_numpy(float), dtype="Float64").astype(
        "Int64")

    # ---- IEC-HS
    out["iec_hs"] = _iec_hs(win, fib, summ, index, s)

    out = out.reset_index()
    out = out.loc[:, ["patient_id", *ENDPOINT_COLUMNS]]
    for c in _INTEGER_COLUMNS:
        out[c] = out[c].astype("Int64")
    return Endpoints(out, dic, summ, iss.frame(), tuple(iss.messages), s)


def _dic(win: pd.DataFrame, s: EndpointSettings) -> pd.DataFrame:
    parts = win[win["analyte"].isin(["platelets", "d_dimer", "inr", "fibrinogen"])]
    if not len(parts):
        return pd.DataFrame({c: pd.Series(dtype=float) for c in DIC_COLUMNS})
    parts = parts.assign(cday=np.floor(parts["day"].to_numpy()))
    worst = {"platelets": "min", "d_dimer": "max", "inr": "max", "fibrinogen": "min"}
    frames = []
    for a, how in worst.items():
        sub = parts[parts["analyte"] == a].groupby(["pid", "cday"], sort=False)["value"].agg(how)
        frames.append(sub.rename(a))
    w = pd.concat(frames, axis=1)
    plt, dd, inr, fg = (w[a].to_numpy(float) if a in w else np.full(len(w), np.nan)
                        for a in worst)
    with np.errstate(invalid="ignore"):
        p_plt = np.where(np.isnan(plt), np.nan, np.select(
            [plt > s.dic_platelets_mild, plt >= s.dic_platelets_severe], [0, 1], 2))
        p_dd = np.where(np.isnan(dd), np.nan, np.select(
            [dd > s.dic_d_dimer_strong, dd > s.dic_d_dimer_moderate], [3, 2], 0))
        p_pt = np.where(np.isnan(inr), np.nan, np.select(
            [inr > s.dic_inr_strong, inr > s.dic_inr_moderate], [2, 1], 0))
        p_fg = np.where(np.isnan(fg), np.nan, np.where(fg < s.dic_fibrinogen, 1, 0))
    pts = np.vstack([p_plt, p_dd, p_pt, p_fg])
    res = pd.DataFrame({
        "patient_id": w.index.get_level_values(0).to_numpy(object),
        "day": w.index.get_level_values(1).to_numpy(float),
        "platelets_pts": pd.array(p_plt, dtype="Float64").astype("Int64"),
        "d_dimer_pts": pd.array(p_dd, dtype="Float64").astype("Int64"),
        "pt_pts": pd.array(p_pt, dtype="Float64").astype("Int64"),
        "fibrinogen_pts": pd.array(p_fg, dtype="Float64").astype("Int64"),
        "score": np.nansum(pts, axis=0).astype(int),
        "n_components": (~np.isnan(pts)).sum(axis=0).astype(int),
    })
    return res.sort_values(["patient_id", "day"]).reset_index(drop=True)


def _iec_hs(win: pd.DataFrame, fib: pd.DataFrame, summ: pd.DataFrame, index: pd.Index,
            s: EndpointSettings) -> pd.Series:
    """IEC-HS screen per patient: 1/0, NA when an ingredient was never measured."""
    codes = pd.Series(np.arange(len(index)), index=index)
    have = {a: set(win.loc[win["analyte"] == a, "pid"]) for a in ("fibrinogen", "ferritin")}
    trans = set(win.loc[win["analyte"].isin(["alt", "ast"]), "pid"])
    evaluable = index.isin(list(have["fibrinogen"] & have["ferritin"] & trans))
    result = pd.Series(np.where(evaluable, 0, -1), index=index)
    if evaluable.any():
        base = summ.set_index(["patient_id", "analyte"])["baseline"] if len(summ) else None

        def events(a: str | list[str], factor: float, uln: dict[str, float]) -> np.ndarray:
            names = [a] if isinstance(a, str) else a
            sub = win[win["analyte"].isin(names)]
            if base is not None and len(sub):
                b = base.reindex(pd.MultiIndex.from_arrays([sub["pid"], sub["analyte"]]))
                b = b.to_numpy(float)
            else:
                b = np.full(len(sub), np.nan)
            u = sub["analyte"].map(uln).to_numpy(float)
            ref = np.fmax(u, b)
            hit = sub[sub["value"].to_numpy() > factor * ref]
            return codes.reindex(hit["pid"]).to_numpy() * 100000.0 + hit["day"].to_numpy() + 100
        k_f = np.sort(codes.reindex(fib.loc[fib["grade"] >= 1, "pid"]).to_numpy() * 100000.0
                      + fib.loc[fib["grade"] >= 1, "day"].to_numpy() + 100)
        k_fe = np.sort(events("ferritin", s.iec_ferritin_factor, {"ferritin": s.ferritin_uln}))
        k_tr = np.sort(events(["alt", "ast"], s.iec_transaminase_factor,
                              {"alt": s.alt_uln, "ast": s.ast_uln}))
        if len(k_f) and len(k_fe) and len(k_tr):
            starts = np.unique(np.concatenate([k_f, k_fe, k_tr]))
            ok = np.ones(len(starts), bool)
            for keys in (k_f, k_fe, k_tr):
                i = np.searchsorted(keys, starts, side="left")
                nxt = np.where(i < len(keys), keys[np.minimum(i, len(keys) - 1)], np.inf)
                ok &= nxt <= starts + s.iec_window_days + 1e-9
            pos = np.unique((starts[ok] // 100000).astype(int))
            result.iloc[pos] = 1
    return pd.Series(pd.array(result.to_numpy(), dtype="Int64"), index=index).where(
        result >= 0, pd.NA).astype("Int64")


# ----------------------------------------------------------------------------------------------
# upload vs derived

def _as_frame(derived: Endpoints | pd.DataFrame) -> pd.DataFrame:
    return derived.patients if isinstance(derived, Endpoints) else derived


def reconcile(uploaded_patients: pd.DataFrame, derived: Endpoints | pd.DataFrame,
              rtol: float = 1e-6) -> pd.DataFrame:
    """List where an uploaded patient table disagrees with the derived endpoints.

    Parameters
    ----------
    uploaded_patients : DataFrame
        The user's patient table (``patient_id`` and any endpoint columns it carries).
    derived : Endpoints or DataFrame
        Result of :func:`derive` (or its ``patients`` frame).
    rtol : float
        Relative tolerance for numbers (absolute 1e-9).

    Returns
    -------
    DataFrame
        ``patient_id, column, uploaded, derived``: one row per disagreement in a column present
        in both tables, for patients in both. An empty derived value (no labs) does not count
        as a disagreement: the uploaded value stays (see :func:`apply_derived`).
    """
    d = _as_frame(derived)
    cols = [c for c in ENDPOINT_COLUMNS if c in uploaded_patients.columns and c in d.columns]
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in
                          ("patient_id", "column", "uploaded", "derived")})
    if not cols:
        return empty
    up = uploaded_patients.assign(patient_id=_ids(uploaded_patients["patient_id"]))
    m = up[["patient_id", *cols]].merge(d[["patient_id", *cols]], on="patient_id",
                                        suffixes=("__u", "__d"))
    rows = []
    for c in cols:
        u_raw = m[c + "__u"]
        u = pd.to_numeric(u_raw, errors="coerce").to_numpy(float)
        v = pd.to_numeric(m[c + "__d"], errors="coerce").to_numpy(float)
        with np.errstate(invalid="ignore"):
            same = np.isclose(u, v, rtol=rtol, atol=1e-9) | (np.isnan(u) & np.isnan(v))
        differ = ~same & ~np.isnan(v)
        differ |= ~np.isnan(v) & np.isnan(u) & u_raw.notna().to_numpy()
        if differ.any():
            rows.append(pd.DataFrame({"patient_id": m.loc[differ, "patient_id"].to_numpy(),
                                      "column": c,
                                      "uploaded": u_raw[differ].to_numpy(object),
                                      "derived": m.loc[differ, c + "__d"].to_numpy(object)}))
    if not rows:
        return empty
    return pd.concat(rows, ignore_index=True)


def apply_derived(patients: pd.DataFrame, derived: Endpoints | pd.DataFrame) -> pd.DataFrame:
    """The patient table with derived endpoints filled in.

    Returns
    -------
    DataFrame
        ``patients`` with every :data:`ENDPOINT_COLUMNS` column: the derived value where one
        could be derived, otherwise the uploaded value (a patient without labs keeps the
        uploaded nadir). Use :func:`reconcile` to list what changed.
    """
    d = _as_frame(derived).set_index("patient_id")
    out = patients.copy()
    key = _ids(out["patient_id"])
    for c in ENDPOINT_COLUMNS:
        if c not in d:
            continue
        new = d[c].reindex(key).to_numpy()
        new_s = pd.Series(new, index=out.index)
        if c in out:
            out[c] = new_s.where(new_s.notna(), out[c])
        else:
            out[c] = new_s
    return out
