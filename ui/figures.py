"""Draw a chart or a table with its export actions (download menu, "Add to report").

Every page draws through these two functions, so export behaviour lives in one place.

"Show code": a page describes a panel's computation once, as a :class:`core.codegen.Recipe`;
:func:`compute` runs it (memoised, on the view's data) and ``show_chart(..., code=recipe)`` /
``show_table(..., code=recipe)`` / :func:`show_code` print the same recipe as the lines of
``core`` API that recompute the panel in a notebook (with the session's filter and endpoint
settings). A pinned figure keeps its :class:`core.codegen.PanelCode` for the report's notebook.

Nothing is rendered on a rerun: the download buttons get a *callable* as ``data`` (Streamlit
1.67 runs it in a worker thread only when the user clicks), the callable looks in the session's
:class:`core.export.RenderMemo` first and stores what it renders there, so a second download of
the same figure, or a meeting pack containing it, costs nothing. Download clicks do not rerun
the page (``on_click="ignore"``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, cast

import altair as alt
import pandas as pd
import streamlit as st

from core import export
from core.analyses import columns
from core.codegen import Call, PanelCode, Recipe
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


class _ViewNames(Mapping[str, Any]):
    """The names a recipe reads, from the session's view; ``labs`` and ``treatments`` are
    fetched only when a step reads them."""

    _NAMES = ("patients", "labs", "treatments", "store", "settings", "flt")

    def __init__(self, view: session.CohortView) -> None:
        self._view = view

    def __getitem__(self, key: str) -> Any:
        if key == "settings":
            return session.endpoint_settings()
        if key == "flt":
            return self._view.filter
        if key in self._NAMES:
            return getattr(self._view, key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._NAMES)

    def __len__(self) -> int:
        return len(self._NAMES)


def _invoke(owner: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    """``owner.name(*args, **kwargs)``: a method call memoised with its owner in the key."""
    return getattr(owner, name)(*args, **kwargs)


def _memo_step(view: session.CohortView, step: Call, names: Mapping[str, Any]) -> Any:
    """One recipe step through :func:`ui.session.memo` (same key as a direct memo call).

    A step that reads a frame or series other than the view's patients (or a column subset of
    them), e.g. an indicator made by an earlier step, runs directly: memoising it would hash
    every row on every rerun, which costs about what the step does.
    """
    args, kwargs = step.resolve(names)
    if any(_hashed(v, view) for v in (*args, *kwargs.values())):
        return step.fn(*args, **kwargs)
    owner = getattr(step.fn, "__self__", None)
    if owner is not None and not isinstance(owner, type):
        return session.memo(_invoke, owner, step.fn.__name__, *args, **kwargs)
    return session.memo(step.fn, *args, **kwargs)


def _hashed(value: Any, view: session.CohortView) -> bool:
    """Whether :func:`ui.session.memo` would hash ``value`` row by row."""
    if isinstance(value, pd.DataFrame):
        return not (value is view.patients or columns.subset_source(value) is view.patients)
    return isinstance(value, pd.Series)


def compute(recipe: Recipe, view: session.CohortView | None = None) -> Any:
    """Run ``recipe`` on the session's view (each step memoised, see :func:`_memo_step`) and
    return its result.

    Parameters
    ----------
    recipe : Recipe
        Reads ``patients``, ``labs``, ``treatments``, ``store``, ``settings`` or ``flt``.
    view : ui.session.CohortView, optional
        Default: :func:`ui.session.cohort`.

    Returns
    -------
    Any
        The last step's result.
    """
    view = view or session.cohort()
    ran = recipe.run(_ViewNames(view), call=lambda step, names: _memo_step(view, step, names))
    return ran[recipe.result_name]


def panel_code(recipe: Recipe, view: session.CohortView | None = None) -> PanelCode:
    """``recipe`` with the session's filter, endpoint settings and data source.

    Parameters
    ----------
    recipe : Recipe
    view : ui.session.CohortView, optional

    Returns
    -------
    PanelCode
    """
    view = view or session.cohort()
    return PanelCode(recipe, view.filter, session.endpoint_settings(), bool(view.synthetic),
                     str(view.source))


def show_code(recipe: Recipe | PanelCode, *, key: str | None = None) -> None:
    """A "Show code" popover with the lines of ``core`` API that recompute the panel.

    Parameters
    ----------
    recipe : Recipe or PanelCode
    key : str, optional
        Widget key (unique on the page).
    """
    code = recipe if isinstance(recipe, PanelCode) else panel_code(recipe)
    try:
        text = code.text()
    except ValueError:  # an argument that cannot be printed: say so, never break the panel
        text = None
    with st.popover("Show code", icon=":material/code:", type="tertiary", key=key):
        if text is None:
            st.caption("This panel's arguments cannot be written as code.")
            return
        st.caption("Recomputes this panel with the app's core library (the repository's "
                   "folder on sys.path), with the filter and settings in use.")
        st.code(text, language="python")


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


def _pin(spec: FigureSpec, table: pd.DataFrame | None, code: PanelCode | None = None) -> None:
    """Button callback: pin the figure and confirm with a toast."""
    if report_state.pin(spec, table, code):
        n = len(report_state.get_report())
        st.toast(f"Added **{spec.title}** to the report ({n} figure{'s' * (n != 1)}).",
                 icon=":material/playlist_add_check:")
    else:
        st.toast(f"**{spec.title}** is already in the report.", icon=":material/info:")


def show_chart(chart: alt.TopLevelMixin, *, name: str, title: str,
               stat: str | None = None, key: str | None = None,
               table: pd.DataFrame | None = None, code: Recipe | None = None) -> None:
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
    code : Recipe, optional
        The computation behind the figure: adds "Show code" to the action row and is pinned
        with the figure (the ZIP's notebook recomputes it).
    """
    # any top-level chart; streamlit's stub names the concrete classes only
    st.altair_chart(cast(Any, chart), width="stretch")
    if stat:
        st.caption(stat)
    spec = figure_spec(chart, name=name, title=title, stat=stat)
    prefix = f"fig-{key or name}"
    memo = report_state.render_memo()
    panel = panel_code(code) if code is not None else None
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
                  type="tertiary", on_click=_pin, args=(spec, table, panel),
                  help="Pin this figure (as shown, with its caption) to the Report page.")
        if panel is not None:
            show_code(panel, key=f"{prefix}-code")


#: rows of a table drawn on the page (all rows go into its downloads)
TABLE_ROWS_SHOWN = 10_000


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


def show_table(df: pd.DataFrame, *, name: str, title: str, key: str | None = None,
               code: Recipe | None = None) -> None:
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
    code : Recipe, optional
        The computation behind the table: adds "Show code" to the action row.

    Notes
    -----
    CSV cells that a spreadsheet would run as formulas are neutralised
    (:func:`core.export.safe_csv`); the XLSX keeps them as text
    (:func:`core.export.table_xlsx`). Both are made only when clicked. At most
    :data:`TABLE_ROWS_SHOWN` rows are sent to the browser (a 100,000-row table took ~0.2 s to
    convert on every rerun); the downloads hold every row.
    """
    shown = df if len(df) <= TABLE_ROWS_SHOWN else df.head(TABLE_ROWS_SHOWN)
    st.dataframe(shown, width="stretch", hide_index=True, height=table_height(len(shown)))
    if len(shown) < len(df):
        st.caption(f"The first {len(shown):,} of {len(df):,} rows; the CSV and XLSX "
                   "downloads hold all rows.")
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
        if code is not None:
            show_code(code, key=f"{prefix}-code")
