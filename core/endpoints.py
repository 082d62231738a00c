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
           "DerivedCohort", "apply_to_cohort", "EndpointSummary", "summarise",
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

    def source_of(self, name: str) -> str:
        """The source of one setting's default (the :attr:`sources` entry naming it, with
        ``*`` wildcards); empty when none does."""
        from fnmatch import fnmatchcase

        for names, src in self.sources:
            if any(fnmatchcase(name, pat.strip()) for pat in names.split(",")):
                return src
        return ""

    def table(self) -> pd.DataFrame:
        """Every setting with its current value, its default and the default's source.

        Returns
        -------
        DataFrame
            ``setting, value, default, source``, in field order.
        """
        d = EndpointSettings()
        names = [f.name for f in fields(self) if f.name != "sources"]
        return pd.DataFrame({"setting": names,
                             "value": [getattr(self, n) for n in names],
                             "default": [getattr(d, n) for n in names],
                             "source": [self.source_of(n) for n in names]})


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


def _per_unique(values: pd.Series | np.ndarray, func) -> np.ndarray:  # noqa: ANN001
    """``func`` applied once per distinct value (None for missing), spread back to all rows."""
    codes, uniq = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    table = np.array([func(u) for u in uniq] + [func(None)] + [None], dtype=object)[:-1]
    return table[codes]


def _one_id(x: object) -> str | None:
    if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA:
        return None
    if isinstance(x, (float, np.floating)) and float(x).is_integer():
        return str(int(x))
    t = str(x).strip()
    return t or None


def _ids(s: pd.Series) -> pd.Series:
    """Patient IDs as stripped text; integer-valued numbers without '.0'; missing -> None."""
    return pd.Series(_per_unique(s.to_numpy(object), _one_id), index=s.index, dtype=object)


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


_ANAMES: tuple[str, ...] = tuple(ANALYTES)
_ACODE: dict[str, int] = {a: i for i, a in enumerate(_ANAMES)}
_A = _ACODE


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

