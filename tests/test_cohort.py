"""core.analyses.cohort: the paper's Table 1 on the synthetic demo cohort, stratification and
tests, grade counts and incidence."""

from __future__ import annotations

import pandas as pd
import pytest

from core import ingest
from core.analyses import cohort as table1

# Perl et al. 2024, Table 1, "N (%)" column as printed.
PAPER_TABLE_1 = [
    ("Total", "41 (100)"), ("Age in years (range)", "69 (38-83)"), ("Female sex", "22 (54)"),
    ("Disease", ""), ("High-grade B-NHL", "30 (73)"), ("Primary", "21 (70)"),
    ("Secondary transformed", "9 (30)"), ("Multiple myeloma", "5 (12)"),
    ("Follicular lymphoma", "3 (7)"), ("Mantle cell lymphoma", "2 (5)"),
    ("Acute lymphoblastic leukemia", "1 (2)"), ("Bulky disease", "13 (32)"),
    ("CAR T-cell product (target)", ""), ("tisa-cel (CD19)", "18 (44)"),
    ("axi-cel (CD19)", "14 (34)"), ("ide-cel (BCMA)", "5 (12)"), ("brexu-cel (CD19)", "3 (7)"),
    ("CD19/CD20 (experimental)", "1 (2)"), ("CRS, total", "38 (93)"), ("Grade 1", "13 (34)"),
    ("Grade 2", "20 (53)"), ("Grade 3", "3 (8)"), ("Grade 4", "2 (5)"),
    ("ICANS, total", "12 (29)"),
    # The paper prints 7 (59); 7/12 = 58.3 %, so 58 is the correct rounding.
    ("Grade 1", "7 (58)"), ("Grade 2", "3 (25)"), ("Grade 3", "0"), ("Grade 4", "2 (17)"),
    ("Tocilizumab administration", "29 (71)"), ("Corticosteroid administration", "14 (34)"),
]


@pytest.fixture(scope="module")
def demo() -> pd.DataFrame:
    return ingest.load_demo().patients


def test_demo_reproduces_paper_table_1(demo):
    printed = table1.format_table_one(table1.table_one(demo))
    got = [(p.strip("\u2003"), v) for p, v in zip(printed["Parameter"], printed["N (%)"])]
    assert got == PAPER_TABLE_1


def test_stratified_by_tocilizumab_has_tests_per_block(demo):
    t = table1.table_one(demo, by="tocilizumab")
    assert t.strata == ("Tocilizumab given: no", "Tocilizumab given: yes")
    printed = table1.format_table_one(t)
    assert list(printed.columns) == ["Parameter", "Overall (n = 41)",
                                     "Tocilizumab given: no (n = 12)",
                                     "Tocilizumab given: yes (n = 29)", "p-value", "test"]
    row = printed.set_index(printed["Parameter"].str.strip("\u2003"))
    assert row.loc["Age in years (range)", "test"] == "Mann-Whitney U"
    # CRS grade distribution differs strongly by tocilizumab; small counts -> Fisher
    assert row.loc["CRS, total", "test"] == "Fisher's exact test"
    crs_p = t.tests.set_index("row")["pvalue"]
    assert (crs_p >= 0).all() and (crs_p <= 1).all()
    # tocilizumab row against itself: the split is perfect
    assert row.loc["Tocilizumab administration", "Tocilizumab given: yes (n = 29)"] == "29 (100)"


def test_missing_columns_are_left_out_and_extra_rows_added():
    df = pd.DataFrame({"patient_id": list("abcd"), "age": [50, 60, 70, 80],
                       "ward": ["x", "x", "y", None], "score": [1.5, 2.5, 3.5, 4.5]})
    t = table1.table_one(df, extra=["ward", "score"])
    printed = table1.format_table_one(t)
    assert printed["Parameter"].str.strip("\u2003").tolist() == [
        "Total", "Age in years (range)", "ward", "x", "y", "Unknown", "score, median (range)"]
    # ward: 2 of the 3 with a ward are x; the patient without one is "Unknown", not a 4th
    assert printed["N (%)"].tolist()[3:] == ["2 (67)", "1 (33)", "1", "3 (1.5-4.5)"]


def test_incidence_by_crs_grade_pooled(demo):
    event = demo["hypofibrinogenemia_grade"].ge(1)
    inc = table1.incidence_by(demo, event, "crs_grade", "Hypofibrinogenemia",
                              bins={"3-4": [3, 4]})
    t = inc.table.set_index("group")
    assert t.loc["1", ["n", "events"]].tolist() == [13, 5]
    assert t.loc["2", ["n", "events"]].tolist() == [20, 18]
    assert t.loc["3-4", ["n", "events"]].tolist() == [5, 4]
    # Wilson interval of 5/13, worked by hand: centre 0.4058, half-width 0.2336
    assert t.loc["1", "ci_low"] == pytest.approx(0.1771, abs=1e-4)
    assert t.loc["1", "ci_high"] == pytest.approx(0.6448, abs=1e-4)


