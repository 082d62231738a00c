"""Endpoints page: the one place for reference ranges and thresholds of the derived endpoints
(hypofibrinogenemia grade, onset, recovery, ISTH DIC score, IEC-HS), the per-patient derived
values, where they disagree with the uploaded table, and every input row set aside.

Settings live in ``st.session_state`` (:data:`ui.session.SETTINGS_KEY`); a change re-derives the
endpoints for the whole app (ui.session.store)."""

from __future__ import annotations

import statistics
from typing import Any

import pandas as pd
import streamlit as st

from core.analyses.endpoints import summarise
from core.endpoints import EndpointSettings, SettingSpec
from core.errors import ValidationError
from ui import session
from ui.figures import show_table

PREFIX = "ep_"
#: section -> its settings (label, unit, step, choices from EndpointSettings' field metadata)
SECTIONS = EndpointSettings.sections()
FIELDS = [spec.name for specs in SECTIONS.values() for spec in specs]


def _apply() -> None:
    """Widget callback: build the settings from the widgets; keep the old ones if invalid."""
    values: dict[str, Any] = {f: st.session_state.get(PREFIX + f) for f in FIELDS}
    values = {k: (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
              for k, v in values.items()}
    try:
        st.session_state[session.SETTINGS_KEY] = EndpointSettings(**values)
        st.session_state.pop("ep_invalid", None)
    except ValidationError as exc:
        st.session_state["ep_invalid"] = str(exc)


def _reset() -> None:
    st.session_state[session.SETTINGS_KEY] = EndpointSettings()
    st.session_state.pop("ep_invalid", None)
    _seed(EndpointSettings(), force=True)


def _seed(s: EndpointSettings, force: bool = False) -> None:
    """Give the widgets the session's settings (they are cleared when another page runs)."""
    for f in FIELDS:
        if force or PREFIX + f not in st.session_state:
            st.session_state[PREFIX + f] = getattr(s, f)


def _section(specs: list[SettingSpec], settings: EndpointSettings) -> None:
    """The number inputs of one section (two columns), then its choices."""
    inner = st.columns(2)
    numbers = [spec for spec in specs if spec.choices is None]
    for i, spec in enumerate(numbers):
        d = spec.default
        hint = (f"Default {'end of follow-up' if d is None else f'{d:g}'}. "
                f"Source: {settings.source_of(spec.name)}")
        kw: dict[str, Any] = ({"value": None} if d is None and
                              st.session_state.get(PREFIX + spec.name) is None else {})
        inner[i % 2].number_input(spec.title, key=PREFIX + spec.name, step=spec.step,
                                  min_value=None if spec.name.startswith("window") else 0.0,
                                  help=hint, on_change=_apply, format="%g", **kw)
    for spec in specs:
        if spec.choices is not None:
            st.radio(spec.title, list(spec.choices), key=PREFIX + spec.name,
                     format_func=spec.choices.get, on_change=_apply,
                     help=f"Default {spec.default}. Source: {settings.source_of(spec.name)}")


def _fmt_range(values: tuple[float, ...], what: str) -> str:
    if not values:
        return f"no {what}"
    return (f"{statistics.median(values):g} ({min(values):g}–{max(values):g})")


def _pct(k: int, n: int) -> str:
    return f"{k} ({100 * k / n:.0f}%)" if n else str(k)


view = session.cohort()
derived = session.derived()
settings = session.endpoint_settings()
st.title("Endpoints")
st.caption(view.caption)
if derived is not None and derived.error:
    st.warning(f"The endpoints could not be derived: {derived.error} The patient table is "
               "used as uploaded.")
elif derived is None or not derived.derived:
    st.info("This cohort has no lab or treatment table, so no endpoint is derived: the "
            "endpoint columns (nadir, grade, DIC score, IEC-HS, ...) are used as uploaded. "
            "Upload **Labs** (and **Treatments**) in the sidebar to derive them with the "
            "settings below.")

# ------------------------------------------------------------------ summary (filtered)
sm = summarise(view.patients)
n = sm.n
row1, row2 = st.columns(3), st.columns(3)
row1[0].metric("Hypofibrinogenemia", _pct(sm.hypo, n), help="CTCAE grade ≥ 1, of the "
               "patients in view.")
row1[1].metric("Grade ≥ 3", _pct(sm.grade3, n))
row1[2].metric("Onset, days after 1st tocilizumab", _fmt_range(sm.onset_days, "onset"),
               help="Median (range) of onset day minus the first tocilizumab day, "
                    "hypofibrinogenemia patients with tocilizumab.")
row2[0].metric("Recovery, median day (range)", _fmt_range(sm.recovery_days, "recovery"),
               help="First day back ≥ LLN after the nadir, among those who recovered.")
row2[1].metric("IEC-HS", "–" if sm.iec_hs is None else str(sm.iec_hs))
row2[2].metric("DIC score ≥ 5", "–" if sm.dic5 is None else str(sm.dic5))
parts = [f"Hypofibrinogenemia in {sm.hypo} of {n} ({100 * sm.hypo / n:.0f}%)" if n
         else "No patient in view", f"{sm.grade3} grade ≥ 3"]
if sm.onset_days:
    parts.append(f"onset a median of {_fmt_range(sm.onset_days, '')} days after the first "
                 "tocilizumab dose")
if sm.hypo:
    rec = (f"recovery median day {_fmt_range(sm.recovery_days, '')}" if sm.recovery_days
           else "no recovery")
    parts.append(f"{rec}, {sm.never_recovered} of {sm.hypo} never recovered")
if sm.iec_hs is not None:
    parts.append(f"IEC-HS {sm.iec_hs}")
if sm.dic5 is not None:
    parts.append(f"DIC score ≥ 5 in {sm.dic5}")
st.caption("; ".join(parts) + f" · n = {n}")

# ------------------------------------------------------------------ settings
st.subheader("Reference ranges and thresholds")
_seed(settings)
with st.container(border=True):
    top = st.columns([3, 1])
    top[0].caption("Every derived endpoint uses these values; a change re-derives the whole "
                   "cohort (all pages). Hover a field for its default and source.")
    top[1].button("Reset to defaults", key="ep_reset", on_click=_reset, width="stretch",
                  icon=":material/restart_alt:")
    if msg := st.session_state.get("ep_invalid"):
        st.error(f"Not applied: {msg}")
    sections = list(SECTIONS.items())
    for row in (sections[:2], sections[2:]):
        for col, (section, specs) in zip(st.columns(len(row)), row):
            with col:
                st.markdown(f"**{section}**")
                _section(specs, settings)
    with st.expander("Defaults and their sources"):
        tab = settings.table()
        tab["changed"] = [("" if (v == d or (v is None and d is None)) else "changed")
                          for v, d in zip(tab["value"], tab["default"])]
        show_table(tab.astype({"value": str, "default": str}), name="endpoint-settings",
                   title="Endpoint settings")

if derived is None or derived.endpoints is None:
    st.stop()
ep = derived.endpoints
ids = set(view.patients["patient_id"].astype(str))

# ------------------------------------------------------------------ per patient
st.subheader("Derived endpoints per patient")
per_patient = ep.patients[ep.patients["patient_id"].astype(str).isin(ids)]
show_table(per_patient, name="derived-endpoints", title="Derived endpoints")
st.caption(f"{len(per_patient)} patients in view · derived from the lab and treatment tables "
           "with the settings above; these values replace the uploaded ones on every page "
           "(a patient without labs keeps the uploaded value).")

# ------------------------------------------------------------------ disagreements
st.subheader("Disagreements with the uploaded table")
dis = derived.disagreements
if dis.empty:
    st.success("No disagreement: every uploaded endpoint value equals the derived one.")
else:
    st.warning(f"{len(dis)} uploaded value(s) in {dis['patient_id'].nunique()} patient(s) differ "
               "from the derived ones; the derived values are used. Check the settings above "
               "(your laboratory's LLN?) or the uploaded table.")
    show_table(dis.astype({"uploaded": str, "derived": str}), name="endpoint-disagreements",
               title="Disagreements")
    st.caption("Whole cohort (not filtered).")

# ------------------------------------------------------------------ issues
st.subheader("Derivation issues")
for m in ep.messages:
    st.caption(m)
if ep.issues.empty:
    st.success("Every lab and treatment row was used.")
else:
    st.warning(f"{len(ep.issues)} input row(s) were not used as given (unknown analyte, "
               "contradictory unit, unknown patient, censored '<x' value, same-day "
               "duplicates, ...): each is listed with the reason.")
    show_table(ep.issues.astype({"value": str}), name="derivation-issues",
               title="Derivation issues")
    st.caption("Whole cohort (not filtered).")

with st.expander("ISTH DIC score per patient and day"):
    dic = ep.dic[ep.dic["patient_id"].astype(str).isin(ids)]
    show_table(pd.DataFrame(dic), name="dic-per-day", title="DIC score per day")
    st.caption("Points per component from the worst value of the calendar day; an unmeasured "
               "component adds 0 (the score is then a lower bound, see n_components).")
