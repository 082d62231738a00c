"""Placing a rendered figure on a slide or a page: its pixel size, the box it fits, the lines
under it. Shared by :mod:`core.export.pptx` and :mod:`core.export.pdf`."""

from __future__ import annotations

from core.errors import ExportError
from core.export.figures import SYNTHETIC_LABEL, FigureSpec

__all__ = ["fit", "png_size", "stat_lines"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels, read from the PNG's IHDR chunk.

    Parameters
    ----------
    png : bytes

    Returns
    -------
    tuple of int

    Raises
    ------
    ExportError
        If ``png`` is not a PNG image.
    """
    if png[:8] != _PNG_SIGNATURE or png[12:16] != b"IHDR":
        raise ExportError("A rendered figure is not a PNG image.")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def fit(size: tuple[float, float], box: tuple[float, float]) -> tuple[float, float]:
    """Largest (width, height) with the aspect ratio of ``size`` that fits ``box``.

    Parameters
    ----------
    size : (float, float)
        Any unit; only the ratio counts.
    box : (float, float)
        Width and height available, in the unit wanted.

    Returns
    -------
    tuple of float
    """
    factor = min(box[0] / size[0], box[1] / size[1])
    return size[0] * factor, size[1] * factor


def stat_lines(fig: FigureSpec, *, synthetic_label: bool) -> list[str]:
    """The text under a figure: its statistic, then the synthetic-data label if asked for.

    Parameters
    ----------
    fig : FigureSpec
    synthetic_label : bool
        Whether this slide or page must say :data:`~core.export.figures.SYNTHETIC_LABEL`
        under the figure (the builders decide: a PDF page whose footer already says it
        does not repeat it).

    Returns
    -------
    list of str
    """
    lines = [fig.stat] if fig.stat else []
    if synthetic_label:
        lines.append(SYNTHETIC_LABEL)
    return lines
