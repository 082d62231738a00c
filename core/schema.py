"""Canonical columns, their roles and units, lab analytes with reference ranges.

This module is the single source of truth for names. Loading maps uploaded headers onto these
names, the store builds its tables from them, filters quote identifiers only if they are known
here or in the validated upload, and pages label axes with :func:`label`.

Conventions
-----------
* Days, not dates: every time is in days after CAR-T infusion (day 0), may be negative or
  fractional.
* Binary columns hold 0/1 (nullable integers); grades hold 0-4 (0-5 for bleeding/thrombosis).
* Units are the canonical units below; loading converts recognised alternatives
  (fibrinogen g/L -> mg/dL and so on) and says so.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["id", "numeric", "integer", "binary", "grade", "category", "day"]


@dataclass(frozen=True)
class Column:
    """One canonical column.

    Attributes
    ----------
    name : canonical snake_case name.
    kind : how values are parsed and validated.
    label : human label for axes and tables.
    unit : canonical unit, or None.
    lo, hi : plausible range (inclusive); values outside are rejected with a message.
    aliases : further header spellings (compared after :func:`normalise_header`).
    description : one line for the data dictionary.
    levels : allowed values of a category (None: any text).
    """

    name: str
    kind: Kind
    label: str
    unit: str | None = None
    lo: float | None = None
    hi: float | None = None
    aliases: tuple[str, ...] = ()
    description: str = ""
    levels: tuple[str, ...] | None = None
    required: bool = False


def _c(name: str, kind: Kind, label: str, unit: str | None = None, lo: float | None = None,
       hi: float | None = None, aliases: tuple[str, ...] = (), description: str = "",
       levels: tuple[str, ...] | None = None, required: bool = False) -> Column:
    return Column(name, kind, label, unit, lo, hi, aliases, description, levels, required)


DAY_LO, DAY_HI = -60.0, 3650.0

PATIENT_COLUMNS: dict[str, Column] = {c.name: c for c in [
    _c("patient_id", "id", "Patient", aliases=("id", "patient", "pat id", "patid", "patient nr",
       "patientennummer", "pseudonym", "subject id", "subject"), required=True,
       description="Unique pseudonymous patient identifier (no names, no hospital numbers)."),
    _c("age", "numeric", "Age", "years", 0, 120, ("alter", "age at infusion", "age years"),
       "Age at CAR-T infusion."),
    _c("sex", "category", "Sex", None, aliases=("gender", "geschlecht"), levels=("F", "M"),
       description="F or M (female/male, w/m, weiblich/maennlich are recognised)."),
    _c("disease", "category", "Disease", aliases=("diagnosis", "diagnose", "entity", "entitaet"),
       description="Underlying malignancy, e.g. High-grade B-NHL, Multiple myeloma."),
    _c("disease_subtype", "category", "Disease subtype", aliases=("subtype",),
       description="For high-grade B-NHL: primary or transformed."),
    _c("bulky", "binary", "Bulky disease", aliases=("bulky disease",),
       description="Bulky disease at lymphodepletion (0/1)."),
    _c("cci", "integer", "Charlson Comorbidity Index", None, 0, 40,
       ("charlson", "charlson comorbidity index", "ccis"), "Charlson Comorbidity Index."),
    _c("product", "category", "CAR-T product", aliases=("car t product", "cart product",
       "car-t", "produkt"), description="CAR-T product, e.g. tisa-cel, axi-cel, ide-cel."),
    _c("target", "category", "CAR target", aliases=("antigen", "target antigen"),
       description="CD19, BCMA, CD19/CD20."),
    _c("costimulation", "category", "Costimulatory domain", aliases=("costim",
       "costimulatory domain"), description="CD28 or 4-1BB."),
    _c("lymphodepletion", "category", "Lymphodepletion", aliases=("ld", "ld regimen",
       "lymphodepletion regimen"), description="Lymphodepletion regimen, e.g. Flu/Cy, Benda."),
    _c("crs_grade", "grade", "CRS grade (ASTCT, max)", None, 0, 4,
       ("crs", "crs grad", "crs max", "max crs", "crs grade max", "crs astct"),
       "Maximum cytokine release syndrome grade, ASTCT consensus (0-4)."),
    _c("icans_grade", "grade", "ICANS grade (max)", None, 0, 4,
       ("icans", "icans grad", "max icans"), "Maximum ICANS grade, ASTCT consensus (0-4)."),
    _c("crs_onset_day", "day", "CRS onset", "day", DAY_LO, DAY_HI,
       ("crs onset", "crs start", "crs beginn"), "Day of CRS onset (first day of CRS)."),
    _c("crs_resolution_day", "day", "CRS resolution", "day", DAY_LO, DAY_HI,
       ("crs resolution", "crs end", "crs ende"), "Day CRS resolved (empty: not resolved)."),
    _c("icans_onset_day", "day", "ICANS onset", "day", DAY_LO, DAY_HI,
       ("icans onset", "icans start", "icans beginn"), "Day of ICANS onset."),
    _c("icans_resolution_day", "day", "ICANS resolution", "day", DAY_LO, DAY_HI,
       ("icans resolution", "icans end", "icans ende"), "Day ICANS resolved."),
    _c("tocilizumab", "binary", "Tocilizumab given", aliases=("toci", "tocilizumab given",
       "tocilizumab yes no"), description="Tocilizumab given for CRS/ICANS (0/1)."),
    _c("tocilizumab_doses", "integer", "Tocilizumab doses", None, 0, 20,
       ("toci doses", "number of tocilizumab doses", "tocilizumab n", "anzahl toci"),
       "Number of tocilizumab doses."),
    _c("tocilizumab_cum_mg", "numeric", "Cumulative tocilizumab dose", "mg", 0, 20000,
       ("toci cum", "cumulative tocilizumab", "tocilizumab cumulative dose", "toci mg"),
       "Cumulative tocilizumab dose."),
    _c("tocilizumab_first_day", "day", "First tocilizumab dose", "day", DAY_LO, DAY_HI,
       description="Day of the first tocilizumab dose."),
    _c("tocilizumab_last_day", "day", "Last tocilizumab dose", "day", DAY_LO, DAY_HI,
       description="Day of the last tocilizumab dose."),
    _c("tocilizumab_duration_days", "numeric", "Tocilizumab treatment duration", "days", 0,
       DAY_HI, description="Days from the first to the last tocilizumab dose."),
    _c("corticosteroids", "binary", "Corticosteroids given", aliases=("steroids",
       "corticosteroid", "high dose steroids"), description="High-dose corticosteroids (0/1)."),
    _c("fibrinogen_baseline", "numeric", "Fibrinogen at baseline", "mg/dL", 0, 2000,
       ("fibrinogen baseline", "fibrinogen pre", "fibrinogen day 0", "fibrinogen bl"),
       "Last fibrinogen on or before day 0."),
    _c("fibrinogen_nadir", "numeric", "Fibrinogen nadir", "mg/dL", 0, 2000,
       ("fibrinogen min", "min fibrinogen", "fibrinogen minimum", "fibrinogen lowest"),
       "Lowest fibrinogen after infusion."),
    _c("fibrinogen_nadir_day", "day", "Day of fibrinogen nadir", "day", DAY_LO, DAY_HI,
       description="Day of the lowest fibrinogen after infusion."),
    _c("hypofibrinogenemia_grade", "grade", "Hypofibrinogenemia grade (CTCAE v5)", None, 0, 4,
       ("hypofibrinogenemia", "ctcae fibrinogen", "fibrinogen decreased grade",
        "hypofibrinogenaemia grade"), "CTCAE v5 'fibrinogen decreased' grade (0-4)."),
    _c("hypofibrinogenemia_onset_day", "day", "Hypofibrinogenemia onset", "day", DAY_LO,
       DAY_HI, description="First day with fibrinogen below LLN after infusion."),
    _c("fibrinogen_recovery_day", "day", "Fibrinogen recovery", "day", DAY_LO, DAY_HI,
       description="First day of sustained recovery (>= LLN) that ended the last episode; "
       "last fibrinogen day if never (censored)."),
    _c("hypofibrinogenemia_episodes", "integer", "Hypofibrinogenemia episodes", None, 0, 100,
       ("fibrinogen episodes",), "Number of episodes below LLN (each ends at sustained "
       "recovery)."),
    _c("fibrinogen_recovered", "binary", "Fibrinogen recovered",
       description="1 if fibrinogen returned >= LLN, 0 if censored at the last lab."),
    _c("days_toci_to_hypofibrinogenemia", "numeric", "Days from first tocilizumab to onset",
       "days", -DAY_HI, DAY_HI,
       description="Hypofibrinogenemia onset day minus first tocilizumab day."),
    _c("corticosteroids_first_day", "day", "First corticosteroid dose", "day", DAY_LO, DAY_HI,
       description="Day of the first high-dose corticosteroid dose."),
    _c("days_corticosteroids_to_hypofibrinogenemia", "numeric",
       "Days from first corticosteroid to onset", "days", -DAY_HI, DAY_HI,
       description="Hypofibrinogenemia onset day minus first corticosteroid day."),
    _c("fibrinogen_max", "numeric", "Fibrinogen max", "mg/dL", 0, 2000,
       ("fibrinogen peak", "max fibrinogen"), "Highest fibrinogen after infusion (acute phase)."),
    _c("d_dimer_max", "numeric", "D-dimer max", "mg/L FEU", 0, 1000, ("d-dimer max",
       "ddimer max", "max d dimer"), "Maximum D-dimer after infusion."),
    _c("platelets_min", "numeric", "Platelets min", "10^9/L", 0, 3000,
       ("thrombocytes min", "plt min", "min platelets"), "Lowest platelet count."),
    _c("inr_max", "numeric", "INR max", None, 0.5, 20, ("max inr",), "Highest INR."),
    _c("ptt_max", "numeric", "PTT max", "s", 5, 300, ("aptt max", "max ptt"), "Longest aPTT."),
    _c("ggt_max", "numeric", "gGT max", "U/L", 0, 20000, ("gamma gt max", "max ggt"),
       "Highest gamma-glutamyltransferase."),
    _c("alt_max", "numeric", "ALT max", "U/L", 0, 20000, ("gpt max", "max alt"),
       "Highest alanine aminotransferase."),
    _c("ast_max", "numeric", "AST max", "U/L", 0, 20000, ("got max", "max ast"),
       "Highest aspartate aminotransferase."),
    _c("che_min", "numeric", "CHE min", "kU/L", 0, 50, ("cholinesterase min", "min che"),
       "Lowest cholinesterase."),
    _c("albumin_min", "numeric", "Albumin min", "g/dL", 0, 10, ("min albumin",),
       "Lowest albumin."),
    _c("ferritin_max", "numeric", "Ferritin max", "ng/mL", 0, 1_000_000, ("max ferritin",),
       "Highest ferritin."),
    _c("crp_max", "numeric", "CRP max", "mg/dL", 0, 100, ("max crp",), "Highest CRP."),
    _c("il6_max", "numeric", "IL-6 max", "pg/mL", 0, 1_000_000, ("max il6", "il-6 max"),
       "Highest interleukin-6."),
    _c("dic_score_max", "integer", "ISTH DIC score max", None, 0, 8, ("dic score",
       "isth dic", "dic"), "Maximum ISTH overt DIC score (>= 5: overt DIC)."),
    _c("dic_score_components", "integer", "ISTH DIC components behind the max", None, 0, 4,
       description="Components (of 4) measured within the window behind dic_score_max; "
       "fewer than 4: the score is a lower bound."),
    _c("iec_hs", "binary", "IEC-HS", aliases=("iec-hs", "hlh like", "iechs"),
       description="IEC-HS screen positive (Hines 2023) (0/1): tied to CRS resolution when "
       "crs_resolution_day is given, else a laboratory screen."),
    _c("fibrinogen_substitution_g", "numeric", "Fibrinogen substituted", "g", 0, 200,
       ("fibrinogen substitution", "fibrinogen concentrate g"),
       "Cumulative fibrinogen concentrate."),
    _c("car_hematotox", "integer", "CAR-HEMATOTOX score", None, 0, 7,
       ("car hematotox", "hematotox", "ht score", "car-hematotox score"),
       "CAR-HEMATOTOX (Rejeski 2021, 0-7) from ANC, haemoglobin, platelets, CRP and ferritin "
       "before lymphodepletion; empty when a component is missing."),
    _c("car_hematotox_high", "binary", "CAR-HEMATOTOX high risk", aliases=(
       "hematotox high", "ht high"), description="CAR-HEMATOTOX >= 2 (high risk; 0-1 low)."),
    _c("easix", "numeric", "EASIX", None, 0, 1_000_000, ("easix pre", "easix score"),
       "LDH (U/L) x creatinine (mg/dL) / platelets (10^9/L) before lymphodepletion (Korell "
       "2022); empty when a component is missing."),
    _c("m_easix", "numeric", "m-EASIX", None, 0, 1_000_000, ("m-easix", "modified easix"),
       "LDH (U/L) x CRP (mg/dL) / platelets (10^9/L) before lymphodepletion (Pennisi 2021); "
       "empty when a component is missing."),
    _c("score_baseline_rule", "category", "Risk score baseline",
       description="Which baseline the risk scores used: 'before lymphodepletion' (last value "
       "on or before the lymphodepletion day), or 'on or before day 0 (...)' naming the "
       "components without a value before lymphodepletion."),
    _c("score_missing", "category", "Risk score components missing",
       description="Components without a baseline value (e.g. 'ldh, creatinine'); the scores "
       "that need them are empty."),
    _c("bleeding_grade", "grade", "Bleeding grade (CTCAE)", None, 0, 5, ("bleeding",),
       "Worst bleeding event, CTCAE grade."),
    _c("thrombosis_grade", "grade", "Thrombosis grade (CTCAE)", None, 0, 5, ("thrombosis",),
       "Worst thrombotic event, CTCAE grade."),
    _c("pfs_days", "numeric", "PFS", "days", 0, DAY_HI, ("pfs", "pfs time"),
       "Progression-free survival time from infusion."),
    _c("pfs_event", "binary", "PFS event", aliases=("pfs status", "progression or death"),
       description="1 = progression or death, 0 = censored."),
    _c("os_days", "numeric", "OS", "days", 0, DAY_HI, ("os", "os time", "overall survival"),
       "Overall survival time from infusion."),
    _c("os_event", "binary", "OS event", aliases=("os status", "death", "died"),
       description="1 = died, 0 = censored."),
    _c("pfs_cause", "integer", "PFS event cause", None, 0, 2,
       ("pfs cause", "progression or death cause"),
       "Competing risks of the PFS event: 0 = censored, 1 = progression (relapse), 2 = death "
       "without progression (non-relapse mortality)."),
    _c("os_cause", "integer", "Cause of death", None, 0, 2, ("os cause", "cause of death"),
       "0 = alive (censored), 1 = death from lymphoma/progression, 2 = death from another "
       "cause (non-relapse mortality: infection, toxicity, ...)."),
]}

LAB_COLUMNS: dict[str, Column] = {c.name: c for c in [
    PATIENT_COLUMNS["patient_id"],
    _c("day", "day", "Day after infusion", "day", DAY_LO, DAY_HI, ("tag", "d", "day after cart",
       "days after infusion", "time"), "Days after CAR-T infusion (negative before).",
       required=True),
    _c("analyte", "category", "Analyte", aliases=("parameter", "test", "lab", "laborwert"),
       description="Analyte name, e.g. fibrinogen, d_dimer, platelets.", required=True),
    _c("value", "numeric", "Value", aliases=("result", "wert", "ergebnis"),
       description="Result in the analyte's canonical unit (or the unit column's).",
       required=True),
    _c("unit", "category", "Unit", aliases=("einheit", "units"),
       description="Optional: unit of the value; recognised units are converted."),
]}

TREATMENT_COLUMNS: dict[str, Column] = {c.name: c for c in [
    PATIENT_COLUMNS["patient_id"],
    LAB_COLUMNS["day"],
    _c("drug", "category", "Drug", aliases=("medication", "substance", "medikament", "wirkstoff"),
       description="tocilizumab, dexamethasone, methylprednisolone, anakinra, "
       "fibrinogen_concentrate, ...", required=True),
    _c("dose", "numeric", "Dose", None, 0, 100000, ("dosis", "amount"), "Dose given."),
    _c("unit", "category", "Unit", aliases=("einheit",), description="Unit of the dose (mg, g)."),
]}

TABLES: dict[str, dict[str, Column]] = {
    "patients": PATIENT_COLUMNS,
    "labs": LAB_COLUMNS,
    "treatments": TREATMENT_COLUMNS,
}
TableName = Literal["patients", "labs", "treatments"]


@dataclass(frozen=True)
class Analyte:
    """A laboratory analyte of the long ``labs`` table.

    Attributes
    ----------
    name : canonical name used in ``labs.analyte``.
    label : axis label.
    unit : canonical unit.
    lln, uln : default reference range in the canonical unit (None where one side is not used);
        for an analyte with :attr:`by_sex` ranges, the range spanning both sexes.
    source : where the default range comes from; shown next to the setting.
    units : accepted units (as written; looked up folded by :func:`fold_unit`) -> factor that
        multiplies a value into the canonical unit.
    aliases : other names for the analyte.
    plausible : (lo, hi) in the canonical unit; values outside are flagged.
    log_scale : True for skewed analytes drawn on a log axis.
    unit_notes : accepted unit -> why its conversion is approximate or rests on an assumption
        (DDU -> FEU x 2; D-dimer in mg/L without FEU/DDU read as FEU); said with every
        conversion from that unit.
    not_converted : unit -> why values in it are recognised but cannot be converted to the
        canonical unit (Quick % to INR needs the laboratory's calibration table).
    by_sex : ``{"F": (lln, uln), "M": (lln, uln)}`` where the range differs by sex.
    """

    name: str
    label: str
    unit: str
    lln: float | None
    uln: float | None
    source: str
    units: dict[str, float] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    plausible: tuple[float, float] = (0.0, float("inf"))
    log_scale: bool = False
    unit_notes: dict[str, str] = field(default_factory=dict)
    not_converted: dict[str, str] = field(default_factory=dict)
    by_sex: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)


_GENERIC = "typical adult reference range of German university laboratories; set to your lab's"
_DDU = "DDU converted to FEU x 2 (FEU ~ 2 x DDU, fibrinogen-equivalent units): approximate"
_FEU_ASSUMED = "no FEU/DDU given: read as FEU"
_CELLS = {"10^9/L": 1.0, "/nL": 1.0, "G/L": 1.0, "10^3/uL": 1.0, "Tsd/uL": 1.0, "/uL": 0.001}
_CATALYTIC = {"U/L": 1.0, "IU/L": 1.0, "ukat/L": 60.0}   # 1 ukat/L = 60 U/L (59.988)

ANALYTES: dict[str, Analyte] = {a.name: a for a in [
    # fibrinogen ~340 kDa: 1 umol/L = 340 mg/L = 34 mg/dL
    Analyte("fibrinogen", "Fibrinogen", "mg/dL", 200, 400,
            "Clauss method, common adult range 200-400 mg/dL; set to your lab's",
            {"mg/dL": 1.0, "mg%": 1.0, "g/L": 100.0, "g/dL": 1000.0, "mg/L": 0.1,
             "umol/L": 34.0},
            ("fibrinogen clauss", "fibrinogen (clauss)", "fib", "fibrinogen activity",
             "fibrinogen nach clauss"), (0, 2000)),
    Analyte("d_dimer", "D-dimer", "mg/L FEU", None, 0.5,
            "common cut-off 0.5 mg/L FEU (VTE exclusion); assay-specific, set to your lab's",
            {"mg/L FEU": 1.0, "ug/mL FEU": 1.0, "ng/mL FEU": 0.001, "ug/L FEU": 0.001,
             "mg/L": 1.0, "ug/mL": 1.0, "ng/mL": 0.001, "ug/L": 0.001,
             "mg/L DDU": 2.0, "ug/mL DDU": 2.0, "ng/mL DDU": 0.002, "ug/L DDU": 0.002,
             "FEU": 1.0, "DDU": 2.0},
            ("d-dimer", "ddimer", "d dimer", "d-dimere", "d-dimer quant", "d-dimere quant"),
            (0, 1000), True,
            unit_notes={"mg/L": _FEU_ASSUMED, "ug/mL": _FEU_ASSUMED, "ng/mL": _FEU_ASSUMED,
                        "ug/L": _FEU_ASSUMED, "mg/L DDU": _DDU, "ug/mL DDU": _DDU,
                        "ng/mL DDU": _DDU, "ug/L DDU": _DDU,
                        "FEU": "no mass unit given: read as mg/L FEU",
                        "DDU": "no mass unit given: read as mg/L DDU; " + _DDU}),
    Analyte("platelets", "Platelets", "10^9/L", 150, 400, _GENERIC, dict(_CELLS),
            ("thrombocytes", "thrombozyten", "plt", "thrombozytenzahl"), (0, 3000)),
    Analyte("inr", "INR", "", None, 1.15, _GENERIC, {"": 1.0, "ratio": 1.0, "INR": 1.0},
            ("pt inr", "inr (pt)", "tpz inr", "quick inr"), (0.5, 20),
            not_converted={"%": "Quick (%) to INR needs the laboratory's calibration table",
                           "s": "PT in seconds to INR needs the laboratory's normal PT and ISI"}),
    Analyte("ptt", "aPTT", "s", 25, 37, _GENERIC, {"s": 1.0, "sec": 1.0}, ("aptt", "ptt"),
            (5, 300)),
    Analyte("ggt", "gGT", "U/L", None, 60, _GENERIC, dict(_CATALYTIC),
            ("gamma gt", "gamma-gt", "g-gt"), (0, 20000), True),
    Analyte("alt", "ALT", "U/L", None, 50, _GENERIC, dict(_CATALYTIC),
            ("gpt", "alat", "alt (gpt)", "gpt (alt)"), (0, 20000), True),
    Analyte("ast", "AST", "U/L", None, 50, _GENERIC, dict(_CATALYTIC),
            ("got", "asat", "ast (got)", "got (ast)"), (0, 20000), True),
    Analyte("che", "Cholinesterase", "kU/L", 5.3, 12.9, _GENERIC,
            {"kU/L": 1.0, "U/L": 0.001, "ukat/L": 0.06}, ("cholinesterase", "pche"), (0, 50)),
    Analyte("albumin", "Albumin", "g/dL", 3.5, 5.2, _GENERIC, {"g/dL": 1.0, "g/L": 0.1},
            (), (0, 10)),
    Analyte("ferritin", "Ferritin", "ng/mL", 15, 400,
            "typical adult range (immunoassay), women 15-150, men 30-400 ng/mL; set to your "
            "lab's", {"ng/mL": 1.0, "ug/L": 1.0}, (), (0, 1_000_000), True,
            by_sex={"F": (15, 150), "M": (30, 400)}),
    Analyte("crp", "CRP", "mg/dL", None, 0.5, _GENERIC, {"mg/dL": 1.0, "mg/L": 0.1},
            ("c-reactive protein", "c-reaktives protein"), (0, 100), True),
    Analyte("il6", "IL-6", "pg/mL", None, 7, _GENERIC, {"pg/mL": 1.0, "ng/L": 1.0},
            ("il-6", "interleukin 6", "interleukin-6"), (0, 1_000_000), True),
    Analyte("ldh", "LDH", "U/L", None, 250, "IFCC 37 degC typical adult range 135-250 U/L; "
            "set to your lab's", dict(_CATALYTIC), ("lactate dehydrogenase", "ld",
            "laktatdehydrogenase", "ldh gesamt"), (0, 50000), True),
    # creatinine 113.12 g/mol: 1 mg/dL = 88.4 umol/L
    Analyte("creatinine", "Creatinine", "mg/dL", 0.5, 1.2,
            "enzymatic (IDMS-traceable) typical adult range, women 0.5-0.9, men 0.7-1.2 mg/dL; "
            "set to your lab's", {"mg/dL": 1.0, "umol/L": 1 / 88.4, "mg/L": 0.1},
            ("kreatinin", "crea", "krea", "creatinine serum", "kreatinin im serum",
             "kreatinin enzymatisch"), (0, 30),
            by_sex={"F": (0.5, 0.9), "M": (0.7, 1.2)}),
    Analyte("anc", "Neutrophils (ANC)", "10^9/L", 1.8, 7.7, _GENERIC, dict(_CELLS),
            ("neutrophils", "absolute neutrophil count", "neutrophile", "neutrophile absolut",
             "neutro abs", "segmentkernige absolut", "neutrophile abs.", "neutrophils abs",
             "neutrophile granulozyten absolut", "neutrophile granulozyten abs.", "neut#",
             "neut abs", "anc"), (0, 200)),
    # haemoglobin (per Fe, 16.1 kDa): 1 mmol/L = 1.611 g/dL
    Analyte("haemoglobin", "Haemoglobin", "g/dL", 12.0, 17.5,
            "WHO anaemia thresholds as LLN (women 12.0, men 13.0 g/dL); typical ULN women "
            "16.0, men 17.5 g/dL; set to your lab's",
            {"g/dL": 1.0, "g/L": 0.1, "mmol/L": 1.611}, ("hemoglobin", "hb",
            "hgb", "haemoglobin concentration", "haemoglobin hb"),
            (0, 30),
            by_sex={"F": (12.0, 16.0), "M": (13.0, 17.5)}),
    Analyte("quick", "Quick (PT %)", "%", 70, 120, _GENERIC, {"%": 1.0},
            ("quick", "quickwert", "quick wert", "thromboplastinzeit quick", "tpz quick",
             "prothrombin ratio percent"), (0, 200)),
    Analyte("pt", "PT (s)", "s", 9.4, 12.5, _GENERIC, {"s": 1.0, "sec": 1.0},
            ("prothrombin time", "prothrombinzeit", "pt sec"), (5, 300)),
]}

DRUGS: tuple[str, ...] = ("tocilizumab", "dexamethasone", "methylprednisolone", "prednisolone",
                          "hydrocortisone", "anakinra", "siltuximab", "fibrinogen_concentrate",
                          "cryoprecipitate", "ffp")
CORTICOSTEROIDS: tuple[str, ...] = ("dexamethasone", "methylprednisolone", "prednisolone",
                                    "hydrocortisone")

#: CTCAE v5.0 (2017) "Fibrinogen decreased": a value below ``fraction x LLN`` is at least
#: ``grade`` (G1 <1.0-0.75, G2 <0.75-0.5, G3 <0.5-0.25, G4 <0.25 x LLN; G4 also < 50 mg/dL,
#: and the baseline-relative variant for an abnormal baseline, in the endpoint settings)
CTCAE_FIBRINOGEN_FRACTIONS: tuple[tuple[int, float], ...] = ((1, 1.0), (2, 0.75), (3, 0.5),
                                                             (4, 0.25))


def ctcae_fibrinogen_limits(lln: float) -> list[tuple[float, str]]:
    """CTCAE v5 fibrinogen grade limits for a lower limit of normal, labelled for charts.

    Parameters
    ----------
    lln : float
        Lower limit of normal (mg/dL), e.g. 200.

    Returns
    -------
    list of (float, str)
        ``[(200.0, "G1 < 200"), (150.0, "G2 < 150"), (100.0, "G3 < 100"), (50.0, "G4 < 50")]``
        for ``lln = 200``: a value below a limit is at least that grade.
    """
    return [(f * lln, f"G{g} < {f * lln:g}") for g, f in CTCAE_FIBRINOGEN_FRACTIONS]

_UNIT_SUFFIX = re.compile(r"[\[\(\{][^\]\)\}]*[\]\)\}]")


def normalise_header(text: str) -> str:
    """Fold a header for matching: lower case, unit suffix in brackets dropped, non-alphanumerics
    removed, German umlauts folded. ``"Fibrinogen [mg/dl]"`` -> ``"fibrinogen"``."""
    t = str(text).replace("\ufeff", "").strip().lower()
    t = _UNIT_SUFFIX.sub(" ", t)
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        t = t.replace(a, b)
    return re.sub(r"[^a-z0-9]+", "", t)


_FOLD_UNIT = (("µ", "u"), ("μ", "u"), ("mcg", "ug"), ("mcmol", "umol"), ("mcl", "ul"),
              ("⁹", "9"), ("³", "3"), ("**", "^"), ("giga/", "g/"), ("(", ""), (")", ""))
_TEN_POWER = re.compile(r"^(?:x|×|\*)?10(?:\^|e|\*)?([39])/")


def fold_unit(text: object) -> str:
    """A unit spelled for lookup: lower case, no white space or parentheses, micro sign, Greek
    mu and ``mc`` as ``u``, powers of ten as ``10^9`` / ``10^3``.

    ``"µmol/L"``, ``"μmol/l"`` and ``"umol / L"`` all give ``"umol/l"``; ``"10e9/L"``,
    ``"x10^9/l"``, ``"10⁹/L"`` and ``"109/L"`` give ``"10^9/l"``; ``"mg/L (FEU)"`` gives
    ``"mg/lfeu"``. :data:`ANALYTES`' ``units`` are looked up by this key
    (:func:`core.ingest.units.unit_factors`).
    """
    t = re.sub(r"\s+", "", str(text).lower())
    for a, b in _FOLD_UNIT:
        t = t.replace(a, b)
    return _TEN_POWER.sub(r"10^\1/", t)


#: Bracket texts that are units although they hold no ``/`` (``"[s]"``, ``"[%]"``, ``"[FEU]"``).
_BARE_UNITS = frozenset({"s", "sec", "%", "inr", "ratio", "feu", "ddu", "g", "mg", "u", "iu",
                         "years", "days", "d"})


def header_unit(text: str) -> str | None:
    """The unit written in a header's brackets, folded by :func:`fold_unit`:
    ``"Fib [g/L]"`` -> ``"g/l"``; square brackets first (``"Fibrinogen (Clauss) [g/L]"``),
    else the last parentheses. Bracket text that is not unit-like (``"(Clauss)"``: no ``/``,
    no ``%``, not a bare unit) is a qualifier, not a unit: None."""
    text = str(text)
    m = re.search(r"\[\s*([^\]]+?)\s*\]", text)
    found = [m.group(1)] if m else re.findall(r"\(\s*([^()]+?)\s*\)", text)
    if not found:
        return None
    unit = fold_unit(found[-1])
    if "/" in unit or "%" in unit or unit in _BARE_UNITS:
        return unit
    return None


# --------------------------------------------------------------------------------------------
# Registry look-ups: tables, column kinds, analyte and drug names
# --------------------------------------------------------------------------------------------

def columns_of(table: str) -> dict[str, Column]:
    """The canonical columns of ``table``.

    Raises
    ------
    ValueError
        ``table`` is not one of :data:`TABLES` (a programming error, not the user's).
    """
    try:
        return TABLES[table]
    except (KeyError, TypeError):
        raise ValueError(f"table must be one of {', '.join(TABLES)}; got {table!r}") from None


def binary_columns(table: str = "patients") -> tuple[str, ...]:
    """The canonical 0/1 columns of ``table`` (kind ``"binary"``), in schema order:
    ``bulky, tocilizumab, corticosteroids, ...`` for the patient table."""
    return tuple(c.name for c in columns_of(table).values() if c.kind == "binary")


#: Patient-column suffixes that name a per-patient summary of a lab analyte.
ANALYTE_SUFFIXES: tuple[str, ...] = ("_baseline", "_nadir", "_max", "_min")


def analyte_of(column: str) -> Analyte | None:
    """The lab analyte a patient column summarises, or None.

    ``"d_dimer_max"`` -> D-dimer, ``"fibrinogen_nadir"`` -> fibrinogen, ``"crp"`` -> CRP (an
    analyte's own name), ``"fibrinogen_nadir_day"`` or ``"age"`` -> None.
    """
    column = str(column)
    for suffix in ANALYTE_SUFFIXES:
        if column.endswith(suffix) and column[: -len(suffix)] in ANALYTES:
            return ANALYTES[column[: -len(suffix)]]
    return ANALYTES.get(column)


def _index(names: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Folded spelling (:func:`normalise_header`) -> canonical name; the first claim wins."""
    index: dict[str, str] = {}
    for name, spellings in names.items():
        for spelling in spellings:
            index.setdefault(normalise_header(spelling), name)
    return index


@functools.cache
def column_index(table: str) -> dict[str, str]:
    """Header spelling folded by :func:`normalise_header` -> canonical column of ``table``
    (its name, label and aliases). Do not mutate the returned dict (it is shared)."""
    return _index({c.name: (c.name, c.label, *c.aliases) for c in columns_of(table).values()})


@functools.cache
def analyte_index() -> dict[str, str]:
    """Analyte spelling folded by :func:`normalise_header` -> canonical analyte (its name,
    label and aliases). Do not mutate the returned dict (it is shared)."""
    return _index({a.name: (a.name, a.label, *a.aliases) for a in ANALYTES.values()})


def analyte_named(text: object) -> str | None:
    """The canonical analyte a lab-table name means (``"D-Dimer"`` -> ``"d_dimer"``), or None
    for an unknown name or a value that is not text."""
    return analyte_index().get(normalise_header(text)) if isinstance(text, str) else None


#: Trade names and abbreviations of :data:`DRUGS` seen in treatment tables.
DRUG_ALIASES: dict[str, tuple[str, ...]] = {
    "tocilizumab": ("toci", "actemra", "roactemra"),
    "dexamethasone": ("dexa", "dex", "fortecortin"),
    "methylprednisolone": ("methylpred", "urbason", "mp", "solumedrol"),
    "anakinra": ("kineret",),
    "cryoprecipitate": ("cryo", "kryo", "kryopraezipitat", "kryopräzipitat", "cryoprecipitate",
                        "cryoprecipitated antihemophilic factor"),
    "ffp": ("fresh frozen plasma", "gfp", "gefrorenes frischplasma", "frischplasma",
            "plasma", "octaplas", "fresh plasma"),
    "fibrinogen_concentrate": ("fibrinogen", "fibrinogen concentrate", "haemocomplettan",
                               "fibryga", "riastap"),
}


@functools.cache
def drug_index() -> dict[str, str]:
    """Drug spelling folded by :func:`normalise_header` -> canonical drug of :data:`DRUGS`.
    Do not mutate the returned dict (it is shared)."""
    index = _index({d: (d,) for d in DRUGS})
    index.update(_index(DRUG_ALIASES))
    return index


def drug_named(text: object) -> str | None:
    """The canonical drug a treatment-table name means (``"RoActemra"`` -> ``"tocilizumab"``),
    or None for a drug the endpoints do not use or a value that is not text."""
    return drug_index().get(normalise_header(text)) if isinstance(text, str) else None


def label(column: str) -> str:
    """Axis label with unit for a canonical column, or the column name itself."""
    col = PATIENT_COLUMNS.get(column)
    if col is None:
        return column
    return f"{col.label} ({col.unit})" if col.unit and col.unit != "day" else col.label


def unit_of(column: str) -> str | None:
    """Canonical unit of a patient column, or None."""
    col = PATIENT_COLUMNS.get(column)
    return col.unit if col else None


# --------------------------------------------------------------------------------------------
# Reference ranges
# --------------------------------------------------------------------------------------------

_SEX = {"f": "F", "female": "F", "w": "F", "weiblich": "F", "m": "M", "male": "M",
        "maennlich": "M", "männlich": "M"}


def reference_range(analyte: str, sex: str | None = None
                    ) -> tuple[float | None, float | None, str]:
    """The default reference range of ``analyte`` in its canonical unit, and its source.

    Parameters
    ----------
    analyte : canonical analyte name (a key of :data:`ANALYTES`) or a spelling
        :func:`analyte_named` knows (``"Hb"``, ``"Kreatinin"``).
    sex : ``"F"``/``"M"`` (any case; ``female``, ``w``, ``male`` ... too) for a sex-specific
        range where the analyte has one (haemoglobin, creatinine, ferritin); None or an
        unknown value: the range spanning both sexes.

    Returns
    -------
    (lln, uln, source)
        Lower and upper limit of normal (None where the side is not used, e.g. no LLN for
        CRP) in :attr:`Analyte.unit`, and where the default comes from. These are defaults
        for settings: a centre sets its own laboratory's range.

    Raises
    ------
    ValueError
        ``analyte`` is not an analyte of the registry.
    """
    name = analyte if analyte in ANALYTES else analyte_named(analyte)
    if name is None:
        raise ValueError(f"unknown analyte {analyte!r}; known: {', '.join(ANALYTES)}")
    a = ANALYTES[name]
    key = _SEX.get(str(sex).strip().lower()) if sex is not None else None
    if key is not None and key in a.by_sex:
        lln, uln = a.by_sex[key]
        return lln, uln, f"{a.source} ({'women' if key == 'F' else 'men'})"
    return a.lln, a.uln, a.source
