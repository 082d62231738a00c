"""Draw a chart or a table with its export actions (download menu, "Add to report").

Every page draws through these two functions, so export behaviour lives in one place.

Nothing is rendered on a rerun: the download buttons get a *callable* as ``data`` (Streamlit
1.67 runs it in a worker thread only when the user clicks), the callable looks in the session's
:class:`core.export.RenderMemo` first and stores what it renders there, so a second download of
the same figure, or a meeting pack containing it, costs nothing. Download clicks do not rerun
the page (``on_click="ignore"``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import altair as alt
import pandas as pd
import streamlit as st

from core import export
from core.export import MIME_TYPES, FigureSpec, ImageFormat, RenderMemo
from ui import report as report_state
from ui import session

#: format -> (menu label, help), in menu order
FIGURE_FORMATS: dict[ImageFormat, tuple[str, str]] = {
    "png": ("PNG · slides", "3000 px wide, 300 dpi: fills a widescreen slide"),
    "svg": ("SVG · vector", "Scales freely; for posters and editing"),
    "pdf": ("PDF · vector", "One page, vector; for print and manuscripts"),
}
#: st.dataframe geometry: rows shown without an inner scrollbar, px per row, border
TABLE_MAX_ROWS, ROW_PX, BORDER_PX = 40, 35, 3


def figure_spec(chart: alt.TopLevelMixin, *, name: str, title: str,
                stat: str | None = None) -> FigureSpec:
    """The exportable figure of ``chart``, captioned with the session's filter and n.

    Parameters
    ----------
    chart : alt.TopLevelMixin
    name : str
        Slug for file names.
    title : str
    stat : str, optional

    Returns
    -------
    FigureSpec
        Caption = the filter caption with n (ends in "synthetic demo cohort" for the demo),
        ``synthetic`` = the session's data source is the demo cohort.
    """
    view = session.cohort()
    return FigureSpec(chart=chart, title=title, caption=view.caption, stat=stat, name=name,
                      synthetic=view.synthetic)


def lazy_figure(spec: FigureSpec, fmt: ImageFormat, memo: RenderMemo) -> Callable[[], bytes]:
    """A zero-argument callable for ``st.download_button(data=...)`` that renders on click.

    It captures the memo object itself (not ``st.session_state``, which the worker thread
    running it has no access to).

    Parameters
    ----------
    spec : FigureSpec
    fmt : {"png", "svg", "pdf"}
    memo : RenderMemo
        The session's memo (:func:`ui.report.render_memo`).

    Returns
    -------
    callable
        ``() -> bytes``; the figure is rendered on the first call only.

    Raises
    ------
    ValueError
        For an unknown ``fmt`` (at once, not on click).
    """
    export.check_image_format(fmt)

    def data() -> bytes:
        return memo.render(spec, fmt)

    return data


def _pin(spec: FigureSpec, table: pd.DataFrame | None) -> None:
    """Button callback: pin the figure and confirm with a toast."""
    if report_state.pin(spec, table):
        n = len(report_state.get_report())
        st.toast(f"Added **{spec.title}** to the report ({n} figure{'s' * (n != 1)}).",
                 icon=":material/playlist_add_check:")
    else:
        st.toast(f"**{spec.title}** is already in the report.", icon=":material/info:")


def show_chart(chart: alt.TopLevelMixin, *, name: str, title: str,
               stat: str | None = None, key: str | None = None,
               table: pd.DataFrame | None = None) -> None:
    """Draw ``chart`` with its statistic line and a compact action row under it.

    The action row has a **Download** menu (PNG for slides at 300 dpi, SVG, PDF; each with the
    filter caption, n, the statistic and, for the demo, the synthetic label drawn into the
    image) and an **Add to report** button that pins the figure to the session's report.

    Parameters
    ----------
    chart : alt.TopLevelMixin
        The Altair chart (built by a core.charts builder).
    name : str
        Short slug for file names, e.g. ``"fibrinogen_by_crs"``.
    title : str
        Human title, used on slides and in the report.
    stat : str, optional
        The statistic shown with the figure, e.g. ``"Kruskal-Wallis p = 0.004"``.
    key : str, optional
        Widget key prefix (defaults to ``name``); must be unique on the page.
    table : pandas.DataFrame, optional
        The table behind the figure; goes into the meeting pack's ZIP as CSV.
    """
    # any top-level chart; streamlit's stub names the concrete classes only
    st.altair_chart(cast(Any, chart), width="stretch")
    if stat:
        st.caption(stat)
    spec = figure_spec(chart, name=name, title=title, stat=stat)
    prefix = f"fig-{key or name}"
    memo = report_state.render_memo()
    with st.container(horizontal=True, gap="small", vertical_alignment="center"):
        with st.popover("Download", icon=":material/download:", type="tertiary",
                        key=f"{prefix}-menu"):
            st.caption("With the filter caption, n and statistic in the image.")
            for fmt, (label, hint) in FIGURE_FORMATS.items():
                st.download_button(label, data=lazy_figure(spec, fmt, memo),
                                   file_name=export.filename(name, fmt), mime=MIME_TYPES[fmt],
                                   help=hint, key=f"{prefix}-{fmt}", on_click="ignore",
                                   width="stretch")
        st.button("Add to report", key=f"{prefix}-add", icon=":material/playlist_add:",
                  type="tertiary", on_click=_pin, args=(spec, table),
                  help="Pin this figure (as shown, with its caption) to the Report page.")


def table_height(n_rows: int) -> int:
    """Pixel height that shows ``n_rows`` (up to 40) without an inner scrollbar.

    Parameters
    ----------
    n_rows : int

    Returns
    -------
    int
        Height for ``st.dataframe(height=...)``; a longer table scrolls.
    """
    return (min(max(n_rows, 1), TABLE_MAX_ROWS) + 1) * ROW_PX + BORDER_PX


def show_table(df: pd.DataFrame, *, name: str, title: str, key: str | None = None) -> None:
    """Draw a table sized to its content with CSV/XLSX downloads.

    Parameters
    ----------
    df : pandas.DataFrame
        The table as shown.
    name : str
        Slug for file names.
    title : str
        Human title (the XLSX sheet name).
    key : str, optional
        Widget key prefix (defaults to ``name``); must be unique on the page.

    Notes
    -----
    CSV cells that a spreadsheet would run as formulas are neutralised
    (:func:`core.export.safe_csv`); the XLSX keeps them as text
    (:func:`core.export.table_xlsx`). Both are made only when clicked.
    """
    st.dataframe(df, width="stretch", hide_index=True, height=table_height(len(df)))
    prefix = f"tbl-{key or name}"
    with st.container(horizontal=True, gap="small"):
        st.download_button("CSV", data=lambda: export.safe_csv(df),
                           file_name=export.filename(name, "csv"), mime=MIME_TYPES["csv"],
                           key=f"{prefix}-csv", on_click="ignore", type="tertiary",
                           icon=":material/download:",
                           help="UTF-8 CSV; cells starting with = + - @ are made safe.")
        st.download_button("XLSX", data=lambda: export.table_xlsx(df, sheet=title),
                           file_name=export.filename(name, "xlsx"), mime=MIME_TYPES["xlsx"],
                           key=f"{prefix}-xlsx", on_click="ignore", type="tertiary",
                           icon=":material/download:", help="Excel workbook.")
