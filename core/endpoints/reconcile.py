"""The uploaded patient table against the derived endpoints: where they disagree
(:func:`reconcile`), the table with the derived values put in (:func:`apply_derived`), and the
app's path from a source cohort to a derived one (:func:`apply_to_cohort`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from core.endpoints.analytes import text_ranks
from core.endpoints.clean import patient_ids
from core.endpoints.derive import ENDPOINT_COLUMNS, Endpoints, derive
from core.endpoints.settings import EndpointSettings
from core.ingest import parse
from core.ingest.cohort import Cohort

DISAGREEMENT_COLUMNS = ("patient_id", "column", "uploaded", "derived")


def _as_frame(derived: Endpoints | pd.DataFrame) -> pd.DataFrame:
    if isinstance(derived, Endpoints):
        return derived.patients
    if isinstance(derived, pd.DataFrame):
        return derived
    raise TypeError(f"derived must be Endpoints or a DataFrame; got {type(derived).__name__}")


def _blank(values: pd.Series) -> np.ndarray:
    """:func:`core.ingest.parse.blank` (missing, empty text or a missing-value token) without a
    call per cell: numbers and booleans are blank only when missing (no number reads as a
    token), text is looked at once per distinct cell."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values.isna().to_numpy(bool)
    codes, uniq = pd.factorize(pd.Series(values.to_numpy(object), dtype=object),
                               use_na_sentinel=True)
    per = np.asarray(parse.blank(pd.Series(uniq, dtype=object)), dtype=bool)
    return np.where(codes < 0, True, np.append(per, True)[codes])


def _no_disagreement() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in DISAGREEMENT_COLUMNS})


def reconcile(uploaded_patients: pd.DataFrame, derived: Endpoints | pd.DataFrame,
              rtol: float = 1e-6) -> pd.DataFrame:
    """List where an uploaded patient table disagrees with the derived endpoints.

    Parameters
    ----------
    uploaded_patients : DataFrame
        The user's patient table (``patient_id`` and any endpoint columns it carries).
    derived : Endpoints or DataFrame
        Result of :func:`core.endpoints.derive` (or its ``patients`` frame).
    rtol : float
        Relative tolerance for numbers (absolute 1e-9).

    Returns
    -------
    DataFrame
        ``patient_id, column, uploaded, derived``: one row per disagreement in a column present
        in both tables, for patients in both. An empty derived value (no labs) does not count
        as a disagreement: the uploaded value stays (see :func:`apply_derived`). A blank
        uploaded cell (missing, empty text or an NA token such as "n.a.") is not one either:
        the user left it to the derivation.
    """
    d = _as_frame(derived)
    cols = [c for c in ENDPOINT_COLUMNS if c in uploaded_patients.columns and c in d.columns]
    if not cols:
        return _no_disagreement()
    up = uploaded_patients[cols].assign(patient_id=patient_ids(uploaded_patients["patient_id"]))
    m = up[["patient_id", *cols]].merge(d[["patient_id", *cols]], on="patient_id",
                                        suffixes=("__u", "__d"))
    rows = [r for c in cols if (r := _disagreements(m, c, rtol)) is not None]
    if not rows:
        return _no_disagreement()
    out = pd.concat(rows, ignore_index=True)
    codes, uniq = pd.factorize(out["patient_id"])
    if codes.min() < 0 or pd.api.types.infer_dtype(uniq, skipna=False) != "string":
        return out.sort_values("patient_id", kind="stable", ignore_index=True)
    # the same stable sort by ID: each distinct ID ranked once, rows sorted by rank
    rank = text_ranks(np.asarray(uniq, dtype=object))
    return out.take(np.argsort(rank[codes], kind="stable")).reset_index(drop=True)


def _disagreements(m: pd.DataFrame, c: str, rtol: float) -> pd.DataFrame | None:
    """The rows of the merged table where column ``c`` differs (None: nowhere)."""
    u_raw = m[c + "__u"]
    u = _numbers(u_raw)
    v = _numbers(m[c + "__d"])
    with np.errstate(invalid="ignore"):
        same = np.isclose(u, v, rtol=rtol, atol=1e-9) | (np.isnan(u) & np.isnan(v))
    differ = ~same & ~np.isnan(v) & ~_blank(u_raw)
    if not differ.any():
        return None
    return pd.DataFrame({"patient_id": m.loc[differ, "patient_id"].to_numpy(),
                         "column": c,
                         "uploaded": u_raw[differ].to_numpy(object),
                         "derived": m.loc[differ, c + "__d"].to_numpy(object)})


