"""Figure rendering, safe tables and the meeting pack (PPTX / PDF / ZIP).

Pure core: no streamlit, no disk writes, no network. Everything is built in memory and returned as
``bytes`` for a download button or a notebook.

Overview
--------
* :class:`FigureSpec` is one figure as the user sees it: an Altair chart plus its title, the cohort
  filter caption (with n), the statistic and the synthetic-data flag.
* :func:`with_caption` puts that text *into* the image (title and subtitle lines on top, a
  "Synthetic demo cohort - not patient data" footer when synthetic), so a figure that travels
  alone still says what it shows.
* :func:`render` turns a :class:`FigureSpec` into PNG, SVG or PDF with vl-convert (offline:
  external data URLs are refused).
* :func:`safe_csv` and :func:`table_xlsx` export tables without spreadsheet formula injection.
* :class:`Report` is the user's ordered list of figures (an immutable value: every edit returns a
  new ``Report``, so it can sit in ``st.session_state`` and be compared or undone cheaply).
* :func:`build_pptx`, :func:`build_pdf`, :func:`build_zip` build the meeting pack;
  :func:`build_pack` builds all three and renders every figure only once.

Sizes
-----
A PNG is scaled so that it covers a 10 x 5.6 inch box (a widescreen slide's content area) at
300 dpi: a chart of the usual landscape shape comes out about 3000 px wide, and its pHYs metadata
says 300 dpi, so PowerPoint and Word place it at its physical size. vl-convert's pixel factor is
``scale * ppi / 72`` per CSS pixel of the chart; :func:`render` measures the chart's laid-out size
(from a fast SVG render) and chooses ``scale`` accordingly. Very large figures (many facets) are
capped at :data:`MAX_PNG_PIXELS` pixels.
"""

from __future__ import annotations

import csv
import importlib.metadata
import io
import math
import re
import textwrap
import unicodedata
import uuid
import threading
import zipfile
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Literal

import altair as alt
import pandas as pd

from core import __version__ as APP_VERSION
from core.errors import ExportError

__all__ = [
    "FigureSpec",
    "ImageFormat",
    "ReportItem",
    "Report",
    "ReportMeta",
    "RenderCache",
    "with_caption",
    "render",
    "filename",
    "safe_csv",
    "table_xlsx",
    "library_versions",
    "build_pptx",
    "build_pdf",
    "build_zip",
    "build_pack",
    "SYNTHETIC_LABEL",
]

ImageFormat = Literal["png", "svg", "pdf"]

#: Label carried by every figure, slide and page made from the synthetic demo cohort.
SYNTHETIC_LABEL = "Synthetic demo cohort \u2014 not patient data"

#: The box a PNG must cover at ``ppi`` (inches): the content area of a 16:9 slide.
FIGURE_BOX_IN: tuple[float, float] = (10.0, 5.6)
#: Default resolution of PNG exports (dots per inch, written to the pHYs chunk).
DEFAULT_PPI = 300
#: Upper bound on PNG pixels (width x height); keeps a 30-facet chart from eating memory.
MAX_PNG_PIXELS = 24_000_000
#: View size (CSS px) given to a single or layered chart that has no numeric width/height.
DEFAULT_VIEW_SIZE: tuple[int, int] = (640, 300)
#: Longest subtitle line (characters) before it is wrapped at " \u00b7 " separators.
CAPTION_WRAP = 110
#: Where the PDF builder looks for DejaVu Sans (Debian's fonts-dejavu-core).
DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")
#: Distributions listed in README.txt and in :class:`ReportMeta` by default.
MAIN_LIBRARIES = (
    "pandas", "numpy", "scipy", "statsmodels", "lifelines", "altair", "vl-convert-python",
    "duckdb", "streamlit", "python-pptx", "fpdf2", "openpyxl",
)

# Keys that Vega-Lite allows only on the top-level spec (altair refuses them inside a concat).
_TOPLEVEL_ONLY = ("config", "background", "padding", "autosize")
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class FigureSpec:
    """One exportable figure.

    Parameters
    ----------
    chart : alt.TopLevelMixin
        Any top-level Altair chart (``Chart``, ``LayerChart``, concat, ``FacetChart``, repeat).
    title : str
        Human title, e.g. ``"Fibrinogen nadir by CRS grade"``.
    caption : str
        The cohort filter caption including n, e.g. ``"CRS 1-2 \u00b7 tisa-cel \u00b7 n = 27"``.
    stat : str or None
        The statistic shown with the figure, e.g. ``"Kruskal-Wallis p = 0.004"``.
    name : str
        Slug for file names (any text; :func:`filename` makes it safe).
    synthetic : bool
        True for the demo cohort: the image then says :data:`SYNTHETIC_LABEL`.

    Notes
    -----
    Equality is identity (``eq=False``): a chart holding DataFrames has no useful ``==``.
    """

    chart: alt.TopLevelMixin
    title: str
    caption: str = ""
    stat: str | None = None
    name: str = "figure"
    synthetic: bool = False


