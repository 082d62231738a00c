"""The report model: the figures a user pinned (:class:`Report`) and what the pack says about
their source (:class:`ReportMeta`).

Both are immutable values: every edit of a :class:`Report` returns a new one, so it can sit in
``st.session_state`` and be compared or undone cheaply. The pack builders
(:mod:`core.export.pptx`, :mod:`core.export.pdf`, :mod:`core.export.archive`) read them.
"""

from __future__ import annotations

import importlib.metadata
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date

import pandas as pd

from core import __version__ as APP_VERSION
from core.codegen import PanelCode
from core.export.figures import FigureSpec

__all__ = [
    "APP_VERSION", "MAIN_LIBRARIES", "Report", "ReportItem", "ReportMeta", "cover_lines",
    "library_versions",
]

#: Distributions listed in README.txt and in :class:`ReportMeta` by default.
MAIN_LIBRARIES = (
    "pandas", "numpy", "scipy", "statsmodels", "lifelines", "altair", "vl-convert-python",
    "duckdb", "streamlit", "python-pptx", "fpdf2", "openpyxl",
)


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
    code : PanelCode or None
        How to recompute the figure's numbers with ``core`` (the recipe, filter and endpoint
        settings it was pinned with); the ZIP's notebook (:mod:`core.export.notebook`) redoes
        every item that has one.
    id : str
        Stable key for widgets and edits; generated when not given.
    """

    figure: FigureSpec
    table: pd.DataFrame | None = None
    code: PanelCode | None = None
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

    def __iter__(self) -> Iterator[ReportItem]:
        return iter(self.items)

    @property
    def synthetic(self) -> bool:
        """True when any pinned figure was drawn from the synthetic demo cohort."""
        return any(item.figure.synthetic for item in self.items)

    def _index(self, item_id: str) -> int:
        for i, item in enumerate(self.items):
            if item.id == item_id:
                return i
        raise KeyError(f"No report item with id {item_id!r}")

    def add(self, item: ReportItem | FigureSpec) -> Report:
        """Append an item (a bare :class:`FigureSpec` is wrapped in a new item).

        Parameters
        ----------
        item : ReportItem or FigureSpec

        Returns
        -------
        Report

        Raises
        ------
        ValueError
            If ``item`` is neither, or an item with its id is already in the report.
        """
        if isinstance(item, FigureSpec):
            item = ReportItem(item)
        if not isinstance(item, ReportItem):
            raise ValueError(f"Expected a ReportItem or FigureSpec, got {type(item).__name__}.")
        if any(existing.id == item.id for existing in self.items):
            raise ValueError(f"Report already holds an item with id {item.id!r}")
        return replace(self, items=self.items + (item,))

    def remove(self, item_id: str) -> Report:
        """Drop the item with ``item_id``.

        Parameters
        ----------
        item_id : str

        Returns
        -------
        Report
        """
        i = self._index(item_id)
        return replace(self, items=self.items[:i] + self.items[i + 1:])

    def move(self, item_id: str, to: int) -> Report:
        """Move the item to position ``to`` (clamped to the list; negative counts from the end).

        Parameters
        ----------
        item_id : str
        to : int

        Returns
        -------
        Report
        """
        i = self._index(item_id)
        rest = list(self.items[:i] + self.items[i + 1:])
        if to < 0:
            to = len(self.items) + to
        rest.insert(max(0, min(to, len(rest))), self.items[i])
        return replace(self, items=tuple(rest))

    def retitle(self, item_id: str, title: str) -> Report:
        """Give one item's figure a new title.

        Parameters
        ----------
        item_id : str
        title : str

        Returns
        -------
        Report
        """
        i = self._index(item_id)
        old = self.items[i]
        new = replace(old, figure=replace(old.figure, title=title))
        return replace(self, items=self.items[:i] + (new,) + self.items[i + 1:])

    def with_title(self, title: str) -> Report:
        """The same items under a new pack title.

        Parameters
        ----------
        title : str

        Returns
        -------
        Report
        """
        return replace(self, title=title)


def library_versions(names: Iterable[str] = MAIN_LIBRARIES) -> dict[str, str]:
    """Installed versions of ``names`` via :mod:`importlib.metadata` (nothing is imported).

    Parameters
    ----------
    names : iterable of str
        Distribution names, default :data:`MAIN_LIBRARIES`.

    Returns
    -------
    dict
        ``{"python": version, distribution: version, ...}``, ``"not installed"`` when missing.
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
        Patients after filtering; :func:`~core.export.archive.build_zip` falls back to the
        table's row count.
    when : datetime.date
        Date printed on the pack and used in file names (default: today).
    synthetic : bool
        Demo cohort: every page/slide says :data:`~core.export.figures.SYNTHETIC_LABEL`.
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


def cover_lines(meta: ReportMeta, n_items: int | None = None) -> list[str]:
    """The lines of the title slide / first page under the pack title.

    Parameters
    ----------
    meta : ReportMeta
    n_items : int, optional
        Number of figures, listed when given.

    Returns
    -------
    list of str
        Cohort, filters (if any), n (if known), date, figure count, app version.
    """
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
