"""Table 1 (patient characteristics) as in the paper, optionally stratified, with p-values.

Layout follows Perl et al. 2024, Table 1: n (%) for categories, median (range) for numbers;
sub-levels (disease subtype, CRS and ICANS grades) are percentages of their parent row (the
paper's "Grade 1 13 (34)" is 13 of the 38 patients with CRS).

:func:`table_one` returns numbers; :func:`format_table_one` turns them into the printed table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core import schema
from core.errors import CohortError

_YESNO_ROWS = [("Female sex", "sex", "F"), ("Bulky disease", "bulky", 1)]
_TREATMENT_ROWS = [("Tocilizumab administration", "tocilizumab", 1),
                   ("Corticosteroid administration", "corticosteroids", 1)]


@dataclass(frozen=True)
class TableOne:
    """Table 1 in numbers.

    Attributes
    ----------
    rows : DataFrame, one row per printed line and stratum, columns: row (int, line order),
        label, indent (0/1/2), kind ("count", "median", "header"), stratum ("Overall" or a
        stratum label), n (count or patients with a value), denominator, median, min, max.
    tests : DataFrame (row, test, pvalue): one test per variable block, on its first line.
    strata : stratum labels in order (empty when not stratified).
    n : patients in the table.
    messages : notes for the user (tests that could not run, ...).
    """

    rows: pd.DataFrame
    tests: pd.DataFrame
    strata: tuple[str, ...]
    n: int
    messages: tuple[str, ...]


@dataclass
class _Line:
    label: str
    indent: int
    kind: str
    mask: pd.Series | None = None      # patients counted on this line
    parent: pd.Series | None = None    # denominator patients
    values: pd.Series | None = None    # for medians
    test: tuple[str, str] | None = None  # (column, "categorical"|"numeric")


def _present(df: pd.DataFrame, col: str) -> bool:
    return col in df.columns and df[col].notna().any()


def _lines(df: pd.DataFrame, extra: Sequence[str]) -> list[_Line]:
    everyone = pd.Series(True, index=df.index)
    lines = [_Line("Total", 0, "count", everyone, everyone)]
    if _present(df, "age"):
        lines.append(_Line("Age in years (range)", 0, "median", values=df["age"],
                           test=("age", "numeric")))
    for label, col, level in _YESNO_ROWS[:1]:
        if _present(df, col):
            lines.append(_Line(label, 0, "count", df[col].eq(level).fillna(False),
                               df[col].notna(), test=(col, "categorical")))
    if _present(df, "disease"):
        lines.append(_Line("Disease", 0, "header", test=("disease", "categorical")))
        known = df["disease"].notna()
        for level in df["disease"].value_counts().index:
            m = df["disease"].eq(level).fillna(False)
            lines.append(_Line(str(level), 1, "count", m, known))
            if _present(df, "disease_subtype"):
                sub = df.loc[m, "disease_subtype"].dropna()
                for s in sub.value_counts().index:
                    lines.append(_Line(_subtype_label(str(s)), 2, "count",
                                       m & df["disease_subtype"].eq(s).fillna(False), m))
    for label, col, level in _YESNO_ROWS[1:]:
        if _present(df, col):
            lines.append(_Line(label, 0, "count", df[col].eq(level).fillna(False),
                               df[col].notna(), test=(col, "categorical")))
    if _present(df, "product"):
        lines.append(_Line("CAR T-cell product (target)", 0, "header",
                           test=("product", "categorical")))
        known = df["product"].notna()
        targets = (df.dropna(subset=["product"]).groupby("product")["target"]
                   .agg(lambda s: s.mode().iloc[0] if s.notna().any() else None)
                   if "target" in df else pd.Series(dtype=object))
        for level in df["product"].value_counts().index:
            t = targets.get(level)
            lbl = f"{level} ({t})" if t and t not in str(level) else str(level)
            lines.append(_Line(lbl, 1, "count", df["product"].eq(level).fillna(False), known))
    for col, name in (("crs_grade", "CRS"), ("icans_grade", "ICANS")):
        if _present(df, col):
            g = df[col]
            any_ = g.ge(1).fillna(False)
            lines.append(_Line(f"{name}, total", 0, "count", any_, g.notna(),
                               test=(col, "categorical")))
            for grade in range(1, 5):
                lines.append(_Line(f"Grade {grade}", 1, "count", g.eq(grade).fillna(False),
                                   any_))
    for label, col, level in _TREATMENT_ROWS:
        if _present(df, col):
            lines.append(_Line(label, 0, "count", df[col].eq(level).fillna(False),
                               df[col].notna(), test=(col, "categorical")))
    for col in extra:
        lines += _extra_lines(df, col)
    return lines


def _subtype_label(s: str) -> str:
    return {"primary": "Primary", "transformed": "Secondary transformed"}.get(s, s)


def _extra_lines(df: pd.DataFrame, col: str) -> list[_Line]:
    if col not in df.columns:
        raise CohortError(f"Table 1: no column '{col}'.")
    label = schema.label(col)
    s = df[col]
    if pd.api.types.is_numeric_dtype(s) and s.nunique() > 2:
        return [_Line(f"{label}, median (range)", 0, "median", values=s.astype(float),
                      test=(col, "numeric"))]
    if pd.api.types.is_numeric_dtype(s) and set(s.dropna().unique()) <= {0, 1}:
        return [_Line(label, 0, "count", s.eq(1).fillna(False), s.notna(),
                      test=(col, "categorical"))]
    out = [_Line(label, 0, "header", test=(col, "categorical"))]
    for level in s.value_counts().index[:20]:
        out.append(_Line(str(level), 1, "count", s.eq(level).fillna(False), s.notna()))
    return out


def _strata(df: pd.DataFrame, by: str | None) -> tuple[list[str], pd.Series | None]:
    if by is None:
        return [], None
    if by not in df.columns:
        raise CohortError(f"Table 1: cannot stratify by '{by}': no such column.")
    s = df[by]
    if set(s.dropna().unique()) <= {0, 1} and pd.api.types.is_numeric_dtype(s):
        name = schema.PATIENT_COLUMNS[by].label if by in schema.PATIENT_COLUMNS else by
        labels = s.map({0: f"{name}: no", 1: f"{name}: yes"})
        order = [f"{name}: no", f"{name}: yes"]
    else:
        labels = s.map(lambda v: None if pd.isna(v) else f"{by} = {v}" if
                       pd.api.types.is_numeric_dtype(s) else str(v))
        order = [x for x in pd.Series(labels.dropna().unique()).sort_values()]
    if len(order) > 8:
        raise CohortError(f"Table 1: '{by}' has {len(order)} values; choose a column with at "
                          "most 8 groups.")
    return [o for o in order if labels.eq(o).any()], labels


def table_one(df: pd.DataFrame, by: str | None = None,
              extra: Sequence[str] = ()) -> TableOne:
    """Table 1 of ``df``, optionally stratified by column ``by``, with a test per variable.

    Parameters
    ----------
    df : patient table (canonical columns; missing ones are left out of the table).
    by : stratify by this column (2-8 groups; 0/1 columns read as no/yes), or None.
    extra : further columns to add (numeric: median (range); else n (%) per value).

    Returns
    -------
    TableOne
        ``rows`` (label, indent, kind, stratum, n, denominator, median, min, max) and ``tests``
        (row, test, pvalue). Tests: Kruskal-Wallis (Mann-Whitney U for two groups) for numbers;
        chi-square, or Fisher's exact test when an expected count is below 5, for categories
        (:func:`core.stats.compare_groups` and :func:`core.stats.contingency`).

    Notes
    -----
    On the synthetic demo cohort the unstratified table reproduces the paper's Table 1 (tested),
    except ICANS grade 1, which the paper prints as 59% where 7/12 is 58.3%.
    """
    lines = _lines(df, extra)
    order, labels = _strata(df, by)
    groups = [("Overall", pd.Series(True, index=df.index))]
    if labels is not None:
        groups += [(o, labels.eq(o).fillna(False)) for o in order]
    records = []
    for i, line in enumerate(lines):
        for stratum, g in groups:
            rec = {"row": i, "label": line.label, "indent": line.indent, "kind": line.kind,
                   "stratum": stratum, "n": np.nan, "denominator": np.nan, "median": np.nan,
                   "min": np.nan, "max": np.nan}
            if line.kind == "count":
                rec["n"] = int((line.mask & g).sum())
                rec["denominator"] = int((line.parent & g).sum())
            elif line.kind == "median":
                v = line.values[g].dropna()
                rec["n"] = len(v)
                if len(v):
                    rec.update(median=float(v.median()), min=float(v.min()), max=float(v.max()))
            records.append(rec)
    tests, messages = _tests(df, lines, labels) if labels is not None else ([], [])
    return TableOne(pd.DataFrame.from_records(records),
                    pd.DataFrame(tests, columns=["row", "test", "pvalue"]), tuple(order),
                    len(df), tuple(messages))


_TEST_NAMES = {"fisher": "Fisher's exact test", "chi2": "Chi-square"}


def _tests(df: pd.DataFrame, lines: list[_Line], labels: pd.Series) -> tuple[list, list[str]]:
    from core import stats

    tests, messages = [], []
    work = df.assign(_stratum=labels)
    for i, line in enumerate(lines):
        if line.test is None:
            continue
        col, kind = line.test
        try:
            if kind == "numeric":
                r = stats.compare_groups(work, col, "_stratum")
            else:
                r = stats.contingency(work, col, "_stratum")
            tests.append((i, _TEST_NAMES.get(r.test, r.test), float(r.pvalue)))
        except CohortError as exc:
            messages.append(f"{line.label}: no test ({exc})")
    return tests, messages


def _pct(n: float, d: float) -> str:
    if not d:
        return "0" if n == 0 else str(int(n))
    p = 100 * n / d
    return f"{int(n)} ({int(np.floor(p + 0.5))})" if n else "0"


def _num(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"


def format_table_one(t: TableOne, digits: int = 3) -> pd.DataFrame:
    """The printed table: Parameter, one column per stratum ("N (%)" for an unstratified
    table, as in the paper), and p-value and test columns when stratified.

    Percentages are rounded half up to whole numbers as in the paper; medians and ranges are
    printed without decimals when whole.
    """
    cells = t.rows.copy()

    def fmt(r: pd.Series) -> str:
        if r["kind"] == "header":
            return ""
        if r["kind"] == "median":
            if not r["n"]:
                return "–"
            return f"{_num(r['median'])} ({_num(r['min'])}-{_num(r['max'])})"
        if r["label"] == "Total":
            return f"{int(r['n'])} (100)" if r["n"] else "0"
        return _pct(r["n"], r["denominator"])

    cells["text"] = cells.apply(fmt, axis=1)
    wide = cells.pivot(index="row", columns="stratum", values="text")
    cols = ["Overall", *t.strata]
    wide = wide[cols]
    meta = cells.drop_duplicates("row").set_index("row")
    indent = meta["indent"].map(lambda k: "\u2003" * int(k))
    out = pd.DataFrame({"Parameter": indent + meta["label"]})
    for c in cols:
        name = "N (%)" if not t.strata else (f"{c} (n = {_stratum_n(t, c)})")
        out[name] = wide[c]
    if t.strata:
        tests = t.tests.set_index("row")
        out["p-value"] = [(_p(tests.loc[i, "pvalue"], digits) if i in tests.index else "")
                          for i in out.index]
        out["test"] = [tests.loc[i, "test"] if i in tests.index else "" for i in out.index]
    return out.reset_index(drop=True)


def _stratum_n(t: TableOne, stratum: str) -> int:
    r = t.rows[(t.rows["label"] == "Total") & (t.rows["stratum"] == stratum)]
    return int(r["n"].iloc[0]) if len(r) else 0


def _p(p: float, digits: int) -> str:
    if pd.isna(p):
        return "–"
    if p < 0.001:
        return "< 0.001"
    return f"{p:.{digits}f}" if p < 0.1 else f"{p:.2f}"


@dataclass(frozen=True)
class Incidence:
    """Incidence of an event by group.

    Attributes
    ----------
    table : DataFrame (group, n, events, proportion, ci_low, ci_high): Wilson 95% CI.
    event_label, group : what was counted, by which column.
    """

    table: pd.DataFrame
    event_label: str
    group: str


def incidence_by(df: pd.DataFrame, event: pd.Series, group: str, event_label: str,
                 bins: dict[str, Sequence[object]] | None = None) -> Incidence:
    """Events per group with Wilson 95% CIs, e.g. hypofibrinogenemia by CRS grade.

    Parameters
    ----------
    event : boolean Series aligned with ``df`` (missing: patient left out of that group's n).
    group : grouping column.
    bins : optional relabelling, e.g. ``{"3-4": [3, 4]}`` to pool CRS grades 3 and 4.
    """
    g = df[group].astype(object)
    if bins:
        for name, members in bins.items():
            g = g.where(~df[group].isin(list(members)), name)
    work = pd.DataFrame({"group": g, "event": event.astype("boolean")}).dropna()
    rows = []
    for level, sub in work.groupby("group", sort=True):
        n, k = len(sub), int(sub["event"].sum())
        lo, hi = _wilson(k, n)
        rows.append({"group": str(level), "n": n, "events": k, "proportion": k / n if n else
                     np.nan, "ci_low": lo, "ci_high": hi})
    return Incidence(pd.DataFrame(rows), event_label, group)


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    if n == 0:
        return np.nan, np.nan
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def grade_counts(series: pd.Series, grades: range = range(0, 5)) -> pd.DataFrame:
    """Patients per grade: DataFrame (grade, n, percent) for grades 0-4 of a grade column (missing left out)."""
    s = series.dropna().astype(int)
    n = s.value_counts().reindex(list(grades), fill_value=0)
    total = max(int(n.sum()), 1)
    return pd.DataFrame({"grade": n.index, "n": n.to_numpy(), "percent": 100 * n.to_numpy()
                         / total})