def _numbers(values: pd.Series) -> np.ndarray:
    """``pd.to_numeric(values, errors="coerce")`` as floats; text is read once per distinct
    cell (a text column of 100,000 patients holds a few dozen)."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return pd.to_numeric(values, errors="coerce").to_numpy(float, na_value=np.nan)
    codes, uniq = pd.factorize(pd.Series(values.to_numpy(object), dtype=object),
                               use_na_sentinel=True)
    per = pd.to_numeric(pd.Series(uniq, dtype=object), errors="coerce").to_numpy(
        float, na_value=np.nan)
    return np.where(codes < 0, np.nan, np.append(per, np.nan)[codes])


def apply_derived(patients: pd.DataFrame, derived: Endpoints | pd.DataFrame,
                  derived_wins: Iterable[str] | bool = ()) -> pd.DataFrame:
    """The patient table with derived endpoints filled in.

    Parameters
    ----------
    patients : the uploaded patient table.
    derived : result of :func:`core.endpoints.derive` (or its ``patients`` frame).
    derived_wins : columns where the derived value replaces an uploaded one (True: every
        column). In every other column an uploaded value wins (an adjudicated grade, an IEC-HS
        call) and only blank cells (missing, empty text, "n.a.") take the derived value.

    Returns
    -------
    DataFrame
        ``patients`` with every :data:`ENDPOINT_COLUMNS` column. A column the upload lacks is
        the derived one; a patient without labs keeps the uploaded value in any case. Use
        :func:`reconcile` to list where the two differ.
    """
    d = _as_frame(derived).set_index("patient_id")
    wins = set(ENDPOINT_COLUMNS) if derived_wins is True else set(derived_wins or ())
    out = patients.copy()
    key = patient_ids(out["patient_id"])
    for c in ENDPOINT_COLUMNS:
        if c not in d:
            continue
        new = pd.Series(d[c].reindex(key).to_numpy(), index=out.index)
        if c not in out:
            out[c] = new
        elif c in wins:
            out[c] = new.where(new.notna(), out[c])
        else:
            keep = ~_blank(out[c])
            if keep.all():
                continue
            u = out[c]
            numeric = pd.api.types.is_numeric_dtype(u) and pd.api.types.is_numeric_dtype(new)
            kind: type = float if numeric else object
            filled = np.where(keep, u.to_numpy(kind, na_value=np.nan),
                              new.to_numpy(kind, na_value=np.nan))
            out[c] = pd.Series(filled, index=out.index)
    return out


@dataclass(frozen=True)
class DerivedCohort:
    """A cohort whose patient table carries the derived endpoints (result of
    :func:`apply_to_cohort`).

    Attributes
    ----------
    cohort : Cohort
        The source cohort with ``patients`` replaced by :func:`apply_derived` (derived value
        where there is one, else the uploaded value); ``labs``, ``treatments``, ``source`` and
        ``reports`` unchanged. The source cohort itself when nothing was derived.
    endpoints : Endpoints or None
        The derivation (``patients``, ``dic``, ``analytes``, ``issues``, ``messages``); None when
        the cohort has neither labs nor treatments.
    disagreements : DataFrame
        ``patient_id, column, uploaded, derived`` from :func:`reconcile` (uploaded table vs
        derived values, before the derived ones were applied).
    settings : EndpointSettings
        The settings used.
    source_fingerprint : str
        Fingerprint of the source cohort (the derived cohort's fingerprint changes with the
        settings; this one does not).
    error : str or None
        Why the derivation could not run (set by a caller that falls back to the source
        cohort); None normally.
    uploaded_columns : tuple of str
        The endpoint columns the uploaded patient table carries (where uploaded and derived
        values compete; the user chooses per column which wins).
    """

    cohort: Cohort
    endpoints: Endpoints | None
    disagreements: pd.DataFrame
    settings: EndpointSettings
    source_fingerprint: str
    error: str | None = None
    uploaded_columns: tuple[str, ...] = ()

    @property
    def derived(self) -> bool:
        """True when endpoints were derived from labs and/or treatments."""
        return self.endpoints is not None


def apply_to_cohort(cohort: Cohort, settings: EndpointSettings | None = None) -> DerivedCohort:
    """Derive the endpoints of a cohort and put them into its patient table.

    Parameters
    ----------
    cohort : core.ingest.Cohort
        Validated tables ``patients`` (``patient_id``, any endpoint columns), ``labs``
        (``patient_id, day, analyte, value, unit``) and ``treatments`` (``patient_id, day,
        drug, dose, unit``).
    settings : EndpointSettings, optional
        Thresholds; default :class:`EndpointSettings()`.

    Returns
    -------
    DerivedCohort
        With no lab and no treatment rows nothing is derived: ``cohort`` is returned as it
        is, ``endpoints`` is None. Otherwise :func:`derive` runs with the patient table (lab
        rows of unknown patients are listed in ``endpoints.issues``), :func:`reconcile` lists
        every disagreement with the uploaded columns and :func:`apply_derived` fills the
        patient table: an uploaded value wins except in ``settings.derived_wins`` (for the
        synthetic demo, whose columns are this derivation, the derived value wins
        everywhere). Columns the upload already had keep their dtype (Int64 stays Int64),
        so a cohort whose columns equal the derived ones comes out identical (same
        fingerprint).
    """
    s = settings or EndpointSettings()
    fp = cohort.fingerprint
    patients, labs, tx = cohort.patients, cohort.labs, cohort.treatments
    if not len(labs) and not len(tx):
        return DerivedCohort(cohort, None, _no_disagreement(), s, fp)
    res = derive(labs if len(labs) else None, tx if len(tx) else None, s, patients=patients)
    disagreements = reconcile(patients, res)
    # the synthetic demo's endpoint columns are this derivation with the default settings, not
    # adjudications: there the derived value wins, so the settings act on the demo too
    wins: Iterable[str] | bool = True if cohort.synthetic else s.derived_wins
    out = _keep_dtypes(apply_derived(patients, res, wins), patients, res.patients)
    if out.equals(patients):
        out = patients
    uploaded = tuple(c for c in ENDPOINT_COLUMNS if c in patients.columns)
    return DerivedCohort(replace(cohort, patients=out), res, disagreements, s, fp,
                         uploaded_columns=uploaded)


def _keep_dtypes(out: pd.DataFrame, uploaded: pd.DataFrame,
                 derived: pd.DataFrame) -> pd.DataFrame:
    """Each endpoint column in the dtype the upload had (else the derived one's)."""
    for c in ENDPOINT_COLUMNS:
        want = uploaded[c].dtype if c in uploaded else derived[c].dtype
        if str(want) == "Int64":
            out[c] = pd.to_numeric(out[c], errors="coerce").round().astype("Int64")
        elif pd.api.types.is_float_dtype(want):
            out[c] = pd.to_numeric(out[c], errors="coerce").astype(want)
    return out
