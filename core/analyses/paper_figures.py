"""Paper figures page: the paper's reported findings as data, and their reproduction on a
cohort.

Perl et al., Haematologica 2024 (Figures 1-3, S3). Each :class:`Finding` names the columns, the
test, the direction and the statistic the paper printed; :func:`reproduce` recomputes every
finding on a cohort and judges it by the cohort's 95% CI against the paper's value
(:func:`verdict`): *consistent* (the CI contains it), *stronger* / *weaker* (the CI excludes
it, farther from / closer to the null), *opposite* (the CI lies on the other side of the
null), or *not testable* (too few patients, a missing column). Only the correlations (1C, 3B,
3C, S3A-C) printed a value (r) on a scale the cohort's effect shares; for the group
comparisons the paper printed only a p-value or a direction, so those are judged on
**direction only** (the CI against 0: consistent, opposite, or *inconclusive* when it
includes 0). A p on the same side of 0.05 is not agreement: any cohort with a CRS gradient
has that.

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

import dataclasses
import math
from collections.abc import Callable
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
                  "computed_p", "n", "direction", "effect", "ci_low", "ci_high", "effect_label",
                  "ci_method", "verdict", "scale", "reason", "note")


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


Verdict = Literal["consistent", "stronger", "weaker", "opposite", "inconclusive",
                  "not testable"]
VERDICTS: tuple[str, ...] = get_args(Verdict)
Scale = Literal["same", "direction", ""]
#: what each verdict means, for the pages
VERDICT_TEXT: dict[str, str] = {
    "consistent": "the cohort's 95% CI contains the paper's value",
    "stronger": "the CI excludes the paper's value, same direction, farther from the null",
    "weaker": "the CI excludes the paper's value, on the null's side of it (it may include "
              "the null)",
    "opposite": "the CI lies entirely on the other side of the null",
    "inconclusive": "direction only: the CI includes the null, so the cohort neither shows "
                    "nor rules out the paper's direction",
    "not testable": "too few patients or a missing column on this data",
}
HL_CI_METHOD = ("Hodges-Lehmann shift with the distribution-free CI of R's wilcox.test "
                "(exact without ties and below 50 per group; with ties the normal "
                "approximation, without R's tie correction: approximate)")


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
    effect : the effect the verdict is judged on: Spearman r (correlations), Spearman rho of
        the value against the ordered groups (group comparisons), the Hodges-Lehmann shift
        treated - untreated (3A); NaN if not computed.
    ci_low, ci_high : its 95% CI (NaN when it cannot be computed).
    effect_label, ci_method : what ``effect`` is and how its CI was computed.
    verdict : one of :data:`VERDICTS` (rules: :func:`verdict`).
    scale : ``"same"`` (the paper printed a value on the effect's scale: an r),
        ``"direction"`` (the paper printed only a p or a direction) or "" (not testable).
    reason : the verdict in words (CI against the paper's value or the null).
    note : why it could not be computed, or "".
    """

    finding: Finding
    test: str
    r: float | None
    pvalue: float
    direction: float
    n: int
    effect: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    effect_label: str = ""
    ci_method: str = ""
    verdict: Verdict = "not testable"
    scale: Scale = ""
    reason: str = ""
    note: str = ""


def fmt_effect(v: float) -> str:
    return f"{v:.2f}" if abs(v) < 10 else f"{v:.0f}"


