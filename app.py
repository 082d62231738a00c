"""CAR-T cohort explorer: entry point. Routes the pages and draws the sidebar.

Run with ``make run`` (or ``streamlit run app.py``).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui import sidebar

ROOT = Path(__file__).resolve().parent

#: (section, file, title, icon); a page file that is not there is left out of the menu
PAGES = [
    ("Cohort", "pages/cohort.py", "Cohort", ":material/groups:"),
    ("Cohort", "pages/data.py", "Data", ":material/upload_file:"),
    ("Analysis", "pages/lab_values.py", "Lab values", ":material/science:"),
    ("Analysis", "pages/correlations.py", "Correlations", ":material/scatter_plot:"),
    ("Analysis", "pages/tocilizumab.py", "Tocilizumab", ":material/medication:"),
    ("Analysis", "pages/time_course.py", "Time course", ":material/timeline:"),
    ("Analysis", "pages/paper_figures.py", "Paper figures", ":material/article:"),
    ("Outcomes", "pages/risk_factors.py", "Risk factors", ":material/forest:"),
    ("Outcomes", "pages/survival.py", "Survival", ":material/monitor_heart:"),
    ("Export", "pages/report.py", "Report", ":material/slideshow:"),
]


def main() -> None:
    st.set_page_config(page_title="CAR-T cohort explorer", page_icon=":material/biotech:",
                       layout="wide")
    sections: dict[str, list] = {}
    for section, path, title, icon in PAGES:
        if (ROOT / path).exists():
            sections.setdefault(section, []).append(
                st.Page(str(ROOT / path), title=title, icon=icon,
                        default=path == "pages/cohort.py"))
    nav = st.navigation(sections)
    sidebar.render()
    nav.run()


main()
