"""Endpoints: patient-level endpoints derived from lab series and treatments.

:func:`derive` turns the long ``labs`` and ``treatments`` tables into one row per patient with the
endpoint columns of :data:`core.schema.PATIENT_COLUMNS` (fibrinogen baseline/nadir, CTCAE grade of
hypofibrinogenemia, onset, recovery, tocilizumab exposure, ISTH DIC score, IEC-HS screen, ...),
plus the per-day DIC score and a list of every input row that could not be used and why.
:func:`reconcile` lists where an uploaded patient table disagrees with the derived values, and
:func:`apply_derived` puts the derived values into the patient table.

Everything is vectorised (pandas/numpy) on integer codes (the loader's Categorical key columns,
or one factorize of plain text ones); there is no Python loop over patients or rows, and the
lab table is never copied. 10 million lab rows take about 1.5 s of CPU for 18,000 patients and
about 2-2.5 s for 100,000 (``benchmarks/derive_scale.py --files /tmp/s100k``: 10.1M rows;
DuckDB reads that labs file in 1.2-2 s on the same shared 2-core machine).

==============  ===========================================================================
module          concept
==============  ===========================================================================
``settings``    :class:`EndpointSettings`: every threshold, its default, source and label
``clean``       lab and treatment rows -> usable rows; every other row listed (issues)
``analytes``    per patient and analyte: baseline, min, max, days (coded arrays)
``fibrinogen``  CTCAE v5 grade, nadir, episodes, onset, recovery
``dic``         ISTH overt DIC score per patient and draw (24-h window)
``iec_hs``      IEC-HS screen (tied to CRS resolution when given)
``treatments``  tocilizumab exposure, corticosteroids, fibrinogen substitution
``derive``      :func:`derive`: the steps above assembled; :class:`Endpoints`
``reconcile``   uploaded vs derived: :func:`reconcile`, :func:`apply_derived`,
                :func:`apply_to_cohort`, :class:`DerivedCohort`
==============  ===========================================================================

Cells are read (``"<0.5"``, ``"2,5"``, ``"n.a."``) by :mod:`core.ingest.parse` and units
converted by :mod:`core.ingest.units`, exactly as the loader does.

Definitions (every threshold is a field of :class:`EndpointSettings`)
--------------------------------------------------------------------
* Window: lab rows with ``window_start <= day <= window_end`` (default day 0 to the end).
* Baseline: the last value on or before day 0 (day 0 itself included, also before the window).
* Nadir / peak: lowest / highest value in the window, and the first day it occurred.
* Hypofibrinogenemia grade, CTCAE v5 "fibrinogen decreased", LLN = ``fibrinogen_lln``:
  G1 ``0.75 x LLN <= v < LLN``; G2 ``0.5 x LLN <= v < 0.75 x LLN``;
  G3 ``0.25 x LLN <= v < 0.5 x LLN``; G4 ``v < 0.25 x LLN`` or ``v < 50 mg/dL``.
  Abnormal baseline (baseline below LLN, ``abnormal_baseline="relative"``), CTCAE's "if abnormal"
  column, by the fall from baseline ``b``: G0 ``v >= b``; G1 decrease < 25 % (``v > 0.75 b``);
  G2 25 to < 50 % (``0.5 b < v <= 0.75 b``); G3 50 to < 75 % (``0.25 b < v <= 0.5 b``);
  G4 >= 75 % (``v <= 0.25 b``) or ``v < 50 mg/dL``. The patient grade is the worst grade of any
  value in the window. With ``abnormal_baseline="lln"`` every patient is graded against the LLN.
* Episodes: an episode starts at the first value of grade >= 1 (below LLN; below baseline for
  an abnormal baseline graded relative to it) and ends at sustained recovery, the first of
  ``recovery_values`` (2) consecutive values ``>= LLN`` (``>= baseline``); a value within
  ``substitution_days`` (3) after fibrinogen concentrate, cryoprecipitate or FFP does not count
  alone. ``hypofibrinogenemia_episodes`` counts them; ``Endpoints.episodes`` lists onset,
  nadir, grade and recovery of each.
* Onset: the first episode's onset. Recovery: ``fibrinogen_recovered = 1`` when the last episode
  ended, ``fibrinogen_recovery_day`` its recovery day; otherwise 0 and the last fibrinogen day
  in the window (censored). Both are empty for grade 0.
* ISTH overt DIC score at every draw time of a component in the window, each component's last
  value within ``dic_window_hours`` (24 h, inclusive) carried forward: platelets > 100 -> 0,
  50-100 -> 1, < 50 -> 2 (x10^9/L); D-dimer <= moderate cut-off -> 0, above it -> 2, above the
  strong cut-off -> 3; INR <= moderate cut-off -> 0, above -> 1, above the strong cut-off -> 2;
  fibrinogen < 100 mg/dL -> 1. A component without a value in the window adds 0 points (the
  score is then a lower bound; ``n_components``, and per patient ``dic_score_components``
  behind the maximum, say how many were there).
* IEC-HS screen (Hines 2023): a fibrinogen value of grade >= 1, a ferritin above
  ``2 x max(ULN, baseline)`` and an ALT or AST above ``5 x max(ULN, baseline)``, all three within
  ``iec_window_days`` (72 h) of each other; when the patient table gives ``crs_resolution_day``
  the window must start after it ("CRS timing"), otherwise a "laboratory screen"
  (``Endpoints.iec_basis``). Empty when one of the three analytes was never measured.
* Corticosteroids for CRS/ICANS: days >= 0 with a total dose >= ``steroid_dex_mg`` (10 mg)
  dexamethasone-equivalent (dexamethasone 0.75 = methylprednisolone 4 = prednisolone 5 =
  hydrocortisone 20 mg); premedication before day 0 is listed apart (``Endpoints.steroids``).
* Uploaded vs derived (:func:`apply_derived`): an uploaded value wins, blank cells take the
  derived one, except in the columns of ``settings.derived_wins``.

Input problems and how they are treated (each affected row is listed in ``issues``)
-----------------------------------------------------------------------------------
* Unknown analyte or drug: kept in the user's tables, not used for endpoints.
* Censored result such as ``"<0.5"`` or ``">1000"``: the bound is used as the value (0.5, 1000)
  and the row is listed. Other text (``"n.a."``) or an empty result: not used.
* A unit that contradicts the values (fibrinogen "mg/dL" with a median of 2.5: that is g/L):
  the patient's rows of that analyte and unit are not used; the message names the likely unit.
  Unknown unit: not used. Recognised units are converted to the canonical unit.
* Values outside the analyte's plausible range, days outside -60..3650 or not a number, missing
  patient IDs, patients not in the patient table: not used.
* Several values of one analyte on the same day (same ``day`` value): exact duplicate rows count
  once; different values are replaced by their mean (a repeat measurement is noise around one
  true value; the mean neither favours the nadir nor the peak). All such rows are listed.
* Unsorted rows are sorted; negative days are used for baselines; fractional days are used as
  they are (DIC scores group them by calendar day). These produce messages, not issues.
"""

from core.endpoints.analytes import SUMMARY_COLUMNS
from core.endpoints.clean import ISSUE_COLUMNS
from core.endpoints.derive import ANALYTE_ENDPOINTS, ENDPOINT_COLUMNS, Endpoints, derive
from core.endpoints.dic import DIC_COLUMNS
from core.endpoints.reconcile import DerivedCohort, apply_derived, apply_to_cohort, reconcile
from core.endpoints.settings import EndpointSettings, SettingSpec

__all__ = ["ANALYTE_ENDPOINTS", "DIC_COLUMNS", "ENDPOINT_COLUMNS", "ISSUE_COLUMNS",
           "SUMMARY_COLUMNS", "DerivedCohort", "EndpointSettings", "Endpoints", "SettingSpec",
           "apply_derived", "apply_to_cohort", "derive", "reconcile"]
