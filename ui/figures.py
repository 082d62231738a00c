"""Draw a chart or a table with its export actions (download menu, "Add to report").

Every page draws through these two functions, so export behaviour lives in one place.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st


def show_chart(chart: alt.Chart | alt.TopLevelMixin, *, name: str, title: str,
               stat: str | None = None, key: str | None = None) -> None:
    """Draw ``chart`` with its statistic line under it.

    Parameters
    ----------
    chart : the Altair chart (built by a core.charts builder).
    name : short slug for file names, e.g. ``"fibrinogen_by_crs"``.
    title : human title, used on slides and in the report.
    stat : the statistic shown with the figure, e.g. ``"Kruskal-Wallis p = 0.004"``.
    key : widget key prefix (defaults to ``name``); must be unique on the page.
    """
    st.altair_chart(chart, width="stretch")
    if stat:
        st.caption(stat)


def show_table(df: pd.DataFrame, *, name: str, title: str, key: str | None = None) -> None:
    """Draw a table with CSV/XLSX downloads."""
    st.dataframe(df, width="stretch", hide_index=True)