def _clean_labs(labs: pd.DataFrame, known: set[str] | None,
                iss: _Issues) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Usable lab rows as integer codes (pid into the returned ID array, analyte into
    :data:`_ANAMES`), sorted by patient, analyte and day; every other row goes to ``iss``.
    Third item: every patient ID with a usable ID and day (even if no value was usable)."""
    _require(labs, "labs", ("patient_id", "day", "analyte", "value"))
    f = _frame_for("labs", labs, "analyte", "value")
    ok = _common_checks("labs", f, labs, known, iss)
    ok_id = ok.copy()  # rows of patients that belong in the output, usable or not

    f["analyte"] = _per_unique(f["name_raw"], lambda u: _ANALYTE_NAMES.get(
        normalise_header(u)) if isinstance(u, str) else None)
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
    cprob = pd.Series("", index=f.index, dtype=object)
    cprob[cens_ok] = [f"censored result: used as {v:g}" for v in vals[cens_ok]]
    iss.add("labs", f, cens_ok, cprob, "{n} censored lab results such as '<0.5' were used at their bound "
            "(listed in issues).")

    # units
    factor = np.ones(len(f))
    unit_given = np.zeros(len(f), bool)
    if "unit" in labs:
        ukey = _per_unique(f["unit_raw"], lambda u: "" if u is None or pd.isna(u)
                           else _unit_key(u))
        unit_given = ukey != ""
        bad_unit = np.zeros(len(f), bool)
        sel = ok & unit_given
        ac = _per_unique(f["analyte"][sel], lambda x: _ACODE.get(x, -1)).astype(np.int64)
        uc, uu = pd.factorize(pd.Series(ukey[sel], dtype=object))
        pair = ac * (len(uu) + 1) + uc
        pc, pu = pd.factorize(pair)
        fac = np.array([{_unit_key(k): v for k, v in ANALYTES[_ANAMES[q // (len(uu) + 1)]]
                         .units.items()}.get(uu[q % (len(uu) + 1)], np.nan) for q in pu]
                       + [np.nan])
        factor[sel] = np.nan_to_num(fac[pc], nan=1.0)
        bad_unit[sel] = np.isnan(fac[pc])
        prob = pd.Series("", index=f.index, dtype=object)
        prob[bad_unit] = [f"unknown unit for {a}: not used; use one of "
                          + ", ".join(repr(k) for k in ANALYTES[a].units if k)
                          for a in f["analyte"][bad_unit]]
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
        sub["u"] = _per_unique(f.loc[cand, "unit_raw"],
                               lambda u: "" if u is None or pd.isna(u) else str(u))
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
    lo = _per_unique(f["analyte"], lambda a: ANALYTES[a].plausible[0] if isinstance(a, str)
                     else -np.inf).astype(float)
    hi = _per_unique(f["analyte"], lambda a: ANALYTES[a].plausible[1] if isinstance(a, str)
                     else np.inf).astype(float)
    implaus = ok & ((f["value"].to_numpy() < lo) | (f["value"].to_numpy() > hi))
    pprob = pd.Series("", index=f.index, dtype=object)
    pprob[implaus] = [f"outside the plausible range {ANALYTES[a].plausible[0]:g}-"
                      f"{ANALYTES[a].plausible[1]:g} {ANALYTES[a].unit}: not used; check for a "
                      "typo or the unit" for a in f["analyte"][implaus]]
    iss.add("labs", f, implaus, pprob,
        "{n} lab values outside the plausible range were not used (see issues).")
    ok &= ~implaus

    good = f.loc[ok]
    pcode, puniq = pd.factorize(good["pid"])
    acode = _per_unique(good["analyte"], lambda x: _ACODE.get(x, -1)).astype(np.int64)
    day = good["day"].to_numpy(float)
    val = good["value"].to_numpy(float)
    # sort by patient, analyte, day, value (stable: ties keep the input order)
    o = np.lexsort((val, day, acode, pcode))
    if len(good):
        # input not in day order within a patient's analyte <=> the sort moved a later day
        # in front of an earlier one
        grp_same = (pcode[o][1:] == pcode[o][:-1]) & (acode[o][1:] == acode[o][:-1])
        if (grp_same & (day[o][1:] != day[o][:-1]) & (o[1:] < o[:-1])).any():
            iss.messages.append("Lab rows were not in day order; they were sorted (results do "
                                "not depend on row order).")
        frac = day != np.floor(day)
        if frac.any():
            iss.messages.append(f"{int(frac.sum())} lab rows have fractional days (times of day);"
                                " they are used as they are, and DIC scores group them by "
                                "calendar day.")
        if (day < 0).any():
            iss.messages.append(f"{int((day < 0).sum())} lab rows lie before infusion (day < 0);"
                                " they count for baselines only.")
    # duplicates
    pcode, acode, day, val = pcode[o], acode[o], day[o], val[o]
    good = good.iloc[o]
    same_day = np.r_[False, (pcode[1:] == pcode[:-1]) & (acode[1:] == acode[:-1])
                     & (day[1:] == day[:-1])]
    exact = same_day & np.r_[False, val[1:] == val[:-1]]
    if exact.any():
        iss.add("labs", good.reset_index(drop=True), exact,
                "exact duplicate of another row: counted once",
                "{n} exact duplicate lab rows were counted once.")
        keep = ~exact
        pcode, acode, day, val, good = pcode[keep], acode[keep], day[keep], val[keep], \
            good.iloc[keep]
        same_day = same_day[keep] & np.r_[False, (pcode[1:] == pcode[:-1])
                                          & (acode[1:] == acode[:-1]) & (day[1:] == day[:-1])]
    if same_day.any():
        gid = np.cumsum(~same_day) - 1
        cnt = np.bincount(gid)
        mean = np.bincount(gid, weights=val) / cnt
        multi = cnt[gid] > 1
        listing = pd.Series(val[multi]).groupby(gid[multi]).agg(
            lambda v: ", ".join(f"{x:g}" for x in v))
        prob = pd.Series("", index=range(len(good)), dtype=object)
        prob[np.flatnonzero(multi)] = [
            f"values {listing[g]} on the same day: their mean {mean[g]:g} is used"
            for g in gid[multi]]
        iss.add("labs", good.reset_index(drop=True), multi, prob,
                "{n} lab rows share patient, analyte and day with a different value; the "
                "mean of each such set is used (see issues).")
        first = ~same_day
        pcode, acode, day, val = pcode[first], acode[first], day[first], mean[gid[first]]
    out = pd.DataFrame({"pid": pcode.astype(np.int64), "analyte": acode, "day": day,
                        "value": val})
    everyone = pd.unique(f["pid"][pd.notna(f["pid"]).to_numpy() & ok_id])
    return out, np.asarray(puniq, dtype=object), everyone


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
    ukey = _per_unique(f["unit_raw"], lambda u: "" if u is None or pd.isna(u) else _unit_key(u))
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

def _first_per_key(keys: np.ndarray, order: np.ndarray, last: bool = False) -> np.ndarray:
    """Row positions of the first (or last) row of each key, rows visited in ``order``."""
    k = keys[order]
    if not len(k):
        return order
    edge = np.r_[True, k[1:] != k[:-1]] if not last else np.r_[k[1:] != k[:-1], True]
    return order[edge]


def _summary(P: np.ndarray, A: np.ndarray, D: np.ndarray, V: np.ndarray,
             inwin: np.ndarray) -> pd.DataFrame:
    """Per (patient position, analyte code): n, baseline, min, max (first day), last day.

    Rows must be contiguous per (patient, analyte) and sorted by day within (as returned by
    :func:`_clean_labs`); everything is then O(rows) with ``reduceat``.
    """
    na = len(_ANAMES)
    key = P.astype(np.int64) * na + A

    def groups(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        edge = np.r_[True, k[1:] != k[:-1]] if len(k) else np.zeros(0, bool)
        return np.flatnonzero(edge), np.cumsum(edge) - 1

    kw, dw, vw = key[inwin], D[inwin], V[inwin]
    st, gid = groups(kw)
    frames = []
    if len(st):
        ends = np.r_[st[1:], len(kw)] - 1
        stats = {"key": kw[st], "n": np.diff(np.r_[st, len(kw)]), "last_day": dw[ends]}
        for name, red in (("min", np.minimum), ("max", np.maximum)):
            ext = red.reduceat(vw, st)
            idx = np.flatnonzero(vw == ext[gid])
            first = idx[np.r_[True, gid[idx][1:] != gid[idx][:-1]]]
            stats[name], stats[name + "_day"] = ext, dw[first]
        frames.append(pd.DataFrame(stats))
    pre = D <= 0
    kb, db, vb = key[pre], D[pre], V[pre]
    sb, _ = groups(kb)
    base = pd.DataFrame({"key": kb[np.r_[sb[1:], len(kb)] - 1] if len(sb) else kb[:0],
                         "baseline": vb[np.r_[sb[1:], len(kb)] - 1] if len(sb) else vb[:0],
                         "baseline_day": db[np.r_[sb[1:], len(kb)] - 1] if len(sb) else db[:0]})
    win = frames[0] if frames else pd.DataFrame({c: pd.Series(dtype=float) for c in (
        "key", "n", "last_day", "min", "min_day", "max", "max_day")})
    out = base.merge(win, on="key", how="outer")
    out["key"] = out["key"].astype(np.int64)
    out["n"] = out["n"].fillna(0).astype(int)
    out["pid"] = (out["key"] // na).astype(np.int64)
    out["analyte"] = (out["key"] % na).astype(np.int64)
    return out.sort_values("key").reset_index(drop=True)


def _per_patient(summ: pd.DataFrame, analyte: str, col: str, n: int) -> np.ndarray:
    arr = np.full(n, np.nan)
    sub = summ[summ["analyte"] == _A[analyte]]
    arr[sub["pid"].to_numpy()] = sub[col].to_numpy(float)
    return arr


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
        ids = list(dict.fromkeys(x for x in _ids(patients["patient_id"]) if x is not None))
        known = set(ids)
    if labs is not None and len(labs.columns):
        lab, puniq, everyone = _clean_labs(labs, known, iss)
    else:
        lab = pd.DataFrame({"pid": pd.Series(dtype=np.int64), "analyte": pd.Series(dtype=np.int64),
                            "day": pd.Series(dtype=float), "value": pd.Series(dtype=float)})
        puniq = everyone = np.array([], dtype=object)
    tx = _clean_treatments(treatments, known, iss) if treatments is not None else None
    if patients is None:
        ids = sorted(set(everyone) | (set(tx["pid"]) if tx is not None else set()))
    index = pd.Index(ids, name="patient_id", dtype=object)
    n = len(index)
    pos = index.get_indexer(puniq) if len(puniq) else np.array([], dtype=np.int64)
    P = pos[lab["pid"].to_numpy()] if len(lab) else np.array([], dtype=np.int64)
    A = lab["analyte"].to_numpy(np.int64)
    D = lab["day"].to_numpy(float)
    V = lab["value"].to_numpy(float)
    inwin = D >= s.window_start
    if s.window_end is not None:
        inwin &= D <= s.window_end
    cols: dict[str, object] = {}

    # ---- analyte summaries
    summ = _summary(P, A, D, V, inwin)
    for col, (a, how) in ANALYTE_ENDPOINTS.items():
        cols[col] = _per_patient(summ, a, how, n)
    base_fib = _per_patient(summ, "fibrinogen", "baseline", n)
    cols["fibrinogen_baseline"] = base_fib

    # ---- fibrinogen grade, onset, nadir, recovery
    fsel = inwin & (A == _A["fibrinogen"])
    Pf, Df, Vf = P[fsel], D[fsel], V[fsel]
    g, thr = _grades(Vf, base_fib[Pf], s)
    grade = np.full(n, -1)
    np.maximum.at(grade, Pf, g)
    onset = np.full(n, np.inf)
    np.minimum.at(onset, Pf[g >= 1], Df[g >= 1])
    nadir = _per_patient(summ, "fibrinogen", "min", n)
    nadir_day = _per_patient(summ, "fibrinogen", "min_day", n)
    last_fib = _per_patient(summ, "fibrinogen", "last_day", n)
    back = (Df > nadir_day[Pf]) & (Vf >= thr)
    rec = np.full(n, np.inf)
    np.minimum.at(rec, Pf[back], Df[back])
    hypo = grade >= 1
    cols["fibrinogen_nadir"] = nadir
    cols["fibrinogen_nadir_day"] = nadir_day
    cols["hypofibrinogenemia_grade"] = np.where(grade >= 0, grade, np.nan)
    cols["hypofibrinogenemia_onset_day"] = np.where(np.isfinite(onset), onset, np.nan)
    cols["fibrinogen_recovery_day"] = np.where(hypo, np.where(np.isfinite(rec), rec, last_fib),
                                               np.nan)
    cols["fibrinogen_recovered"] = np.where(hypo, np.isfinite(rec).astype(float), np.nan)

    # ---- treatments
    tcols = ("tocilizumab_cum_mg", "tocilizumab_first_day", "tocilizumab_last_day",
             "tocilizumab_duration_days", "corticosteroids_first_day", "fibrinogen_substitution_g")
    if tx is not None:
        tpos = index.get_indexer(tx["pid"].to_numpy(object))
        drug = tx["drug"].to_numpy(object)
        tday = tx["day"].to_numpy(float)
        dose = tx["dose"].to_numpy(float)
        t = drug == "tocilizumab"
        cnt = np.bincount(tpos[t], minlength=n).astype(float)
        cum = np.bincount(tpos[t], weights=np.nan_to_num(dose[t]), minlength=n)
        missing = np.bincount(tpos[t], weights=np.isnan(dose[t]).astype(float), minlength=n)
        first, last = np.full(n, np.inf), np.full(n, -np.inf)
        np.minimum.at(first, tpos[t], tday[t])
        np.maximum.at(last, tpos[t], tday[t])
        cols["tocilizumab"] = (cnt > 0).astype(float)
        cols["tocilizumab_doses"] = cnt
        cols["tocilizumab_cum_mg"] = np.where(missing > 0, np.nan, cum)
        cols["tocilizumab_first_day"] = np.where(cnt > 0, first, np.nan)
        cols["tocilizumab_last_day"] = np.where(cnt > 0, last, np.nan)
        cols["tocilizumab_duration_days"] = np.where(cnt > 0, last - first, np.nan)
        st = np.isin(drug, list(CORTICOSTEROIDS))
        sfirst = np.full(n, np.inf)
        np.minimum.at(sfirst, tpos[st], tday[st])
        cols["corticosteroids"] = np.isfinite(sfirst).astype(float)
        cols["corticosteroids_first_day"] = np.where(np.isfinite(sfirst), sfirst, np.nan)
        fc = drug == "fibrinogen_concentrate"
        g_sum = np.bincount(tpos[fc], weights=np.nan_to_num(dose[fc]), minlength=n)
        g_missing = np.bincount(tpos[fc], weights=np.isnan(dose[fc]).astype(float), minlength=n)
        cols["fibrinogen_substitution_g"] = np.where(g_missing > 0, np.nan, g_sum)
    else:
        for c in ("tocilizumab", "tocilizumab_doses", "corticosteroids", *tcols):
            cols[c] = np.full(n, np.nan)
    cols["days_toci_to_hypofibrinogenemia"] = (cols["hypofibrinogenemia_onset_day"]
                                               - cols["tocilizumab_first_day"])  # type: ignore
    cols["days_corticosteroids_to_hypofibrinogenemia"] = (
        cols["hypofibrinogenemia_onset_day"] - cols["corticosteroids_first_day"])  # type: ignore

    # ---- DIC per calendar day
    dic = _dic(P[inwin], A[inwin], D[inwin], V[inwin], s)
    dmax = np.full(n, -1.0)
    if len(dic):
        np.maximum.at(dmax, dic["pid"].to_numpy(), dic["score"].to_numpy(float))
    cols["dic_score_max"] = np.where(dmax >= 0, dmax, np.nan)

    # ---- IEC-HS
    cols["iec_hs"] = _iec_hs(P[inwin], A[inwin], D[inwin], V[inwin], Pf[g >= 1], Df[g >= 1],
                             summ, n, s)

    out = pd.DataFrame({"patient_id": index.to_numpy(object)})
    for c in ENDPOINT_COLUMNS:
        vals = np.asarray(cols[c], dtype=float)
        out[c] = pd.array(vals, dtype="Float64").astype("Int64") if c in _INTEGER_COLUMNS \
            else vals
    dic.insert(0, "patient_id", index.to_numpy(object)[dic.pop("pid").to_numpy()]
               if len(dic) else pd.Series(dtype=object))
    summ_out = summ.assign(patient_id=index.to_numpy(object)[summ["pid"].to_numpy()],
                           analyte=np.asarray(_ANAMES, dtype=object)[summ["analyte"].to_numpy()])
    summ_out = summ_out.loc[:, list(SUMMARY_COLUMNS)].sort_values(
        ["patient_id", "analyte"]).reset_index(drop=True)
    return Endpoints(out, dic.loc[:, list(DIC_COLUMNS)], summ_out, iss.frame(),
                     tuple(iss.messages), s)


def _dic(P: np.ndarray, A: np.ndarray, D: np.ndarray, V: np.ndarray,
         s: EndpointSettings) -> pd.DataFrame:
    """ISTH points per patient position and calendar day (worst value of the day)."""
    comp = {"platelets": "platelets_pts", "d_dimer": "d_dimer_pts", "inr": "pt_pts",
            "fibrinogen": "fibrinogen_pts"}
    sel = np.isin(A, [_A[a] for a in comp])
    P, A, D, V = P[sel], A[sel], D[sel], V[sel]
    if not len(P):
        return pd.DataFrame({"pid": pd.Series(dtype=np.int64),
                             **{c: pd.Series(dtype="Int64") for c in DIC_COLUMNS[2:6]},
                             "day": pd.Series(dtype=float), "score": pd.Series(dtype=np.int64),
                             "n_components": pd.Series(dtype=np.int64)})
    pts = np.select(
        [A == _A["platelets"], A == _A["d_dimer"], A == _A["inr"], A == _A["fibrinogen"]],
        [np.select([V > s.dic_platelets_mild, V >= s.dic_platelets_severe], [0, 1], 2),
         np.select([V > s.dic_d_dimer_strong, V > s.dic_d_dimer_moderate], [3, 2], 0),
         np.select([V > s.dic_inr_strong, V > s.dic_inr_moderate], [2, 1], 0),
         np.where(V < s.dic_fibrinogen, 1, 0)], 0)
    frame = pd.DataFrame({"pid": P, "day": np.floor(D), "a": A, "pts": pts})
    # worst value of the day = most points (points are monotone in the value)
    w = frame.groupby(["pid", "day", "a"], sort=True)["pts"].max().unstack("a")
    res = pd.DataFrame({"pid": w.index.get_level_values(0).to_numpy(np.int64),
                        "day": w.index.get_level_values(1).to_numpy(float)})
    parts = []
    for a, c in comp.items():
        v = w[_A[a]].to_numpy(float) if _A[a] in w.columns else np.full(len(w), np.nan)
        res[c] = pd.array(v, dtype="Float64").astype("Int64")
        parts.append(v)
    m = np.vstack(parts)
    res["score"] = np.nansum(m, axis=0).astype(int)
    res["n_components"] = (~np.isnan(m)).sum(axis=0).astype(int)
    return res


def _iec_hs(P: np.ndarray, A: np.ndarray, D: np.ndarray, V: np.ndarray, Pl: np.ndarray,
            Dl: np.ndarray, summ: pd.DataFrame, n: int, s: EndpointSettings) -> np.ndarray:
    """IEC-HS screen per patient position: 1/0, NaN when an ingredient was never measured.

    ``Pl, Dl``: patients and days of fibrinogen values with grade >= 1 (in the window).
    """
    has = {a: np.bincount(P[A == _A[a]], minlength=n) > 0 for a in ("fibrinogen", "ferritin")}
    trans = np.bincount(P[np.isin(A, [_A["alt"], _A["ast"]])], minlength=n) > 0
    evaluable = has["fibrinogen"] & has["ferritin"] & trans
    result = np.where(evaluable, 0.0, np.nan)
    scale, off = 100000.0, 100.0

    def events(names: dict[str, float], factor: float) -> np.ndarray:
        keys = []
        for a, uln in names.items():
            m = A == _A[a]
            ref = np.fmax(uln, _per_patient(summ, a, "baseline", n))
            hit = m & (V > factor * ref[P])
            keys.append(P[hit] * scale + D[hit] + off)
        return np.sort(np.concatenate(keys))

    k_f = np.sort(Pl * scale + Dl + off)
    k_fe = events({"ferritin": s.ferritin_uln}, s.iec_ferritin_factor)
    k_tr = events({"alt": s.alt_uln, "ast": s.ast_uln}, s.iec_transaminase_factor)
    if len(k_f) and len(k_fe) and len(k_tr):
        # all three within the window <=> some window starting at one of the events holds all
        starts = np.unique(np.concatenate([k_f, k_fe, k_tr]))
        ok = np.ones(len(starts), bool)
        for keys in (k_f, k_fe, k_tr):
            i = np.searchsorted(keys, starts, side="left")
            nxt = np.where(i < len(keys), keys[np.minimum(i, len(keys) - 1)], np.inf)
            ok &= nxt <= starts + s.iec_window_days + 1e-9
        result[np.unique((starts[ok] // scale).astype(int))] = 1.0
    return result


# ----------------------------------------------------------------------------------------------
# upload vs derived

def _as_frame(derived: Endpoints | pd.DataFrame) -> pd.DataFrame:
    return derived.patients if isinstance(derived, Endpoints) else derived


def _blank_cells(values: pd.Series) -> np.ndarray:
    """True where an uploaded cell holds no value: missing, empty or whitespace-only text, or
    a token such as "NA", "n.a." or "-" (the loader's missing-value tokens)."""
    from core.loading import NA_TOKENS  # the same tokens the loader reads as missing

    missing = values.isna().to_numpy(bool)
    text = values[~missing].map(lambda x: str(x).strip().lower())
    missing[~missing] = text.isin(NA_TOKENS).to_numpy(bool)
    return missing


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
        as a disagreement: the uploaded value stays (see :func:`apply_derived`). A blank
        uploaded cell (missing, empty text or an NA token such as "n.a.") is not one either:
        the user left it to the derivation.
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
        differ = ~same & ~np.isnan(v) & ~_blank_cells(u_raw)
        if differ.any():
            rows.append(pd.DataFrame({"patient_id": m.loc[differ, "patient_id"].to_numpy(),
                                      "column": c,
                                      "uploaded": u_raw[differ].to_numpy(object),
                                      "derived": m.loc[differ, c + "__d"].to_numpy(object)}))
    if not rows:
        return empty
    return pd.concat(rows, ignore_index=True).sort_values("patient_id", kind="stable",
                                                          ignore_index=True)


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


# ----------------------------------------------------------------------------------------------
# the app's path: source cohort -> derived cohort

@dataclass(frozen=True)
class DerivedCohort:
    """A cohort whose patient table carries the derived endpoints (result of
    :func:`apply_to_cohort`).

    Attributes
    ----------
    cohort : Cohort
        The source cohort with ``patients`` replaced by :func:`apply_derived` (derived value
        where there is one, else the uploaded value); ``labs``, ``treatments``, ``source`` and
        ``reports`` unchanged. The source cohort itself when nothing was derived.
    endpoints : Endpoints or None
        The derivation (``patients``, ``dic``, ``analytes``, ``issues``, ``messages``); None when
        the cohort has neither labs nor treatments.
    disagreements : DataFrame
        ``patient_id, column, uploaded, derived`` from :func:`reconcile` (uploaded table vs
        derived values, before the derived ones were applied).
    settings : EndpointSettings
        The settings used.
    source_fingerprint : str
        Fingerprint of the source cohort (the derived cohort's fingerprint changes with the
        settings; this one does not).
    error : str or None
        Why the derivation could not run (set by a caller that falls back to the source
        cohort); None normally.
    """

    cohort: object
    endpoints: Endpoints | None
    disagreements: pd.DataFrame
    settings: EndpointSettings
    source_fingerprint: str
    error: str | None = None

    @property
    def derived(self) -> bool:
        """True when endpoints were derived from labs and/or treatments."""
        return self.endpoints is not None


def apply_to_cohort(cohort: object, settings: EndpointSettings | None = None) -> DerivedCohort:
    """Derive the endpoints of a cohort and put them into its patient table.

    Parameters
    ----------
    cohort : core.loading.Cohort
        Validated tables ``patients`` (``patient_id``, any endpoint columns), ``labs``
        (``patient_id, day, analyte, value, unit``) and ``treatments`` (``patient_id, day,
        drug, dose, unit``).
    settings : EndpointSettings, optional
        Thresholds; default :class:`EndpointSettings()`.

    Returns
    -------
    DerivedCohort
        With no lab and no treatment rows nothing is derived: ``cohort`` is returned as it
        is, ``endpoints`` is None. Otherwise :func:`derive` runs with the patient table (lab
        rows of unknown patients are listed in ``endpoints.issues``), :func:`reconcile` lists
        every disagreement with the uploaded columns and :func:`apply_derived` fills the
        patient table. Columns the upload already had keep their dtype (Int64 stays Int64),
        so a cohort whose columns equal the derived ones comes out identical (same
        fingerprint).
    """
    from dataclasses import replace

    s = settings or EndpointSettings()
    fp = cohort.fingerprint  # type: ignore[attr-defined]
    patients: pd.DataFrame = cohort.patients  # type: ignore[attr-defined]
    labs: pd.DataFrame = cohort.labs  # type: ignore[attr-defined]
    tx: pd.DataFrame = cohort.treatments  # type: ignore[attr-defined]
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in
                          ("patient_id", "column", "uploaded", "derived")})
    if not len(labs) and not len(tx):
        return DerivedCohort(cohort, None, empty, s, fp)
    res = derive(labs if len(labs) else None, tx if len(tx) else None, s, patients=patients)
    disagreements = reconcile(patients, res)
    out = apply_derived(patients, res)
    for c in ENDPOINT_COLUMNS:
        want = patients[c].dtype if c in patients else res.patients[c].dtype
        if str(want) == "Int64":
            out[c] = pd.to_numeric(out[c], errors="coerce").round().astype("Int64")
        elif pd.api.types.is_float_dtype(want):
            out[c] = pd.to_numeric(out[c], errors="coerce").astype(want)
    if out.equals(patients):
        out = patients
    return DerivedCohort(replace(cohort, patients=out), res, disagreements, s, fp)


