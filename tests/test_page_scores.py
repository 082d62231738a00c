"""Risk scores page through AppTest: renders on the demo (three scores by CRS and by ICANS
grade, risk groups, baselines) and follows the sidebar filter."""

from __future__ import annotations

import pandas as pd
from scipy.stats import kruskal

from conftest import assert_clean, widget
from core import demo
from ui.format import p_text

PAGE = "views/scores.py"


def stats(at) -> list[str]:  # noqa: ANN001
    starts = ("Kruskal-Wallis p", "Mann-Whitney U p", "n = ")
    return [c.value for c in at.caption if c.value.startswith(starts)]


def test_renders_on_the_demo(app_test):
    at = app_test(PAGE)
    assert_clean(at)
    assert at.title[0].value == "Risk scores"
    lines = stats(at)
    assert len(lines) == 6 and all(s.endswith("n = 41") for s in lines)
    # EASIX by CRS grade: scipy's Kruskal-Wallis on the same 41 demo patients
    p = demo.generate().patients
    h = kruskal(*[g["easix"].to_numpy() for _, g in p.groupby("crs_grade")])
    assert lines[1].startswith(f"Kruskal-Wallis p = {h.pvalue:.2g}"), (lines[1], h.pvalue)
    assert [s.value for s in at.subheader] == ["CRS grade", "ICANS grade",
                                               "CAR-HEMATOTOX risk groups"]
    assert any(e.label == "Baselines used and components missing" for e in at.expander)


def test_sidebar_filter_changes_n(app_test):
    at = app_test(PAGE)
    widget(at, "flt_crs_grade").set_value([1, 2]).run()
    assert_clean(at)
    lines = stats(at)
    assert lines and all(s.endswith("n = 33") for s in lines)
    assert pd.Series(lines[:3]).str.startswith("Mann-Whitney U").all()


def test_show_code_recomputes_the_panels_under_the_filter(app_test):
    """Each "Show code" block, executed on its own (it loads the demo, derives the endpoints
    and applies the sidebar filter), gives the n and the p-value the page shows."""
    at = app_test(PAGE)
    widget(at, "flt_crs_grade").set_value([1, 2]).run()
    assert_clean(at)
    captions = " | ".join(c.value for c in at.caption)
    seen = set()
    for block in at.code:
        if block.value in seen:
            continue
        seen.add(block.value)
        ns: dict = {}
        exec(block.value, ns)  # noqa: S102 - the page's own code
        r = ns["result"]
        if "score_panel(" in block.value:
            assert f"n = {r.n}" in captions and r.n == 33
            assert p_text(r.comparison.pvalue) in captions
        elif "risk_groups(" in block.value:
            assert int(r.table["n"].sum()) == 33
            assert p_text(r.test.pvalue) in captions
    assert any("score_panel(" in s for s in seen) and any("risk_groups(" in s for s in seen)