def _wrap_line(text: str, width: int = CAPTION_WRAP) -> list[str]:
    """Split a long caption into lines, preferring the caption's " \u00b7 " separators."""
    text = " ".join(text.split())
    if len(text) <= width:
        return [text] if text else []
    parts = text.split(" \u00b7 ")
    lines: list[str] = []
    current = ""
    for part in parts:
        candidate = f"{current} \u00b7 {part}" if current else part
        if len(candidate) <= width or not current:
            current = candidate
        else:
            lines.append(current)
            current = part
    if current:
        lines.append(current)
    out: list[str] = []
    for line in lines:  # a single separator-free part may still be too long
        out.extend(textwrap.wrap(line, width) or [line])
    return out


def _subtitle_lines(spec: FigureSpec) -> list[str]:
    lines = _wrap_line(spec.caption)
    if spec.stat:
        lines.extend(_wrap_line(spec.stat))
    return lines


def _has_facet_encoding(chart: alt.Chart) -> bool:
    enc = chart.encoding
    if enc is alt.Undefined:
        return False
    return any(getattr(enc, ch, alt.Undefined) is not alt.Undefined
               for ch in ("row", "column", "facet"))


def _sized(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    """Give a single/layered chart a fixed view size when it has none or ``"container"``."""
    if not isinstance(chart, (alt.Chart, alt.LayerChart)):
        return chart
    if isinstance(chart, alt.Chart) and _has_facet_encoding(chart):
        return chart
    updates: dict[str, int] = {}
    width, height = DEFAULT_VIEW_SIZE
    # unset (a discrete axis would be 20 px per band) or "container" (no container when
    # rendering offline); an explicit number or alt.Step is the builder's choice and is kept
    if chart.width is alt.Undefined or chart.width == "container":
        updates["width"] = width
    if chart.height is alt.Undefined or chart.height == "container":
        updates["height"] = height
    return chart.properties(**updates) if updates else chart


def _title_text(title: Any) -> str | None:
    if isinstance(title, str):
        return title
    if isinstance(title, alt.TitleParams) and isinstance(title.text, str):
        return title.text
    return None


def _footer(text: str) -> alt.Chart:
    """A one-line text 'chart' with no axes or frame, for the synthetic-data label."""
    return (
        alt.Chart(alt.Data(values=[{"label": text}]))
        .mark_text(align="left", baseline="top", fontSize=12, fontWeight="bold",
                   color="#b3261e")
        .encode(text="label:N", x=alt.value(0), y=alt.value(2))
        .properties(width=1, height=16, view=alt.ViewBackground(stroke=None, fill=None))
    )


def with_caption(spec: FigureSpec) -> alt.VConcatChart:
    """Return the chart with its title, caption, statistic and data label drawn into the image.

    The chart is wrapped in a one-column ``vconcat`` whose title is ``spec.title`` and whose
    subtitle lines are the filter caption (with n) and the statistic. When ``spec.synthetic`` is
    true a red footer line reads :data:`SYNTHETIC_LABEL`. Wrapping works for every kind of
    top-level chart (single, layered, concat, facet, repeat): top-level-only properties of the
    inner chart (``config``, ``background``, ``padding``) move to the wrapper, ``autosize`` is
    dropped (it refers to a web container), and a single or layered chart without a numeric
    size gets :data:`DEFAULT_VIEW_SIZE`.

    Parameters
    ----------
    spec : FigureSpec

    Returns
    -------
    alt.VConcatChart
        A new chart; ``spec.chart`` is not modified.

    Raises
    ------
    ExportError
        If ``spec.chart`` is not an Altair top-level chart.
    """
    chart = spec.chart
    if not isinstance(chart, alt.TopLevelMixin):
        raise ExportError(
            f"Figure '{spec.title}' cannot be exported: expected an Altair chart, "
            f"got {type(chart).__name__}.")
    inner = chart.copy(deep=False)
    moved: dict[str, Any] = {}
    for key in _TOPLEVEL_ONLY:
        value = getattr(inner, key, alt.Undefined)
        if value is not alt.Undefined:
            if key != "autosize":
                moved[key] = value
            setattr(inner, key, alt.Undefined)
    if spec.title and _title_text(getattr(inner, "title", alt.Undefined)) is not None:
        inner.title = alt.Undefined  # the figure's title replaces the chart's own one
    inner = _sized(inner)

    parts: list[alt.TopLevelMixin] = [inner]
    if spec.synthetic:
        parts.append(_footer(SYNTHETIC_LABEL))
    title = alt.TitleParams(
        text=spec.title or " ", subtitle=_subtitle_lines(spec) or alt.Undefined,
        anchor="start", fontSize=16, subtitleFontSize=12, subtitleColor="#333333",
        subtitlePadding=4, offset=10)
    moved.setdefault("background", "white")
    try:
        return alt.vconcat(*parts, title=title, spacing=6, **moved)
    except Exception as exc:  # altair refuses a sub-spec it cannot nest
        raise ExportError(f"Figure '{spec.title}' cannot be exported: {exc}") from exc


def _vl_version() -> str | None:
    """The Vega-Lite version vl-convert should use: altair's own, when vl-convert has it."""
    import vl_convert as vlc

    match = re.match(r"v?(\d+)\.(\d+)", alt.SCHEMA_VERSION)
    if match:
        wanted = f"{match.group(1)}.{match.group(2)}"
        if wanted in vlc.get_vegalite_versions():
            return wanted
    return None


# Mark types whose `opacity` is rewritten to fill/stroke opacity before rendering (see below).
_OPACITY_REWRITE_MARKS = frozenset({"line", "rule", "area", "trail"})
_NESTED_SPEC_KEYS = ("layer", "vconcat", "hconcat", "concat")


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


def _spec_dict(spec: FigureSpec) -> dict[str, Any]:
    try:
        vl = with_caption(spec).to_dict()
        _split_mark_opacity(vl)
        return vl
    except ExportError:
        raise
    except Exception as exc:
        raise ExportError(f"Figure '{spec.title}' is not a valid chart: {exc}") from exc


_SVG_SIZE = re.compile(r'<svg[^>]*?\swidth="([\d.]+)"[^>]*?\sheight="([\d.]+)"', re.S)


def _svg_size(svg: str) -> tuple[float, float]:
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


class RenderCache:
    """Render each figure at most once per format within one build.

    Parameters
    ----------
    ppi : float
        PNG resolution (written to the PNG's pHYs chunk).
    box_in : tuple of float
        (width, height) in inches that a PNG covers at ``ppi``.

    Notes
    -----
    Keyed by object identity of the :class:`FigureSpec` (specs are immutable; the cache keeps a
    reference so an id cannot be reused while it lives). Make one per build; it is not meant to
    outlive a request or be shared between sessions.

    :meth:`prefetch` renders PNGs in one background thread, in report order, so that placing
    figure *k* in a PDF (PNG decoding and zlib, which release the GIL) overlaps with rendering
    figure *k + 1*. Use the cache as a context manager (or call :meth:`close`) so the thread
    never outlives the build.
    """

    def __init__(self, *, ppi: float = DEFAULT_PPI,
                 box_in: tuple[float, float] = FIGURE_BOX_IN) -> None:
        self.ppi = ppi
        self.box_in = box_in
        self._specs: dict[int, FigureSpec] = {}
        self._dicts: dict[int, dict[str, Any]] = {}
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
        """Start rendering the SVG and PNG of ``specs`` in the background, in order."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="export-render")
        for spec in specs:
            key = id(spec)
            if key in self._pending or (key, "png") in self._out:
                continue
            self._specs[key] = spec
            self._pending[key] = self._executor.submit(self._get_now, spec, "png")

    def spec_dict(self, spec: FigureSpec) -> dict[str, Any]:
        """The captioned Vega-Lite dict of ``spec`` (built once)."""
        key = id(spec)
        if key not in self._dicts:
            self._specs[key] = spec
            self._dicts[key] = _spec_dict(spec)
        return self._dicts[key]

    def put(self, spec: FigureSpec, fmt: ImageFormat, data: bytes) -> None:
        """Seed the cache with bytes of ``spec`` rendered earlier (same ``ppi``/``box_in``).

        Lets a caller that keeps rendered figures across builds (e.g. a per-session memo in
        the app) skip vl-convert for them; a seeded PNG is not prefetched again.
        """
        with self._lock:
            self._specs[id(spec)] = spec
            self._out[(id(spec), fmt)] = data

    def rendered(self, spec: FigureSpec, fmt: ImageFormat) -> bytes | None:
        """The bytes of ``spec`` in ``fmt`` if already rendered (or seeded), else None."""
        return self._out.get((id(spec), fmt))

    def get(self, spec: FigureSpec, fmt: ImageFormat) -> bytes:
        """The rendered bytes of ``spec`` in ``fmt`` (rendered on first request)."""
        pending = self._pending.get(id(spec))
        if pending is not None and not pending.cancelled():
            pending.result()  # wait for the prefetch; re-raises its ExportError
        return self._get_now(spec, fmt)

    def _get_now(self, spec: FigureSpec, fmt: ImageFormat) -> bytes:
        key = (id(spec), fmt)
        if key not in self._out:
            self._out[key] = self._render(spec, fmt)
        return self._out[key]

    def _count(self) -> None:
        with self._lock:
            self.renders += 1

    def _render(self, spec: FigureSpec, fmt: ImageFormat) -> bytes:
        import vl_convert as vlc

        vl = self.spec_dict(spec)
        common = {"vl_version": _vl_version(), "allowed_base_urls": []}
        what = f"Figure '{spec.title}' could not be rendered as {fmt.upper()}"
        try:
            if fmt == "svg":
                self._count()
                return vlc.vegalite_to_svg(vl, **common).encode("utf-8")
            if fmt == "png":
                size = _svg_size(self._get_now(spec, "svg").decode("utf-8"))
                factor = _png_pixel_factor(size, self.ppi, self.box_in)
                self._count()
                return vlc.vegalite_to_png(vl, scale=factor * 72.0 / self.ppi, ppi=self.ppi,
                                           **common)
            if fmt == "pdf":  # vector; one CSS px = 1 pt (vl-convert 1.9 ignores `scale` here)
                self._count()
                return vlc.vegalite_to_pdf(vl, **common)
        except ExportError:
            raise
        except Exception as exc:
            raise ExportError(f"{what}: {_first_line(exc)}") from exc
        raise ExportError(f"Unknown figure format {fmt!r}; use png, svg or pdf.")


def _first_line(exc: Exception) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    meaningful = [ln for ln in lines if not ln.lower().endswith("conversion failed:")]
    return (meaningful or lines or [type(exc).__name__])[0]


def render(spec: FigureSpec, fmt: ImageFormat, *, ppi: float = DEFAULT_PPI,
           box_in: tuple[float, float] = FIGURE_BOX_IN) -> bytes:
    """Render a figure (with its caption, see :func:`with_caption`) to PNG, SVG or PDF.

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
    ExportError
        If the chart is invalid, asks for external data (rendering is offline) or vl-convert
        fails.
    """
    if fmt not in ("png", "svg", "pdf"):
        raise ExportError(f"Unknown figure format {fmt!r}; use png, svg or pdf.")
    return RenderCache(ppi=ppi, box_in=box_in).get(spec, fmt)


_GERMAN = str.maketrans({"\u00e4": "ae", "\u00f6": "oe", "\u00fc": "ue", "\u00c4": "Ae",
                         "\u00d6": "Oe", "\u00dc": "Ue", "\u00df": "ss"})


def _slug(text: str, max_len: int = 80) -> str:
    ascii_text = (unicodedata.normalize("NFKD", text.translate(_GERMAN))
                  .encode("ascii", "ignore").decode("ascii"))
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_len].rstrip("-") or "figure"


def filename(name: str, ext: str, when: date | None = None) -> str:
    """A safe, self-describing file name: ``"<slug>_<YYYY-MM-DD>.<ext>"``.

    Parameters
    ----------
    name : str
        What the file shows, e.g. ``"Fibrinogen by CRS grade"`` or ``"fibrinogen_by_crs"``.
        Lower-cased; umlauts transliterated (``\u00fc`` -> ``ue``); any run of other characters
        becomes one ``-``; at most 80 characters; ``"figure"`` if nothing is left.
    ext : str
        Extension with or without the dot (``"png"``, ``".csv"``).
    when : date, optional
        Defaults to today.

    Returns
    -------
    str
        E.g. ``"fibrinogen-by-crs-grade_2026-11-24.png"``. Only ``[a-z0-9._-]``.
    """
    clean_ext = re.sub(r"[^a-z0-9]", "", ext.lower().lstrip("."))
    if not clean_ext:
        raise ExportError(f"'{ext}' is not a file extension.")
    return f"{_slug(name)}_{(when or date.today()).isoformat()}.{clean_ext}"


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------

def _is_formula_like(value: object) -> bool:
    return isinstance(value, str) and value.startswith(_FORMULA_TRIGGERS)


def _neutralise(value: object) -> object:
    """Prefix a formula-like *string* with ``'``; anything else (numbers, NaN) is returned as is."""
    return "'" + value if _is_formula_like(value) else value  # type: ignore[operator]


def _text_columns(df: pd.DataFrame) -> list[Any]:
    return [col for col in df.columns
            if pd.api.types.is_object_dtype(df[col]) or pd.api.types.is_string_dtype(df[col])
            or isinstance(df[col].dtype, pd.CategoricalDtype)]


def _neutralised_frame(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in _text_columns(df):
        out[col] = df[col].astype(object).map(_neutralise)
    out.columns = [_neutralise(c) for c in df.columns]
    return out


def safe_csv(df: pd.DataFrame, *, sep: str = ",", decimal: str = ".") -> bytes:
    """CSV bytes that a spreadsheet opens without running formulas.

    Every *text* cell (and header) that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
    carriage return gets a leading ``'`` (OWASP CSV-injection guidance), so Excel/LibreOffice
    show it as text. Numbers are never touched: a numeric ``-3`` stays ``-3``; only ``str``
    values are, even in mixed object columns. The index is not written.

    Encoding is UTF-8 with a byte-order mark (``utf-8-sig``): Excel on Windows only reads a CSV
    as UTF-8 (umlauts, "\u2265", "\u00b7") when the BOM is there; pandas and R read it fine
    (``pd.read_csv`` strips it). Rows end in CRLF (RFC 4180); fields are quoted when needed;
    floats are written at full precision (no rounding).

    Parameters
    ----------
    df : pandas.DataFrame
    sep : str, default ","
        Use ``";"`` (with ``decimal=","``) for German-locale Excel, which splits CSV on ``;``.
    decimal : str, default "."

    Returns
    -------
    bytes
    """
    text = _neutralised_frame(df).to_csv(index=False, sep=sep, decimal=decimal,
                                         lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    return text.encode("utf-8-sig")


_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def table_xlsx(df: pd.DataFrame, sheet: str = "data") -> bytes:
    """An XLSX workbook (one sheet) whose text cells can never be formulas.

    openpyxl stores any string starting with ``=`` as a formula. Here every cell holding a
    ``str`` is written with data type ``"s"`` (shared string) and formula-like text
    (``= + - @``, tab, CR) additionally gets Excel's *quote prefix* style, the same thing Excel
    does when a user types ``'=1+1``: the cell shows ``=1+1`` exactly and stays text even when
    edited. Unlike CSV, no visible ``'`` is added, so values survive a round trip unchanged.
    Numbers, booleans and dates keep their types; NaN/NA become empty cells. The header row is
    bold and frozen.

    Parameters
    ----------
    df : pandas.DataFrame
    sheet : str, default "data"
        Sheet name (characters Excel forbids are replaced, cut to 31 characters).

    Returns
    -------
    bytes
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet_name = _SHEET_BAD.sub("_", sheet)[:31] or "data"
    ws = workbook.create_sheet(sheet_name)
    ws.freeze_panes = "A2"
    bold = Font(bold=True)

    def cell(value: object, header: bool = False) -> WriteOnlyCell:
        value = _xlsx_value(value)
        c = WriteOnlyCell(ws, value=value)
        if isinstance(value, str):
            c.data_type = "s"
            if _is_formula_like(value):
                c.quotePrefix = True
        if header:
            c.font = bold
        return c

    ws.append([cell(str(col), header=True) for col in df.columns])
    for row in df.itertuples(index=False, name=None):
        ws.append([cell(v) for v in row])
    buffer = io.BytesIO()
    try:
        workbook.save(buffer)
    except Exception as exc:
        raise ExportError(f"The table could not be written as XLSX: {exc}") from exc
    return buffer.getvalue()


def _xlsx_value(value: object) -> object:
    if value is None:
        return None
    try:
        if pd.isna(value):  # NaN, NA, NaT
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, pd.Timestamp):  # Excel has no time zones: keep the wall-clock time
        return (value.tz_localize(None) if value.tzinfo else value).to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            return value.item()  # numpy scalar -> Python scalar
        except (TypeError, ValueError):
            pass
    if isinstance(value, (int, float, bool, str, date)):
        return value
    return str(value)


# ---------------------------------------------------------------------------------------------
# Report model
# ---------------------------------------------------------------------------------------------

def _new_id() -> str:
    return uuid.uuid4().hex[:10]


@dataclass(frozen=True, eq=False)
class ReportItem:
    """One entry of a report: a figure, optionally the table behind it.

    Parameters
    ----------
    figure : FigureSpec
    table : pandas.DataFrame or None
        Exported as ``tables/NN_<name>.csv`` in the ZIP (safe CSV).
    id : str
        Stable key for widgets and edits; generated when not given.
    """

    figure: FigureSpec
    table: pd.DataFrame | None = None
    id: str = field(default_factory=_new_id)


@dataclass(frozen=True)
class Report:
    """An ordered, immutable list of :class:`ReportItem`.

    Every edit returns a new ``Report`` and leaves this one unchanged, so a page does
    ``st.session_state.report = st.session_state.report.add(item)``; keeping the previous value
    gives undo for free, and a rerun in the middle of an edit cannot leave half a change behind.
    Items are addressed by ``id``; an unknown id raises :class:`KeyError`.

    Parameters
    ----------
    items : tuple of ReportItem
    title : str
        Title of the pack (title slide / first page).
    """

    items: tuple[ReportItem, ...] = ()
    title: str = "CAR-T cohort report"

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    def _index(self, item_id: str) -> int:
        for i, item in enumerate(self.items):
            if item.id == item_id:
                return i
        raise KeyError(f"No report item with id {item_id!r}")

    def add(self, item: ReportItem | FigureSpec) -> Report:
        """Append an item (a bare :class:`FigureSpec` is wrapped in a new item)."""
        if isinstance(item, FigureSpec):
            item = ReportItem(item)
        if any(existing.id == item.id for existing in self.items):
            raise ValueError(f"Report already holds an item with id {item.id!r}")
        return replace(self, items=self.items + (item,))

    def remove(self, item_id: str) -> Report:
        """Drop the item with ``item_id``."""
        i = self._index(item_id)
        return replace(self, items=self.items[:i] + self.items[i + 1:])

    def move(self, item_id: str, to: int) -> Report:
        """Move the item to position ``to`` (clamped to the list; negative counts from the end)."""
        i = self._index(item_id)
        rest = list(self.items[:i] + self.items[i + 1:])
        if to < 0:
            to = len(self.items) + to
        rest.insert(max(0, min(to, len(rest))), self.items[i])
        return replace(self, items=tuple(rest))

    def retitle(self, item_id: str, title: str) -> Report:
        """Give one item's figure a new title."""
        i = self._index(item_id)
        old = self.items[i]
        new = replace(old, figure=replace(old.figure, title=title))
        return replace(self, items=self.items[:i] + (new,) + self.items[i + 1:])

    def with_title(self, title: str) -> Report:
        """The same items under a new pack title."""
        return replace(self, title=title)


def library_versions(names: Iterable[str] = MAIN_LIBRARIES) -> dict[str, str]:
    """Installed versions of ``names`` via :mod:`importlib.metadata` (nothing is imported).

    Returns
    -------
    dict
        ``{distribution: version}``, ``"not installed"`` when missing.
    """
    import platform

    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@dataclass(frozen=True)
class ReportMeta:
    """What the pack says about where its figures come from.

    Parameters
    ----------
    cohort : str
        Cohort name or source, e.g. ``"Demo cohort (41 patients)"`` or the upload's file name.
    filters : str
        The filter caption, e.g. ``"CRS 1-2 \u00b7 tisa-cel \u00b7 n = 27"``.
    n : int or None
        Patients after filtering; :func:`build_zip` falls back to the table's row count.
    when : date
        Date printed on the pack and used in file names (default: today).
    synthetic : bool
        Demo cohort: every page/slide says :data:`SYNTHETIC_LABEL`.
    app_version : str
    versions : Mapping[str, str]
        Library versions for README.txt (default: :func:`library_versions`).
    """

    cohort: str
    filters: str = ""
    n: int | None = None
    when: date = field(default_factory=date.today)
    synthetic: bool = False
    app_version: str = APP_VERSION
    versions: Mapping[str, str] = field(default_factory=library_versions)


# ---------------------------------------------------------------------------------------------
# Pack builders
# ---------------------------------------------------------------------------------------------

def _png_size(png: bytes) -> tuple[int, int]:
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ExportError("A rendered figure is not a PNG image.")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def _fit(size: tuple[float, float], box: tuple[float, float]) -> tuple[float, float]:
    """Largest (width, height) with the aspect ratio of ``size`` that fits ``box``."""
    factor = min(box[0] / size[0], box[1] / size[1])
    return size[0] * factor, size[1] * factor


def _meta_lines(meta: ReportMeta, n_items: int | None = None) -> list[str]:
    lines = [f"Cohort: {meta.cohort}"]
    if meta.filters:
        lines.append(f"Filters: {meta.filters}")
    if meta.n is not None:
        lines.append(f"Patients: n = {meta.n}")
    lines.append(f"Date: {meta.when.isoformat()}")
    if n_items is not None:
        lines.append(f"Figures: {n_items}")
    lines.append(f"CAR-T cohort explorer {meta.app_version}")
    return lines


# -- PPTX --------------------------------------------------------------------------------------

_SLIDE_W_IN, _SLIDE_H_IN = 13.333, 7.5
_MARGIN_IN = 0.5
_TITLE_BOX_IN = (0.3, 0.8)        # top, height
_FIGURE_BOX_TOP_IN = 1.2
_STAT_BOX_IN = (6.55, 0.55)       # top, height


def build_pptx(report: Report, meta: ReportMeta, *, cache: RenderCache | None = None) -> bytes:
    """A widescreen (13.333 x 7.5 in) PowerPoint deck of the report.

    Slide 1: the pack title, cohort, filters, n and date (and the synthetic label). Then one
    slide per item: its title (the slide's title placeholder), its figure as a 300-dpi PNG
    scaled to fit the content area with its aspect ratio kept and centred, and the statistic
    as a text box under it. The filter caption and statistic also go into the speaker notes.

    Parameters
    ----------
    report : Report
    meta : ReportMeta
    cache : RenderCache, optional
        Share one with :func:`build_pdf` / :func:`build_zip` to render each figure once.

    Returns
    -------
    bytes
    """
    from pptx import Presentation
    from pptx.util import Inches, Pt

    cache = cache or RenderCache()
    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(_SLIDE_W_IN), Inches(_SLIDE_H_IN)
    content_w = _SLIDE_W_IN - 2 * _MARGIN_IN

    slide = prs.slides.add_slide(prs.slide_layouts[0])  # "Title Slide"
    _place(slide.shapes.title, _MARGIN_IN, 1.6, content_w, 1.4)
    slide.shapes.title.text = report.title
    subtitle = slide.placeholders[1]
    _place(subtitle, _MARGIN_IN, 3.2, content_w, 3.2)
    lines = _meta_lines(meta, len(report))
    if meta.synthetic:
        lines.append(SYNTHETIC_LABEL)
    _set_lines(subtitle.text_frame, lines, Pt(20))

    for item in report:
        fig = item.figure
        slide = prs.slides.add_slide(prs.slide_layouts[5])  # "Title Only"
        _place(slide.shapes.title, _MARGIN_IN, _TITLE_BOX_IN[0], content_w, _TITLE_BOX_IN[1])
        _set_lines(slide.shapes.title.text_frame, [fig.title], Pt(28))

        png = cache.get(fig, "png")
        box_h = _STAT_BOX_IN[0] - _FIGURE_BOX_TOP_IN - 0.1
        w, h = _fit(_png_size(png), (content_w, box_h))
        slide.shapes.add_picture(io.BytesIO(png), Inches(_MARGIN_IN + (content_w - w) / 2),
                                 Inches(_FIGURE_BOX_TOP_IN), Inches(w), Inches(h))
        footer = [fig.stat] if fig.stat else []
        if fig.synthetic or meta.synthetic:
            footer.append(SYNTHETIC_LABEL)
        if footer:
            box = slide.shapes.add_textbox(Inches(_MARGIN_IN), Inches(_STAT_BOX_IN[0]),
                                           Inches(content_w), Inches(_STAT_BOX_IN[1]))
            box.text_frame.word_wrap = True
            _set_lines(box.text_frame, footer, Pt(16))
        notes = [fig.caption, fig.stat or "", f"{meta.cohort} \u00b7 {meta.when.isoformat()}"]
        slide.notes_slide.notes_text_frame.text = "\n".join(t for t in notes if t)

    buffer = io.BytesIO()
    prs.save(buffer)
    return buffer.getvalue()


def _place(shape: Any, left: float, top: float, width: float, height: float) -> None:
    from pptx.util import Inches

    shape.left, shape.top = Inches(left), Inches(top)
    shape.width, shape.height = Inches(width), Inches(height)


def _set_lines(text_frame: Any, lines: list[str], size: Any) -> None:
    text_frame.text = lines[0] if lines else ""
    for line in lines[1:]:
        text_frame.add_paragraph().text = line
    for paragraph in text_frame.paragraphs:
        for run in paragraph.runs:
            run.font.size = size


# -- PDF ---------------------------------------------------------------------------------------

_LATIN1_FALLBACK = str.maketrans({
    "\u2265": ">=", "\u2264": "<=", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2026": "...",
    "\u2022": "\u00b7", "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u03b1": "alpha",
    "\u03b2": "beta", "\u03c7": "chi", "\u00b2": "2",
})


class _PdfText:
    """Font choice for fpdf2: DejaVu Sans from disk when present, else core Helvetica.

    Core fonts are latin-1 only, so text is transliterated ("\u2265" -> ">=", "\u2013" -> "-";
    umlauts and "\u00b7" are latin-1 and kept) and anything left is replaced by "?" instead of
    crashing.
    """

    def __init__(self, pdf: Any, font_dir: Path | None) -> None:
        self.pdf = pdf
        self.family = "helvetica"
        self.unicode = False
        regular = font_dir / "DejaVuSans.ttf" if font_dir else None
        bold = font_dir / "DejaVuSans-Bold.ttf" if font_dir else None
        if regular and bold and regular.is_file() and bold.is_file():
            try:
                pdf.add_font("dejavu", "", str(regular))
                pdf.add_font("dejavu", "B", str(bold))
                self.family, self.unicode = "dejavu", True
            except Exception:  # unreadable font file: fall back to core fonts
                self.family, self.unicode = "helvetica", False

    def text(self, value: str) -> str:
        if self.unicode:
            return value
        return value.translate(_LATIN1_FALLBACK).encode("latin-1", "replace").decode("latin-1")

    def font(self, size: float, bold: bool = False) -> None:
        self.pdf.set_font(self.family, "B" if bold else "", size)


def build_pdf(report: Report, meta: ReportMeta, *, cache: RenderCache | None = None) -> bytes:
    """The report as a landscape A4 PDF.

    Page 1: pack title, cohort, filters, n, date (and the synthetic label). Then one page per
    item: its title, the figure PNG fitted to the page with its aspect ratio kept, and the
    statistic under it. Every page has a footer with the cohort, the date and the page number.
    Text uses DejaVu Sans from :data:`DEJAVU_DIR` when installed (full Unicode), otherwise core
    Helvetica with transliteration (see :class:`_PdfText`).

    Parameters
    ----------
    report : Report
    meta : ReportMeta
    cache : RenderCache, optional

    Returns
    -------
    bytes
    """
    from fpdf import FPDF

    cache = cache or RenderCache()
    pdf = FPDF(orientation="landscape", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_title(report.title)
    pdf.set_creator(f"CAR-T cohort explorer {meta.app_version}")
    fonts = _PdfText(pdf, DEJAVU_DIR)
    margin = 15.0
    page_w, page_h = pdf.w, pdf.h
    content_w = page_w - 2 * margin

    def footer(page_no: int) -> None:
        fonts.font(8)
        pdf.set_text_color(90, 90, 90)
        pdf.set_xy(margin, page_h - 10)
        label = f"{meta.cohort} \u00b7 {meta.when.isoformat()}"
        if meta.synthetic:
            label += f" \u00b7 {SYNTHETIC_LABEL}"
        pdf.cell(content_w - 20, 5, fonts.text(label))
        pdf.cell(20, 5, str(page_no), align="R")
        pdf.set_text_color(0, 0, 0)

    pdf.add_page()
    fonts.font(26, bold=True)
    pdf.set_xy(margin, 50)
    pdf.multi_cell(content_w, 12, fonts.text(report.title))
    pdf.ln(6)
    fonts.font(14)
    for line in _meta_lines(meta, len(report)):
        pdf.set_x(margin)
        pdf.multi_cell(content_w, 8, fonts.text(line))
    if meta.synthetic:
        pdf.ln(4)
        pdf.set_text_color(179, 38, 30)
        fonts.font(14, bold=True)
        pdf.set_x(margin)
        pdf.multi_cell(content_w, 8, fonts.text(SYNTHETIC_LABEL))
        pdf.set_text_color(0, 0, 0)
    footer(1)

    for number, item in enumerate(report, start=2):
        fig = item.figure
        pdf.add_page()
        fonts.font(18, bold=True)
        pdf.set_xy(margin, 12)
        pdf.multi_cell(content_w, 9, fonts.text(fig.title))
        top = pdf.get_y() + 3
        stat_lines = [fig.stat] if fig.stat else []
        if fig.synthetic and not meta.synthetic:
            stat_lines.append(SYNTHETIC_LABEL)
        stat_h = 7.0 * len(stat_lines)
        box_h = page_h - 14 - stat_h - 3 - top
        png = cache.get(fig, "png")
        w, h = _fit(_png_size(png), (content_w, box_h))
        try:
            pdf.image(io.BytesIO(png), x=margin + (content_w - w) / 2, y=top, w=w, h=h)
        except Exception as exc:
            raise ExportError(f"Figure '{fig.title}' could not be placed in the PDF: {exc}") \
                from exc
        fonts.font(12)
        pdf.set_xy(margin, top + h + 3)
        for line in stat_lines:
            pdf.set_x(margin)
            pdf.multi_cell(content_w, 7, fonts.text(line))
        footer(number)

    return bytes(pdf.output())


# -- ZIP ---------------------------------------------------------------------------------------

def _readme(report: Report, meta: ReportMeta, n: int, files: list[str]) -> str:
    lines = [
        report.title,
        "=" * len(report.title),
        "",
        f"Cohort:      {meta.cohort}",
        f"Filters:     {meta.filters or '(none)'}",
        f"Patients:    n = {n}",
        f"Date:        {meta.when.isoformat()}",
        f"App version: CAR-T cohort explorer {meta.app_version}",
    ]
    if meta.synthetic:
        lines += ["", f"*** {SYNTHETIC_LABEL} ***"]
    lines += ["", "Figures:"]
    for i, item in enumerate(report, start=1):
        fig = item.figure
        lines.append(f"  {i:02d}. {fig.title}")
        if fig.caption:
            lines.append(f"      {fig.caption}")
        if fig.stat:
            lines.append(f"      {fig.stat}")
    lines += ["", "Files:"] + [f"  {name}" for name in files]
    lines += ["", "Library versions:"]
    lines += [f"  {name}: {version}" for name, version in meta.versions.items()]
    lines += [
        "",
        "Notes:",
        "  PNG files are 300 dpi; SVG files are vector and scale freely.",
        "  CSV files are UTF-8 with BOM. Text cells starting with = + - @ (or a tab/CR) carry a",
        "  leading ' so that spreadsheets do not run them as formulas.",
        "  Days are days after CAR-T infusion; the export holds no calendar dates.",
    ]
    return "\r\n".join(lines) + "\r\n"


def build_zip(report: Report, meta: ReportMeta, patients: pd.DataFrame, *,
              cache: RenderCache | None = None) -> bytes:
    """A ZIP with every figure (PNG + SVG), the tables, the patient list and a README.

    Layout::

        README.txt                                   filters, n, date, versions, file list
        patients_<date>.csv                          the filtered patient table (safe CSV)
        figures/NN_<name>_<date>.png / .svg          one pair per report item, in report order
        tables/NN_<name>_<date>.csv                  for items that carry a table

    Parameters
    ----------
    report : Report
    meta : ReportMeta
    patients : pandas.DataFrame
        The filtered patient table.
    cache : RenderCache, optional

    Returns
    -------
    bytes
    """
    cache = cache or RenderCache()
    members: list[tuple[str, bytes]] = [
        (filename("patients", "csv", meta.when), safe_csv(patients))]
    for i, item in enumerate(report, start=1):
        fig = item.figure
        for fmt in ("png", "svg"):
            members.append((f"figures/{i:02d}_{filename(fig.name, fmt, meta.when)}",
                            cache.get(fig, fmt)))  # type: ignore[arg-type]
        if item.table is not None:
            members.append((f"tables/{i:02d}_{filename(fig.name, 'csv', meta.when)}",
                            safe_csv(item.table)))
    n = meta.n if meta.n is not None else len(patients)
    readme = _readme(report, meta, n, [name for name, _ in members])

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", readme.encode("utf-8"))
        for name, data in members:
            compress = zipfile.ZIP_STORED if name.endswith(".png") else zipfile.ZIP_DEFLATED
            archive.writestr(name, data, compress_type=compress)
    return buffer.getvalue()


def build_pack(report: Report, meta: ReportMeta, patients: pd.DataFrame, *,
               formats: Iterable[Literal["pptx", "pdf", "zip"]] = ("pptx", "pdf", "zip"),
               cache: RenderCache | None = None) -> dict[str, bytes]:
    """Build several pack formats, rendering each figure once.

    Parameters
    ----------
    report, meta, patients
        As for the single builders.
    formats : iterable of {"pptx", "pdf", "zip"}
    cache : RenderCache, optional
        A fresh cache is used when not given.

    Returns
    -------
    dict
        ``{"pptx": bytes, "pdf": bytes, "zip": bytes}`` for the formats asked for.
    """
    own_cache = cache is None
    cache = cache or RenderCache()
    builders = {
        "pptx": lambda: build_pptx(report, meta, cache=cache),
        "pdf": lambda: build_pdf(report, meta, cache=cache),
        "zip": lambda: build_zip(report, meta, patients, cache=cache),
    }
    wanted = list(formats)
    for fmt in wanted:
        if fmt not in builders:
            raise ExportError(f"Unknown pack format {fmt!r}; use pptx, pdf or zip.")
    out: dict[str, bytes] = {}
    try:
        cache.prefetch(item.figure for item in report)
        # PDF first: it does the most work per PNG, so it overlaps best with the prefetch
        for fmt in sorted(wanted, key=("pdf", "pptx", "zip").index):
            out[fmt] = builders[fmt]()
        out = {fmt: out[fmt] for fmt in wanted}
    finally:
        if own_cache:
            cache.close()
    return out
