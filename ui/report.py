"""Export state of one session: the pinned report, rendered figure bytes, the built pack.

Everything lives in ``st.session_state`` of one browser session (never ``st.cache_data``, which
all sessions share), and nothing is written to disk:

* ``report`` -- the :class:`core.export.Report` the user pins figures to ("Add to report").
* ``_report_keys`` -- item id -> :func:`core.export.figure_key` of the figure as pinned (to
  spot duplicates).
* ``_figure_renders`` -- a :class:`core.export.RenderMemo` of rendered PNG/SVG/PDF bytes, keyed
  by what is drawn (chart JSON hash, title, caption, statistic, synthetic flag, format), so a
  figure is rendered at most once per session however often the page reruns or the pack is
  rebuilt.
* ``_report_pack`` -- the last built pack (PPTX/PDF/ZIP bytes) and the report state it was
  built from.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from core import export
from core.codegen import PanelCode
from core.export import (
    FigureSpec,
    RenderCache,
    RenderMemo,
    Report,
    ReportItem,
    ReportMeta,
    figure_key,
)

REPORT_KEY = "report"
KEYS_KEY = "_report_keys"
RENDERS_KEY = "_figure_renders"
PACK_KEY = "_report_pack"


# ---------------------------------------------------------------------------------------------
# Rendered bytes
# ---------------------------------------------------------------------------------------------

def render_memo() -> RenderMemo:
    """This session's memo of rendered figures (created on first use).

    Returns
    -------
    RenderMemo
        Kept in ``st.session_state``, never shared with another session.
    """
    memo = st.session_state.get(RENDERS_KEY)
    if not isinstance(memo, RenderMemo):
        memo = RenderMemo()
        st.session_state[RENDERS_KEY] = memo
    return memo


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------

def get_report() -> Report:
    """The session's report.

    Returns
    -------
    Report
        Empty when nothing is pinned yet.
    """
    report = st.session_state.get(REPORT_KEY)
    return report if isinstance(report, Report) else Report()


def set_report(report: Report) -> None:
    """Replace the session's report (drops bookkeeping for items no longer in it).

    Parameters
    ----------
    report : Report
    """
    st.session_state[REPORT_KEY] = report
    keys: dict[str, tuple] = st.session_state.get(KEYS_KEY, {})
    ids = {item.id for item in report}
    st.session_state[KEYS_KEY] = {i: k for i, k in keys.items() if i in ids}


def pin(spec: FigureSpec, table: pd.DataFrame | None = None,
        code: PanelCode | None = None) -> bool:
    """Add a figure to the session's report unless the same figure is already there.

    "The same" means the same chart content, title, filter caption, statistic and data source
    as when it was pinned (so a pin after a filter change is a new item).

    Parameters
    ----------
    spec : FigureSpec
    table : pandas.DataFrame, optional
        The table behind the figure (exported as CSV in the ZIP).
    code : PanelCode, optional
        How to recompute the figure (the ZIP's notebook redoes it).

    Returns
    -------
    bool
        True if added, False if it was already in the report.
    """
    key = figure_key(spec)
    report = get_report()
    keys: dict[str, tuple] = st.session_state.get(KEYS_KEY, {})
    ids = {item.id for item in report}
    if any(k == key and i in ids for i, k in keys.items()):
        return False
    item = ReportItem(spec, table=table, code=code)
    st.session_state[KEYS_KEY] = {**keys, item.id: key}
    set_report(report.add(item))
    return True


def retitle(item_id: str, title: str) -> None:
    """Give one pinned figure a new title (an empty title keeps the old one).

    Parameters
    ----------
    item_id : str
    title : str
    """
    if title.strip():
        set_report(get_report().retitle(item_id, title.strip()))


def move(item_id: str, step: int) -> None:
    """Move one pinned figure ``step`` places.

    Parameters
    ----------
    item_id : str
    step : int
        Negative: up (towards the title slide); clamped to the list.
    """
    report = get_report()
    index = [item.id for item in report].index(item_id)
    set_report(report.move(item_id, max(0, index + step)))


def remove(item_id: str) -> None:
    """Unpin one figure.

    Parameters
    ----------
    item_id : str
    """
    set_report(get_report().remove(item_id))


# ---------------------------------------------------------------------------------------------
# The pack
# ---------------------------------------------------------------------------------------------

def report_meta(view: Any, report: Report | None = None, when: date | None = None) -> ReportMeta:
    """Pack metadata from the session's cohort view.

    Parameters
    ----------
    view : ui.session.CohortView
    report : Report, optional
        The pack is labelled synthetic when the current cohort or any pinned figure is.
    when : datetime.date, optional
        Defaults to today.

    Returns
    -------
    ReportMeta
        Source, filter caption and n of the view; the app version and library versions of
        this process.
    """
    synthetic = bool(view.synthetic) or (report is not None and report.synthetic)
    return ReportMeta(cohort=view.source, filters=view.caption, n=view.n,
                      when=when or date.today(), synthetic=synthetic)


def pack_signature(report: Report, meta: ReportMeta) -> tuple:
    """What a built pack depends on: items (id, title, order), pack title and metadata.

    Parameters
    ----------
    report : Report
    meta : ReportMeta

    Returns
    -------
    tuple
        Equal for two states that build the same pack.
    """
    return (report.title, tuple((i.id, i.figure.title) for i in report), meta.cohort,
            meta.filters, meta.n, meta.when, meta.synthetic)


@dataclass(frozen=True)
class BuiltPack:
    """A built meeting pack.

    Parameters
    ----------
    signature : tuple
        :func:`pack_signature` of the state it was built from.
    files : dict of str to bytes
        "pptx", "pdf", "zip" -> the file.
    seconds : float
        Build time.
    renders : int
        vl-convert calls the build made (0 when every figure came from the memo).
    """

    signature: tuple
    files: dict[str, bytes]
    seconds: float
    renders: int


def build(report: Report, meta: ReportMeta, patients: pd.DataFrame,
          memo: RenderMemo | None = None, *, labs: pd.DataFrame | None = None,
          treatments: pd.DataFrame | None = None) -> BuiltPack:
    """Build PPTX, PDF and ZIP, reusing (and filling) the session's rendered figures.

    Parameters
    ----------
    report : Report
    meta : ReportMeta
    patients : pandas.DataFrame
        The filtered patient table (for the ZIP).
    memo : RenderMemo, optional
        Figures already rendered (e.g. downloaded as PNG, or in an earlier build after a
        reorder) are taken from here; new renders are stored back.
    labs, treatments : pandas.DataFrame, optional
        The filtered patients' lab and treatment rows (the ZIP's notebook reads them).

    Returns
    -------
    BuiltPack
        The files, the build time and the number of vl-convert calls it took.
    """
    start = time.perf_counter()
    with RenderCache(memo=memo) as cache:
        files = export.build_pack(report, meta, patients, labs=labs, treatments=treatments,
                                  formats=export.PACK_FORMATS, cache=cache)
    return BuiltPack(pack_signature(report, meta), files, time.perf_counter() - start,
                     cache.renders)


def build_into_session(view: Any) -> BuiltPack:
    """Build the pack of the session's report for ``view`` and keep it in the session.

    Parameters
    ----------
    view : ui.session.CohortView

    Returns
    -------
    BuiltPack

    Raises
    ------
    ExportError
        If a figure cannot be rendered or placed.
    """
    report = get_report()
    pack = build(report, report_meta(view, report), view.patients, render_memo(),
                 labs=view.labs, treatments=view.treatments)
    st.session_state[PACK_KEY] = pack
    return pack


def current_pack(signature: tuple) -> BuiltPack | None:
    """The session's built pack if it was built from the state ``signature`` describes.

    Parameters
    ----------
    signature : tuple
        :func:`pack_signature` of the current state.

    Returns
    -------
    BuiltPack or None
    """
    pack = st.session_state.get(PACK_KEY)
    if isinstance(pack, BuiltPack) and pack.signature == signature:
        return pack
    return None


def stale_pack_exists(signature: tuple) -> bool:
    """Whether a pack was built but the report (or filter, or date) changed since.

    Parameters
    ----------
    signature : tuple
        :func:`pack_signature` of the current state.

    Returns
    -------
    bool
    """
    pack = st.session_state.get(PACK_KEY)
    return isinstance(pack, BuiltPack) and pack.signature != signature
