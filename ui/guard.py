"""One way to show a :class:`core.errors.CohortError` on a page: :func:`guard`.

Core raises a ``CohortError`` for every problem a user can cause; its message says what went
wrong and, usually, what to do. A page wraps each computation (or each panel) in ``guard``::

    with guard("Table 1"):                      # the page stops here on an error
        result = session.memo(table1.table_one, df, by)

    for value in values:                        # one panel fails, the others still draw
        with guard(title, scope="panel"):
            draw_panel(value)

Too few data (:class:`~core.errors.InsufficientDataError`: a narrow filter, one group, no
events) is not a mistake of the user: it is shown as an information box. Every other
``CohortError`` is an error box. Both carry the panel's name, the message, and a hint what to
fix when the message does not already say so. Nothing else is caught: any other exception is a
bug and must surface in tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import streamlit as st

from core.errors import (
    CohortError,
    ColumnError,
    DataFormatError,
    ExportError,
    InsufficientDataError,
    ValidationError,
)

Scope = Literal["page", "panel"]

#: what to do, by error type (added when the message gives no instruction itself)
HINTS: tuple[tuple[type[CohortError], str], ...] = (
    (InsufficientDataError, "Widen the filter in the sidebar or choose other columns."),
    (ColumnError, "Choose another column, or correct the column mapping on the Data page."),
    (DataFormatError, "Save the file as CSV (UTF-8, also as .csv.gz or in a .zip), .xlsx or "
                      "Parquet and upload it again; the Data page has templates."),
    (ValidationError, "Correct the file (the Data page lists the problems) and upload it "
                      "again."),
    (ExportError, "Remove the figure from the report, or try again with fewer figures."),
    (CohortError, "Change the settings of this panel or the filter in the sidebar."),
)
#: words that show a message already says what to do
_INSTRUCTIONS = ("widen", "choose", "upload", "select", "add ", "remove", "use ", "press",
                 "correct", "check", "data page", "switch", "pick", "enter", "set ")


@dataclass
class Outcome:
    """What happened inside a :func:`guard` block.

    Attributes
    ----------
    error : the CohortError that stopped the block, or None when it ran to the end.
    """

    error: CohortError | None = None

    @property
    def failed(self) -> bool:
        """True when the block was stopped by a CohortError."""
        return self.error is not None


def hint(exc: CohortError) -> str:
    """What to fix for ``exc``: empty when its message already says what to do.

    Parameters
    ----------
    exc : CohortError

    Returns
    -------
    str
        One sentence, or ``""``.
    """
    text = str(exc).lower()
    if any(word in text for word in _INSTRUCTIONS):
        return ""
    return next(h for kind, h in HINTS if isinstance(exc, kind))


def message(exc: CohortError, what: str = "") -> str:
    """The Markdown shown for ``exc``: ``**what**: message`` and, on a new line, the hint."""
    head = f"**{what}**: {exc}" if what else str(exc)
    tip = hint(exc)
    return f"{head}  \n{tip}" if tip else head


def show(exc: CohortError, what: str = "") -> None:
    """Show ``exc``: an information box for too few data, else an error box.

    Parameters
    ----------
    exc : CohortError
    what : the panel or step that failed, e.g. ``"Table 1"``.
    """
    if isinstance(exc, InsufficientDataError):
        st.info(message(exc, what), icon=":material/info:")
    else:
        st.error(message(exc, what), icon=":material/error:")


@contextmanager
def guard(what: str, *, scope: Scope = "page") -> Iterator[Outcome]:
    """Run a block; on a :class:`CohortError` show it (:func:`show`) and stop.

    Parameters
    ----------
    what : name of the panel or step, shown in bold before the message.
    scope : ``"page"`` stops the script (``st.stop``): nothing after the block is drawn;
        ``"panel"`` stops only the block: the page goes on after it.

    Yields
    ------
    Outcome
        ``failed`` / ``error`` tell the code after a ``"panel"`` block what happened.
    """
    outcome = Outcome()
    try:
        yield outcome
    except CohortError as exc:
        outcome.error = exc
        show(exc, what)
        if scope == "page":
            st.stop()
