"""ui.figures.show_table at registry scale: the page shows the first TABLE_ROWS_SHOWN rows and
says so; the downloads still hold every row."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _script(n: int) -> None:
    import pandas as pd

    from ui.figures import show_table

    show_table(pd.DataFrame({"patient_id": [f"P{i}" for i in range(n)], "day": range(n)}),
               name="rows", title="Rows")


def _run(n: int) -> AppTest:
    at = AppTest.from_function(_script, kwargs={"n": n}, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_big_table_shows_its_first_rows_and_says_the_downloads_hold_all():
    from ui.figures import TABLE_ROWS_SHOWN

    assert TABLE_ROWS_SHOWN == 10_000
    at = _run(10_001)                                  # one row over
    shown = at.dataframe[0].value
    assert len(shown) == 10_000
    assert list(shown["patient_id"].iloc[[0, -1]]) == ["P0", "P9999"]
    assert [c.value for c in at.caption] == [
        "The first 10,000 of 10,001 rows; the CSV and XLSX downloads hold all rows."]


def test_a_table_up_to_the_limit_is_shown_whole_without_a_note():
    at = _run(10_000)
    assert len(at.dataframe[0].value) == 10_000
    assert [c.value for c in at.caption] == []