def test_grade_counts():
    c = table1.grade_counts(pd.Series([0, 1, 1, None, 4]))
    assert c["n"].tolist() == [1, 2, 0, 0, 1]


def _printed(t: table1.TableOne) -> pd.DataFrame:
    out = table1.format_table_one(t)
    return out.set_index(out["Parameter"].str.strip("\u2003"), drop=False)


def test_unknown_crs_grade_is_counted_not_dropped():
    """A CRS grade entered as "k.A." loads as missing; it shows as "Unknown", percentages are
    of the known grades (gtsummary's default), and the note states the denominator."""
    from core import ingest

    csv = (b"patient_id,crs_grade,tocilizumab\nP1,1,1\nP2,k.A.,1\nP3,2,1\nP4,0,0\n"
           b"P5,2,0\n")
    df = ingest.load_upload(ingest.Upload("p.csv", csv), None, None, {}).patients
    printed = table1.format_table_one(table1.table_one(df))
    rows = list(zip(printed["Parameter"], printed["N (%)"]))
    # known grades: 1, 2, 0, 2 -> 3 of 4 with CRS (75 %); grade 1: 1 of 3 (33 %), grade 2: 2
    # of 3 (67 %); one Unknown, indented under the CRS block, counted but not a percentage
    assert rows[:7] == [("Total", "5 (100)"), ("CRS, total", "3 (75)"),
                        ("\u2003Grade 1", "1 (33)"), ("\u2003Grade 2", "2 (67)"),
                        ("\u2003Grade 3", "0"), ("\u2003Grade 4", "0"),
                        ("\u2003Unknown", "1")]
    # tocilizumab is complete: no Unknown row for it
    assert rows[7:] == [("Tocilizumab administration", "3 (60)")]
    assert table1.DENOMINATOR_NOTE.startswith("Percentages are of the patients with a known")


def test_unknown_rows_per_stratum():
    df = pd.DataFrame({
        "patient_id": [f"P{i}" for i in range(8)],
        "age": [50, None, 60, 70, None, 55, 65, 75],
        "sex": ["F", "M", None, "F", "M", "F", None, "M"],
        "tocilizumab": [1, 1, 1, 1, 0, 0, 0, 0]})
    t = table1.table_one(df, by="tocilizumab")
    p = _printed(t)
    no, yes = "Tocilizumab given: no (n = 4)", "Tocilizumab given: yes (n = 4)"
    labels = p["Parameter"].tolist()
    # the Unknown row follows its variable, indented
    assert labels == ["Total", "Age in years (range)", "\u2003Unknown", "Female sex",
                      "\u2003Unknown", "Tocilizumab administration"]
    unknown_age, unknown_sex = p.iloc[2], p.iloc[4]
    # age missing: P1 (treated), P4 (untreated); sex missing: P2 (treated), P6 (untreated)
    assert (unknown_age["Overall (n = 8)"], unknown_age[yes], unknown_age[no]) == ("2", "1", "1")
    assert (unknown_sex["Overall (n = 8)"], unknown_sex[yes], unknown_sex[no]) == ("2", "1", "1")
    # female among known sex: treated P0, P3 of P0, P1, P3 -> 2/3 = 67 %; untreated P5 of
    # P4, P5, P7 -> 1/3 = 33 %; overall 3/6 = 50 %
    assert p.loc["Female sex", [ "Overall (n = 8)", yes, no]].tolist() == ["3 (50)", "2 (67)",
                                                                          "1 (33)"]
    # Unknown rows carry no test; the numbers behind them are kind "unknown"
    assert set(t.rows.loc[t.rows["label"] == "Unknown", "kind"]) == {"unknown"}
    assert p.iloc[2]["p-value"] == "" and p.iloc[2]["test"] == ""


def test_no_p_value_for_groups_too_small_to_test():
    # 1 vs 1: the old table printed p = 1.00
    df = pd.DataFrame({"patient_id": ["A", "B"], "age": [50, 70], "sex": ["F", "M"],
                       "tocilizumab": [0, 1]})
    t = table1.table_one(df, by="tocilizumab")
    p = _printed(t)
    assert p.loc["Age in years (range)", "p-value"] == "—"
    assert p.loc["Age in years (range)", "test"] == "not tested"
    assert p.loc["Female sex", "p-value"] == "—"
    assert t.tests["pvalue"].isna().all()
    assert any("fewer than 3 patients with a value" in m and "'Tocilizumab given: no' (1)" in m
               for m in t.messages)


def test_test_needs_min_known_values_per_group_not_min_patients():
    # 4 vs 4 patients, but only 2 of the untreated have an age: age not tested, sex tested
    df = pd.DataFrame({"patient_id": list("abcdefgh"),
                       "age": [50, 52, None, None, 60, 62, 64, 66],
                       "sex": ["F", "F", "M", "F", "M", "M", "F", "M"],
                       "tocilizumab": [0, 0, 0, 0, 1, 1, 1, 1]})
    t = table1.table_one(df, by="tocilizumab")
    p = _printed(t)
    assert p.loc["Age in years (range)", "p-value"] == "—"
    assert p.loc["Female sex", "test"] == "Fisher's exact test"
    # Fisher 2x2, female 3/4 vs 1/4: p = 0.4857 (R: fisher.test(matrix(c(3, 1, 1, 3), 2)))
    row = int(t.rows.loc[t.rows["label"] == "Female sex", "row"].iloc[0])
    assert t.tests.set_index("row").loc[row, "pvalue"] == pytest.approx(0.4857, abs=1e-4)
    assert p.loc["Female sex", "p-value"] == "0.49"


