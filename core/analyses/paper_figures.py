"""Paper figures page: the paper's reported findings as data, and their reproduction on a
cohort.

Perl et al., Haematologica 2024 (Figures 1-3, S3). Each :class:`Finding` names the columns, the
test, the direction and the statistic the paper printed; :func:`reproduce` recomputes every
finding on a cohort and says whether it agrees: same direction, and the p-value on the same
side of 0.05 (the paper's significance level is two-sided P <= 0.05).

Choices (the paper's Methods say only "Pearson and Spearman correlation coefficients were
calculated depending on the distribution and linearity of the data"):

* Correlations use **Spearman**: doses are counts with many ties at 0, grades are ordinal and
  D-dimer and durations are right-skewed. Pearson is shown next to it on the pages.
* The patients of each correlation follow from the printed r and p: with a t test on n - 2
  degrees of freedom, r = -0.44 gives P = 0.004 only with n = 41 (all patients, untreated at
  0 mg) for 3B and S3A; r = 0.43 / 0.47 give P = 0.05 / 0.03 with n = 21 (the 27 - 6
  hypofibrinogenemias that recovered) for 3C and S3B; r = -0.45 gives P = 0.015 with n = 29
  (the tocilizumab-treated) for S3C.
  Note on 3B/S3A: with 0/12 untreated and 27/29 treated patients below the LLN, the split
  between untreated (0 mg, high nadir) and treated patients alone pushes an all-patient
  Spearman r to about -0.6 or beyond, so the paper's -0.44 over 41 patients implies a weak
  dose-response within the treated. The synthetic demo was built to r ~ -0.44 among the 29
  treated (-0.57) and shows -0.81 over all 41: same sign, stronger. The Tocilizumab page can
  restrict 3B/S3A to treated patients.
* 1C correlates the **nadir** fibrinogen with the **maximum** D-dimer (one value per patient;
  the paper plots per-patient extremes throughout Figure 1).
* Group comparisons are Kruskal-Wallis across CRS grades 0-4 (as printed in the figures);
  their direction is the Spearman rho of the value against the CRS grade.
* 3A: within CRS 1-2, the nadir fibrinogen by tocilizumab (Mann-Whitney); direction = sign of
  median(treated) - median(untreated).
* 3D: hypofibrinogenemia grade across numbers of doses (Kruskal-Wallis); direction = Spearman
  of grade against doses.

The patients of each finding are those of the Tocilizumab page
(:func:`core.analyses.tocilizumab.subset`), and 3A and 3D are that page's own analyses
(:func:`~core.analyses.tocilizumab.crs12_tocilizumab`,
:func:`~core.analyses.tocilizumab.grade_by_doses`), so both pages show the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import pandas as pd

from core import stats as gstats
from core.analyses import tocilizumab
from core.analyses.columns import HYPOFIB_DURATION, RECOVERY_FROM_NADIR, only
from core.analyses.tocilizumab import DOSE_COLUMNS, Subset
from core.errors import CohortError, ColumnError

Kind = Literal["compare", "correlate"]
PvalueOp = Literal["=", "<"]
ALPHA = 0.05
RESULT_COLUMNS = ("finding", "description", "test", "paper", "paper_r", "paper_p", "computed_r",
                  "computed_p", "n", "direction", "agrees", "note")


@dataclass(frozen=True)
class Finding:
    """One reported result of the paper.

    Attributes
    ----------
    id : figure panel, e.g. ``"3B"``.
    description : what was tested, in words.
    kind : ``"compare"`` (groups) or ``"correlate"``.
    columns : (value, group) for compare; (x, y) for correlate.
    subset : ``"all"``, ``"treated"``, ``"recovered"`` or ``"crs12"`` (CRS grade 1-2), as
        :func:`core.analyses.tocilizumab.subset`.
    sign : the direction the paper reports: +1 (rises / positive r), -1, or 0 (no claim).
    paper_r : the printed coefficient (correlations), else None.
    paper_p : the printed p-value, None if the paper gives none; paper_p_op : ``"="`` or
        ``"<"`` (``P < 0.001``).
    paper_text : the statistic as printed, e.g. ``"r = -0.44, P = 0.004"``.
    """

    id: str
    description: str
    kind: Kind
    columns: tuple[str, str]
    subset: Subset
    sign: int
    paper_r: float | None
    paper_p: float | None
    paper_p_op: PvalueOp = "="
    paper_text: str = ""

    def __post_init__(self) -> None:
        if self.kind not in get_args(Kind):
            raise ValueError(f"Unknown finding kind {self.kind!r}; use one of {get_args(Kind)}.")
        if self.subset not in tocilizumab.SUBSETS:
            raise ValueError(f"Unknown subset {self.subset!r}; use one of "
                             f"{tocilizumab.SUBSETS}.")
        if self.paper_p_op not in get_args(PvalueOp):
            raise ValueError(f"Unknown p-value operator {self.paper_p_op!r}.")

    @property
    def significant(self) -> bool | None:
        """Whether the paper's p is <= 0.05; None when it printed no p."""
        return None if self.paper_p is None else self.paper_p <= ALPHA


