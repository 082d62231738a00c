"""Typed notes: what core tells the user about a result, with a kind that code can test.

Statistics and analyses return their messages as :class:`Note` objects, so callers select
them by ``kind`` (``"separation"``, ``"epv"``, ``"dropped"`` ...), never by searching the
wording, and pages show ``note.text`` with a box chosen by ``note.level``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

Level = Literal["error", "warning", "info"]
LEVELS: tuple[str, ...] = get_args(Level)


@dataclass(frozen=True)
class Note:
    """A message for the user.

    Attributes
    ----------
    level : str
        "error" (nothing to show for this part), "warning" (shown, but read with care) or
        "info".
    kind : str
        What it is about, for code and tests, e.g. "separation", "epv", "dropped",
        "no_events", "convergence", "ph_test". Each module documents the kinds it emits.
    text : str
        The message, written for the user, saying what to do.
    """

    level: Level
    kind: str
    text: str

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"Note level must be one of {LEVELS}, not {self.level!r}.")

    def __str__(self) -> str:
        return self.text


class WithNotes:
    """Mixin for the frozen results that carry ``notes``: ``messages`` is their texts, for
    pages that show strings (code selects notes by ``kind``)."""

    notes: tuple[Note, ...]

    @property
    def messages(self) -> tuple[str, ...]:
        """The texts of ``notes``, in order."""
        return texts(self.notes)


def texts(notes: Iterable[Note]) -> tuple[str, ...]:
    """The texts of ``notes``, in order (for display and for callers that want strings)."""
    return tuple(n.text for n in notes)


def of_kind(notes: Iterable[Note], *kinds: str) -> tuple[Note, ...]:
    """The notes whose kind is one of ``kinds``."""
    return tuple(n for n in notes if n.kind in kinds)
