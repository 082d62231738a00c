"""Cohort page: Table 1 (patient characteristics) as in the paper, optionally stratified, with
p-values; grade counts and incidence by group.

Layout follows Perl et al. 2024, Table 1: n (%) for categories, median (range) for numbers;
sub-levels (disease subtype, CRS and ICANS grades) are percentages of their parent row (the
paper's "Grade 1 13 (34)" is 13 of the 38 patients with CRS).

Missing values are handled as gtsummary does by default (``missing = "ifany"``): percentages
are of the patients with a known value, and a variable with missing values gets an "Unknown"
row with the count of patients without one (per stratum too), so no patient leaves the
denominator silently. A variable is tested across strata only when every stratum has at least
:data:`MIN_GROUP_N` patients with a value; otherwise the p-value is "—" and the reason is given.

:func:`table_one` returns numbers; :func:`format_table_one` turns them into the printed table.
:func:`grade_counts` and :func:`incidence_by` (Wilson 95% CIs) feed the toxicity charts.

Note kinds of :attr:`TableOne.notes`: ``"no_stratum"`` (patients without a value for the
stratifying column), ``"not_tested"`` (variables not tested, one note per reason).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core import schema
from core.analyses.columns import group_columns
from core.errors import CohortError, ColumnError
from core.notes import Note, WithNotes
from core.stats import python_value

_YESNO_ROWS = [("Female sex", "sex", "F"), ("Bulky disease", "bulky", 1)]
_TREATMENT_ROWS = [("Tocilizumab administration", "tocilizumab", 1),
                   ("Corticosteroid administration", "corticosteroids", 1)]
#: a variable is tested across strata only when each has at least this many known values
MIN_GROUP_N = 3
#: most strata a Table 1 takes
MAX_STRATA = 8
UNKNOWN = "Unknown"
NOT_TESTED = "not tested"
ROW_COLUMNS = ("row", "label", "indent", "kind", "stratum", "n", "denominator", "median",
               "min", "max")
TEST_COLUMNS = ("row", "test", "pvalue", "note")
DENOMINATOR_NOTE = ("Percentages are of the patients with a known value: 'Unknown' rows count "
                    "the patients without one, who are not in the denominator. Grade and "
                    "subtype rows are percentages of their parent row, as in the paper.")


@dataclass(frozen=True)
class TableOne(WithNotes):
    """Table 1 in numbers.

    Attributes
    ----------
    rows : DataFrame, one row per printed line and stratum, columns :data:`ROW_COLUMNS`:
        row (int, line order), label, indent (0/1/2), kind ("count", "median", "header",
        "unknown"), stratum ("Overall" or a stratum label), n (count; patients with a value
        for "median"; patients without a value for "unknown"), denominator (patients with a
        known value: the base of the percentage), median, min, max.
    tests : DataFrame, columns :data:`TEST_COLUMNS` (row, test, pvalue, note): one line per
        variable block when stratified, on its first line; a variable that was not tested has
        test "not tested", pvalue NaN and the reason in note.
    strata : stratum labels in order (empty when not stratified).
    n : patients in the table.
    notes : tests that could not run, patients without a stratum (kinds in the module
        docstring).
    """

    rows: pd.DataFrame
    tests: pd.DataFrame
    strata: tuple[str, ...]
    n: int
    notes: tuple[Note, ...]



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
    return col in df.columns and bool(df[col].notna().any())


def _unknown(missing: pd.Series, indent: int) -> list[_Line]:
    """An "Unknown" line counting ``missing`` patients, when there are any."""
    return [_Line(UNKNOWN, indent, "unknown", missing)] if missing.any() else []


def _lines(df: pd.DataFrame, extra: Sequence[str]) -> list[_Line]:
    everyone = pd.Series(True, index=df.index)
    lines = [_Line("Total", 0, "count", everyone, everyone)]
    if _present(df, "age"):
        lines.append(_Line("Age in years (range)", 0, "median", values=df["age"],
                           test=("age", "numeric")))
        lines += _unknown(df["age"].isna(), 1)
    for label, col, level in _YESNO_ROWS[:1]:
        lines += _yes_line(df, label, col, level)
    if _present(df, "disease"):
        lines += _disease_lines(df)
    for label, col, level in _YESNO_ROWS[1:]:
        lines += _yes_line(df, label, col, level)
    if _present(df, "product"):
        lines += _product_lines(df)
    for col, name in (("crs_grade", "CRS"), ("icans_grade", "ICANS")):
        if _present(df, col):
            lines += _grade_lines(df, col, name)
    for label, col, level in _TREATMENT_ROWS:
        lines += _yes_line(df, label, col, level)
    for col in extra:
        lines += _extra_lines(df, col)
    return lines


def _yes_line(df: pd.DataFrame, label: str, col: str, level: Any) -> list[_Line]:
    """One n (%) line for ``col == level`` among patients with a value, and its Unknown."""
    if not _present(df, col):
        return []
    s = df[col]
    return [_Line(label, 0, "count", s.eq(level).fillna(False), s.notna(),
                  test=(col, "categorical")), *_unknown(s.isna(), 1)]


def _disease_lines(df: pd.DataFrame) -> list[_Line]:
    lines = [_Line("Disease", 0, "header", test=("disease", "categorical"))]
    known = df["disease"].notna()
    for level in df["disease"].value_counts().index:
        m = df["disease"].eq(level).fillna(False)
        lines.append(_Line(str(level), 1, "count", m, known))
        if _present(df, "disease_subtype"):
            sub = df["disease_subtype"].where(m)
            for s in sub.dropna().value_counts().index:
                lines.append(_Line(_subtype_label(str(s)), 2, "count",
                                   m & df["disease_subtype"].eq(s).fillna(False),
                                   m & sub.notna()))
            if sub.notna().any():  # a level without any subtype has none to be unknown
                lines += _unknown(m & sub.isna(), 2)
    return lines + _unknown(~known, 1)


def _most_common(s: pd.Series) -> Any:
    """The most frequent value of ``s`` (the first in sorted order on a tie), None if none."""
    return s.mode().iloc[0] if s.notna().any() else None


def _product_lines(df: pd.DataFrame) -> list[_Line]:
    lines = [_Line("CAR T-cell product (target)", 0, "header", test=("product", "categorical"))]
    known = df["product"].notna()
    targets = (df.dropna(subset=["product"]).groupby("product")["target"].agg(_most_common)
               if "target" in df else pd.Series(dtype=object))
    for level in df["product"].value_counts().index:
        t = targets.get(level)
        lbl = f"{level} ({t})" if t and t not in str(level) else str(level)
        lines.append(_Line(lbl, 1, "count", df["product"].eq(level).fillna(False), known))
    return lines + _unknown(~known, 1)


def _grade_lines(df: pd.DataFrame, col: str, name: str) -> list[_Line]:
    """"<name>, total" (grade >= 1 of the known), grades 1-4 (of the total), Unknown."""
    g = df[col]
    any_ = g.ge(1).fillna(False)
    lines = [_Line(f"{name}, total", 0, "count", any_, g.notna(), test=(col, "categorical"))]
    for grade in range(1, 5):
        lines.append(_Line(f"Grade {grade}", 1, "count", g.eq(grade).fillna(False), any_))
    return lines + _unknown(g.isna(), 1)


def _subtype_label(s: str) -> str:
    return {"primary": "Primary", "transformed": "Secondary transformed"}.get(s, s)


def _extra_lines(df: pd.DataFrame, col: str) -> list[_Line]:
    if col not in df.columns:
        raise CohortError(f"Table 1: no column '{col}'. Choose another column to add.")
    label = schema.label(col)
    s = df[col]
    missing = _unknown(s.isna(), 1)
    if not s.notna().any():
        return [_Line(f"{label} (no values)", 0, "header"), *missing]
    if pd.api.types.is_numeric_dtype(s) and s.nunique() > 2:
        return [_Line(f"{label}, median (range)", 0, "median", values=s.astype(float),
                      test=(col, "numeric")), *missing]
    if pd.api.types.is_numeric_dtype(s) and set(s.dropna().unique()) <= {0, 1}:
        return [_Line(label, 0, "count", s.eq(1).fillna(False), s.notna(),
                      test=(col, "categorical")), *missing]
    out = [_Line(label, 0, "header", test=(col, "categorical"))]
    for level in s.value_counts().index[:20]:
        out.append(_Line(str(level), 1, "count", s.eq(level).fillna(False), s.notna()))
    return out + missing


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
    if len(order) > MAX_STRATA:
        raise CohortError(f"Table 1: '{by}' has {len(order)} values; choose a column with at "
                          f"most {MAX_STRATA} groups.")
    return [o for o in order if labels.eq(o).any()], labels


def strata_options(df: pd.DataFrame) -> list[str]:
    """Columns Table 1 can be stratified by: 2 to :data:`MAX_STRATA` distinct values (not the
    id)."""
    return group_columns(df, MAX_STRATA, min_levels=2)


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
        ``rows`` (:data:`ROW_COLUMNS`) and ``tests`` (:data:`TEST_COLUMNS`), both with these
        columns even for an empty ``df``. Tests: Kruskal-Wallis (Mann-Whitney U for two
        groups) for numbers; chi-square, or Fisher's exact test when an expected count is
        below 5, for categories (:func:`core.stats.compare_groups` and
        :func:`core.stats.contingency`), on the patients with a known value.

    Raises
    ------
    CohortError
        ``by`` or a column of ``extra`` is not in ``df``, or ``by`` has more than 8 values.

    Notes
    -----
    Percentages are of the patients with a known value; a variable with missing values gets
    an "Unknown" row (kind "unknown") counting them. A variable is not tested when fewer than
    two strata, or a stratum with fewer than :data:`MIN_GROUP_N` patients, have a value.
    Patients without a value for ``by`` are counted in "Overall" only (said in ``notes``).

    On the synthetic demo cohort the unstratified table reproduces the paper's Table 1 (tested),
    except ICANS grade 1, which the paper prints as 59% where 7/12 is 58.3%.
    """
    lines = _lines(df, extra)
    order, labels = _strata(df, by)
    groups = [("Overall", pd.Series(True, index=df.index))]
    if labels is not None:
        groups += [(o, labels.eq(o).fillna(False)) for o in order]
    records = [_record(i, line, stratum, g) for i, line in enumerate(lines)
               for stratum, g in groups]
    tests: list[tuple] = []
    notes: list[Note] = []
    if labels is not None:
        tests, notes = _tests(df, lines, labels, order)
        if n_out := int(labels.isna().sum()):
            notes.insert(0, Note("info", "no_stratum",
                                 f"{n_out} patient(s) without a value for '{by}' are counted "
                                 "in Overall only."))
    return TableOne(pd.DataFrame.from_records(records, columns=list(ROW_COLUMNS)),
                    pd.DataFrame(tests, columns=list(TEST_COLUMNS)), tuple(order),
                    len(df), tuple(notes))


