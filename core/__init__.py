"""Core of the CAR-T cohort explorer.

Pure Python: nothing here imports streamlit, so a notebook gets the same numbers as the app::

    from core import stats, ingest
    cohort = ingest.load_demo()
    stats.compare_groups(cohort.patients, "fibrinogen_nadir", "crs_grade")
"""

__version__ = "0.1.0"
