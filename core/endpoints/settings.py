"""The thresholds of the derived endpoints: :class:`EndpointSettings`.

Every setting is a dataclass field whose metadata carries what a settings form needs (label,
unit, section, step, choices); :meth:`EndpointSettings.sections` lays them out in sections, so
the Endpoints page is generated from this class, and every default has its source
(:meth:`EndpointSettings.source_of`).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, fields
from fnmatch import fnmatchcase
from typing import Any, Literal

import pandas as pd

from core.errors import ValidationError
from core.schema import ANALYTES, DAY_HI, reference_range

_CTCAE = "CTCAE v5.0 (2017), 'Fibrinogen decreased'"
_TAYLOR = "Taylor FB et al., Thromb Haemost 2001;86:1327 (ISTH overt DIC score)"
_HINES = "Hines MR et al., Transplant Cell Ther 2023;29:438 (IEC-HS)"
_STEROID_EQ = ("Liu D et al., Allergy Asthma Clin Immunol 2013;9:30, Table 1 (equivalent doses: "
               "dexamethasone 0.75 mg = methylprednisolone 4 mg = prednisolone 5 mg = "
               "hydrocortisone 20 mg)")
_STEROID_DOSE = ("Lee DW et al., Biol Blood Marrow Transplant 2019;25:625 and Neelapu SS et al., "
                 "Nat Rev Clin Oncol 2018;15:47: dexamethasone 10 mg per dose for CRS/ICANS")
_SUBST = ("fibrinogen half-life about 3-4 days (RiaSTAP/Haemocomplettan SmPC): a value drawn "
          "soon after fibrinogen concentrate, cryoprecipitate or FFP reflects the substitution")

#: Dexamethasone-equivalent mg per mg of each corticosteroid (_STEROID_EQ): dexamethasone
#: 0.75 mg = methylprednisolone 4 mg = prednisolone 5 mg = hydrocortisone 20 mg.
DEX_EQUIVALENT: dict[str, float] = {"dexamethasone": 1.0, "methylprednisolone": 0.75 / 4,
                                    "prednisolone": 0.75 / 5, "hydrocortisone": 0.75 / 20}
#: Drugs that substitute fibrinogen (a value soon after does not count alone as recovery).
SUBSTITUTES: tuple[str, ...] = ("fibrinogen_concentrate", "cryoprecipitate", "ffp")

FIBRINOGEN = "Fibrinogen (CTCAE v5)"
WINDOW = "Window (days after infusion)"
IEC_HS = "IEC-HS screen (Hines 2023)"
DIC = "ISTH overt DIC (Taylor 2001)"
STEROIDS = "Corticosteroids for CRS/ICANS"

#: Where a value comes from when the upload has it and it can also be derived.
SOURCES = {"uploaded": "uploaded value wins (blank cells filled with the derived one)",
           "derived": "derived value wins"}

#: How a patient whose baseline fibrinogen is below the LLN is graded.
ABNORMAL_BASELINE: dict[str, str] = {
    "relative": "graded by the fall from baseline (CTCAE 'if abnormal')",
    "lln": "graded against the LLN like everyone",
}


def _setting(default: Any, label: str, section: str, *, unit: str | None = None,  # noqa: ANN401
             step: float | None = None, choices: dict[str, str] | None = None) -> Any:  # noqa: ANN401
    """A settings field with the metadata a form needs."""
    return field(default=default, metadata={"label": label, "section": section, "unit": unit,
                                            "step": step, "choices": choices})


def _unit(analyte: str) -> str:
    return ANALYTES[analyte].unit


def _limit(analyte: str, side: int) -> float:
    """The registry's default LLN (``side = 0``) or ULN (1) of ``analyte`` (both sexes)."""
    return float(reference_range(analyte)[side])  # type: ignore[arg-type]


def _range_source(analyte: str) -> str:
    return "core.schema.reference_range: " + reference_range(analyte)[2]


