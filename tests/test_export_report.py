"""Tests of core.export.report: the immutable report model and the pack metadata."""

from __future__ import annotations

from datetime import date

import altair as alt
import pytest

import export_cases as cases
from core.export import Report, ReportItem, ReportMeta
from export_cases import spec as _spec


@pytest.fixture(scope="module")
def charts() -> dict[str, alt.TopLevelMixin]:
    return cases.charts()


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------

def test_report_edits_return_new_reports(charts):
    a, b, c = (ReportItem(_spec(charts["single"], title=t)) for t in "ABC")
    empty = Report()
    rep = empty.add(a).add(b).add(c)
    assert len(empty) == 0 and [i.figure.title for i in rep] == ["A", "B", "C"]
    assert [i.figure.title for i in rep.move(c.id, 0)] == ["C", "A", "B"]
    assert [i.figure.title for i in rep.move(a.id, 99)] == ["B", "C", "A"]
    assert [i.figure.title for i in rep.move(a.id, -1)] == ["B", "C", "A"]
    assert [i.figure.title for i in rep.remove(b.id)] == ["A", "C"]
    renamed = rep.retitle(b.id, "B2")
    assert [i.figure.title for i in renamed] == ["A", "B2", "C"]
    assert renamed.items[1].id == b.id and rep.items[1].figure.title == "B"
    with pytest.raises(KeyError):
        rep.remove("nope")
    with pytest.raises(ValueError):
        rep.add(a)
    assert rep.with_title("Board").title == "Board"

# ---------------------------------------------------------------------------------------------
# ReportMeta
# ---------------------------------------------------------------------------------------------

def test_meta_defaults_list_library_versions():
    meta = ReportMeta(cohort="x")
    assert meta.when == date.today()
    assert meta.versions["altair"] == alt.__version__
    assert "streamlit" in meta.versions and "python" in meta.versions
