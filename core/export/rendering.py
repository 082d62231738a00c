"""Captioned figures to PNG, SVG or PDF bytes with vl-convert, each rendered at most once.

* :func:`render` renders one :class:`~core.export.figures.FigureSpec` (offline: external data
  URLs are refused).
* :class:`RenderCache` renders each figure at most once per format within one build (the
  meeting pack shares one between PPTX, PDF and ZIP) and can prefetch PNGs in the background.
* :class:`RenderMemo` keeps rendered bytes across builds, keyed by what the image shows
  (:func:`render_key`), bounded by size; a cache backed by a memo renders only what the memo
  lacks.

Sizes
-----
A PNG is scaled so that it covers a 10 x 5.6 inch box (a widescreen slide's content area) at
300 dpi: a chart of the usual landscape shape comes out about 3000 px wide, and its pHYs metadata
says 300 dpi, so PowerPoint and Word place it at its physical size. vl-convert's pixel factor is
``scale * ppi / 72`` per CSS pixel of the chart; the PNG renderer measures the chart's laid-out
size (from the SVG render) and chooses ``scale`` accordingly. Very large figures (many facets)
are capped at :data:`MAX_PNG_PIXELS` pixels.
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import altair as alt

from core.errors import ExportError
from core.export.figures import (
    FigureSpec,
    ImageFormat,
    chart_digest,
    check_image_format,
    figure_key,
    with_caption,
)

__all__ = [
    "DEFAULT_PPI", "FIGURE_BOX_IN", "MAX_PNG_PIXELS", "RENDER_MEMO_BYTES", "RenderCache",
    "RenderMemo", "render", "render_key",
]

#: The box a PNG must cover at ``ppi`` (inches): the content area of a 16:9 slide.
FIGURE_BOX_IN: tuple[float, float] = (10.0, 5.6)
#: Default resolution of PNG exports (dots per inch, written to the pHYs chunk).
DEFAULT_PPI = 300
#: Upper bound on PNG pixels (width x height); keeps a 30-facet chart from eating memory.
MAX_PNG_PIXELS = 24_000_000
#: Rendered bytes a :class:`RenderMemo` keeps by default; a 300-dpi PNG is ~0.1-0.5 MB.
RENDER_MEMO_BYTES = 64 * 1024 * 1024

# Mark types whose `opacity` is rewritten to fill/stroke opacity before rendering (see below).
_OPACITY_REWRITE_MARKS = frozenset({"line", "rule", "area", "trail"})
_NESTED_SPEC_KEYS = ("layer", "vconcat", "hconcat", "concat")
_SVG_SIZE = re.compile(r'<svg[^>]*?\swidth="([\d.]+)"[^>]*?\sheight="([\d.]+)"', re.S)


def _check_size(ppi: float, box_in: tuple[float, float]) -> None:
    """Raise ValueError unless ``ppi`` and both sides of ``box_in`` are positive numbers."""
    values = (ppi, *box_in) if len(box_in) == 2 else ()
    if not values or not all(isinstance(v, (int, float)) and math.isfinite(v) and v > 0
                             for v in values):
        raise ValueError(f"ppi and box_in must be positive numbers, got {ppi!r} and {box_in!r}.")


def render_key(spec: FigureSpec, fmt: ImageFormat, *, ppi: float = DEFAULT_PPI,
               box_in: tuple[float, float] = FIGURE_BOX_IN,
               digest: str | None = None) -> tuple[Hashable, ...]:
    """The :class:`RenderMemo` key of ``spec`` rendered as ``fmt`` at this size.

    Parameters
    ----------
    spec : FigureSpec
    fmt : {"png", "svg", "pdf"}
    ppi : float, default 300
    box_in : (float, float), default (10, 5.6)
    digest : str, optional
        :func:`~core.export.figures.chart_digest` of ``spec.chart`` when already known.

    Returns
    -------
    tuple
        :func:`~core.export.figures.figure_key` followed by the format and, for a PNG, the
        size (SVG and PDF are vector: their bytes do not depend on it).
    """
    size = (ppi, tuple(box_in)) if fmt == "png" else ()
    return (*figure_key(spec, digest), fmt, *size)


# ---------------------------------------------------------------------------------------------
# The Vega-Lite spec handed to vl-convert
# ---------------------------------------------------------------------------------------------

def _vl_version() -> str | None:
    """The Vega-Lite version vl-convert should use: altair's own, when vl-convert has it."""
    import vl_convert as vlc

    match = re.match(r"v?(\d+)\.(\d+)", alt.SCHEMA_VERSION)
    if match:
        wanted = f"{match.group(1)}.{match.group(2)}"
        if wanted in vlc.get_vegalite_versions():
            return wanted
    return None