def test_patients_without_a_stratum_are_in_overall_only():
    df = pd.DataFrame({"patient_id": list("abcde"), "age": [50, 60, 70, 80, 90],
                       "tocilizumab": [0, 0, 1, 1, None]})
    t = table1.table_one(df, by="tocilizumab")
    assert t.strata == ("Tocilizumab given: no", "Tocilizumab given: yes")
    assert any(m.startswith("1 patient(s) without a value for 'tocilizumab'")
               for m in t.messages)


def test_empty_and_blank_columns_give_a_well_formed_table():
    blank = pd.DataFrame({"patient_id": ["a", "b", "c"], "crs_grade": [None] * 3,
                          "sex": [None] * 3, "ward": [None] * 3})
    t = table1.table_one(blank, extra=["ward"])
    assert list(t.rows.columns) == list(table1.ROW_COLUMNS)
    printed = table1.format_table_one(t)
    # a blank column: its name with "(no values)" and the Unknown count; no CRS or sex rows
    assert printed["Parameter"].str.strip("\u2003").tolist() == ["Total", "ward (no values)",
                                                                  "Unknown"]
    assert printed["N (%)"].tolist() == ["3 (100)", "", "3"]
    empty = table1.table_one(blank.iloc[:0], by="sex")
    assert list(empty.tests.columns) == list(table1.TEST_COLUMNS)
    assert empty.strata == ()


def test_incidence_by_is_well_formed_for_blank_and_partial_events():
    df = pd.DataFrame({"crs_grade": [1, 1, 2, 3, 4, None],
                       "hypofibrinogenemia_grade": [None] * 6})
    event = df["hypofibrinogenemia_grade"].ge(1).where(df["hypofibrinogenemia_grade"].notna())
    inc = table1.incidence_by(df, event, "crs_grade", "Hypofibrinogenemia")
    assert list(inc.table.columns) == list(table1.INCIDENCE_COLUMNS)
    assert inc.table.empty and inc.n == 0 and inc.events == 0 and inc.n_dropped == 6
    # partial: grades 1, 1, 2, 3, 4 known; events known for 4 of them; one without a grade
    event = pd.Series([True, None, False, True, True, True], dtype="boolean")
    inc = table1.incidence_by(df, event, "crs_grade", "H", bins={"3-4": [3, 4]})
    t = inc.table.set_index("group")
    assert list(t.index) == ["1", "2", "3-4"]          # numeric order, pooled group last
    assert t[["n", "events"]].values.tolist() == [[1, 1], [1, 0], [2, 2]]
    assert inc.n_dropped == 2                           # event unknown; grade unknown
    with pytest.raises(table1.ColumnError):
        table1.incidence_by(df, event, "no_such_column", "H")


def test_grade_counts_ignores_text_and_out_of_range():
    c = table1.grade_counts(pd.Series(["1", "k.A.", None, 7, 2.0], dtype=object))
    assert c["n"].tolist() == [0, 1, 1, 0, 0]
    assert table1.grade_counts(pd.Series([None, None]))["n"].sum() == 0


def test_note_states_the_denominator_and_explains_the_dash_only_when_used(demo):
    plain = table1.note(table1.table_one(demo))
    assert plain == table1.DENOMINATOR_NOTE
    tested = table1.note(table1.table_one(demo, by="tocilizumab"))
    assert "Kruskal-Wallis" in tested and "not tested" not in tested
    small = table1.note(table1.table_one(demo, by="product"))   # CD19/CD20: 1 patient
    assert 'p-value "—": not tested (a test needs at least 3 patients' in small


def test_frame_digest_follows_content_and_is_cached_per_frame():
    from core.ingest.cohort import _DIGESTS, frame_digest

    df = pd.DataFrame({"patient_id": pd.Categorical(["P1", "P2", "P1"]), "day": [0.0, 1.0, 2.0],
                       "value": [1.5, float("nan"), 3.0], "unit": ["g/L", None, "mg/dL"]})
    same = df.copy()
    assert frame_digest(df) == frame_digest(same)  # equal content, another object
    assert id(df) in _DIGESTS and _DIGESTS[id(df)][0]() is df
    for column, new in (("day", [0.0, 1.0, 2.5]),
                        ("patient_id", pd.Categorical(["P1", "P2", "P2"])),
                        ("unit", ["g/L", None, "g/L"]), ("value", [1.5, 2.0, 3.0])):
        changed = df.copy()
        changed[column] = new
        assert frame_digest(changed) != frame_digest(df), column
    assert frame_digest(df.rename(columns={"day": "tag"})) != frame_digest(df)
