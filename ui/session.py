"""The session's cohort: data source, per-session DuckDB store, the current filter.

Everything here lives in ``st.session_state`` of one browser session. The only global cache is
the synthetic demo cohort's parsed CSVs (public, identical for everyone, never mutated).
Uploaded bytes stay in memory in this session; nothing is written to disk.

Pages use :func:`cohort` and :func:`memo`::

    view = session.cohort()                 # filtered patients, labs, treatments, caption
    result = session.memo(stats.compare_groups, view.patients, "fibrinogen_nadir", "crs_grade")
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

from core import loading
from core.endpoints import DerivedCohort, EndpointSettings, apply_to_cohort
from core.errors import CohortError
from core.filters import CohortFilter
from core.loading import Cohort
from core.store import CohortStore

T = TypeVar("T")
SYNTHETIC_NOTE = "synthetic demo cohort"
_MEMO_SIZE = 64
_DERIVED_SIZE = 4
#: st.session_state key of the session's EndpointSettings (edited on the Endpoints page)
SETTINGS_KEY = "endpoint_settings"


@st.cache_resource(show_spinner=False)
def _demo() -> Cohort:
    """The demo cohort's CSVs, parsed once per server process (public synthetic data)."""
    return loading.load_demo()


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
        return _demo()
    return st.session_state.get("uploaded_cohort")


def endpoint_settings() -> EndpointSettings:
    """The session's endpoint settings (defaults until the Endpoints page changes them)."""
    value = st.session_state.get(SETTINGS_KEY)
    return value if isinstance(value, EndpointSettings) else EndpointSettings()


def derived() -> DerivedCohort | None:
    """The source cohort with its endpoints derived under the session's settings.

    Memoised per session on (source fingerprint, settings): a small LRU in
    ``st.session_state``, so switching a setting back costs nothing and nothing is shared
    between sessions. None when there is no source cohort.
    """
    c = source_cohort()
    if c is None:
        return None
    settings = endpoint_settings()
    key = (c.fingerprint, settings)
    cache: OrderedDict = st.session_state.setdefault("_derived", OrderedDict())
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    try:
        value = apply_to_cohort(c, settings)
    except CohortError as exc:  # the source tables stay usable; the Endpoints page says why
        value = DerivedCohort(c, None, pd.DataFrame(columns=["patient_id", "column", "uploaded",
                                                             "derived"]), settings, c.fingerprint,
                              error=str(exc))
    cache[key] = value
    while len(cache) > _DERIVED_SIZE:
        cache.popitem(last=False)
    return value


def store() -> CohortStore | None:
    """The session's DuckDB store of the derived cohort, rebuilt when the cohort or the
    endpoint settings change."""
    d = derived()
    if d is None:
        return None
    c = d.cohort
    current: CohortStore | None = st.session_state.get("_store")
    if current is None or current.fingerprint != c.fingerprint:
        if current is not None:
            current.close()
        current = CohortStore(c)
        st.session_state["_store"] = current
        st.session_state.pop("_memo", None)
    return current


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
    key = hashlib.sha256(f"{s.fingerprint}|{flt!r}".encode()).hexdigest()[:16]
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
    """Call ``fn`` once per session for the same data, filter and arguments.

    A small per-session LRU (``st.session_state``), so one user's results are never served to
    another (``st.cache_data`` is shared by all sessions). DataFrame arguments are keyed by
    content hash.
    """
    cache: OrderedDict = st.session_state.setdefault("_memo", OrderedDict())
    key = (getattr(fn, "__module__", ""), getattr(fn, "__qualname__", repr(fn)),
           tuple(_key(a) for a in args), tuple(sorted((k, _key(v)) for k, v in kwargs.items())))
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    value = fn(*args, **kwargs)
    cache[key] = value
    while len(cache) > _MEMO_SIZE:
        cache.popitem(last=False)
    return value


def _key(v: Any) -> Any:
    if isinstance(v, (pd.DataFrame, pd.Series)):
        h = pd.util.hash_pandas_object(v, index=True).to_numpy().tobytes()
        cols = "|".join(map(str, v.columns)) if isinstance(v, pd.DataFrame) else str(v.name)
        return ("frame", hashlib.sha256(h + cols.encode()).hexdigest())
    if isinstance(v, (list, tuple)):
        return tuple(_key(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _key(x)) for k, x in v.items()))
    try:
        hash(v)
        return v
    except TypeError:
        return repr(v)


def show_error(exc: Exception, what: str = "") -> None:
    """Show a CohortError as a message that says what to fix (never a traceback)."""
    prefix = f"{what}: " if what else ""
    st.error(f"{prefix}{exc}")