def _split_mark_opacity(node: Any) -> None:
    """Rewrite ``opacity`` of line/rule/area/trail marks as ``strokeOpacity``/``fillOpacity``.

    vl-convert rasterises with resvg, which treats an SVG element's ``opacity`` as group opacity
    and composites a layer the size of the element's bounding box for it. For long lines that is
    nearly the whole canvas: 41 semi-transparent lab-course lines take ~6 s at 300 dpi instead
    of ~0.5 s. For marks drawn as a single stroke (line, rule) or a single fill (area, trail)
    fill/stroke opacity gives the same pixels. Only mark properties are touched (an ``opacity``
    *encoding* or config is left alone); the dict is modified in place.
    """
    if isinstance(node, list):
        for child in node:
            _split_mark_opacity(child)
        return
    if not isinstance(node, dict):
        return
    mark = node.get("mark")
    if (isinstance(mark, dict) and mark.get("type") in _OPACITY_REWRITE_MARKS
            and "opacity" in mark):
        opacity = mark.pop("opacity")
        mark.setdefault("strokeOpacity", opacity)
        mark.setdefault("fillOpacity", opacity)
    for key in _NESTED_SPEC_KEYS:
        if key in node:
            _split_mark_opacity(node[key])
    if isinstance(node.get("spec"), dict):  # facet and repeat
        _split_mark_opacity(node["spec"])


def _vegalite_dict(spec: FigureSpec) -> dict[str, Any]:
    """The captioned chart as a Vega-Lite dict, ready for vl-convert."""
    wrapped = with_caption(spec)
    try:
        vl = wrapped.to_dict()
    except Exception as exc:
        raise ExportError(f"Figure '{spec.title}' is not a valid chart: {exc}") from exc
    _split_mark_opacity(vl)
    return vl


# ---------------------------------------------------------------------------------------------
# Size
# ---------------------------------------------------------------------------------------------

def _svg_size(svg: str) -> tuple[float, float]:
    """(width, height) in CSS px of a rendered SVG."""
    match = _SVG_SIZE.search(svg[:2000])
    if not match:
        raise ExportError("The rendered figure has no size; it cannot be exported.")
    return float(match.group(1)), float(match.group(2))


def _png_pixel_factor(size: tuple[float, float], ppi: float,
                      box_in: tuple[float, float]) -> float:
    """Device pixels per CSS pixel so the image covers ``box_in`` at ``ppi`` (capped)."""
    width, height = size
    # + 0.5 px: vl-convert truncates the canvas size, and 2999 px is not 'at least 3000'
    factor = max((box_in[0] * ppi + 0.5) / width, (box_in[1] * ppi + 0.5) / height)
    if width * height * factor ** 2 > MAX_PNG_PIXELS:
        factor = math.sqrt(MAX_PNG_PIXELS / (width * height))
    return factor


