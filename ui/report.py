"""Export state of one session: the pinned report, rendered figure bytes, the built pack.

Everything lives in ``st.session_state`` of one browser session (never ``st.cache_data``, which
all sessions share), and nothing is written to disk:

* ``report`` -- the :class:`core.export.Report` the user pins figures to ("Add to report").
* ``_report_keys`` -- item id -> content key of the figure as pinned (to spot duplicates).
* ``_figure_renders`` -- a :class:`RenderMemo` of rendered PNG/SVG/PDF bytes, keyed by what is
  drawn (chart JSON hash, title, caption, statistic, synthetic flag, format), so a figure is
  rendered at most once per session however often the page reruns or the pack is rebuilt.
* ``_report_pack`` -- the last built pack (PPTX/PDF/ZIP bytes) and the report state it was
  built from.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

import core
from core import export
from core.export import FigureSpec, ImageFormat, RenderCache, Report, ReportItem, ReportMeta

REPORT_KEY = "report"
KEYS_KEY = "_report_keys"
RENDERS_KEY = "_figure_renders"
PACK_KEY = "_report_pack"
PACK_FORMATS = ("pptx", "pdf", "zip")
#: Rendered bytes kept per session (oldest dropped first); a 300-dpi PNG is ~0.1-0.5 MB.
RENDER_MEMO_BYTES = 64 * 1024 * 1024


# ---------------------------------------------------------------------------------------------
# Rendered bytes
# ---------------------------------------------------------------------------------------------

def chart_digest(chart: alt.TopLevelMixin) -> str:
    """A content hash of an Altair chart (its Vega-Lite JSON, data included).

    Parameters
    ----------
    chart : alt.TopLevelMixin

    Returns
    -------
    str
        32 hex digits; equal for charts that draw the same thing.
    """
    text = chart.to_json(indent=None, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def content_key(spec: FigureSpec, digest: str | None = None) -> tuple:
    """What a rendered image of ``spec`` depends on (without the format)."""
    return (digest or chart_digest(spec.chart), spec.title, spec.caption, spec.stat or "",
            bool(spec.synthetic))


class RenderMemo:
    """A per-session, thread-safe LRU of rendered figure bytes, bounded by total size.

    Download buttons render lazily in a Streamlit worker thread (``data=callable``), while the
    script thread may read the memo at the same time, hence the lock.

    Parameters
    ----------
    max_bytes : int
        Oldest entries are dropped once the stored bytes exceed this.
    """

    def __init__(self, max_bytes: int = RENDER_MEMO_BYTES) -> None:
        self.max_bytes = max_bytes
        self._data: OrderedDict[tuple, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.renders = 0  # figures rendered through this memo (for tests)

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: tuple) -> bytes | None:
        """The stored bytes for ``key`` (marked as recently used), or None."""
        with self._lock:
            data = self._data.get(key)
            if data is not None:
                self._data.move_to_end(key)
            return data

    def put(self, key: tuple, data: bytes) -> None:
        """Store ``data`` under ``key``, dropping the oldest entries beyond ``max_bytes``."""
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._size -= len(old)
            self._data[key] = data
            self._size += len(data)
            while self._size > self.max_bytes and len(self._data) > 1:
                _, dropped = self._data.popitem(last=False)
                self._size -= len(dropped)

    def render(self, spec: FigureSpec, fmt: ImageFormat, digest: str | None = None) -> bytes:
        """The bytes of ``spec`` in ``fmt``: from the memo, else rendered and stored.

        Parameters
        ----------
        spec : FigureSpec
        fmt : {"png", "svg", "pdf"}
        digest : str, optional
            :func:`chart_digest` of ``spec.chart`` when already known.
        """
        key = (*content_key(spec, digest), fmt)
        data = self.get(key)
        if data is None:
            data = export.render(spec, fmt)
            with self._lock:
                self.renders += 1
            self.put(key, data)
        return data


def render_memo() -> RenderMemo:
    """This session's :class:`RenderMemo` (created on first use)."""
    memo = st.session_state.get(RENDERS_KEY)
    if not isinstance(memo, RenderMemo):
        memo = RenderMemo()
        st.session_state[RENDERS_KEY] = memo
    return memo


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------

def get_report() -> Report:
    """The session's report (empty when nothing is pinned yet)."""
    report = st.session_state.get(REPORT_KEY)
    return report if isinstance(report, Report) else Report()


def set_report(report: Report) -> None:
    """Replace the session's report (drops bookkeeping for items no longer in it)."""
    st.session_state[REPORT_KEY] = report
    keys: dict[str, tuple] = st.session_state.get(KEYS_KEY, {})
    ids = {item.id for item in report}
    st.session_state[KEYS_KEY] = {i: k for i, k in keys.items() if i in ids}