def _record(i: int, line: _Line, stratum: str, g: pd.Series) -> dict:
    """One printed line in one stratum, as numbers."""
    rec = {"row": i, "label": line.label, "indent": line.indent, "kind": line.kind,
           "stratum": stratum, "n": np.nan, "denominator": np.nan, "median": np.nan,
           "min": np.nan, "max": np.nan}
    if line.kind in ("count", "unknown") and line.mask is not None:
        rec["n"] = int((line.mask & g).sum())
    if line.kind == "count" and line.parent is not None:
        rec["denominator"] = int((line.parent & g).sum())
    elif line.kind == "median" and line.values is not None:
        v = line.values[g].dropna()
        rec["n"] = len(v)
        if len(v):
            rec.update(median=float(v.median()), min=float(v.min()), max=float(v.max()))
    return rec


_TEST_NAMES = {"fisher": "Fisher's exact test", "chi2": "Chi-square"}


def untestable(values: pd.Series, labels: pd.Series, order: Sequence[str],
               min_n: int = MIN_GROUP_N) -> str:
    """Why ``values`` cannot be compared across the strata ``labels``, or "" when it can.

    Parameters
    ----------
    values : the variable (missing values do not count).
    labels : stratum of each patient (aligned with ``values``).
    order : the strata shown in the table.
    min_n : fewest patients with a value each stratum needs.

    Returns
    -------
    str
        E.g. "not tested: group 'axi-cel' has fewer than 3 patients with a value (1)".
    """
    known = values.notna() & labels.notna()
    counts = labels[known].value_counts().reindex(list(order), fill_value=0)
    if (counts > 0).sum() < 2:
        return f"{NOT_TESTED}: fewer than two groups have a value"
    small = counts[counts < min_n]
    if len(small):
        which = ", ".join(f"'{g}' ({n})" for g, n in small.items())
        return (f"{NOT_TESTED}: a group has fewer than {min_n} patients with a value: "
                f"{which}")
    return ""


