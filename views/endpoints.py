"""Endpoints page: the one place for reference ranges and thresholds of the derived endpoints
(hypofibrinogenemia grade, episodes, onset, recovery, ISTH DIC score, IEC-HS, corticosteroids),
the per-patient derived values, the choice per column between uploaded and derived values,
where they disagree, and every input row set aside.

Settings live in ``st.session_state`` (:data:`ui.session.SETTINGS_KEY`); a change re-derives the
endpoints for the whole app (ui.session.store)."""

from __future__ import annotations

import math
import statistics
from dataclasses import replace
from typing import Any

import pandas as pd
import streamlit as st

from core.analyses.endpoints import summarise
from core.codegen import PATIENTS, SETTINGS, Call, Recipe, Ref
from core.endpoints import EndpointSettings, SettingSpec, apply_to_cohort
from core.endpoints.settings import DEX_EQUIVALENT, SOURCES
from core.errors import ValidationError
from ui import session
from ui.figures import compute, show_code, show_table

PREFIX = "ep_"
#: section -> its settings (label, unit, step, choices from EndpointSettings' field metadata)
SECTIONS = EndpointSettings.sections()
FIELDS = [spec.name for specs in SECTIONS.values() for spec in specs]


def _apply() -> None:
    """Widget callback: build the settings from the widgets; keep the old ones if invalid."""
    values: dict[str, Any] = {f: st.session_state.get(PREFIX + f) for f in FIELDS}
    values = {k: (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
              for k, v in values.items()}
    values["derived_wins"] = session.endpoint_settings().derived_wins
    try:
        st.session_state[session.SETTINGS_KEY] = EndpointSettings(**values)
        st.session_state.pop("ep_invalid", None)
    except ValidationError as exc:
        st.session_state["ep_invalid"] = str(exc)


def _choose_sources() -> None:
    """Widget callback: the columns where the derived value wins."""
    wins = tuple(st.session_state.get("ep_derived_wins") or ())
    st.session_state[session.SETTINGS_KEY] = replace(session.endpoint_settings(),
                                                     derived_wins=wins)


def _reset() -> None:
    st.session_state[session.SETTINGS_KEY] = EndpointSettings()
    st.session_state.pop("ep_invalid", None)
    _seed(EndpointSettings(), force=True)
    st.session_state.pop("ep_derived_wins", None)


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


def _fmt_km(sm: Any) -> str:  # noqa: ANN401
    """``52 (95% CI 38–82)``; "not reached" when the curve stays above 0.5."""
    if not sm.recovery_km_n:
        return "–"
    if sm.recovery_km_median is None:
        return "not reached"
    lo, hi = sm.recovery_km_ci
    ci = "–".join("NR" if math.isnan(x) else f"{x:g}" for x in (lo, hi))
    return f"{sm.recovery_km_median:g} (95% CI {ci})"


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
summary_code = Recipe.of(result=Call(summarise, PATIENTS))
sm = compute(summary_code, view)
n, nm = sm.n, sm.n_measured
iec_basis = derived.endpoints.iec_basis if derived is not None and derived.endpoints else None
row1, row2 = st.columns(3), st.columns(3)
row1[0].metric("Hypofibrinogenemia", _pct(sm.hypo, nm), help="CTCAE grade ≥ 1, of the "
               f"{nm} patients in view in whom fibrinogen was measured (of {n} in view).")
row1[1].metric("Grade ≥ 3", _pct(sm.grade3, nm), help="Of the patients with fibrinogen "
               "measured.")
row1[2].metric("Onset, days after 1st tocilizumab", _fmt_range(sm.onset_days, "onset"),
               help="Median (range) of the first episode's onset day minus the first "
                    "tocilizumab day, hypofibrinogenemia patients with tocilizumab.")
row2[0].metric("Recovery, Kaplan-Meier median day", _fmt_km(sm),
               help="Time to sustained recovery (the last episode ended) from infusion; "
                    "patients who never recovered are censored at their last fibrinogen. "
                    "95% CI log-log.")
row2[1].metric("Recovery among the resolved, median day (range)",
               _fmt_range(sm.recovery_days, "recovery"),
               help="Median over the patients who recovered only, as the paper reports it "
                    "(Perl 2024: 44 days (9–181)); it ignores those who never recovered.")
row2[2].metric("IEC-HS" + (f" ({iec_basis})" if iec_basis else ""),
               "–" if sm.iec_hs is None else str(sm.iec_hs))
row3 = st.columns(3)
row3[0].metric("DIC score ≥ 5", "–" if sm.dic5 is None else str(sm.dic5),
               help="ISTH overt DIC score (Taylor 2001), maximum per patient; runs high after "
                    "CAR-T (see the note below).")
row3[1].metric("DIC maximum on < 4 components", "–" if sm.dic_lower_bound is None
               else str(sm.dic_lower_bound),
               help="Patients whose maximum score rests on fewer than the 4 components drawn "
                    "within the window: the score is a lower bound.")
row3[2].metric("Fibrinogen measured", f"{nm} of {n}", help="The denominator of the "
               "incidences above.")
parts = [f"Hypofibrinogenemia in {sm.hypo} of {nm} patients with fibrinogen measured "
         f"({100 * sm.hypo / nm:.0f}%)" if nm else "No patient in view with fibrinogen measured",
         f"{sm.grade3} grade ≥ 3"]
if sm.onset_days:
    parts.append(f"onset a median of {_fmt_range(sm.onset_days, '')} days after the first "
                 "tocilizumab dose")
if sm.hypo:
    rec = (f"recovery median day {_fmt_range(sm.recovery_days, '')} among the resolved"
           if sm.recovery_days else "no recovery")
    parts.append(f"{rec}, {sm.never_recovered} of {sm.hypo} never recovered")
    parts.append(f"Kaplan-Meier median day of recovery {_fmt_km(sm)}")
if sm.iec_hs is not None:
    parts.append(f"IEC-HS {sm.iec_hs}" + (f" ({iec_basis})" if iec_basis else ""))
if sm.dic5 is not None:
    parts.append(f"DIC score ≥ 5 in {sm.dic5}")
st.caption("; ".join(parts) + f" · n = {n}")
show_code(summary_code, key="ep-summary-code")
st.caption(f"Incidences divide by the {nm} patients in whom fibrinogen was measured"
           f"{'' if nm == n else f' ({n - nm} in view without fibrinogen are left out)'}. "
           "Time to recovery is a time-to-event: the Kaplan-Meier median counts those who never "
           "recovered (censored at their last value); the median among the resolved does not "
           "and is shown because the paper reports it that way.")
dic_note = ("The ISTH overt DIC score (Taylor 2001) runs high after CAR-T without consumption "
            "coagulopathy: D-dimer rises with CRS and lymphodepletion lowers platelets, so two "
            "of its four components score from the start. Read a score ≥ 5 with the "
            "fibrinogen and PT course.")
if sm.dic_lower_bound:
    dic_note += (f" {sm.dic_lower_bound} patient(s)' maximum rests on fewer than 4 components "
                 "drawn within the window: a lower bound (dic_score_components).")
st.info(dic_note, icon=":material/info:")
if iec_basis:
    st.caption("IEC-HS (Hines 2023): " + (
        "laboratory screen only — the patient table has no crs_resolution_day, so the screen "
        "is not tied to CRS timing; add crs_onset_day/crs_resolution_day to tie it."
        if iec_basis == "laboratory screen" else
        f"{iec_basis}: a 72-h window of low fibrinogen, ferritin and transaminases counts only "
        "after the patient's CRS resolution day; patients without one are screened on the "
        "laboratory alone."))

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
    for row in (sections[:2], sections[2:4], sections[4:]):
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
    with st.expander("Corticosteroid equivalents (dexamethasone)"):
        eq = pd.DataFrame({"drug": list(DEX_EQUIVALENT),
                           "mg equal to dexamethasone 0.75 mg":
                               [round(0.75 / f, 2) for f in DEX_EQUIVALENT.values()],
                           "dexamethasone mg per mg": list(DEX_EQUIVALENT.values())})
        show_table(eq, name="steroid-equivalents", title="Corticosteroid equivalents")
        st.caption("Source: " + settings.source_of("steroid_dex_mg") + ". A day on or after day "
                   "0 counts when its total dose reaches the threshold; doses before infusion "
                   "(premedication) never count.")

if derived is None or derived.endpoints is None:
    st.stop()
ep = derived.endpoints
ids = set(view.patients["patient_id"])


def in_view(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``frame`` whose patient is in view (IDs are text after the ingest, object or
    Categorical: no conversion, which cost ~1 s a rerun on 2M DIC rows)."""
    return frame[frame["patient_id"].isin(ids)]



# ------------------------------------------------------------------ per patient
st.subheader("Derived endpoints per patient")
per_patient = in_view(ep.patients)
show_table(per_patient, name="derived-endpoints", title="Derived endpoints")
show_code(Recipe.of(derived=Call(apply_to_cohort, Ref("cohort"), SETTINGS)),
          key="ep-derived-code")
st.caption(f"{len(per_patient)} patients in view · derived from the lab and treatment tables "
           "with the settings above. hypofibrinogenemia_episodes counts the episodes below the "
           "LLN; fibrinogen_recovered = 1 when the last one ended (sustained recovery), else "
           "fibrinogen_recovery_day is the last fibrinogen day (censored); "
           "dic_score_components < 4 marks a DIC maximum that is a lower bound. In code "
           "(Show code): derived.endpoints.patients, .episodes, .steroids, .dic and .issues; "
           "derived.disagreements (the tables below are those rows of the patients in view).")
with st.expander("Hypofibrinogenemia episodes"):
    episodes = in_view(ep.episodes)
    show_table(pd.DataFrame(episodes), name="hypofibrinogenemia-episodes",
               title="Hypofibrinogenemia episodes")
    st.caption(f"An episode starts at the first value below the LLN and ends at sustained "
               f"recovery: the first of {settings.recovery_values:g} consecutive values ≥ LLN; "
               f"a value within {settings.substitution_days:g} days after fibrinogen "
               "concentrate, cryoprecipitate or FFP does not count alone.")
with st.expander("Corticosteroids: counted and set apart"):
    steroids = ep.steroids
    if steroids.empty:
        st.caption("No corticosteroid in the treatment table.")
    else:
        steroids = in_view(steroids)
        show_table(pd.DataFrame(steroids), name="corticosteroids", title="Corticosteroids")
        n_pre = int(steroids["why"].str.startswith("premedication").sum())
        st.caption(f"{int(steroids['counted'].sum())} dose(s) count as corticosteroids for "
                   f"CRS/ICANS (day ≥ 0, ≥ {settings.steroid_dex_mg:g} mg "
                   f"dexamethasone-equivalent a day); {n_pre} premedication dose(s) before "
                   "infusion are listed apart and not counted.")

# ------------------------------------------------------------------ uploaded vs derived
st.subheader("Uploaded or derived")
dis = derived.disagreements
competing = list(derived.uploaded_columns)
if view.synthetic:
    st.caption("Synthetic demo: its endpoint columns were made by this derivation with the "
               "default settings, so the derived values are used (a settings change acts on "
               "them).")
elif competing:
    if "ep_derived_wins" not in st.session_state:
        st.session_state["ep_derived_wins"] = [c for c in settings.derived_wins
                                               if c in competing]
    st.multiselect("Derived value wins in", competing, key="ep_derived_wins",
                   on_change=_choose_sources,
                   help="By default an uploaded value (an adjudicated grade, an IEC-HS call) "
                        "wins and a blank uploaded cell takes the derived value. Pick the "
                        "columns where the derived value should replace the uploaded one.")
    st.caption(f"{SOURCES['uploaded'].capitalize()} in every column not picked: "
               + ", ".join(c for c in competing if c not in settings.derived_wins) + "."
               if len(settings.derived_wins) < len(competing) else
               "The derived value wins in every column the upload carries.")
else:
    st.caption("The upload carries no endpoint column: the derived values are used.")
if dis.empty:
    st.success("No disagreement: every uploaded endpoint value equals the derived one "
               "(blank uploaded cells are not disagreements).")
else:
    st.warning(f"{len(dis)} uploaded value(s) in {dis['patient_id'].nunique()} patient(s) differ "
               "from the derived ones. The uploaded values are used unless the column is "
               "picked above. Check the settings (your laboratory's LLN?) or the uploaded "
               "table; blank uploaded cells are not listed.")
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

with st.expander("ISTH DIC score per patient and draw"):
    dic = in_view(ep.dic)
    show_table(pd.DataFrame(dic), name="dic-per-draw", title="DIC score per draw")
    st.caption(f"At every draw, each component's last value within "
               f"{settings.dic_window_hours:g} h (carried forward); a component with none adds "
               "0 (the score is then a lower bound, see n_components).")