def _first_line(exc: Exception) -> str:
    """The first meaningful line of a vl-convert error (its JS stack trace left out)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    meaningful = [ln for ln in lines if not ln.lower().endswith("conversion failed:")]
    return (meaningful or lines or [type(exc).__name__])[0]


# ---------------------------------------------------------------------------------------------
# Rendered bytes kept across builds
# ---------------------------------------------------------------------------------------------

class RenderMemo:
    """A thread-safe LRU of rendered figure bytes, bounded by total size.

    Keys are :func:`render_key` tuples: what is drawn, not which object draws it, so the same
    figure built again on a later rerun is found. The app keeps one per browser session
    (``ui.report.render_memo``); download buttons render lazily in a worker thread while the
    script thread may read the memo, hence the lock.

    Parameters
    ----------
    max_bytes : int
        Oldest entries are dropped once the stored bytes exceed this.
    """

    def __init__(self, max_bytes: int = RENDER_MEMO_BYTES) -> None:
        self.max_bytes = max_bytes
        self._data: OrderedDict[Hashable, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.renders = 0  # figures rendered by :meth:`render` (for tests)

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: Hashable) -> bytes | None:
        """The stored bytes for ``key`` (marked as recently used).

        Parameters
        ----------
        key : hashable
            Usually a :func:`render_key`.

        Returns
        -------
        bytes or None
            None when not stored (or dropped as the oldest).
        """
        with self._lock:
            data = self._data.get(key)
            if data is not None:
                self._data.move_to_end(key)
            return data

    def put(self, key: Hashable, data: bytes) -> None:
        """Store ``data`` under ``key``, dropping the oldest entries beyond ``max_bytes``.

        Parameters
        ----------
        key : hashable
        data : bytes
        """
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
        """The bytes of ``spec`` in ``fmt`` at the default size: from the memo, else rendered.

        Parameters
        ----------
        spec : FigureSpec
        fmt : {"png", "svg", "pdf"}
        digest : str, optional
            :func:`~core.export.figures.chart_digest` of ``spec.chart`` when already known.

        Returns
        -------
        bytes
            As :func:`render` returns them.
        """
        key = render_key(spec, check_image_format(fmt), digest=digest)
        data = self.get(key)
        if data is None:
            data = render(spec, fmt)
            with self._lock:
                self.renders += 1
            self.put(key, data)
        return data


# ---------------------------------------------------------------------------------------------
# Rendering within one build
# ---------------------------------------------------------------------------------------------

class RenderCache:
    """Render each figure at most once per format within one build.

    Parameters
    ----------
    ppi : float
        PNG resolution (written to the PNG's pHYs chunk).
    box_in : tuple of float
        (width, height) in inches that a PNG covers at ``ppi``.
    memo : RenderMemo, optional
        Bytes rendered in earlier builds (or downloads): a figure found there is not rendered
        again, and what this cache renders is stored there.

    Notes
    -----
    Keyed by object identity of the :class:`FigureSpec` (specs are immutable; the cache keeps a
    reference so an id cannot be reused while it lives). Make one per build; it is not meant to
    outlive a request or be shared between sessions (the ``memo`` is what outlives it).

    :meth:`prefetch` renders PNGs in one background thread, in report order, so that placing
    figure *k* in a PDF (PNG decoding and zlib, which release the GIL) overlaps with rendering
    figure *k + 1*. Use the cache as a context manager (or call :meth:`close`) so the thread
    never outlives the build.
    """

    def __init__(self, *, ppi: float = DEFAULT_PPI,
                 box_in: tuple[float, float] = FIGURE_BOX_IN,
                 memo: RenderMemo | None = None) -> None:
        _check_size(ppi, box_in)
        self.ppi = ppi
        self.box_in = box_in
        self.memo = memo
        self._specs: dict[int, FigureSpec] = {}
        self._dicts: dict[int, dict[str, Any]] = {}
        self._digests: dict[int, str] = {}
        self._out: dict[tuple[int, str], bytes] = {}
        self._pending: dict[int, Future[bytes]] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self.renders = 0  # number of vl-convert calls made (for tests and benchmarks)

    def __enter__(self) -> RenderCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Cancel prefetches not yet started and wait for the one running (if any)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def prefetch(self, specs: Iterable[FigureSpec]) -> None:
        """Start rendering the SVG and PNG of ``specs`` in the background, in order.

        Parameters
        ----------
        specs : iterable of FigureSpec
            Figures already rendered (or queued) are skipped.
        """
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="export-render")
        for spec in specs:
            key = id(spec)
            if key in self._pending or (key, "png") in self._out:
                continue
            self._specs[key] = spec
            self._pending[key] = self._executor.submit(self._get_now, spec, "png")

    def spec_dict(self, spec: FigureSpec) -> dict[str, Any]:
        """The captioned Vega-Lite dict of ``spec`` (built once).

        Parameters
        ----------
        spec : FigureSpec

        Returns
        -------
        dict
            What vl-convert is given (see :func:`_split_mark_opacity`).
        """
        key = id(spec)
        if key not in self._dicts:
            self._specs[key] = spec
            self._dicts[key] = _vegalite_dict(spec)
        return self._dicts[key]

    def get(self, spec: FigureSpec, fmt: ImageFormat) -> bytes:
        """The rendered bytes of ``spec`` in ``fmt`` (rendered on first request).

        Parameters
        ----------
        spec : FigureSpec
        fmt : {"png", "svg", "pdf"}

        Returns
        -------
        bytes

        Raises
        ------
        ValueError
            For an unknown ``fmt``.
        ExportError
            If the figure cannot be rendered (see :func:`render`).
        """
        check_image_format(fmt)
        pending = self._pending.get(id(spec))
        if pending is not None and not pending.cancelled():
            pending.result()  # wait for the prefetch; re-raises its ExportError
        return self._get_now(spec, fmt)

    def _get_now(self, spec: FigureSpec, fmt: ImageFormat) -> bytes:
        """From this cache, else from the memo, else rendered (and stored in both)."""
        key = (id(spec), fmt)
        if key not in self._out:
            memo, memo_key = self.memo, self._memo_key(spec, fmt)
            # `is not None`: an empty memo is falsy (it has a length)
            data = memo.get(memo_key) if memo is not None and memo_key is not None else None
            if data is None:
                data = self._render(spec, fmt)
                if memo is not None and memo_key is not None:
                    memo.put(memo_key, data)
            self._specs[id(spec)] = spec
            self._out[key] = data
        return self._out[key]

    def _memo_key(self, spec: FigureSpec, fmt: ImageFormat) -> tuple[Hashable, ...] | None:
        """None without a memo, or for a chart that cannot be hashed (rendering then says why)."""
        if self.memo is None or not isinstance(spec.chart, alt.TopLevelMixin):
            return None
        digest = self._digests.get(id(spec))
        if digest is None:
            try:
                digest = self._digests[id(spec)] = chart_digest(spec.chart)
            except Exception:  # an invalid chart: _render raises the ExportError
                return None
        return render_key(spec, fmt, ppi=self.ppi, box_in=self.box_in, digest=digest)

    def _count(self) -> None:
        with self._lock:
            self.renders += 1

    def _render(self, spec: FigureSpec, fmt: ImageFormat) -> bytes:
        """One vl-convert call (two for a PNG whose SVG is not known yet)."""
        renderer: Callable[[FigureSpec, dict[str, Any], dict[str, Any]], bytes] = {
            "svg": self._render_svg, "png": self._render_png, "pdf": self._render_pdf}[fmt]
        vl = self.spec_dict(spec)
        common: dict[str, Any] = {"vl_version": _vl_version(), "allowed_base_urls": []}
        try:
            return renderer(spec, vl, common)
        except ExportError:
            raise
        except Exception as exc:
            raise ExportError(f"Figure '{spec.title}' could not be rendered as "
                              f"{fmt.upper()}: {_first_line(exc)}") from exc

    def _render_svg(self, spec: FigureSpec, vl: dict[str, Any],
                    common: dict[str, Any]) -> bytes:
        import vl_convert as vlc

        self._count()
        return vlc.vegalite_to_svg(vl, **common).encode("utf-8")

    def _render_png(self, spec: FigureSpec, vl: dict[str, Any],
                    common: dict[str, Any]) -> bytes:
        """Scaled to cover ``box_in`` at ``ppi``, measured on the SVG render."""
        import vl_convert as vlc

        size = _svg_size(self._get_now(spec, "svg").decode("utf-8"))
        factor = _png_pixel_factor(size, self.ppi, self.box_in)
        self._count()
        return vlc.vegalite_to_png(vl, scale=factor * 72.0 / self.ppi, ppi=self.ppi, **common)

    def _render_pdf(self, spec: FigureSpec, vl: dict[str, Any],
                    common: dict[str, Any]) -> bytes:
        """Vector; one CSS px = 1 pt (vl-convert 1.9 ignores ``scale`` here)."""
        import vl_convert as vlc

        self._count()
        return vlc.vegalite_to_pdf(vl, **common)


def render(spec: FigureSpec, fmt: ImageFormat, *, ppi: float = DEFAULT_PPI,
           box_in: tuple[float, float] = FIGURE_BOX_IN) -> bytes:
    """Render a figure (with its caption, see :func:`~core.export.figures.with_caption`).

    Parameters
    ----------
    spec : FigureSpec
    fmt : {"png", "svg", "pdf"}
    ppi : float, default 300
        PNG only: pixels per inch, written to the PNG pHYs chunk.
    box_in : (float, float), default (10, 5.6)
        PNG only: the image is scaled to cover this box at ``ppi`` (a landscape chart comes
        out ``box_in[0] * ppi`` = 3000 px wide, its pHYs saying ``ppi``). SVG and PDF are vector
        and keep the chart's own size (one CSS pixel = one point, so a default-sized captioned
        chart is a page of about 9.6 x 5.7 in).

    Returns
    -------
    bytes
        PNG or PDF data, or UTF-8 SVG text.

    Raises
    ------
    ValueError
        For an unknown ``fmt``, a ``spec.chart`` that is not an Altair chart, or a size that
        is not positive (programming errors).
    ExportError
        If the chart is invalid, asks for external data (rendering is offline) or vl-convert
        fails.
    """
    check_image_format(fmt)
    return RenderCache(ppi=ppi, box_in=box_in).get(spec, fmt)