def verdict(f: Finding, ci_low: float, ci_high: float) -> tuple[Verdict, Scale, str]:
    """Judge a finding by the cohort's 95% CI against the paper's value.

    Rules
    -----
    * **Same scale** (the paper printed a correlation r): *consistent* when
      ``ci_low <= paper_r <= ci_high``; *opposite* when the CI lies entirely on the other side
      of 0 (paper r < 0 and ci_low > 0, or paper r > 0 and ci_high < 0); *stronger* when the
      CI excludes the paper's r on the side away from 0; *weaker* otherwise (the CI excludes
      the paper's r on the side of 0, possibly including 0).
    * **Direction only** (the paper printed a p-value or a direction, no effect on a scale the
      cohort's effect can be compared with): the paper's claim is its direction ``sign``.
      When it reported an effect (p <= 0.05, or no p with a stated direction): *consistent*
      when the CI lies entirely on the paper's side of 0, *opposite* when entirely on the
      other side, *inconclusive* when it includes 0. When the paper's p was > 0.05 (2B, 2C):
      *consistent* when the CI includes 0, *stronger* when it lies entirely on the paper's
      side, *opposite* when entirely on the other.
    * A CI that is NaN: *not testable*.

    Returns
    -------
    (verdict, scale, reason)
    """
    if math.isnan(ci_low) or math.isnan(ci_high):
        return "not testable", "", "no 95% CI on this data"
    ci = f"95% CI {fmt_effect(ci_low)} to {fmt_effect(ci_high)}"
    if f.paper_r is not None:
        ref = f.paper_r
        s = 1 if ref > 0 else -1
        if ci_low <= ref <= ci_high:
            return "consistent", "same", f"{ci} contains the paper's r = {ref:g}"
        if (s > 0 and ci_high < 0) or (s < 0 and ci_low > 0):
            return "opposite", "same", f"{ci} lies on the other side of 0 from r = {ref:g}"
        if (s > 0 and ci_low > ref) or (s < 0 and ci_high < ref):
            return "stronger", "same", f"{ci} excludes r = {ref:g}, farther from 0"
        zero = " (it includes 0)" if ci_low <= 0 <= ci_high else ""
        return "weaker", "same", f"{ci} excludes r = {ref:g}, closer to 0{zero}"
    s = f.sign
    above, below = ci_low > 0, ci_high < 0
    if s == 0:  # no directional claim: only "an effect or not"
        return ("consistent" if not (above or below) else "stronger"), "direction", \
            f"{ci}; the paper claimed no direction"
    same = above if s > 0 else below
    other = below if s > 0 else above
    way = "above" if s > 0 else "below"
    if f.significant is False:
        if same:
            return "stronger", "direction", (f"{ci} lies {way} 0; the paper found no clear "
                                             f"effect (P = {f.paper_p:g})")
        if other:
            return "opposite", "direction", f"{ci} lies on the other side of 0"
        return "consistent", "direction", (f"{ci} includes 0, like the paper's P = "
                                           f"{f.paper_p:g}")
    if same:
        return "consistent", "direction", f"{ci} lies {way} 0, the paper's direction"
    if other:
        return "opposite", "direction", f"{ci} lies on the other side of 0"
    return "inconclusive", "direction", f"{ci} includes 0"


def _mann_whitney_quantile(p: float, m: int, n: int) -> int:
    """R ``qwilcox(p, m, n)``: the smallest u with P(U <= u) >= p for the Mann-Whitney U of
    groups of m and n without ties (counts by the recurrence f(a, b) = q^b f(a-1, b) +
    f(a, b-1) over arrangements)."""
    rows = [np.ones(1)] * (n + 1)              # f(0, b) = 1 for every b
    for _ in range(m):                         # a = 1 .. m
        new = [np.ones(1)]                     # f(a, 0) = 1
        for b in range(1, n + 1):
            up = np.concatenate([np.zeros(b), rows[b]])   # q^b f(a-1, b)
            left = new[b - 1]
            size = max(len(up), len(left))
            new.append(np.pad(up, (0, size - len(up))) + np.pad(left, (0, size - len(left))))
        rows = new
    cdf = np.cumsum(rows[n]) / rows[n].sum()
    return int(np.searchsorted(cdf, p - 1e-12))


def hodges_lehmann(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Hodges-Lehmann shift ``x - y`` (median of all pairwise differences) with the
    distribution-free 95% CI, as R ``wilcox.test(x, y, conf.int = TRUE)``: the k-th smallest
    and k-th largest difference, k = ``qwilcox(0.025, n1, n2)`` (exact: no ties, both groups
    below 50) or ``floor(n1 n2 / 2 - 1.96 sqrt(n1 n2 (n1 + n2 + 1) / 12))`` (normal
    approximation otherwise; R then also corrects for ties and interpolates, so this is an
    approximation). The CI is NaN when k < 1: too few patients for 95% (R would report a CI
    of lower confidence)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) == 0 or len(y) == 0:
        return math.nan, math.nan, math.nan
    n1, n2, big_n = len(x), len(y), len(x) * len(y)
    select = _pairwise_selector(x, y)
    if select is None:
        d = np.sort(np.subtract.outer(x, y).ravel())
        est = float(np.median(d))
    else:
        h = big_n // 2
        est = (select(h) if big_n % 2 else float(np.mean(np.array([select(h - 1), select(h)]))))
    ties = len(np.unique(np.concatenate([x, y]))) < n1 + n2
    if not ties and n1 < 50 and n2 < 50:
        k = _mann_whitney_quantile(0.025, n1, n2)
    else:
        k = math.floor(big_n / 2 - 1.959963984540054 * math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12))
    if k < 1:
        return est, math.nan, math.nan
    if select is not None:
        return est, select(k - 1), select(big_n - k)
    return est, float(d[k - 1]), float(d[big_n - k])


#: above this many pairwise differences they are counted per pair of distinct values
_HL_ALL_PAIRS = 1_000_000
#: ... when there are at most this many pairs of distinct values (else all pairs, as before)
_HL_DISTINCT_PAIRS = 20_000_000


