"""Report page: the figures pinned with "Add to report", edited and built into a meeting pack.

The pack (widescreen PowerPoint, PDF, ZIP with PNG/SVG figures, the filtered patient, lab and
treatment tables, a notebook that recomputes every figure, and a README) is built in memory on
click and offered as downloads; nothing is written to disk.
"""

from __future__ import annotations

from typing import Any, cast

import streamlit as st

from core import export
from core.export import ReportItem
from ui import report as rs
from ui import session
from ui.figures import show_code
from ui.guard import guard

LABELS = {"pptx": "PowerPoint (16:9)", "pdf": "PDF", "zip": "ZIP: figures, data, notebook, README"}
ICONS = {"pptx": ":material/slideshow:", "pdf": ":material/picture_as_pdf:",
         "zip": ":material/folder_zip:"}


def _item_card(item: ReportItem, index: int, count: int) -> None:
    """One pinned figure: preview, editable title, its caption, move/remove buttons."""
    fig = item.figure
    with st.container(border=True):
        preview, details = st.columns([2, 3], gap="medium")
        with preview:
            st.altair_chart(cast(Any, fig.chart), width="stretch")  # any top-level chart
        with details:
            st.text_input(f"Slide {index + 2} title", value=fig.title,
                          key=f"rep-title-{item.id}",
                          on_change=_retitle, args=(item.id,))
            st.caption("  \n".join(fig.text_lines))
            with st.container(horizontal=True, gap="small"):
                st.button("Up", key=f"rep-up-{item.id}", icon=":material/arrow_upward:",
                          disabled=index == 0, on_click=rs.move, args=(item.id, -1))
                st.button("Down", key=f"rep-down-{item.id}", icon=":material/arrow_downward:",
                          disabled=index == count - 1, on_click=rs.move, args=(item.id, 1))
                st.button("Remove", key=f"rep-remove-{item.id}", icon=":material/delete:",
                          on_click=rs.remove, args=(item.id,))
                if item.code is not None:  # the ZIP's notebook recomputes it from this code
                    show_code(item.code, key=f"rep-code-{item.id}")


def _retitle(item_id: str) -> None:
    rs.retitle(item_id, st.session_state[f"rep-title-{item_id}"])


def _set_pack_title() -> None:
    title = st.session_state["rep-pack-title"].strip()
    if title:
        rs.set_report(rs.get_report().with_title(title))


def _build_section(view: session.CohortView) -> None:
    """The build button and, once built for the current state, the three downloads."""
    report = rs.get_report()
    meta = rs.report_meta(view, report)
    signature = rs.pack_signature(report, meta)
    st.subheader("Meeting pack")
    st.caption(f"Title slide: {meta.cohort}; {meta.filters}; {meta.when.isoformat()}. "
               "The ZIP adds every figure as PNG and SVG, the filtered patient, lab and "
               "treatment tables (CSV), a Jupyter notebook (report.ipynb) that recomputes "
               "every figure and its statistic from those tables with the app's core library, "
               "and a README with filters, n, date and library versions.")
    if st.button("Build meeting pack", key="rep-build", type="primary",
                 icon=":material/build:"):
        with guard("The pack could not be built", scope="panel"), \
                st.spinner(f"Rendering {len(report)} figure(s) at 300 dpi…"):
            rs.build_into_session(view)
    pack = rs.current_pack(signature)
    if pack is None:
        if rs.stale_pack_exists(signature):
            st.caption("The report or the filter changed since the last build: build again.")
        return
    with st.container(horizontal=True, gap="small"):
        for fmt in export.PACK_FORMATS:
            st.download_button(LABELS[fmt], data=pack.files[fmt],
                               file_name=export.filename(report.title, fmt, meta.when),
                               mime=export.MIME_TYPES[fmt], key=f"rep-dl-{fmt}", icon=ICONS[fmt],
                               on_click="ignore")
    sizes = " · ".join(f"{fmt.upper()} {len(data) / 1e6:.1f} MB"
                       for fmt, data in pack.files.items())
    st.caption(f"Built in {pack.seconds:.1f} s ({pack.renders} new renders) · {sizes}")


view = session.cohort()
st.title("Report")
report = rs.get_report()
if not len(report):
    st.info("Nothing pinned yet. Under any chart in the app, press **Add to report**: the "
            "figure is kept here as shown, with its filter caption, n and statistic. Then "
            "come back to reorder, retitle and build a PowerPoint, PDF or ZIP for the "
            "meeting.", icon=":material/playlist_add:")
    st.stop()

st.text_input("Pack title", value=report.title, key="rep-pack-title", on_change=_set_pack_title)
st.caption(f"{len(report)} figure{'s' * (len(report) != 1)} pinned, in slide order. Each "
           "keeps the filter caption it was pinned with.")
if len({item.figure.caption for item in report}) > 1:
    st.warning("The figures were pinned under different filters; each slide carries its own "
               "caption and n.", icon=":material/filter_alt:")
for i, item in enumerate(report):
    _item_card(item, i, len(report))
_build_section(view)