def _f(id_: str, description: str, kind: Kind, columns: tuple[str, str], sign: int,
       paper_r: float | None, paper_p: float | None, op: PvalueOp = "=", subset: Subset = "all",
       text: str = "") -> Finding:
    if not text:
        p = "" if paper_p is None else f"P {op} {paper_p:g}"
        r = "" if paper_r is None else f"r = {paper_r:g}"
        text = ", ".join(t for t in (r, p) if t) or "no p printed"
    return Finding(id_, description, kind, columns, subset, sign, paper_r, paper_p, op, text)


CRS = "crs_grade"
FINDINGS: tuple[Finding, ...] = (
    _f("1A", "Fibrinogen nadir falls with CRS grade", "compare", ("fibrinogen_nadir", CRS), -1,
       None, None, text="no p printed; lower with higher grade"),
    _f("1B", "D-dimer max rises with CRS grade", "compare", ("d_dimer_max", CRS), +1, None,
       0.004),
    _f("1C", "Fibrinogen nadir vs D-dimer max", "correlate", ("fibrinogen_nadir",
       "d_dimer_max"), -1, -0.57, 0.001, "<"),
    _f("1D", "Platelets min fall in high-grade CRS", "compare", ("platelets_min", CRS), -1,
       None, None, text="no p printed; impaired only in CRS 3-4"),
    _f("1E", "INR max rises in high-grade CRS", "compare", ("inr_max", CRS), +1, None, None,
       text="no p printed; impaired only in CRS 3-4"),
    _f("1F", "PTT max rises in high-grade CRS", "compare", ("ptt_max", CRS), +1, None, None,
       text="no p printed; impaired only in CRS 3-4"),
    _f("2A", "gGT max rises with CRS grade", "compare", ("ggt_max", CRS), +1, None, 0.0093),
    _f("2B", "ALT max by CRS grade (up in grade 4 only)", "compare", ("alt_max", CRS), +1,
       None, 0.15),
    _f("2C", "CHE min by CRS grade (down in grade 4 only)", "compare", ("che_min", CRS), -1,
       None, 0.65),
    _f("2D", "Albumin min falls with CRS grade", "compare", ("albumin_min", CRS), -1, None,
       0.0075),
    _f("3A", "CRS 1-2: fibrinogen nadir, tocilizumab vs none", "compare",
       ("fibrinogen_nadir", "tocilizumab"), -1, None, 0.001, "<", subset="crs12"),
    _f("3B", "Cumulative tocilizumab dose vs fibrinogen nadir", "correlate",
       ("tocilizumab_cum_mg", "fibrinogen_nadir"), -1, -0.44, 0.004),
    _f("3C", "Cumulative dose vs recovery time from nadir", "correlate",
       ("tocilizumab_cum_mg", RECOVERY_FROM_NADIR), +1, 0.43, 0.05,
       subset="recovered"),
    _f("3D", "Hypofibrinogenemia grade by number of doses", "compare",
       ("hypofibrinogenemia_grade", "tocilizumab_doses"), +1, None, 0.001, "<"),
    _f("S3A", "Number of doses vs hypofibrinogenemia grade", "correlate",
       ("tocilizumab_doses", "hypofibrinogenemia_grade"), +1, 0.44, 0.004),
    _f("S3B", "Number of doses vs duration of hypofibrinogenemia", "correlate",
       ("tocilizumab_doses", HYPOFIB_DURATION), +1, 0.47, 0.03, subset="recovered"),
    _f("S3C", "Tocilizumab treatment duration vs fibrinogen nadir", "correlate",
       ("tocilizumab_duration_days", "fibrinogen_nadir"), -1, -0.45, 0.015, subset="treated"),
)
BY_ID: dict[str, Finding] = {f.id: f for f in FINDINGS}
#: every patient column a finding or its figure reads
COLUMNS: tuple[str, ...] = tuple(dict.fromkeys(
    [c for f in FINDINGS for c in f.columns] + list(DOSE_COLUMNS)))


@dataclass(frozen=True)
class Computed:
    """A finding computed on a cohort.

    Attributes
    ----------
    finding : the :class:`Finding`.
    test : ``"Spearman"``, ``"Kruskal-Wallis"`` or ``"Mann-Whitney U"``; "" when not computed.
    r : Spearman r (correlations), else None; pvalue : the test's p (NaN if not computed).
    direction : signed effect: r, or Spearman rho against the ordered groups, or the
        difference of medians (3A); NaN if not computed.
    n : observations used.
    agrees : True / False, or None when it could not be computed.
    note : why it could not be computed, or "".
    """

    finding: Finding
    test: str
    r: float | None
    pvalue: float
    direction: float
    n: int
    agrees: bool | None
    note: str = ""