def _pairwise_selector(x: np.ndarray, y: np.ndarray) -> Callable[[int], float] | None:
    """The i-th smallest of all differences ``x - y`` (0-based) without the n1 x n2 array:
    each pair of distinct values once, weighted by how often it occurs (the same floats, so
    the same order statistics; 100,000 patients would need 2 x 10^9 differences, 16 GB).
    None when the arrays are small (all pairs are fast), hold NaN, or have too many distinct
    values."""
    if len(x) * len(y) <= _HL_ALL_PAIRS or np.isnan(x).any() or np.isnan(y).any():
        return None
    ux, cx = np.unique(x, return_counts=True)
    uy, cy = np.unique(y, return_counts=True)
    if len(ux) * len(uy) > _HL_DISTINCT_PAIRS:
        return None
    d = np.subtract.outer(ux, uy).ravel()
    order = np.argsort(d, kind="stable")
    d = d[order]
    upto = np.cumsum(np.multiply.outer(cx, cy).ravel()[order])  # differences <= d[j]

    def select(i: int) -> float:
        return float(d[int(np.searchsorted(upto, i, side="right"))])

    return select


def compute(df: pd.DataFrame, finding: Finding) -> Computed:
    """Recompute one finding on ``df`` (one row per patient).

    Returns
    -------
    Computed
        ``test, r, pvalue, direction, n, effect, ci_low, ci_high, verdict, ...``; a finding
        whose columns are missing or whose data are too few comes back "not testable" with
        the reason in ``note``.
    """
    try:
        data = _patients(df, finding)
        fit = _correlate if finding.kind == "correlate" else _compare
        c = fit(data, finding)
    except CohortError as exc:
        return Computed(finding, "", None, math.nan, math.nan, 0, note=str(exc),
                        reason="not testable on this data")
    v, scale, reason = verdict(finding, c.ci_low, c.ci_high)
    note = c.note or ("" if v != "not testable" else
                      "too few patients for a 95% CI of the effect")
    return dataclasses.replace(c, verdict=v, scale=scale, reason=reason, note=note)


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
    """A correlation finding: Spearman r, its p, and r with its CI as the effect."""
    res = gstats.correlate(data, *f.columns, "spearman")
    return Computed(f, "Spearman", res.r, res.pvalue, res.r, res.n, res.r, res.ci_low,
                    res.ci_high, "Spearman r", res.ci_method)


def _compare(data: pd.DataFrame, f: Finding) -> Computed:
    """A group finding: the test's p; the effect is the Spearman rho of the value against
    the ordered groups (with its CI), or for 3A the Hodges-Lehmann shift treated - untreated
    among CRS 1-2 (``direction`` keeps the difference of medians)."""
    value, group = f.columns
    if f.id == "3A":
        cmp = tocilizumab.crs12_tocilizumab(data).nadir
        s = cmp.summary.set_index("group")["median"]
        direction = float(s.get(1, math.nan) - s.get(0, math.nan))
        sub = tocilizumab.subset(data, "crs12")[[value, group]].apply(
            pd.to_numeric, errors="coerce").dropna()
        est, lo, hi = hodges_lehmann(sub.loc[sub[group] == 1, value].to_numpy(),
                                     sub.loc[sub[group] == 0, value].to_numpy())
        return Computed(f, cmp.test, None, cmp.pvalue, direction, cmp.n, est, lo, hi,
                        "Hodges-Lehmann shift, treated − untreated (mg/dL)", HL_CI_METHOD)
    if f.id == "3D":
        cmp = tocilizumab.grade_by_doses(data, doses=group, grade=value).comparison
    else:
        cmp = gstats.compare_groups(data, value, group)
    try:
        rho = gstats.correlate(data, value, group, "spearman")
    except CohortError as exc:
        return Computed(f, cmp.test, None, cmp.pvalue, math.nan, cmp.n, note=str(exc))
    label = "Spearman rho vs " + ("the number of doses" if f.id == "3D" else "CRS grade")
    return Computed(f, cmp.test, None, cmp.pvalue, rho.r, cmp.n, rho.r, rho.ci_low,
                    rho.ci_high, label, rho.ci_method)


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
        ``effect``, ``ci_low``, ``ci_high`` (the effect the verdict is judged on and its 95%
        CI), ``effect_label``, ``ci_method``, ``verdict`` (:data:`VERDICTS`, rules in
        :func:`verdict`), ``scale`` ("same": against the paper's r; "direction": the paper
        printed no comparable value; "": not testable), ``reason``, ``note``.
    """
    rows = []
    for f in findings:
        c = compute(df, f)
        rows.append({"finding": f.id, "description": f.description, "test": c.test,
                     "paper": f.paper_text,
                     "paper_r": math.nan if f.paper_r is None else f.paper_r,
                     "paper_p": math.nan if f.paper_p is None else f.paper_p,
                     "computed_r": math.nan if c.r is None else c.r, "computed_p": c.pvalue,
                     "n": c.n, "direction": c.direction, "effect": c.effect,
                     "ci_low": c.ci_low, "ci_high": c.ci_high, "effect_label": c.effect_label,
                     "ci_method": c.ci_method, "verdict": c.verdict, "scale": c.scale,
                     "reason": c.reason, "note": c.note})
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