def _tests(df: pd.DataFrame, lines: list[_Line], labels: pd.Series,
           order: Sequence[str]) -> tuple[list[tuple], list[Note]]:
    """One test per variable block; the variables not tested, grouped by the reason."""
    tests: list[tuple] = []
    skipped: dict[str, list[str]] = {}
    for i, line in enumerate(lines):
        if line.test is None:
            continue
        col, kind = line.test
        why = untestable(df[col], labels, order)
        if not why:
            try:
                test, p = _test(df[col], labels, kind)
                tests.append((i, test, p, ""))
                continue
            except CohortError as exc:
                why = f"{NOT_TESTED}: {exc}"
        tests.append((i, NOT_TESTED, np.nan, why))
        skipped.setdefault(why, []).append(line.label)
    notes = [Note("info", "not_tested", f"{why[0].upper()}{why[1:]} — {', '.join(names)}.")
             for why, names in skipped.items()]
    return tests, notes


def _test(values: pd.Series, labels: pd.Series, kind: str) -> tuple[str, float]:
    """(test name, p) comparing ``values`` across the strata ``labels``."""
    from core import stats

    work = pd.DataFrame({"value": values, "_stratum": labels})
    r: stats.CompareResult | stats.ContingencyResult
    if kind == "numeric":
        r = stats.compare_groups(work, "value", "_stratum")
    else:
        r = stats.contingency(work, "value", "_stratum")
    return _TEST_NAMES.get(r.test, r.test), float(r.pvalue)