def _agrees(f: Finding, direction: float, pvalue: float) -> bool | None:
    if math.isnan(direction):
        return None
    same_sign = f.sign == 0 or np.sign(direction) == f.sign
    if f.paper_p is None:
        return bool(same_sign)
    if math.isnan(pvalue):
        return None
    same_side = (pvalue <= ALPHA) == f.significant
    # a non-significant paper finding makes no directional claim to hold against
    return bool(same_side and (same_sign or not f.significant))


def compute(df: pd.DataFrame, finding: Finding) -> Computed:
    """Recompute one finding on ``df`` (one row per patient).

    Returns
    -------
    Computed
        ``test, r, pvalue, direction, n, agrees, note``; a finding whose columns are missing or
        whose data are too few comes back with ``agrees = None`` and the reason in ``note``.
    """
    try:
        data = _patients(df, finding)
        if finding.kind == "correlate":
            return _correlate(data, finding)
        return _compare(data, finding)
    except CohortError as exc:
        return Computed(finding, "", None, math.nan, math.nan, 0, None, str(exc))


def _patients(df: pd.DataFrame, finding: Finding) -> pd.DataFrame:
    """The finding's columns (and the dose columns) of its patients, with the durations.

    Raises
    ------
    ColumnError
        A column of the finding, or the one its patients are selected by, is missing.
    """
    data = tocilizumab.with_durations(only(df, (*finding.columns, *DOSE_COLUMNS)))
    missing = [c for c in finding.columns if c not in data.columns]
    if missing:
        raise ColumnError(f"Column(s) not in the data: {', '.join(missing)}.")
    return tocilizumab.subset(data, finding.subset)


def _correlate(data: pd.DataFrame, f: Finding) -> Computed:
    """A correlation finding: Spearman r, its p, and r as the direction."""
    res = gstats.correlate(data, *f.columns, "spearman")
    return Computed(f, "Spearman", res.r, res.pvalue, res.r, res.n,
                    _agrees(f, res.r, res.pvalue))


def _compare(data: pd.DataFrame, f: Finding) -> Computed:
    """A group finding: the test's p; direction = Spearman of the value against the ordered
    groups, or for 3A the difference of medians (treated - untreated) among CRS 1-2."""
    value, group = f.columns
    if f.id == "3A":
        cmp = tocilizumab.crs12_tocilizumab(data).nadir
        s = cmp.summary.set_index("group")["median"]
        direction = float(s.get(1, math.nan) - s.get(0, math.nan))
    elif f.id == "3D":
        cmp = tocilizumab.grade_by_doses(data, doses=group, grade=value).comparison
        direction = gstats.correlate(data, value, group, "spearman").r
    else:
        cmp = gstats.compare_groups(data, value, group)
        direction = gstats.correlate(data, value, group, "spearman").r
    return Computed(f, cmp.test, None, cmp.pvalue, direction, cmp.n,
                    _agrees(f, direction, cmp.pvalue))


def reproduce(df: pd.DataFrame,
              findings: tuple[Finding, ...] = FINDINGS) -> pd.DataFrame:
    """Recompute the paper's findings on a cohort.

    Parameters
    ----------
    df : the (filtered) patient table.
    findings : which findings (default all of :data:`FINDINGS`).

    Returns
    -------
    DataFrame
        One row per finding; columns ``finding`` (id), ``description``, ``test``, ``paper``
        (the statistic as printed), ``paper_r``, ``paper_p``, ``computed_r`` (Spearman r or
        NaN), ``computed_p``, ``n``, ``direction`` (signed effect, see :class:`Computed`),
        ``agrees`` (True/False/None: same direction and p on the same side of 0.05; direction
        only where the paper printed no p; p side only where the paper's p was > 0.05),
        ``note``.
    """
    rows = []
    for f in findings:
        c = compute(df, f)
        rows.append({"finding": f.id, "description": f.description, "test": c.test,
                     "paper": f.paper_text,
                     "paper_r": math.nan if f.paper_r is None else f.paper_r,
                     "paper_p": math.nan if f.paper_p is None else f.paper_p,
                     "computed_r": math.nan if c.r is None else c.r, "computed_p": c.pvalue,
                     "n": c.n, "direction": c.direction, "agrees": c.agrees, "note": c.note})
    out = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    out["agrees"] = pd.Series([r["agrees"] for r in rows], index=out.index, dtype=object)
    return out


