"""One exportable figure: :class:`FigureSpec`, and :func:`with_caption`, which draws its text in.

A figure that travels alone (a PNG in an e-mail, a slide) must still say what it shows, so the
title, the cohort filter caption with n, the statistic and, for the demo cohort,
:data:`SYNTHETIC_LABEL` are part of the image, not of the page around it. Turning the captioned
chart into bytes is :mod:`core.export.rendering`'s job.
"""

from __future__ import annotations

import hashlib
import textwrap
from dataclasses import dataclass
from typing import Any, Literal, get_args

import altair as alt

from core.errors import ExportError

__all__ = [
    "FigureSpec", "ImageFormat", "IMAGE_FORMATS", "SYNTHETIC_LABEL", "check_image_format",
    "chart_digest", "figure_key", "with_caption",
]

ImageFormat = Literal["png", "svg", "pdf"]
#: The values of :data:`ImageFormat`, in menu order.
IMAGE_FORMATS: tuple[ImageFormat, ...] = get_args(ImageFormat)

#: Label carried by every figure, slide and page made from the synthetic demo cohort.
SYNTHETIC_LABEL = "Synthetic demo cohort \u2014 not patient data"

#: View size (CSS px) given to a single or layered chart that has no numeric width/height.
DEFAULT_VIEW_SIZE: tuple[int, int] = (640, 300)
#: Longest subtitle line (characters) before it is wrapped at " \u00b7 " separators.
CAPTION_WRAP = 110

# Keys that Vega-Lite allows only on the top-level spec (altair refuses them inside a concat).
_TOPLEVEL_ONLY = ("config", "background", "padding", "autosize")
_SEPARATOR = " \u00b7 "


def check_image_format(fmt: object) -> ImageFormat:
    """Return ``fmt`` if it is one of :data:`IMAGE_FORMATS`.

    Parameters
    ----------
    fmt : object
        The format asked for.

    Returns
    -------
    {"png", "svg", "pdf"}

    Raises
    ------
    ValueError
        For any other value (a programming error: formats come from code, not from users).
    """
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"Unknown figure format {fmt!r}; use png, svg or pdf.")
    return fmt


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
        Slug for file names (any text; :func:`core.export.filename` makes it safe).
    synthetic : bool
        True for the demo cohort: the image then says :data:`SYNTHETIC_LABEL`.

    Notes
    -----
    Equality is identity (``eq=False``): a chart holding DataFrames has no useful ``==``;
    :func:`figure_key` says when two specs draw the same image.
    """

    chart: alt.TopLevelMixin
    title: str
    caption: str = ""
    stat: str | None = None
    name: str = "figure"
    synthetic: bool = False

    @property
    def text_lines(self) -> list[str]:
        """The caption and the statistic, those that are not empty, in that order."""
        return [line for line in (self.caption, self.stat) if line]


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


def figure_key(spec: FigureSpec, digest: str | None = None) -> tuple[str, str, str, str, bool]:
    """What a rendered image of ``spec`` depends on (the format and size aside).

    Parameters
    ----------
    spec : FigureSpec
    digest : str, optional
        :func:`chart_digest` of ``spec.chart`` when already known (it costs a JSON dump).

    Returns
    -------
    tuple
        (chart digest, title, caption, statistic, synthetic): equal for two specs whose images
        are equal, e.g. the same chart drawn again on a later rerun. ``spec.name`` is not part
        of it: it only names the file.
    """
    return (digest or chart_digest(spec.chart), spec.title, spec.caption, spec.stat or "",
            bool(spec.synthetic))


# ---------------------------------------------------------------------------------------------
# The caption drawn into the image
# ---------------------------------------------------------------------------------------------

def _wrap_line(text: str, width: int = CAPTION_WRAP) -> list[str]:
    """Split a long caption into lines, preferring the caption's " \u00b7 " separators."""
    text = " ".join(text.split())
    if len(text) <= width:
        return [text] if text else []
    lines: list[str] = []
    current = ""
    for part in text.split(_SEPARATOR):
        candidate = f"{current}{_SEPARATOR}{part}" if current else part
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
    """The caption and statistic, each wrapped at :data:`CAPTION_WRAP` characters."""
    return [line for text in spec.text_lines for line in _wrap_line(text)]


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


def _detach_toplevel(chart: Any) -> tuple[Any, dict[str, Any]]:
    """A shallow copy of ``chart`` without its top-level-only keys, and those keys.

    ``autosize`` is dropped rather than returned: it refers to a web container.
    """
    inner = chart.copy(deep=False)
    moved: dict[str, Any] = {}
    for key in _TOPLEVEL_ONLY:
        value = getattr(inner, key, alt.Undefined)
        if value is not alt.Undefined:
            if key != "autosize":
                moved[key] = value
            setattr(inner, key, alt.Undefined)
    return inner, moved


def _figure_title(spec: FigureSpec) -> alt.TitleParams:
    """The figure's title with the caption and statistic as subtitle lines."""
    return alt.TitleParams(
        text=spec.title or " ", subtitle=_subtitle_lines(spec) or alt.Undefined,
        anchor="start", fontSize=16, subtitleFontSize=12, subtitleColor="#333333",
        subtitlePadding=4, offset=10)


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
    ValueError
        If ``spec.chart`` is not an Altair top-level chart (a programming error).
    ExportError
        If altair refuses to nest the chart.
    """
    if not isinstance(spec.chart, alt.TopLevelMixin):
        raise ValueError(
            f"Figure '{spec.title}' cannot be exported: expected an Altair chart, "
            f"got {type(spec.chart).__name__}.")
    inner, moved = _detach_toplevel(spec.chart)
    if spec.title and _title_text(getattr(inner, "title", alt.Undefined)) is not None:
        inner.title = alt.Undefined  # the figure's title replaces the chart's own one
    parts: list[Any] = [_sized(inner)]
    if spec.synthetic:
        parts.append(_footer(SYNTHETIC_LABEL))
    moved.setdefault("background", "white")
    try:
        return alt.vconcat(*parts, title=_figure_title(spec), spacing=6, **moved)
    except Exception as exc:  # altair refuses a sub-spec it cannot nest
        raise ExportError(f"Figure '{spec.title}' cannot be exported: {exc}") from exc
