"""Data page: what was loaded, every rejected row and cell problem, the column mapping, and the
data dictionary with upload templates.

Every call into core is guarded: a :class:`CohortError` (a problem with the user's file) is
shown as a message that says what to fix, and the rest of the page still draws.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

from core import ingest, schema
from core.errors import CohortError
from core.export import MIME_TYPES, safe_csv, table_xlsx
from core.ingest import units
from ui import session, sidebar

T = TypeVar("T")
KEEP = "(keep as extra column)"


def guarded(what: str, fn: Callable[..., T], *args: Any) -> T | None:
    """``fn(*args)``, or None after showing ``what: <message>`` for a CohortError."""
    try:
        return fn(*args)
    except CohortError as exc:
        st.error(f"{what}: {exc}")
        return None


def mapping_editor(table: str, f: Any) -> None:  # noqa: ANN401 - streamlit UploadedFile
    """The column mapping of one uploaded file, editable; "Apply" saves it for the reload."""
    raw = guarded(f"{table} · {f.name}", sidebar.preview, f, table)  # read once per upload
    if raw is None:
        return
    saved = st.session_state.get("mappings", {}).get(table)
    merged = guarded(f"{table} · {f.name}", ingest.merge_mapping, saved, raw.headers, table)
    if merged is None:
        return
    columns = schema.TABLES[table]
    current = {h: (merged.get(h) if merged.get(h) in columns else None) for h in raw.headers}
    first = raw.frame.iloc[0] if len(raw.frame) else pd.Series(dtype=object)
    editor = pd.DataFrame({"header": list(current),
                           "maps to": [v or KEEP for v in current.values()],
                           "example": [_example(first.get(h, "")) for h in current]})
    st.subheader(f"{table} · {f.name}")
    st.caption(f"Read as: {raw.describe()}")
    edited = st.data_editor(
        editor, key=f"map_{table}", hide_index=True, width="stretch",
        disabled=["header", "example"],
        column_config={"maps to": st.column_config.SelectboxColumn(
            options=[KEEP, *columns], required=True)})
    if st.button(f"Apply mapping for {table}", key=f"apply_{table}"):
        mapping = {h: (None if m == KEEP else m)
                   for h, m in zip(edited["header"], edited["maps to"])}
        st.session_state.setdefault("mappings", {})[table] = mapping
        st.rerun()


def _keep_pt_normal() -> None:
    """Widget callback: keep the value under a key that outlives this page's widgets."""
    st.session_state[sidebar.PT_NORMAL_KEY] = st.session_state.get("_pt_normal_input")


def lab_settings() -> None:
    """The laboratory's normal PT, used when the upload is (re)loaded."""
    st.header("Laboratory")
    st.session_state["_pt_normal_input"] = st.session_state.get(sidebar.PT_NORMAL_KEY)
    st.number_input(
        "Normal PT of your laboratory (seconds)", min_value=5.0, max_value=30.0,
        step=0.1, format="%g", key="_pt_normal_input", on_change=_keep_pt_normal,
        placeholder="not set",
        help="With it, PT values reported in seconds become an INR approximation (PT ratio, "
             "ISI taken as 1; listed as approximate). Without it they are kept as 'pt' and "
             "listed as not converted. Quick % is never converted (that needs your "
             "laboratory's calibration table).")


def _example(value: object, limit: int = 60) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


st.title("Data")

cohort = session.source_cohort()
if st.session_state.get("data_source", "demo") == "demo":
    st.info("The app is showing the **synthetic demo cohort**: 41 invented patients generated "
            "to mirror the published study (Perl et al., Haematologica 2024). No real patient "
            "data. Choose **Upload** in the sidebar to load your own cohort.",
            icon=":material/info:")
elif err := st.session_state.get("load_error"):
    st.error(err)
if cohort is not None:
    c1, c2, c3 = st.columns(3)
    c1.metric("Patients", len(cohort.patients))
    c2.metric("Lab values", len(cohort.labs))
    c3.metric("Treatment rows", len(cohort.treatments))
    st.caption(f"Source: {cohort.source}")