@dataclass(frozen=True)
class SettingSpec:
    """One setting as a form shows it (:meth:`EndpointSettings.specs`).

    Attributes
    ----------
    name : the field name (``"fibrinogen_lln"``).
    label : the label without unit (``"Fibrinogen LLN"``).
    section : the section heading it belongs to.
    unit : its unit, or None.
    step : the step of a number input; None for a choice.
    choices : for a choice, value -> description; None for a number.
    default : the default value.
    """

    name: str
    label: str
    section: str
    unit: str | None
    step: float | None
    choices: dict[str, str] | None
    default: Any

    @property
    def title(self) -> str:
        """The label with its unit: ``"Fibrinogen LLN (mg/dL)"``."""
        return f"{self.label} ({self.unit})" if self.unit else self.label


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
    window_lymphodepletion_day : float
        Day of lymphodepletion (<= 0, default -5): the risk scores' baseline is the last value
        on or before it, else on or before day 0 (core.endpoints.scores).
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
    recovery_values : float (a whole number)
        Recovery from an episode is sustained: the first of this many consecutive values
        >= LLN (default 2).
    substitution_days : float
        A value drawn within this many days after fibrinogen concentrate, cryoprecipitate or
        FFP (``0 <= day - substitution day <= substitution_days``) does not count alone as
        recovery (default 3; fibrinogen half-life 3-4 days).
    dic_window_hours : float
        ISTH components drawn within this many hours are combined (the last value of each
        component carried forward), default 24.
    steroid_dex_mg : float
        Corticosteroids for CRS/ICANS count on days >= 0 with a daily dose >= this many mg
        dexamethasone-equivalent (:data:`DEX_EQUIVALENT`), default 10.
    derived_wins : tuple of str
        Endpoint columns where the derived value replaces an uploaded one; in every other
        column an uploaded (adjudicated) value wins and only blank cells are filled.
    sources : tuple of (setting, source)
        Where each default comes from, for display next to the settings.

    Raises
    ------
    ValidationError
        A threshold is not a finite, non-negative number, the window ends before it starts, or
        two cut-offs are in the wrong order (a user's choice on the Endpoints page).
    TypeError, ValueError
        A threshold is not a number; ``abnormal_baseline`` is not one of its choices.
    """

    fibrinogen_lln: float = _setting(_limit("fibrinogen", 0), "Fibrinogen LLN", FIBRINOGEN,
                                     unit=_unit("fibrinogen"), step=10.0)
    window_start: float = _setting(0.0, "From day", WINDOW, step=1.0)
    window_end: float | None = _setting(None, "To day (empty: end of follow-up)", WINDOW,
                                        step=1.0)
    window_lymphodepletion_day: float = _setting(
        -5.0, "Lymphodepletion day (baseline of CAR-HEMATOTOX, EASIX)", WINDOW, step=1.0)
    abnormal_baseline: Literal["relative", "lln"] = _setting(
        "relative", "Baseline below the LLN", FIBRINOGEN, choices=ABNORMAL_BASELINE)
    g4_absolute: float = _setting(50.0, "Grade 4 below", FIBRINOGEN, unit=_unit("fibrinogen"),
                                  step=5.0)
    recovery_values: float = _setting(2.0, "Recovery: consecutive values ≥ LLN", FIBRINOGEN,
                                      step=1.0)
    substitution_days: float = _setting(3.0, "Not alone within, after substitution", FIBRINOGEN,
                                        unit="days", step=1.0)
    ferritin_uln: float = _setting(_limit("ferritin", 1), "Ferritin ULN", IEC_HS,
                                   unit=_unit("ferritin"), step=10.0)
    alt_uln: float = _setting(_limit("alt", 1), "ALT ULN", IEC_HS, unit=_unit("alt"), step=5.0)
    ast_uln: float = _setting(_limit("ast", 1), "AST ULN", IEC_HS, unit=_unit("ast"), step=5.0)
    dic_platelets_mild: float = _setting(100.0, "Platelets 1 point below", DIC,
                                         unit=_unit("platelets"), step=10.0)
    dic_platelets_severe: float = _setting(50.0, "Platelets 2 points below", DIC,
                                           unit=_unit("platelets"), step=10.0)
    dic_d_dimer_moderate: float = _setting(0.5, "D-dimer 2 points above", DIC,
                                           unit=_unit("d_dimer"), step=0.1)
    dic_d_dimer_strong: float = _setting(5.0, "D-dimer 3 points above", DIC,
                                         unit=_unit("d_dimer"), step=0.5)
    dic_inr_moderate: float = _setting(1.3, "INR 1 point above", DIC, step=0.05)
    dic_inr_strong: float = _setting(1.5, "INR 2 points above", DIC, step=0.05)
    dic_fibrinogen: float = _setting(100.0, "Fibrinogen 1 point below", DIC,
                                     unit=_unit("fibrinogen"), step=10.0)
    iec_ferritin_factor: float = _setting(2.0, "Ferritin above × ULN", IEC_HS, step=0.5)
    iec_transaminase_factor: float = _setting(5.0, "ALT/AST above × ULN", IEC_HS, step=0.5)
    iec_window_days: float = _setting(3.0, "All within", IEC_HS, unit="days", step=0.5)
    dic_window_hours: float = _setting(24.0, "Components combined within", DIC, unit="h",
                                       step=1.0)
    steroid_dex_mg: float = _setting(10.0, "Counts from (dexamethasone-equivalent per day)",
                                     STEROIDS, unit="mg", step=1.0)
    derived_wins: tuple[str, ...] = field(default=(), compare=True)
    sources: tuple[tuple[str, str], ...] = field(default=(
        ("fibrinogen_lln", _range_source("fibrinogen")),
        ("window_start, window_end", "study definition: from infusion (day 0) to last follow-up"),
        ("abnormal_baseline, g4_absolute", _CTCAE),
        ("ferritin_uln", _range_source("ferritin")),
        ("alt_uln, ast_uln", _range_source("alt")),
        ("dic_platelets_*, dic_fibrinogen", _TAYLOR),
        ("dic_d_dimer_*", _TAYLOR + "; cut-offs lab-specific, defaults ULN and 10 x ULN"),
        ("dic_inr_*", _TAYLOR + "; PT +3 s / +6 s approximated as INR 1.3 / 1.5"),
        ("iec_*", _HINES),
        ("recovery_values", "study definition (issue 11): recovery is sustained, the first of "
         "two consecutive values >= LLN"),
        ("substitution_days", _SUBST),
        ("dic_window_hours", _TAYLOR + "; components of one draw combined within 24 h, last "
         "value carried forward (study definition)"),
        ("steroid_dex_mg", _STEROID_DOSE + "; equivalents: " + _STEROID_EQ),
        ("derived_wins", "an adjudicated uploaded value wins by default (DESIGN.md)"),
        ("window_lymphodepletion_day", "Rejeski K et al., Blood 2021;138:2499 (CAR-HEMATOTOX "
         "before lymphodepletion, e.g. day -5); Korell F et al., Front Immunol 2022;13:877477 "
         "(EASIX before lymphodepletion)"),
    ), compare=False)

    def __post_init__(self) -> None:
        self._check_types()
        self._check_numbers()
        self._check_order()

    def _check_types(self) -> None:
        """Programming errors: a threshold that is not a number, an unknown choice."""
        for spec in self.specs():
            v = getattr(self, spec.name)
            if spec.choices is not None:
                if v not in spec.choices:
                    raise ValueError(f"{spec.name} must be one of "
                                     f"{', '.join(map(repr, spec.choices))}; got {v!r}")
            elif not (v is None and spec.default is None) and (
                    isinstance(v, bool) or not isinstance(v, numbers.Real)):
                raise TypeError(f"Endpoint setting {spec.name} must be a number; got {v!r}")

    def _check_numbers(self) -> None:
        """A user's choice: every threshold finite and non-negative (a window day may be
        negative), the LLN above 0."""
        for f in fields(self):
            v = getattr(self, f.name)
            number = isinstance(v, numbers.Real) and not isinstance(v, bool)
            lowest = -DAY_HI if f.name.startswith("window") else 0
            if number and (not math.isfinite(v) or v < lowest):
                raise ValidationError(f"Endpoint setting {f.name} = {v!r} is not a valid "
                                      "number: enter a finite, non-negative value.")
        if self.fibrinogen_lln <= 0:
            raise ValidationError("The fibrinogen LLN must be above 0 mg/dL (default 200).")
        if self.recovery_values < 1 or self.recovery_values != int(self.recovery_values):
            raise ValidationError("Recovery needs a whole number of consecutive values >= LLN, "
                                  f"at least 1 (default 2); got {self.recovery_values:g}.")
        if not isinstance(self.derived_wins, tuple) or not all(
                isinstance(c, str) for c in self.derived_wins):
            raise TypeError("derived_wins must be a tuple of column names; got "
                            f"{self.derived_wins!r}")

    def _check_order(self) -> None:
        """A user's choice: the window and each pair of cut-offs in order."""
        if self.window_end is not None and self.window_end < self.window_start:
            raise ValidationError(f"The window ends (day {self.window_end:g}) before it starts "
                                  f"(day {self.window_start:g}): swap the two days.")
        if self.window_lymphodepletion_day > 0:
            raise ValidationError("Lymphodepletion comes before the infusion: enter a day <= 0 "
                                  f"(default -5); got {self.window_lymphodepletion_day:g}.")
        for lo, hi in (("dic_platelets_severe", "dic_platelets_mild"),
                       ("dic_d_dimer_moderate", "dic_d_dimer_strong"),
                       ("dic_inr_moderate", "dic_inr_strong")):
            if getattr(self, lo) > getattr(self, hi):
                raise ValidationError(f"{lo} ({getattr(self, lo):g}) must not exceed {hi} "
                                      f"({getattr(self, hi):g}): swap the two cut-offs.")

    @classmethod
    def specs(cls) -> tuple[SettingSpec, ...]:
        """Every setting with its label, section, unit, step and default, in field order."""
        return tuple(SettingSpec(f.name, f.metadata["label"], f.metadata["section"],
                                 f.metadata["unit"], f.metadata["step"], f.metadata["choices"],
                                 f.default)
                     for f in fields(cls) if "label" in f.metadata)

    @classmethod
    def sections(cls) -> dict[str, list[SettingSpec]]:
        """The settings by section, sections in the order of their first field."""
        out: dict[str, list[SettingSpec]] = {}
        for spec in cls.specs():
            out.setdefault(spec.section, []).append(spec)
        return out

    def source_table(self) -> pd.DataFrame:
        """The defaults' sources as a frame with columns ``setting, source``."""
        return pd.DataFrame(list(self.sources), columns=["setting", "source"])

    def source_of(self, name: str) -> str:
        """The source of one setting's default (the :attr:`sources` entry naming it, with
        ``*`` wildcards); empty when none does."""
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
        names = [f.name for f in fields(self) if "label" in f.metadata]
        return pd.DataFrame({"setting": names,
                             "value": [getattr(self, n) for n in names],
                             "default": [getattr(d, n) for n in names],
                             "source": [self.source_of(n) for n in names]})
