"""CAR-T cohort explorer: entry point. Routes the pages and draws the sidebar.

Run with ``make run`` (or ``streamlit run app.py``).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui import sidebar

ROOT = Path(__file__).resolve().parent
#: the tab icon, a file in the repository: a Material icon name (":material/...:") as page_icon
#: makes every page fetch the icon from fonts.gstatic.com, and hospital PCs are often offline
#: (the Material icons of st.Page come from the font Streamlit bundles, so they stay local)
ICON = ROOT / "assets" / "favicon.png"

#: (section, file, title, icon); a page file that is not there is left out of the menu
PAGES = [
    ("Cohort", "views/cohort.py", "Cohort", ":material/groups:"),
    ("Cohort", "views/data.py", "Data", ":material/upload_file:"),
    ("Cohort", "views/endpoints.py", "Endpoints", ":material/tune:"),
    ("Analysis", "views/lab_values.py", "Lab values", ":material/science:"),
    ("Analysis", "views/correlations.py", "Correlations", ":material/scatter_plot:"),
    ("Analysis", "views/scores.py", "Risk scores", ":material/speed:"),
    ("Analysis", "views/tocilizumab.py", "Tocilizumab", ":material/medication:"),
    ("Analysis", "views/time_course.py", "Time course", ":material/timeline:"),
    ("Analysis", "views/swimmer.py", "Swimmer plot", ":material/view_timeline:"),
    ("Analysis", "views/paper_figures.py", "Paper figures", ":material/article:"),
    ("Outcomes", "views/risk_factors.py", "Risk factors", ":material/forest:"),
    ("Outcomes", "views/survival.py", "Survival", ":material/monitor_heart:"),
    ("Export", "views/report.py", "Report", ":material/slideshow:"),
]


def main() -> None:
    st.set_page_config(page_title="CAR-T cohort explorer", page_icon=str(ICON), layout="wide")
    sections: dict[str, list] = {}
    for section, path, title, icon in PAGES:
        if (ROOT / path).exists():
            sections.setdefault(section, []).append(
                st.Page(str(ROOT / path), title=title, icon=icon,
                        default=path == "views/cohort.py"))
    # all 13 pages listed: folded behind 'View 3 more', Survival and Report were easy to miss
    nav = st.navigation(sections, expanded=True)
    body = sidebar.render()
    with body.container():  # emptied when an upload starts loading
        nav.run()


main()
