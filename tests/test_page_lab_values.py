"""Lab values page through AppTest: renders on the demo, follows the sidebar filter, page
controls (analytes, preset, grouping, pooling) and a filter that leaves one group."""

from __future__ import annotations

from conftest import assert_clean, widget

PAGE = "views/lab_values.py"


def stats(at) -> list[str]:  # noqa: ANN001
    """The statistic line under each boxplot."""
    starts = ("Kruskal-Wallis p", "Mann-Whitney U p", "n = ")
    return [c.value for c in at.caption if c.value.startswith(starts)]


def test_renders_figure_1_on_the_demo(app_test):
    at = app_test(PAGE)
    assert_clean(at)
    assert at.title[0].value == "Lab values"
    assert any("synthetic demo cohort" in c.value for c in at.caption)
    assert widget(at, "lv_values").value == ["fibrinogen_nadir", "d_dimer_max",
                                             "platelets_min", "inr_max", "ptt_max"]
    lines = stats(at)
    assert len(lines) == 5 and all(s.endswith("n = 41") for s in lines)
    assert lines[1].startswith("Kruskal-Wallis p < 0.001")      # D-dimer
    # scipy's Kruskal-Wallis on the same patients: tests/test_paper_figures.py (finding 1A)
    assert lines[0] == "Kruskal-Wallis p = 0.0023 · n = 41"      # fibrinogen
    assert sum(e.label == "Dunn post hoc (Holm)" for e in at.expander) == 5


def test_sidebar_filter_changes_n(app_test):
    at = app_test(PAGE)
    widget(at, "flt_crs_grade").set_value([1, 2]).run()
    assert_clean(at)
    assert all(s.endswith("n = 33") for s in stats(at))
    assert all(s.startswith("Mann-Whitney U") for s in stats(at))


def test_figure_2_preset_group_and_pooling(app_test):
    at = app_test(PAGE)
    widget(at, "lv_fig2").click().run()
    assert_clean(at)
    assert widget(at, "lv_values").value == ["ggt_max", "alt_max", "che_min", "albumin_min"]
    assert len(stats(at)) == 4
    widget(at, "lv_pool").set_value(True).run()
    assert_clean(at)
    widget(at, "lv_values").set_value(["ferritin_max"]).run()
    widget(at, "lv_group").set_value("product").run()
    assert_clean(at)
    assert len(stats(at)) == 1 and stats(at)[0].endswith("n = 41")


def test_filter_leaving_one_group_says_so(app_test):
    at = app_test(PAGE)
    widget(at, "flt_crs_grade").set_value([2]).run()
    assert_clean(at)
    assert any("Only one group" in c.value for c in at.caption)
    assert all(s == "n = 20" for s in stats(at))


def test_too_few_patients_stop_with_a_message(app_test):
    at = app_test(PAGE)
    widget(at, "flt_crs_grade").set_value([4]).run()
    assert_clean(at)
    assert any("at least 3" in i.value for i in at.info)


def test_small_groups_are_flagged_on_the_panel(app_test):
    # the demo has 2 patients with CRS grade 4: too few for Kruskal-Wallis; pooling 3-4 fixes it
    at = app_test(PAGE)
    small = [c.value for c in at.caption if "fewer than 3 patients" in c.value]
    assert len(small) == 5 and all(s.startswith("⚠ Group 4 (n = 2) has") for s in small)
    assert all("Kruskal-Wallis" in s for s in small)
    widget(at, "lv_pool").set_value(True).run()
    assert_clean(at)
    assert not [c.value for c in at.caption if "fewer than 3 patients" in c.value]


def test_small_group_notes_by_hand():
    import pandas as pd

    from core.analyses.lab_values import small_group_notes
    from core.stats import compare_groups
    df = pd.DataFrame({"v": [1.0, 2, 3, 4, 5, 6, 7, 8, 9],
                       "g": ["a", "a", "a", "a", "b", "b", "b", "c", "c"]})
    notes = small_group_notes(compare_groups(df, "v", "g"))
    assert [n.kind for n in notes] == ["small_groups"] and notes[0].level == "warning"
    assert "Group c (n = 2) has fewer than 3" in notes[0].text and "Kruskal-Wallis" in notes[0].text
    df2 = df.assign(g=["a", "a", "a", "a", "b", "b", "b", "b", "c"])
    one = small_group_notes(compare_groups(df2, "v", "g"))
    assert "Group c (n = 1)" in one[0].text
    two = small_group_notes(compare_groups(df.assign(g=["a"] * 7 + ["b"] * 2), "v", "g"))
    assert "Mann-Whitney" in two[0].text and "no power" in two[0].text
    assert small_group_notes(compare_groups(df.assign(g=["a"] * 4 + ["b"] * 5), "v", "g")) == []
    assert small_group_notes(None) == []


def test_ctcae_lines_follow_the_sessions_lln(app_test):
    """The fibrinogen boxplot draws the CTCAE limits at the LLN set on the Endpoints page:
    LLN 250 mg/dL gives G1 < 250, G2 < 187.5 (0.75 x 250), G3 < 125, G4 < 62.5."""
    from dataclasses import replace

    from core.endpoints import EndpointSettings
    from ui import session

    def specs(at) -> str:  # noqa: ANN001
        """The charts' specs and inline data (labels travel in the Arrow datasets)."""
        charts = at.get("vega_lite_chart")
        parts = [c.proto.spec for c in charts]
        parts += [ds.data.data.decode("utf-8", "replace") for c in charts
                  for ds in c.proto.datasets]
        return " ".join(parts)

    at = app_test(PAGE)
    assert "G1 < 200" in specs(at)
    at.session_state[session.SETTINGS_KEY] = replace(EndpointSettings(), fibrinogen_lln=250.0)
    at.run()
    assert_clean(at)
    drawn = specs(at)
    assert "G1 < 250" in drawn and "G2 < 187.5" in drawn and "G1 < 200" not in drawn
