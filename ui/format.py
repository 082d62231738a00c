"""Formatting at the edge: how numbers from core results are printed on pages.

Core results carry raw floats; pages print them through these functions so that every page
writes p-values, estimates and intervals the same way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import streamlit as st


def _missing(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt_p(p: float | None) -> str:
    """``"< 0.001"``, ``"0.004"``, ``"0.35"``, ``"1"``; ``"–"`` when missing."""
    if p is None or _missing(p):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.2g}" if p < 0.995 else "1"


def p_text(p: float | None) -> str:
    """``"p = 0.004"`` or ``"p < 0.001"``."""
    f = fmt_p(p)
    return f"p {f}" if f.startswith("<") else f"p = {f}"


def fmt_num(x: float | None) -> str:
    """Three significant digits, scientific outside 0.001-10,000; ``"NA"``, ``"∞"``."""
    if x is None or _missing(x):
        return "NA"
    if math.isinf(x):
        return "∞"
    return f"{x:.3g}" if 1e-3 <= abs(x) < 1e4 else f"{x:.2e}"


def fmt_ci(est: float | None, lo: float | None, hi: float | None) -> str:
    """``"2.5 (1.1–5.6)"``; ``"–"`` when the estimate is missing."""
    if _missing(est):
        return "–"
    return f"{fmt_num(est)} ({fmt_num(lo)}–{fmt_num(hi)})"


def fmt_days(x: float | None) -> str:
    """Days as printed in survival tables; ``"NR"`` (not reached) when missing."""
    return "NR" if _missing(x) else f"{x:g}"


def show_notes(notes: Iterable) -> None:
    """Show core result notes (objects with ``level`` error/warning/info and ``text``).

    A note of level "error" means "this part cannot be shown with these data" (no events, a
    model that cannot be fitted, no predictor chosen): the data limit it, nothing is broken,
    so it is a warning box with a "blocked" icon; red error boxes are kept for
    :func:`ui.guard.show`. Warnings and information keep their level.
    """
    for n in notes:
        if n.level == "error":
            st.warning(n.text, icon=":material/block:")
        else:
            {"warning": st.warning, "info": st.info}[n.level](n.text)
