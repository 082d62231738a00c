"""The session's cohort: data source, DuckDB store, the current filter.

Uploaded data lives only in ``st.session_state`` of one browser session: its derived cohort,
its DuckDB store and its memoised results are per session, and nothing is written to disk.
The public synthetic demo is different: it is parsed, derived (default endpoint settings) and
stored once per server process and shared read-only by every session that views it, with a
process-wide memo of its results, so a new session on the demo costs almost nothing. A session
that changes the endpoint settings gets its own derived copy of the demo.

Pages use :func:`cohort` and :func:`memo`::

    view = session.cohort()                 # filtered patients, labs, treatments, caption
    result = session.memo(stats.compare_groups, view.patients, "fibrinogen_nadir", "crs_grade")
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

from core import ingest
from core.analyses import columns
from core.endpoints import DerivedCohort, EndpointSettings, apply_to_cohort
from core.errors import CohortError
from core.filters import CohortFilter
from core.ingest import Cohort
from core.store import CohortStore

T = TypeVar("T")
SYNTHETIC_NOTE = "synthetic demo cohort"
_MEMO_SIZE = 64
_SHARED_MEMO_SIZE = 512
_DERIVED_SIZE = 4
#: from this many lab rows on, a session keeps one derived cohort only (each holds its own
#: cleaned lab table: ~0.3 GB at 10 million rows; going back to a setting re-derives)
_BIG_LAB_ROWS = 1_000_000
#: st.session_state key of the session's EndpointSettings (edited on the Endpoints page)
SETTINGS_KEY = "endpoint_settings"


#: the share of the progress bar each phase of loading an upload takes (start, end)
PHASES = {"ingest": (0.0, 0.7), "derive": (0.7, 0.9), "store": (0.9, 1.0)}
DERIVE_STEP = "Deriving endpoints"
STORE_STEP = "Building the database"


class Progress:
    """A progress bar with the step's name while an upload is loaded (read and checked by
    :func:`core.ingest.load_upload`, endpoints derived, the database built).

    Nothing is drawn until the first step reports: then a placeholder is added where the
    bar goes (``where.empty()``); :meth:`done` empties it. So a rerun that loads nothing adds
    no element. Updates from another thread than the one that made the bar (a worker inside
    the core) are ignored, and the bar never moves back.

    Parameters
    ----------
    where : the container the bar goes into (a Streamlit DeltaGenerator), e.g. the top of
        the main area, which stays in view while the sidebar is scrolled.
    """

    def __init__(self, where: Any) -> None:
        self._where = where
        self._slot: Any = None
        self._thread = threading.get_ident()
        self._label = ""
        self._fraction = -1.0
        self.steps: list[str] = []  #: step labels shown, in order (for tests and benchmarks)
        self._on_start: list[Callable[[], object]] = []

    def on_start(self, fn: Callable[[], object]) -> None:
        """Call ``fn`` when the first step is shown (e.g. clear the last page's content)."""
        self._on_start.append(fn)

    def phase(self, name: str) -> Callable[[str, float], None]:
        """A ``progress(step_label, fraction)`` hook for one phase of :data:`PHASES`: its
        fraction 0-1 is drawn in that phase's share of the bar."""
        lo, hi = PHASES[name]
        return lambda label, fraction: self.update(
            label, lo + (hi - lo) * min(max(float(fraction), 0.0), 1.0))

    def update(self, label: str, fraction: float) -> None:
        """Show ``label`` at ``fraction`` (0-1) of the bar (skipped when nothing visible
        changes: the same label less than 1% further)."""
        if threading.get_ident() != self._thread:
            return
        fraction = min(max(float(fraction), self._fraction, 0.0), 1.0)
        if label == self._label and fraction - self._fraction < 0.01:
            return
        if label != self._label:
            self.steps.append(label)
        self._label, self._fraction = label, fraction
        if self._slot is None:
            self._slot = self._where.empty()
            for fn in self._on_start:
                fn()
        self._slot.progress(fraction, text=label)

    def done(self) -> None:
        """Remove the bar (nothing to do when no step was shown)."""
        if self._slot is not None:
            self._slot.empty()


def _step(progress: Progress | None, phase: str, label: str) -> None:
    if progress is not None:
        progress.phase(phase)(label, 0.0)


@dataclass(frozen=True)
class SharedDemo:
    """The demo as every session shares it: built once per server process, never mutated.

    Attributes
    ----------
    cohort : the parsed demo cohort (source tables).
    derived : its endpoints under the default :class:`EndpointSettings`.
    store : a DuckDB store of ``derived.cohort`` (its queries run under the store's lock).
    memo : process-wide LRU of results computed on the demo (public data, so sharing is safe).
    lock : guards ``memo``.
    """

    cohort: Cohort
    derived: DerivedCohort
    store: CohortStore
    memo: OrderedDict = field(default_factory=OrderedDict, repr=False)
    lock: Any = field(default_factory=threading.Lock, repr=False)


@st.cache_resource(show_spinner=False)
def _demo() -> SharedDemo:
    """The synthetic demo cohort, parsed, derived and stored once per server process."""
    c = ingest.load_demo()
    d = apply_to_cohort(c, EndpointSettings())
    s = CohortStore(d.cohort)
    for column in s.columns():  # warm the sidebar's distinct-value and range caches
        s.distinct(column)
        if s.is_numeric(column):
            s.value_range(column)
    return SharedDemo(c, d, s)


def identity(c: Cohort) -> tuple[str, bool, str]:
    """What makes two cohorts the same for caching: content, and where it came from.

    The demo files uploaded by a user have the demo's content but are the user's upload (not
    labelled synthetic), so the source is part of every key.
    """
    return (fingerprint(c), bool(c.synthetic), str(c.source))


def fingerprint(c: Cohort) -> str:
    """``c.fingerprint``, computed once per cohort object in this session (it hashes every
    row, and pages ask several times per rerun)."""
    if c is _demo().cohort:
        return _demo().derived.source_fingerprint
    cached = st.session_state.get("_fingerprint")
    if cached is not None and cached[0] is c:
        return cached[1]
    value = c.fingerprint
    st.session_state["_fingerprint"] = (c, value)
    return value


@dataclass(frozen=True)
class CohortView:
    """What a page draws from: the filtered cohort of this session.

    Attributes
    ----------
    patients : filtered patient rows.
    labs, treatments : rows of the filtered patients (empty frames when not uploaded); fetched
        from DuckDB on first use, so pages that need no lab series do not pay for them.
    n, n_total : filtered and total patient counts.
    caption : filter caption with n, and "synthetic demo cohort" for the demo.
    filter : the CohortFilter.
    store : the session's CohortStore (for SQL aggregates by core functions).
    synthetic : True for the demo cohort.
    source : "Synthetic demo cohort" or the uploaded file names.
    key : fingerprint of data + filter, for memoised computations.
    """

    patients: pd.DataFrame
    n: int
    n_total: int
    caption: str
    filter: CohortFilter
    store: CohortStore
    synthetic: bool
    source: str
    key: str
    _lazy: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def labs(self) -> pd.DataFrame:
        if "labs" not in self._lazy:
            self._lazy["labs"] = self.store.labs(self.filter)
        return self._lazy["labs"]

    @property
    def treatments(self) -> pd.DataFrame:
        if "treatments" not in self._lazy:
            self._lazy["treatments"] = self.store.treatments(self.filter)
        return self._lazy["treatments"]


def source_cohort() -> Cohort | None:
    """The session's unfiltered cohort: an upload if one loaded, else the demo (None if the
    user chose upload and it failed or is missing)."""
    if st.session_state.get("data_source", "demo") == "demo":
        return _demo().cohort
    return st.session_state.get("uploaded_cohort")


def endpoint_settings() -> EndpointSettings:
    """The session's endpoint settings (defaults until the Endpoints page changes them)."""
    value = st.session_state.get(SETTINGS_KEY)
    return value if isinstance(value, EndpointSettings) else EndpointSettings()


def _shared_demo_in_use(c: Cohort, settings: EndpointSettings) -> bool:
    return c is _demo().cohort and settings == EndpointSettings()


def derived(progress: Progress | None = None) -> DerivedCohort | None:
    """The source cohort with its endpoints derived under the session's settings.

    The demo under default settings is the process-wide shared one. Otherwise memoised per
    session on (source identity, settings): a small LRU in ``st.session_state``, so switching
    a setting back costs nothing and nothing is shared between sessions. None when there is
    no source cohort. ``progress`` shows "Deriving endpoints" while they are computed.
    """
    c = source_cohort()
    if c is None:
        return None
    settings = endpoint_settings()
    if _shared_demo_in_use(c, settings):
        return _demo().derived
    key = (identity(c), settings)
    cache: OrderedDict = st.session_state.setdefault("_derived", OrderedDict())
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    _step(progress, "derive", DERIVE_STEP)
    try:
        value = apply_to_cohort(c, settings)
    except CohortError as exc:  # the source tables stay usable; the Endpoints page says why
        value = DerivedCohort(c, None, pd.DataFrame(columns=["patient_id", "column", "uploaded",
                                                             "derived"]), settings,
                              fingerprint(c), error=str(exc))
    cache[key] = value
    size = 1 if len(c.labs) >= _BIG_LAB_ROWS else _DERIVED_SIZE
    while len(cache) > size:
        cache.popitem(last=False)
    return value


def store(progress: Progress | None = None) -> CohortStore | None:
    """The DuckDB store of the derived cohort: the shared demo store, or this session's own,
    rebuilt when the cohort, its source or the endpoint settings change. ``progress`` shows
    the derivation's and the build's steps (:class:`Progress`)."""
    d = derived(progress)
    if d is None:
        return None
    if d is _demo().derived:
        _drop_own_store()
        return _demo().store
    c = d.cohort
    key = identity(c)
    current: CohortStore | None = st.session_state.get("_store")
    if current is None or st.session_state.get("_store_key") != key:
        _drop_own_store()
        _step(progress, "store", STORE_STEP)
        current = CohortStore(c)
        st.session_state["_store"] = current
        st.session_state["_store_key"] = key
    return current


def _drop_own_store() -> None:
    """Close this session's own store (never the shared demo's) and forget its results."""
    own: CohortStore | None = st.session_state.pop("_store", None)
    st.session_state.pop("_store_key", None)
    if own is not None:
        own.close()
        st.session_state.pop("_memo", None)


def is_shared_demo(s: CohortStore) -> bool:
    """True when ``s`` is the process-wide demo store (public data, shared read-only)."""
    return s is _demo().store


def current_filter() -> CohortFilter:
    return st.session_state.get("cohort_filter", CohortFilter())


def cohort() -> CohortView:
    """The filtered cohort; stops the page with a message when there is no usable data."""
    s = store()
    if s is None:
        st.info("No cohort loaded yet. Upload a patient table in the sidebar (or switch back "
                "to the synthetic demo cohort). The **Data** page lists any problems found.")
        st.stop()
    flt = current_filter()
    ident = f"{s.fingerprint}|{s.cohort.synthetic}|{s.cohort.source}"
    key = hashlib.sha256(f"{ident}|{flt!r}".encode()).hexdigest()[:16]
    cached = st.session_state.get("_view")
    if cached is not None and cached.key == key:
        return cached
    try:
        patients = s.patients(flt)
    except CohortError as exc:
        st.error(f"The filter could not be applied: {exc} Press 'Reset filters'.")
        st.stop()
    caption = flt.caption(len(patients))
    if s.cohort.synthetic:
        caption += f" · {SYNTHETIC_NOTE}"
    view = CohortView(patients, len(patients), len(s.cohort.patients), caption, flt, s,
                      s.cohort.synthetic, s.cohort.source, key)
    st.session_state["_view"] = view
    return view


def page(title: str, *, min_n: int = 1, needs: str = "this page") -> CohortView:
    """Start a page: its title, the cohort caption, and a stop with a message when fewer than
    ``min_n`` patients are in view (``needs`` names what needs them, e.g. "a correlation")."""
    view = cohort()
    st.title(title)
    st.caption(view.caption)
    if view.n < min_n:
        if view.n == 0:
            st.warning("No patient matches the filters. Widen the filter in the sidebar.")
        else:
            st.info(f"{view.n} patient(s) in view: {needs} needs at least {min_n}. Widen the "
                    "filter in the sidebar.")
        st.stop()
    return view


def memo(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call ``fn`` once for the same data, filter and arguments.

    On the shared demo the result is kept in a process-wide LRU (the demo is public and
    identical for everyone). On an upload it is kept in a small per-session LRU
    (``st.session_state``), so one user's results are never served to another
    (``st.cache_data`` is shared by all sessions). DataFrame arguments are keyed by content
    hash, except the view's patients and column subsets of them (:func:`_view_of`), keyed by
    the view's key and their column names; the key includes the store's identity.
    """
    s = store()
    ident = (s.fingerprint, s.cohort.synthetic, s.cohort.source) if s is not None else None
    key = (ident, getattr(fn, "__module__", ""), getattr(fn, "__qualname__", repr(fn)),
           tuple(_key(a) for a in args), tuple(sorted((k, _key(v)) for k, v in kwargs.items())))
    if s is not None and is_shared_demo(s):
        shared = _demo()
        return _lru(shared.memo, key, lambda: fn(*args, **kwargs), _SHARED_MEMO_SIZE,
                    shared.lock)
    cache: OrderedDict = st.session_state.setdefault("_memo", OrderedDict())
    return _lru(cache, key, lambda: fn(*args, **kwargs), _MEMO_SIZE, None)


def _lru(cache: OrderedDict, key: Any, compute: Callable[[], T], size: int,
         lock: Any) -> T:
    """Get ``key`` from ``cache`` or compute and insert it, keeping at most ``size`` items.
    The computation runs outside ``lock`` (two sessions may compute the same value once each;
    neither waits for the other)."""
    if lock is not None:
        with lock:
            if key in cache:
                cache.move_to_end(key)
                return cache[key]
    elif key in cache:
        cache.move_to_end(key)
        return cache[key]
    value = compute()
    if lock is not None:
        with lock:
            _insert(cache, key, value, size)
    else:
        _insert(cache, key, value, size)
    return value


def _insert(cache: OrderedDict, key: Any, value: Any, size: int) -> None:
    cache[key] = value
    while len(cache) > size:
        cache.popitem(last=False)


def _key(v: Any) -> Any:
    if isinstance(v, pd.DataFrame):
        view = _view_of(v)
        if view is not None:  # the view's patients or a column subset: no content hash
            return ("view", view.key, tuple(map(str, v.columns)))
    if isinstance(v, (pd.DataFrame, pd.Series)):
        h = pd.util.hash_pandas_object(v, index=True).to_numpy().tobytes()
        cols = "|".join(map(str, v.columns)) if isinstance(v, pd.DataFrame) else str(v.name)
        return ("frame", hashlib.sha256(h + cols.encode()).hexdigest())
    if isinstance(v, (list, tuple)):
        return tuple(_key(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _key(x)) for k, x in v.items()))
    if dataclasses.is_dataclass(v) and not isinstance(v, type):  # a result object: by content
        return (type(v).__qualname__,
                tuple((f.name, _key(getattr(v, f.name))) for f in dataclasses.fields(v)))
    try:
        hash(v)
        return v
    except TypeError:
        return repr(v)


def _view_of(frame: pd.DataFrame) -> CohortView | None:
    """The session's current view when ``frame`` is its patients, or a column subset of them
    made by :func:`core.analyses.columns.only`; else None.

    Such a frame is determined by the view's key (data fingerprint + filter) and its column
    names, so :func:`memo` keys it by those instead of hashing every row on every call (a
    100,000-patient frame takes ~0.1-1 s to hash, and pages memoise several calls per rerun).
    """
    try:
        view = st.session_state.get("_view")
    except Exception:  # noqa: BLE001 - no Streamlit session (scripts, tests)
        return None
    if not isinstance(view, CohortView):
        return None
    if frame is view.patients or columns.subset_source(frame) is view.patients:
        return view
    return None


def show_error(exc: Exception, what: str = "") -> None:
    """Show a CohortError as a message that says what to fix (never a traceback)."""
    prefix = f"{what}: " if what else ""
    st.error(f"{prefix}{exc}")