@dataclass(frozen=True)
class EndpointSummary:
    """Cohort-level summary of the derived endpoints (raw numbers; wording is the page's).

    Attributes
    ----------
    n : patients in the table.
    n_graded : patients with a hypofibrinogenemia grade.
    hypo, grade3 : patients with grade >= 1 and >= 3.
    onset_days : ``days_toci_to_hypofibrinogenemia`` of the hypofibrinogenemia patients
        (onset minus first tocilizumab day; patients without tocilizumab are not in it).
    recovery_days : ``fibrinogen_recovery_day`` of those who recovered.
    never_recovered : hypofibrinogenemia patients with ``fibrinogen_recovered == 0``.
    iec_hs, dic5 : patients with ``iec_hs == 1``, with ``dic_score_max >= 5``; None when the
        column is missing or empty.
    """

    n: int
    n_graded: int
    hypo: int
    grade3: int
    onset_days: tuple[float, ...]
    recovery_days: tuple[float, ...]
    never_recovered: int
    iec_hs: int | None
    dic5: int | None


def summarise(patients: pd.DataFrame) -> EndpointSummary:
    """Counts and times of the endpoint columns of a (filtered) patient table.

    Parameters
    ----------
    patients : DataFrame
        Uses ``hypofibrinogenemia_grade``, ``days_toci_to_hypofibrinogenemia``,
        ``fibrinogen_recovery_day``, ``fibrinogen_recovered``, ``iec_hs``, ``dic_score_max``
        where present (missing columns count as empty).

    Returns
    -------
    EndpointSummary
    """
    def col(name: str) -> pd.Series:
        if name in patients:
            return pd.to_numeric(patients[name], errors="coerce").astype(float)
        return pd.Series(np.nan, index=patients.index)

    grade = col("hypofibrinogenemia_grade")
    hypo = grade >= 1
    onset = col("days_toci_to_hypofibrinogenemia")[hypo].dropna()
    recovered = col("fibrinogen_recovered")
    rec = col("fibrinogen_recovery_day")[hypo & (recovered == 1)].dropna()
    iec = col("iec_hs")
    dic = col("dic_score_max")
    return EndpointSummary(
        n=len(patients), n_graded=int(grade.notna().sum()), hypo=int(hypo.sum()),
        grade3=int((grade >= 3).sum()), onset_days=tuple(onset.tolist()),
        recovery_days=tuple(rec.tolist()), never_recovered=int((hypo & (recovered == 0)).sum()),
        iec_hs=int((iec == 1).sum()) if iec.notna().any() else None,
        dic5=int((dic >= 5).sum()) if dic.notna().any() else None)
