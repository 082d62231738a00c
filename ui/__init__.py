"""Streamlit-facing helpers shared by the pages (the only package besides pages/ and app.py that
imports streamlit). Pages call :func:`ui.session.cohort` for the filtered cohort and
:func:`ui.figures.show_chart` / :func:`ui.figures.show_table` to draw with export actions."""
