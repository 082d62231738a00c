"""Dates -> days after infusion. A meeting export carries no calendar dates: date columns are
converted with the patient's infusion date and dropped, each with a note."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from core import schema
from core.ingest.coded import categorical
from core.ingest.mapping import suggest_mapping
from core.ingest.parse import is_na
from core.ingest.read import RawTable

#: Headers (folded) of the patient table's infusion date (day 0).
INFUSION_DATE = frozenset(schema.normalise_header(a) for a in (
    "infusion date", "date of infusion", "cart date", "car t date", "car-t infusion date",
    "cart infusion", "infusion", "infusionsdatum", "datum infusion", "day 0 date"))
#: Headers (folded) of a lab or treatment table's date column.
SAMPLE_DATE = frozenset(schema.normalise_header(a) for a in (
    "date", "datum", "sample date", "collection date", "abnahmedatum", "administration date",
    "gabedatum", "date given"))
#: Date formats tried, in order (each cell takes the first it fits).
_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%d.%m.%y", "%Y-%m-%dT%H:%M:%S",
                 "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S")


_DATE_LIKE = r"^\d{1,4}[-./]\d{1,2}[-./]\d{2,4}"


def _date_like_columns(frame: pd.DataFrame) -> list[str]:
    """Columns where at least 80% of the non-missing cells start like a date: the only ones
    worth parsing. Checked per distinct cell text of each column, weighted by how often it
    occurs, over all columns' distinct texts at once (wide exports have thousands of columns,
    long ones millions of rows)."""
    if frame.shape[1] == 0 or len(frame) == 0:
        return []
    texts, counts, starts = [], [], []
    at = 0
    for j in range(frame.shape[1]):
        codes, uniq = _distinct(frame.iloc[:, j])
        texts.append(uniq)
        counts.append(np.bincount(codes, minlength=len(uniq)))
        starts.append(at)
        at += len(uniq)
    cells = pd.Series(np.concatenate(texts), dtype=object).astype(str)
    weight = np.concatenate(counts)
    known = (~is_na(cells)).to_numpy()
    dated = cells.str.match(_DATE_LIKE).to_numpy() & known
    n_known = np.add.reduceat(np.where(known, weight, 0), starts)
    n_dated = np.add.reduceat(np.where(dated, weight, 0), starts)
    ratio = np.divide(n_dated, n_known, out=np.zeros(len(starts)), where=n_known > 0)
    return [c for c, r in zip(frame.columns, ratio) if r >= 0.8]


def _distinct(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A column's codes and distinct values (its categories when Categorical; a missing
    value is a value of its own); every row has a value, so no column is empty of them."""
    if isinstance(column.dtype, pd.CategoricalDtype) and not column.isna().any():
        return column.cat.codes.to_numpy(), column.cat.categories.to_numpy(dtype=object)
    codes, uniq = pd.factorize(column.to_numpy(dtype=object), use_na_sentinel=False)
    return codes, np.asarray(uniq, dtype=object)


def parse_dates(raw: pd.Series) -> pd.Series | None:
    """Datetimes if at least 80% of the non-missing cells start like a date and at least 80%
    are dates in one known format (each distinct cell text parsed once)."""
    codes, uniq = _distinct(raw)
    text = pd.Series(uniq, dtype=object)
    weight = np.bincount(codes, minlength=len(uniq))
    na = is_na(text.astype(str)).to_numpy(bool)
    n_known = weight[~na].sum()
    dated = text[~na].astype(str).str.match(_DATE_LIKE).to_numpy(bool)
    if not n_known or not weight[~na][dated].sum() / n_known >= 0.8:
        return None
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    known = text.where(~na)
    for fmt in _DATE_FORMATS:  # each cell takes the first format it fits (dates with and
        parsed = parsed.fillna(  # without times mix in real exports)
            pd.to_datetime(known, format=fmt, errors="coerce"))
    if not weight[~na & parsed.notna().to_numpy()].sum() / n_known >= 0.8:
        return None
    out = parsed.take(codes)
    out.index = raw.index
    return out


def _days_since(dates: pd.Series, infusion: pd.Series) -> pd.Series:
    """Days (fractional) from the infusion to each date."""
    return (dates - infusion).dt.total_seconds() / 86400.0


def patients_dates(raw: RawTable) -> tuple[RawTable, pd.Series | None, list[str]]:
    """Find the infusion date; turn other date columns into days after infusion; drop the
    dates.

    Returns
    -------
    (RawTable, Series or None, list of str)
        The table without date columns, the infusion date per patient ID (None without an
        infusion date column) and notes for the user.
    """
    frame, notes = raw.frame.copy(), []
    infusion_header = next((h for h in raw.headers
                            if schema.normalise_header(h) in INFUSION_DATE), None)
    infusion = parse_dates(frame[infusion_header]) if infusion_header else None
    if infusion_header and infusion is None:
        notes.append(f"'{infusion_header}' holds no recognisable dates; it was ignored.")
    notes += _dates_to_days(frame, [h for h in raw.headers if h != infusion_header], infusion,
                            raw.decimal)
    if infusion_header:
        del frame[infusion_header]
        notes.append(f"'{infusion_header}' (infusion date) used to convert dates, then dropped.")
    by_id = _infusion_by_id(raw, frame, infusion) if infusion is not None else None
    return replace(raw, frame=frame, headers=tuple(frame.columns)), by_id, notes


