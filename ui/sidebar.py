"""The sidebar: data source, uploads and the cohort filter (mirrored in the URL).

Runs from app.py on every rerun, before the page, so the filter is the same on every page and
survives page changes. The filter is written to ``st.session_state["cohort_filter"]`` and to the
URL query parameters; on a session's first run the URL is read back, so a copied link opens
the same view.

Uploads and the pinned report live only in this browser tab's session: a reload starts a new
session on the demo. While there is something to lose, the sidebar says so and the browser
asks before leaving (:func:`leave_guard`); all files can be dropped back at once
(:func:`sort_uploads` puts each into its slot by name and columns).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any, cast

import streamlit as st

from core import ingest, schema
from core.errors import CohortError
from core.filters import CohortFilter
from core.store import CohortStore
from ui import report, session

#: the standard filters: column -> (label, widget kind)
STANDARD = {
    "crs_grade": ("CRS grade", "multi"),
    "product": ("CAR-T product", "multi"),
    "tocilizumab_doses": ("Tocilizumab doses", "range"),
    "tocilizumab_cum_mg": ("Cumulative tocilizumab (mg)", "range"),
    "disease": ("Disease", "multi"),
    "sex": ("Sex", "multi"),
    "age": ("Age (years)", "range"),
    "corticosteroids": ("Corticosteroids", "multi"),
    "icans_grade": ("ICANS grade", "multi"),
}
#: 0/1 columns (shown as no/yes, never as a range): the schema's binary kind
_YESNO = frozenset(schema.binary_columns("patients"))
PREFIX = "flt_"
MAX_CATEGORIES = 30
TABLES = ("patients", "labs", "treatments")
#: accepted file endings: text tables (also gzip-compressed or in a ZIP), workbooks, Parquet
UPLOAD_TYPES = ["csv", "tsv", "txt", "xlsx", "parquet", "csv.gz", "tsv.gz", "txt.gz", "zip"]
#: endings stripped from a file name before its words are read (longest first)
_ENDINGS = tuple(sorted((f".{t}" for t in UPLOAD_TYPES + ["gz"]), key=len, reverse=True))
#: words in a file name that say which table it is (German exports included)
NAME_HINTS = {
    "labs": ("lab", "labor", "befund", "werte"),
    "treatments": ("treatment", "therap", "drug", "medic", "medikat", "behandl", "gabe"),
    "patients": ("patient", "cohort", "kohorte", "baseline", "stamm"),
}
#: canonical columns that identify a long table by its header
HEADER_KEYS = {"labs": {"patient_id", "day", "analyte", "value"},
               "treatments": {"patient_id", "day", "drug"}}
LEAVE_NOTE = ("Uploads and the report live only in this browser tab; reloading returns to "
              "the demo.")
LEAVE_NOTE_REPORT = "The report lives only in this browser tab; reloading empties it."
#: st.session_state key: the file in use per table after sorting (see :func:`uploads`)
SLOTS_KEY = "_upload_slots"
#: st.session_state key of the laboratory's normal PT in seconds (set on the Data page)
PT_NORMAL_KEY = "pt_normal_seconds"


def _share_upload_bytes() -> None:
    """Make Streamlit's per-run copy of an uploaded file share its bytes.

    Streamlit deep-copies every widget's value on every run, so that a script cannot change
    the stored value; for ``st.file_uploader`` that copied each uploaded file's whole buffer
    on every rerun (0.15-0.2 s and the file's size in memory again for a 300 MB lab file, on
    every filter change). The copy made here is a new file object (its own read position)
    over the same immutable bytes: ``io.BytesIO`` shares bytes it is given until written to.
    """
    import io

    from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec

    if getattr(UploadedFile, "_shares_bytes", False):
        return

    def copy(self: UploadedFile, memo: dict) -> UploadedFile:
        data = io.BytesIO.getvalue(self)  # the buffer's own bytes object, not copied
        twin = UploadedFile(UploadedFileRec(self.file_id, self.name, self.type, data),
                            self._file_urls)
        twin.seek(self.tell())
        memo[id(self)] = twin
        return twin

    UploadedFile.__deepcopy__ = copy  # type: ignore[attr-defined]
    UploadedFile._shares_bytes = True  # type: ignore[attr-defined]


_share_upload_bytes()


def render() -> Any:
    """Draw the sidebar and update the session's data source and filter.

    While an upload is read, its endpoints derived and its store built, a progress bar at the
    top of the main area names the step; it is removed when the cohort is ready.

    Returns
    -------
    The placeholder the page is drawn into (``with render().container(): page.run()``): when a
    load starts it is emptied, so the last page (e.g. "No cohort loaded yet") does not stay
    on screen under the progress bar.
    """
    # an upload's progress bar goes at the top of the main area (the sidebar runs before the
    # page), in view wherever the sidebar is scrolled to: its placeholder is made here, outside
    # the sidebar, and stays empty unless a load step starts
    top = st.empty() if st.session_state.get("data_source") == "upload" else None
    body = st.empty()
    with st.sidebar:
        bar = _data_source(top, body)
        try:
            s = session.store(progress=bar)
        finally:
            if bar is not None:
                bar.done()
        if s is not None:
            _sync_filter_state(s)
            _filters(s)
        leave_guard(_at_stake())
    return body


# --------------------------------------------------------------------------------------------
def _data_source(top: Any = None, body: Any = None) -> session.Progress | None:
    """The data source radio and, for an upload, the uploaders; the progress bar of a load
    (None on the demo), drawn in ``top`` (a placeholder; None: here, in the sidebar). ``body``
    (the page's placeholder) is emptied when a load starts."""
    st.radio("Data", ["demo", "upload"], key="data_source", horizontal=True,
             format_func={"demo": "Demo cohort", "upload": "Upload"}.get)
    if st.session_state["data_source"] == "demo":
        st.session_state.pop(SLOTS_KEY, None)
        st.caption("Synthetic demo cohort: 41 invented patients that mirror the published "
                   "study. Not patient data.")
        return None
    slots = {
        "patients": st.file_uploader("Patients (required)", type=UPLOAD_TYPES,
                                     key="up_patients", help="One row per patient; see the "
                                     "Data page for the columns and templates."),
        "labs": st.file_uploader("Labs (optional)", type=UPLOAD_TYPES, key="up_labs"),
        "treatments": st.file_uploader("Treatments (optional)", type=UPLOAD_TYPES,
                                       key="up_treatments"),
    }
    dropped = st.file_uploader("Or drop all files at once", type=UPLOAD_TYPES,
                               accept_multiple_files=True, key="up_all",
                               help="Patients, labs and treatments together: each file goes "
                                    "to its table by its name (e.g. 'labs', 'Labor') or its "
                                    "columns. A file in a slot above wins.")
    st.caption(size_note())
    files = _fill_slots(slots, dropped or [])
    st.session_state[SLOTS_KEY] = files
    bar = session.Progress(top if top is not None else st)
    if body is not None:
        bar.on_start(body.empty)
    _load_uploads(files["patients"], files["labs"], files["treatments"], bar)
    if st.session_state.get("uploaded_cohort") is not None:
        st.caption(LEAVE_NOTE)
    return bar


def size_note() -> str:
    """The upload limit per file (``server.maxUploadSize``) and what to do with big exports."""
    mb = int(st.get_option("server.maxUploadSize"))
    limit = f"{mb / 1024:g} GB" if mb >= 1024 else f"{mb} MB"
    return (f"CSV, TSV, TXT, Excel (.xlsx) or Parquet; up to {limit} per file. Big exports "
            "upload faster compressed: .csv.gz (gzip), a .zip with the CSV inside, or "
            "Parquet are 5-10 times smaller.")


def uploads() -> dict:
    """The uploaded file in use for each table ("patients", "labs", "treatments"; None when
    empty): a slot's own file, or one sorted from the files dropped together. Pages that show
    the files (the Data page's column mapping) read them here."""
    files = st.session_state.get(SLOTS_KEY) or {}
    return {t: files.get(t) for t in TABLES}


def preview(f: Any, table: str) -> ingest.RawTable:  # streamlit UploadedFile
    """The uploaded file ``f`` as read for ``table``, with its first data row only: headers,
    how it was read (``describe()``) and an example row, for the Data page's column mapping.

    Read once per upload (keyed by Streamlit's file id) and remembered in this session, so a
    rerun (a filter change) does not read a 10-million-row file again; only the first row is
    kept. Raises :class:`~core.errors.CohortError` as :func:`core.ingest.read_table` does
    (remembered as well).
    """
    import dataclasses

    memo: dict = st.session_state.setdefault("_previews", {})
    key = (f.name, _file_key(f), table)
    if key not in memo:
        try:
            raw = ingest.read_table(f.getvalue(), f.name, table)  # type: ignore[arg-type]
            memo[key] = dataclasses.replace(raw, frame=raw.frame.head(1).copy(),
                                            row_problems={}, cell_notes=())
        except CohortError as exc:
            memo[key] = exc
        while len(memo) > 2 * len(TABLES):          # the files of the current upload only
            memo.pop(next(iter(memo)))
    value = memo[key]
    if isinstance(value, CohortError):
        raise value
    return value


def _fill_slots(slots: dict, dropped: Sequence) -> dict:  # UploadedFile values
    """The three slots, empty ones filled from the files dropped together (with a caption
    saying where each went, and a warning for a file that fits nowhere)."""
    if not dropped:
        return slots
    sorted_, unknown = _place([(f.name, _classify_file(f)) for f in dropped])
    by_name = {f.name: f for f in dropped}
    out = dict(slots)
    placed = []
    for table, name in sorted_.items():
        if out[table] is None:
            out[table] = by_name[name]
            placed.append(f"{table} ← {name}")
        else:
            unknown.append(f"{name} ({table}: the slot above is already filled)")
    if placed:
        st.caption("Sorted: " + "; ".join(placed))
    if unknown:
        st.warning("Not used: " + "; ".join(unknown) + ". Drop such a file on its slot "
                   "above.")
    return out


def classify(name: str, data: bytes) -> str | None:
    """Which table a file holds: "patients", "labs", "treatments", or None if unclear.

    The file name decides when it names exactly one table (``Labor_2024.csv``,
    ``treatments.xlsx``); otherwise the header does: patient_id, day, analyte and value make
    labs; patient_id, day and drug make treatments; a patient_id alone makes patients.

    Parameters
    ----------
    name : the file name.
    data : its bytes (read only when the name does not decide).
    """
    words = re.sub(r"[^a-z]+", " ", stem(name))
    by_name = [t for t, hints in NAME_HINTS.items() if any(h in words for h in hints)]
    if len(by_name) == 1:
        return by_name[0]
    try:
        headers = ingest.read_table(data, name).headers
    except CohortError:
        return None
    for table, keys in HEADER_KEYS.items():
        if keys <= set(ingest.suggest_mapping(headers, table).values()):  # type: ignore[arg-type]
            return table
    if "patient_id" in ingest.suggest_mapping(headers, "patients").values():
        return "patients"
    return None


def stem(name: str) -> str:
    """The file name in lower case without its type ending: ``Labs.CSV.GZ`` -> ``labs``,
    ``export.parquet`` -> ``export`` (an unknown ending: only the last one is removed)."""
    low = name.lower()
    for ending in _ENDINGS:
        if low.endswith(ending):
            return low[: -len(ending)]
    return low.rsplit(".", 1)[0]


def sort_uploads(files: Sequence[tuple[str, bytes]]) -> tuple[dict[str, str], list[str]]:
    """Sort files dropped together into the three tables (:func:`classify`).

    Returns
    -------
    tuple
        ({table: file name}, [descriptions of files not used]): the first file of each
        table is used; a second one, or one that fits no table, is listed with the reason.
    """
    return _place([(name, _classify_cached(name, data)) for name, data in files])


def _place(tables: Sequence[tuple[str, str | None]]) -> tuple[dict[str, str], list[str]]:
    """:func:`sort_uploads` given each file's table (None: unknown)."""
    placed: dict[str, str] = {}
    unused: list[str] = []
    for name, table in tables:
        if table is None:
            unused.append(f"{name} (neither patients, labs nor treatments by its name or "
                          "columns)")
        elif table in placed:
            unused.append(f"{name} (a second {table} file)")
        else:
            placed[table] = name
    return {t: placed[t] for t in TABLES if t in placed}, unused


def _classify_cached(name: str, data: bytes) -> str | None:
    """:func:`classify`, remembered in this session per file content (reruns are free)."""
    memo: dict = st.session_state.setdefault("_classified", {})
    key = (name, hashlib.sha256(data).hexdigest())
    if key not in memo:
        memo[key] = classify(name, data)
    return memo[key]


def _classify_file(f: Any) -> str | None:  # streamlit UploadedFile
    """:func:`classify` of an uploaded file, remembered per upload (its ``file_id``): reruns
    neither copy nor hash the file's bytes."""
    memo: dict = st.session_state.setdefault("_classified", {})
    key = (f.name, _file_key(f))
    if key not in memo:
        memo[key] = classify(f.name, f.getvalue())
    return memo[key]


def _file_key(f: Any) -> tuple:  # streamlit UploadedFile
    """What identifies an uploaded file without reading it: Streamlit's id of this upload
    and its size (a file uploaded again gets a new id, so it is read again)."""
    file_id = getattr(f, "file_id", None)
    if file_id is None:  # not a Streamlit upload: by content
        return ("sha256", hashlib.sha256(f.getvalue()).hexdigest())
    return ("id", str(file_id), int(getattr(f, "size", -1)))


def _at_stake() -> str:
    """What a reload would lose: "upload", "report" or "" (nothing)."""
    if st.session_state.get("data_source") == "upload" and \
            st.session_state.get("uploaded_cohort") is not None:
        return "upload"
    return "report" if len(report.get_report()) else ""


#: the browser asks "Leave site?" while armed; one handler, added or removed on every run
_LEAVE_SCRIPT = """<script>
(() => {{
  const w = window.parent || window;
  w.__cartLeave = w.__cartLeave || ((e) => {{ e.preventDefault(); e.returnValue = ""; }});
  w.removeEventListener("beforeunload", w.__cartLeave);
  if ({armed}) w.addEventListener("beforeunload", w.__cartLeave);
  w.__cartLeaveArmed = {armed};
}})();
</script>"""


def leave_guard(at_stake: str) -> None:
    """Ask the browser to confirm leaving or reloading while an upload or report would be lost.

    Parameters
    ----------
    at_stake : "upload", "report" or "" (disarm). With "report" alone (demo cohort) the
        sidebar also says that the report lives only in this tab; the upload case says so
        under the uploaders.
    """
    if at_stake == "report":
        st.caption(LEAVE_NOTE_REPORT)
    st.html(_LEAVE_SCRIPT.format(armed="true" if at_stake else "false"),
            unsafe_allow_javascript=True)


def _load_uploads(p, lab, tx, bar: session.Progress | None = None) -> None:  # noqa: ANN001
    """Read the uploaded files (streamlit UploadedFile or None) into the session's cohort,
    when they or the column mapping changed; show the load reports or the error."""
    if p is None:
        st.session_state.pop("uploaded_cohort", None)
        st.session_state.pop("load_error", None)
        st.info("Upload a patient table to begin.")
        return
    files = (("patients", p), ("labs", lab), ("treatments", tx))
    mappings = st.session_state.get("mappings", {})
    pt_normal = st.session_state.get(PT_NORMAL_KEY)
    key = tuple((t, f.name, _file_key(f)) if f is not None else (t, None) for t, f in files) \
        + (repr(sorted((t, sorted(m.items())) for t, m in mappings.items())), pt_normal)
    if st.session_state.get("_upload_key") != key:
        st.session_state["_upload_key"] = key
        # the bytes stay in this session's memory (Streamlit's upload buffer, not copied)
        ups = {t: (ingest.Upload(f.name, f.getvalue()) if f is not None else None)
               for t, f in files}
        try:
            patients = cast(ingest.Upload, ups["patients"])  # p is not None (above)
            cohort = _read(patients, ups["labs"], ups["treatments"], mappings, pt_normal, bar)
            st.session_state["uploaded_cohort"] = cohort
            st.session_state.pop("load_error", None)
        except CohortError as exc:
            st.session_state.pop("uploaded_cohort", None)
            st.session_state["load_error"] = str(exc)
    if err := st.session_state.get("load_error"):
        st.error(f"{err}  \nSee the **Data** page for the column mapping and templates.")
        return
    cohort = st.session_state["uploaded_cohort"]
    for rep in cohort.reports.values():
        line = rep.summary()
        (st.warning if rep.rows_rejected or len(rep.cell_issues) else st.caption)(
            line + (" — details on the Data page" if rep.rows_rejected or len(rep.cell_issues)
                    else ""))


def _read(patients: ingest.Upload, labs: ingest.Upload | None,
          treatments: ingest.Upload | None, mappings: dict, pt_normal: float | None,
          bar: session.Progress | None) -> ingest.Cohort:
    """:func:`core.ingest.load_upload`, its steps (``progress(step_label, fraction)``)
    shown on ``bar``."""
    cohort = ingest.load_upload(patients, labs, treatments, mappings,
                                pt_normal_seconds=pt_normal,
                                progress=bar.phase("ingest") if bar is not None else None)
    if bar is not None:  # what comes next (its cache key hashes the new cohort's rows first)
        bar.phase("derive")(session.DERIVE_STEP, 0.0)
    return cohort


# --------------------------------------------------------------------------------------------
def _sync_filter_state(s: CohortStore) -> None:
    """Reset filter widgets when the data changes; seed them from the URL on the first run.

    Keyed on the *source* cohort (demo or the uploaded files), not on the derived one: a change
    of endpoint settings re-derives the data but keeps the user's filters (the widgets drop
    values that no longer exist and clamp ranges).
    """
    d = session.derived()
    fp = d.source_fingerprint if d is not None else s.fingerprint
    if st.session_state.get("_filter_fp") == fp:
        return
    first_run = "_filter_fp" not in st.session_state
    st.session_state["_filter_fp"] = fp
    _clear_widgets()
    if first_run and len(st.query_params):
        params = {k: st.query_params.get_all(k) for k in st.query_params}
        flt, ignored = CohortFilter.from_query_params(params, s.column_kinds())
        _seed_widgets(flt, s)
        if ignored:
            st.session_state["_url_ignored"] = ignored


def _clear_widgets() -> None:
    for k in [k for k in st.session_state if str(k).startswith(PREFIX)]:
        del st.session_state[k]
    st.session_state["cohort_filter"] = CohortFilter()


def _seed_widgets(flt: CohortFilter, s: CohortStore) -> None:
    extra = []
    for c in flt.conditions:
        if c.op == "between":
            st.session_state[PREFIX + c.column] = (c.values[0], c.values[1])
        else:
            options = s.distinct(c.column)
            st.session_state[PREFIX + c.column] = [v for v in c.values if v in options]
        if c.column not in STANDARD:
            extra.append(c.column)
    if extra:
        st.session_state[PREFIX + "_extra"] = extra


def _reset() -> None:
    _clear_widgets()
    st.query_params.clear()


def _filters(s: CohortStore) -> None:
    flt = CohortFilter()
    columns = s.columns()
    header = st.container()
    for column, (label, kind) in STANDARD.items():
        if column in columns:
            flt = _widget(s, flt, column, label, kind)
    # every further column is offered without looking at its values (a registry export can
    # have thousands); values and ranges are read only for the columns the user picks
    others = [c for c in columns if c not in STANDARD and c != "patient_id"]
    with st.expander("More filters", expanded=bool(st.session_state.get(PREFIX + "_extra"))):
        chosen = st.multiselect("Filter on further columns", others, key=PREFIX + "_extra",
                                format_func=_label, placeholder="Choose columns…",
                                help="Any column of the patient table; its values are looked "
                                     "up when you pick it.")
        for column in chosen:
            flt = _extra_widget(s, flt, column)
    st.button("Reset filters", on_click=_reset, width="stretch")

    n = s.count(flt)
    with header:
        st.metric("Patients in view", f"{n} of {len(s.cohort.patients)}")
        if s.cohort.synthetic:
            st.caption(":orange[Synthetic demo cohort]")
        if ignored := st.session_state.pop("_url_ignored", None):
            st.warning("Link parameters ignored: " + ", ".join(ignored))
        if n == 0:
            st.warning("No patient matches these filters. Widen them or press Reset.")
    st.session_state["cohort_filter"] = flt
    wanted = flt.to_query_params()
    current = {k: st.query_params.get_all(k) for k in st.query_params}
    if current != wanted:
        st.query_params.from_dict(wanted)


def _label(column: str) -> str:
    spec = schema.PATIENT_COLUMNS.get(column)
    return spec.label if spec is not None else column


def _is_range(s: CohortStore, column: str) -> bool:
    if not s.is_numeric(column) or column in _YESNO:
        return False
    return len(s.distinct(column)) > 6 or column.endswith(("_days", "_day", "_mg", "_max",
                                                            "_min", "_nadir", "_baseline"))


def unfilterable(s: CohortStore, column: str) -> str:
    """Why ``column`` cannot be filtered on, or "" when it can (reads only this column).

    Parameters
    ----------
    s : the session's store.
    column : a patient column.

    Returns
    -------
    str
        E.g. "no values", "one value only (x)", "41 different values: too many to pick from".
    """
    values = s.distinct(column)
    if not values:
        return "no values"
    if len(values) == 1:
        return f"one value only ({_fmt_value(column)(values[0])})"
    if not _is_range(s, column) and len(values) > MAX_CATEGORIES:
        return (f"{len(values)} different values: too many to pick from (at most "
                f"{MAX_CATEGORIES})")
    return ""


def _extra_widget(s: CohortStore, flt: CohortFilter, column: str) -> CohortFilter:
    """The filter widget of a column picked under "More filters", or why there is none."""
    if why := unfilterable(s, column):
        st.caption(f"{_label(column)}: {why}; nothing to filter.")
        return flt
    return _widget(s, flt, column, _label(column), "range" if _is_range(s, column) else "multi")


def _fmt_value(column: str):  # noqa: ANN202
    if column in _YESNO:
        return lambda v: {1: "yes", 0: "no"}.get(v, str(v))
    return str


def _widget(s: CohortStore, flt: CohortFilter, column: str, label: str,
            kind: str) -> CohortFilter:
    key = PREFIX + column
    if kind == "range":
        bounds = s.value_range(column)
        if bounds is None or bounds[0] == bounds[1]:
            return flt
        lo, hi = bounds
        integer = float(lo).is_integer() and float(hi).is_integer() and s.is_numeric(column) \
            and all(float(cast(float, v)).is_integer() for v in s.distinct(column)[:200])
        lo_, hi_ = (int(lo), int(hi)) if integer else (float(lo), float(hi))
        if key in st.session_state:  # a seeded or stale value must lie inside the bounds
            a, b = st.session_state[key]
            st.session_state[key] = (type(lo_)(max(lo_, min(a, hi_))),
                                     type(hi_)(min(hi_, max(b, lo_))))
        default: dict[str, Any] = {} if key in st.session_state else {"value": (lo_, hi_)}
        value = st.slider(label, lo_, hi_, key=key, **default)
        if tuple(value) != (lo_, hi_):
            return flt.between(column, value[0], value[1])
        return flt
    options = s.distinct(column)
    if len(options) <= 1:
        return flt
    if key in st.session_state:
        st.session_state[key] = [v for v in st.session_state[key] if v in options]
    chosen = st.multiselect(label, options, key=key, placeholder="All",
                            format_func=_fmt_value(column))
    if chosen and len(chosen) < len(options):
        return flt.where(column, cast(list[str | int | float], chosen))
    return flt
