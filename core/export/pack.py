"""The whole meeting pack at once: :func:`build_pack` renders every figure once for all of
PPTX, PDF and ZIP, in the background while the builders place the ones already rendered."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal, cast, get_args

import pandas as pd

from core.export.archive import build_zip
from core.export.pdf import build_pdf
from core.export.pptx import build_pptx
from core.export.rendering import RenderCache
from core.export.report import Report, ReportMeta

__all__ = ["PACK_FORMATS", "PackFormat", "build_pack"]

PackFormat = Literal["pptx", "pdf", "zip"]
#: The values of :data:`PackFormat`, in the order the Report page offers them.
PACK_FORMATS: tuple[PackFormat, ...] = get_args(PackFormat)
# PDF first: it does the most work per PNG, so it overlaps best with the prefetch
_BUILD_ORDER = ("pdf", "pptx", "zip")


def _check_formats(formats: Iterable[object]) -> list[PackFormat]:
    wanted = list(formats)
    for fmt in wanted:
        if fmt not in PACK_FORMATS:
            raise ValueError(f"Unknown pack format {fmt!r}; use pptx, pdf or zip.")
    return cast(list[PackFormat], wanted)


def build_pack(report: Report, meta: ReportMeta, patients: pd.DataFrame, *,
               labs: pd.DataFrame | None = None, treatments: pd.DataFrame | None = None,
               formats: Iterable[PackFormat] = PACK_FORMATS,
               cache: RenderCache | None = None) -> dict[str, bytes]:
    """Build several pack formats, rendering each figure once.

    Parameters
    ----------
    report : Report
    meta : ReportMeta
    patients : pandas.DataFrame
        The filtered patient table (for the ZIP).
    labs, treatments : pandas.DataFrame, optional
        Their lab and treatment rows (for the ZIP and its notebook).
    formats : iterable of {"pptx", "pdf", "zip"}
    cache : RenderCache, optional
        A fresh cache is used (and closed) when not given; pass one backed by a
        :class:`~core.export.rendering.RenderMemo` to reuse figures rendered earlier.

    Returns
    -------
    dict
        ``{"pptx": bytes, "pdf": bytes, "zip": bytes}`` for the formats asked for, in the
        order asked for.

    Raises
    ------
    ValueError
        For an unknown format.
    ExportError
        If a figure cannot be rendered or placed.
    """
    wanted = _check_formats(formats)
    own_cache = cache is None
    cache = cache or RenderCache()
    builders: dict[str, Callable[[], bytes]] = {
        "pptx": lambda: build_pptx(report, meta, cache=cache),
        "pdf": lambda: build_pdf(report, meta, cache=cache),
        "zip": lambda: build_zip(report, meta, patients, labs=labs, treatments=treatments,
                                 cache=cache),
    }
    out: dict[str, bytes] = {}
    try:
        cache.prefetch(item.figure for item in report)
        for fmt in sorted(wanted, key=_BUILD_ORDER.index):
            out[fmt] = builders[fmt]()
    finally:
        if own_cache:
            cache.close()
    return {fmt: out[fmt] for fmt in wanted}