def pin(spec: FigureSpec, table: pd.DataFrame | None = None) -> bool:
    """Add a figure to the session's report unless the same figure is already there.

    "The same" means the same chart content, title, filter caption, statistic and data source
    as when it was pinned (so a pin after a filter change is a new item).

    Parameters
    ----------
    spec : FigureSpec
    table : pandas.DataFrame, optional
        The table behind the figure (exported as CSV in the ZIP).

    Returns
    -------
    bool
        True if added, False if it was already in the report.
    """
    key = content_key(spec)
    report = get_report()
    keys: dict[str, tuple] = st.session_state.get(KEYS_KEY, {})
    ids = {item.id for item in report}
    if any(k == key and i in ids for i, k in keys.items()):
        return False
    item = ReportItem(spec, table=table)
    st.session_state[KEYS_KEY] = {**keys, item.id: key}
    set_report(report.add(item))
    return True


def retitle(item_id: str, title: str) -> None:
    """Give one pinned figure a new title (an empty title keeps the old one)."""
    if title.strip():
        set_report(get_report().retitle(item_id, title.strip()))


def move(item_id: str, step: int) -> None:
    """Move one pinned figure ``step`` places (negative: up)."""
    report = get_report()
    index = [item.id for item in report].index(item_id)
    set_report(report.move(item_id, max(0, index + step)))


def remove(item_id: str) -> None:
    """Unpin one figure."""
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
    when : date, optional
        Defaults to today.
    """
    synthetic = bool(view.synthetic) or any(i.figure.synthetic for i in (report or ()))
    return ReportMeta(cohort=view.source, filters=view.caption, n=view.n,
                      when=when or date.today(), synthetic=synthetic,
                      app_version=core.__version__)


def pack_signature(report: Report, meta: ReportMeta) -> tuple:
    """What a built pack depends on: items (id, title, order), pack title and metadata."""
    return (report.title, tuple((i.id, i.figure.title) for i in report), meta.cohort,
            meta.filters, meta.n, meta.when, meta.synthetic)


@dataclass(frozen=True)
class BuiltPack:
    """A built meeting pack: ``files`` maps "pptx"/"pdf"/"zip" to bytes."""

    signature: tuple
    files: dict[str, bytes]
    seconds: float
    renders: int


def build(report: Report, meta: ReportMeta, patients: pd.DataFrame,
          memo: RenderMemo | None = None) -> BuiltPack:
    """Build PPTX, PDF and ZIP, reusing (and filling) the session's rendered figures.

    Parameters
    ----------
    report, meta, patients
        As for :func:`core.export.build_pack`.
    memo : RenderMemo, optional
        Figures already rendered (e.g. downloaded as PNG, or in an earlier build after a
        reorder) are taken from here; new renders are stored back.

    Returns
    -------
    BuiltPack
    """
    start = time.perf_counter()
    digests = {item.id: chart_digest(item.figure.chart) for item in report}
    with RenderCache() as cache:
        if memo is not None:
            for item in report:
                for fmt in ("png", "svg"):
                    data = memo.get((*content_key(item.figure, digests[item.id]), fmt))
                    if data is not None:
                        cache.put(item.figure, fmt, data)
        files = export.build_pack(report, meta, patients, formats=PACK_FORMATS, cache=cache)
        if memo is not None:
            for item in report:
                for fmt in ("png", "svg"):
                    data = cache.rendered(item.figure, fmt)
                    if data is not None:
                        memo.put((*content_key(item.figure, digests[item.id]), fmt), data)
    return BuiltPack(pack_signature(report, meta), files, time.perf_counter() - start,
                     cache.renders)


def build_into_session(view: Any) -> BuiltPack:
    """Build the pack of the session's report for ``view`` and keep it in the session."""
    report = get_report()
    pack = build(report, report_meta(view, report), view.patients, render_memo())
    st.session_state[PACK_KEY] = pack
    return pack


def current_pack(signature: tuple) -> BuiltPack | None:
    """The session's built pack if it was built from the state ``signature`` describes."""
    pack = st.session_state.get(PACK_KEY)
    if isinstance(pack, BuiltPack) and pack.signature == signature:
        return pack
    return None


def stale_pack_exists(signature: tuple) -> bool:
    """True when a pack was built but the report (or filter, or date) changed since."""
    pack = st.session_state.get(PACK_KEY)
    return isinstance(pack, BuiltPack) and pack.signature != signature