def _day_texts(days: pd.Series, decimal: str, *, coded: bool = False) -> pd.Series:
    """Days as text cells in the file's decimal mark, never with a thousands separator that
    the number reader would misread (``77.275`` with a decimal comma was read as 77275);
    written once per distinct day (a Categorical when ``coded``)."""
    def text(v: float) -> str:
        if pd.isna(v):
            return ""
        t = f"{v:.6f}".rstrip("0").rstrip(".")
        return t.replace(".", ",") if decimal == "," else t
    codes, uniq = pd.factorize(days.to_numpy(dtype=float), use_na_sentinel=False)
    texts = np.array([text(v) for v in uniq], dtype=object)
    if coded:
        return categorical(codes, texts, days.index)
    return pd.Series(texts[codes], index=days.index, dtype=object)


def _dates_to_days(frame: pd.DataFrame, headers: list[str],
                   infusion: pd.Series | None, decimal: str = ".") -> list[str]:
    """Replace (in place) every date column among ``headers`` by days after infusion, or drop
    it when there is no infusion date; a note for each."""
    notes = []
    candidates = _date_like_columns(frame[headers])
    date_cols = {h: d for h in candidates if (d := parse_dates(frame[h])) is not None}
    for h, d in date_cols.items():
        if infusion is not None:
            name = _unused(f"{h} (days after infusion)", frame.columns)
            frame[name] = _day_texts(_days_since(d, infusion), decimal)
            notes.append(f"'{h}' converted from dates to days after infusion as '{name}'; "
                         "the dates were dropped.")
        else:
            notes.append(f"'{h}' holds dates but there is no infusion date column to convert "
                         "them to days after infusion; the column was dropped.")
        del frame[h]
    return notes


def _infusion_by_id(raw: RawTable, frame: pd.DataFrame, infusion: pd.Series) -> pd.Series | None:
    """The infusion date per patient ID (the first row of a repeated ID), or None when the
    table has no patient ID column."""
    id_header = next((h for h, t in suggest_mapping(raw.headers, "patients").items()
                      if t == "patient_id"), None)
    if not id_header:
        return None
    by_id = pd.Series(infusion.to_numpy(), index=frame[id_header].str.strip())
    return by_id[~by_id.index.duplicated()]


def _unused(name: str, taken: pd.Index) -> str:
    """``name``, or ``name (2)``, ``name (3)``, ... when a column of that name exists."""
    out, i = name, 2
    while out in taken:
        out, i = f"{name} ({i})", i + 1
    return out


def long_dates(raw: RawTable, table: schema.TableName,
               infusion: pd.Series | None) -> tuple[RawTable, list[str]]:
    """Labs/treatments with a date column and no day column: day = date - infusion date."""
    mapping = suggest_mapping(raw.headers, table)
    if "day" in mapping.values():
        return raw, []
    date_header = next((h for h in raw.headers if schema.normalise_header(h) in SAMPLE_DATE),
                       None)
    if date_header is None:
        return raw, []
    dates = parse_dates(raw.frame[date_header])
    if dates is None:
        return raw, [f"'{date_header}' holds no recognisable dates."]
    frame = raw.frame.copy()
    notes = []
    id_header = next(h for h, t in mapping.items() if t == "patient_id") \
        if "patient_id" in mapping.values() else None
    if infusion is None or id_header is None:
        frame["day"] = ""
        notes.append(f"{table}: '{date_header}' holds dates, but the patient table has no "
                     "infusion date to convert them to days; add an 'infusion_date' column to "
                     "the patient table or a 'day' column here.")
    else:
        codes, ids = _distinct(frame[id_header])  # the infusion date per distinct ID
        per_id = pd.Series(ids, dtype=object).str.strip().map(infusion)
        inf = per_id.take(codes)
        inf.index = frame.index
        days = _days_since(dates, pd.to_datetime(inf))
        frame["day"] = _day_texts(days, raw.decimal, coded=isinstance(
            frame[id_header].dtype, pd.CategoricalDtype))
        missing = int((dates.notna() & inf.isna()).sum())
        notes.append(f"{table}: '{date_header}' converted to days after infusion; the dates "
                     "were dropped." + (f" {missing} rows whose patient has no infusion date "
                                        "are listed as 'no usable day'." if missing else ""))
    del frame[date_header]
    return replace(raw, frame=frame, headers=tuple(frame.columns)), notes
