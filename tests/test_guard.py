"""ui.guard: one way to show a CohortError, with what to fix; a panel that fails lets the page
go on."""

from __future__ import annotations


def test_guard_shows_a_cohort_error_with_what_to_fix_and_stops():
    from streamlit.testing.v1 import AppTest

    def script() -> None:
        import streamlit as st

        from core.errors import ColumnError, InsufficientDataError
        from ui.guard import guard

        with guard("Panel A", scope="panel") as a:
            raise InsufficientDataError("Only 2 patients have both values.")
        st.write(f"panel A failed: {a.failed}")
        with guard("Panel B", scope="panel") as b:
            st.write("panel B drawn")
        st.write(f"panel B failed: {b.failed}")
        with guard("Table 1"):
            raise ColumnError("No column 'ward' in the patient table.")
        st.write("after the page stopped")

    at = AppTest.from_function(script).run()
    assert not at.exception
    # too few data: information, with the panel's name and a hint what to do
    assert at.info[0].value == ("**Panel A**: Only 2 patients have both values.  \nWiden the "
                                "filter in the sidebar or choose other columns.")
    # a column problem: an error box, with the hint for columns
    assert at.error[0].value.startswith("**Table 1**: No column 'ward' in the patient table.")
    assert "correct the column mapping on the Data page" in at.error[0].value
    shown = [m.value for m in at.markdown]
    assert shown == ["panel A failed: True", "panel B drawn", "panel B failed: False"]


def test_guard_adds_no_hint_when_the_message_says_what_to_do():
    from core.errors import InsufficientDataError
    from ui.guard import hint, message

    exc = InsufficientDataError("No patient at the landmark. Choose an earlier landmark.")
    assert hint(exc) == ""
    assert message(exc, "Survival") == ("**Survival**: No patient at the landmark. Choose an "
                                        "earlier landmark.")