# --- load reports --------------------------------------------------------------------------
if cohort is not None and cohort.reports:
    st.header("What happened to every row")
    for rep in cohort.reports.values():
        with st.expander(f"{rep.summary()} — {rep.filename}",
                         expanded=bool(rep.rows_rejected or len(rep.cell_issues))):
            st.caption(f"Read as: {rep.detected}")
            for line in rep.conversions:
                if units.is_caution(line):
                    st.warning(line, icon=":material/sync_problem:")
                else:
                    st.info(line, icon=":material/sync_alt:")
            for line in rep.notes:
                st.warning(line)
            if rep.rows_rejected:
                st.markdown(f"**{rep.rows_rejected} rows not loaded** (row = the row number "
                            "in the spreadsheet, counting the header row):")
                st.dataframe(rep.rejected, hide_index=True, width="stretch")
            if len(rep.cell_issues):
                st.markdown(f"**{len(rep.cell_issues)} cells not usable or read in a "
                            "particular way** (the row was loaded; each cell is treated as "
                            "stated):")
                st.dataframe(rep.cell_issues, hide_index=True, width="stretch")
            if not rep.rows_rejected and not len(rep.cell_issues):
                st.success("Every row and cell loaded.")

if cohort is not None and (len(cohort.labs) or len(cohort.treatments)):
    d = session.derived()
    n_diff = 0 if d is None else len(d.disagreements)
    st.info("Patient-level endpoints (nadirs, CTCAE grade, onset, recovery, DIC score, IEC-HS, "
            "tocilizumab doses) are derived from the lab series and treatments and used in "
            "place of uploaded values"
            + (f"; {n_diff} uploaded values differ from the derived ones" if n_diff else "")
            + ". Thresholds, disagreements and derivation issues are on the Endpoints page.",
            icon=":material/science:")
    st.page_link("views/endpoints.py", label="Open the Endpoints page",
                 icon=":material/arrow_forward:")

# --- column mapping ------------------------------------------------------------------------
uploads = sidebar.uploads()  # a slot's own file, or one sorted from the files dropped together
if st.session_state.get("data_source") == "upload" and any(uploads.values()):
    st.header("Column mapping")
    st.caption("Headers are matched to the canonical columns ignoring case, spaces and unit "
               "suffixes. Correct a match here; unmatched columns are kept under their own "
               "names and can still be filtered and analysed.")
    for table, f in uploads.items():
        if f is not None:
            mapping_editor(table, f)
    lab_settings()

# --- dictionary and templates --------------------------------------------------------------
st.header("Data format")
st.markdown(
    "Three tables; only **patients** is required. Times are **days after CAR-T infusion** "
    "(day 0), not dates. CSV (comma, semicolon or tab; decimal point or comma; UTF-8 or "
    "Windows-1252) or Excel .xlsx. Headers may be in German or carry units, e.g. "
    "`Fibrinogen nadir [g/l]` or `CRS Grad`; recognised units are converted.\n\n"
    "- **patients**: one row per patient (`patient_id` unique) with characteristics and "
    "patient-level endpoints.\n"
    "- **labs** (optional, long): `patient_id, day, analyte, value, unit` — one row per result.\n"
    "- **treatments** (optional, long): `patient_id, day, drug, dose, unit`.")
dictionary = guarded("Data dictionary", ingest.data_dictionary)
if dictionary is not None:
    st.download_button("Data dictionary (CSV)", safe_csv(dictionary),
                       "cart-data-dictionary.csv", MIME_TYPES["csv"])
cols = st.columns(3)
for col, table in zip(cols, ("patients", "labs", "treatments")):
    tpl = guarded(f"{table} template", ingest.template, table)
    if tpl is None:
        continue
    col.download_button(f"{table} template (CSV)", safe_csv(tpl), f"cart-template-{table}.csv",
                        MIME_TYPES["csv"], key=f"tpl_csv_{table}")
    col.download_button(f"{table} template (XLSX)", table_xlsx(tpl, sheet=table),
                        f"cart-template-{table}.xlsx", MIME_TYPES["xlsx"],
                        key=f"tpl_xlsx_{table}")
registry = guarded("Units and reference ranges", units.registry_table)
if registry is not None:
    with st.expander("Units and reference ranges"):
        st.caption("Every lab value and every patient column named after an analyte is "
                   "converted to the canonical unit once, at loading: from the unit column of "
                   "the lab table or the unit in a header's brackets (\"D-dimer max [ng/mL "
                   "FEU]\"). Spelling does not matter (µg, μg, ug, mcg; 10^9/L, 10e9/L, G/L, "
                   "/nL). A unit not listed here, or values that contradict their unit, are "
                   "listed in the load report above and not used; nothing is rescaled by "
                   "guess. Reference ranges are defaults: set your laboratory's on the "
                   "Endpoints page.")
        st.dataframe(registry, hide_index=True, width="stretch")
if dictionary is not None:
    with st.expander("Data dictionary"):
        st.dataframe(dictionary, hide_index=True, width="stretch")