def note(t: TableOne) -> str:
    """The footnote of a printed Table 1: denominators, and the tests when stratified."""
    text = DENOMINATOR_NOTE
    if t.strata:
        text += (" Tests on the patients with a known value: Kruskal-Wallis (Mann-Whitney U "
                 "for two groups) for numbers; chi-square, or Fisher's exact test when an "
                 "expected count is below 5, for categories.")
        if (t.tests["test"] == NOT_TESTED).any():
            text += (" p-value \"—\": not tested (a test needs at least "
                     f"{MIN_GROUP_N} patients with a value in every group; see below).")
    return text


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
    printed without decimals when whole; "Unknown" rows print the count alone. A variable that
    was not tested prints "—" as p-value and "not tested" as test (the reason is in
    ``t.notes``).
    """
    cells = t.rows.copy()

    def fmt(r: pd.Series) -> str:
        if r["kind"] == "header":
            return ""
        if r["kind"] == "unknown":
            return str(int(r["n"]))
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
        out["p-value"] = [("" if i not in tests.index else "—"
                           if tests.loc[i, "test"] == NOT_TESTED
                           else _p(tests.loc[i, "pvalue"], digits)) for i in out.index]
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


INCIDENCE_COLUMNS = ("group", "n", "events", "proportion", "ci_low", "ci_high")


@dataclass(frozen=True)
class Incidence:
    """Incidence of an event by group.

    Attributes
    ----------
    table : DataFrame, columns :data:`INCIDENCE_COLUMNS` (group, n, events, proportion,
        ci_low, ci_high; Wilson 95% CI), one row per group with at least one patient with a
        known event, groups in ascending order of their values; empty (same columns) when no
        patient has both a group and a known event.
    event_label, group : what was counted, by which column.
    n_dropped : patients left out for a missing event or group.
    """

    table: pd.DataFrame
    event_label: str
    group: str
    n_dropped: int = 0

    @property
    def n(self) -> int:
        """Patients counted (with a group and a known event)."""
        return int(self.table["n"].sum())

    @property
    def events(self) -> int:
        """Patients with the event."""
        return int(self.table["events"].sum())


def incidence_by(df: pd.DataFrame, event: pd.Series, group: str, event_label: str,
                 bins: dict[str, Sequence[object]] | None = None) -> Incidence:
    """Events per group with Wilson 95% CIs, e.g. hypofibrinogenemia by CRS grade.

    Parameters
    ----------
    df : patient table.
    event : boolean Series aligned with ``df`` (missing: patient left out of that group's n).
    group : grouping column.
    event_label : what is counted, e.g. "Hypofibrinogenemia".
    bins : optional relabelling, e.g. ``{"3-4": [3, 4]}`` to pool CRS grades 3 and 4.

    Returns
    -------
    Incidence
        ``table`` always has the columns :data:`INCIDENCE_COLUMNS` (empty when nothing is
        known), ``n_dropped`` counts the patients left out.

    Raises
    ------
    ColumnError
        ``group`` is not a column of ``df``.
    """
    if group not in df.columns:
        raise ColumnError(f"No column '{group}' to count {event_label.lower()} by.")
    raw = pd.Series([python_value(v) for v in df[group]], index=df.index, dtype=object)
    label = raw.astype(object)
    for name, members in (bins or {}).items():
        label = label.where(~raw.isin(list(members)), name)
    work = pd.DataFrame({"group": label, "raw": raw,
                         "event": event.reindex(df.index).astype("boolean")}).dropna()
    rows = []
    for level, sub in sorted(work.groupby("group", sort=False),
                             key=lambda kv: _sort_key(kv[1]["raw"].min())):
        n, k = len(sub), int(sub["event"].sum())
        lo, hi = _wilson(k, n)
        rows.append((str(level), n, k, k / n, lo, hi))
    table = pd.DataFrame(rows, columns=list(INCIDENCE_COLUMNS)).astype(
        {"n": int, "events": int, "proportion": float, "ci_low": float, "ci_high": float})
    return Incidence(table, event_label, group, len(df) - len(work))


def _sort_key(v: object) -> tuple[int, float, str]:
    """Numbers first in numeric order, then text."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return (0, float(v), "")
    return (1, 0.0, str(v))


def _wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson score 95% CI of ``k`` events in ``n`` (statsmodels' ``proportion_confint``)."""
    from statsmodels.stats.proportion import proportion_confint

    if n == 0:
        return np.nan, np.nan
    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    return max(0.0, float(lo)), min(1.0, float(hi))


def grade_counts(series: pd.Series, grades: range = range(5)) -> pd.DataFrame:
    """Patients per grade of a grade column (missing, non-numeric and other values left out).

    Returns
    -------
    DataFrame
        Columns grade, n, percent (of the patients counted), one row per grade in ``grades``;
        n and percent are 0 when no patient has a grade.
    """
    s = pd.to_numeric(series, errors="coerce").dropna()
    s = s[s.isin(list(grades))].astype(int)
    n = s.value_counts().reindex(list(grades), fill_value=0)
    total = max(int(n.sum()), 1)
    return pd.DataFrame({"grade": list(grades), "n": n.to_numpy(),
                         "percent": 100 * n.to_numpy() / total})
