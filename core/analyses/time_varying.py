"""Survival page, time-varying section: an exposure that starts after infusion (hypofibrinogenemia,
tocilizumab, ...) entered in a Cox model as it happens, from start-stop (counting-process) rows,
so nobody is credited with the time before the exposure (no immortal-time bias).

Note kinds: ``"missing"`` (who was left out), ``"cox"`` (the model's own warnings, or why it
could not be fitted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from core.analyses.indicators import (
    HYPOFIB_GROUP,
    Predictor,
    column_of,
    name_of,
    resolve_predictor,
    source_of,
)
from core.analyses.survival import EXPOSURE_DAYS, exposure_day
from core.errors import CohortError, ColumnError
from core.notes import Note
from core.stats import CoxResult, cox
from core.stats._common import require_columns

__all__ = ["TimeVaryingResult", "start_stop_table", "time_varying_cox"]


@dataclass(frozen=True)
class TimeVaryingResult:
    """Result of :func:`time_varying_cox`: an exposure entered as it happens.

    Attributes
    ----------
    exposure : str
        The exposure's name (e.g. "Hypofibrinogenemia").
    exposure_day : str
        The column giving the day it started.
    table : DataFrame
        The start-stop rows: columns id, start, stop, event, the exposure (0 before its day,
        1 from it) and the covariates. A patient exposed on day d (0 < d < end of follow-up)
        has two rows, (0, d] unexposed and (d, end] exposed; the event belongs to the last.
    cox : CoxResult or None
        ``cox(table, "stop", "event", [exposure, ...], start="start", id="id")``; None when it
        cannot be fitted (an error note says why).
    n_unknown_day : int
        Exposed patients left out because their day is missing.
    n_zero_time : int
        Patients left out with an event or censoring on day 0 (no interval to count).
    notes : tuple of Note
        Kinds ``"missing"``, ``"cox"``.
    """

    exposure: str
    exposure_day: str
    table: pd.DataFrame
    cox: CoxResult | None
    n_unknown_day: int
    n_zero_time: int
    notes: tuple[Note, ...] = field(default=())


def start_stop_table(df: pd.DataFrame, time: str, event: str, exposure: Predictor,
                     covariates: Sequence[Predictor] = ()) -> tuple[pd.DataFrame, int, int]:
    """Counting-process rows for an exposure with a day (see :class:`TimeVaryingResult`):
    (table, exposed patients without a day, patients with time 0). Exposure on or before day
    0 counts from the start; exposure on or after the end of follow-up never counts."""
    g = resolve_predictor(df, exposure)
    day = exposure_day(df, g)
    if day is None:
        raise ColumnError(f"'{name_of(g)}' has no day column in the data "
                          f"({EXPOSURE_DAYS.get(source_of(g), 'none known')}); a time-varying "
                          "model needs the day the exposure started.")
    name = name_of(g)
    cov = [resolve_predictor(df, c) for c in covariates]
    ids = df["patient_id"] if "patient_id" in df.columns else pd.Series(df.index, df.index)
    base = pd.DataFrame({"id": ids, "time": pd.to_numeric(df[time], errors="coerce"),
                         "event": df[event], "ever": column_of(df, g).astype(float),
                         "day": pd.to_numeric(df[day], errors="coerce"),
                         **{name_of(c): column_of(df, c) for c in cov}}, index=df.index)
    unknown = (base["ever"] == 1) & base["day"].isna()
    zero = base["time"] == 0
    base = base[~unknown & ~zero]
    split = (base["ever"] == 1) & (base["day"] > 0) & (base["day"] < base["time"])
    exposed_from_start = (base["ever"] == 1) & (base["day"] <= 0)
    covs = [name_of(c) for c in cov]
    status = (exposed_from_start * 1.0).where(base["ever"].notna())
    whole = base[~split].assign(start=0.0, stop=base["time"], **{name: status[~split]})
    before = base[split].assign(start=0.0, stop=base["day"], event=0, **{name: 0.0})
    after = base[split].assign(start=base["day"], stop=base["time"], **{name: 1.0})
    cols = ["id", "start", "stop", "event", name, *covs]
    table = pd.concat([whole[cols], before[cols], after[cols]])
    table = table.sort_values(["id", "start"], kind="stable").reset_index(drop=True)
    return table, int(unknown.sum()), int(zero.sum())


def time_varying_cox(df: pd.DataFrame, time: str = "pfs_days", event: str = "pfs_event",
                     exposure: Predictor = HYPOFIB_GROUP,
                     covariates: Sequence[Predictor] = ()) -> TimeVaryingResult:
    """Cox model with an exposure that starts after infusion entered as it happens (a
    time-varying covariate: 0 until its day, 1 from then), plus fixed ``covariates``.

    Answers "is hypofibrinogenemia, as it happens, associated with progression?" without the
    immortal-time bias of grouping by "ever". Raises ColumnError when the exposure has no day
    column; a model that cannot be fitted is an error note (``cox`` None).
    """
    require_columns(df, [time, event])
    table, unknown, zero = start_stop_table(df, time, event, exposure, covariates)
    name = name_of(resolve_predictor(df, exposure))
    day = exposure_day(df, resolve_predictor(df, exposure)) or ""
    notes = []
    if unknown:
        notes.append(Note("info", "missing", f"{unknown} patient(s) with {name} but no {day} "
                                             "are left out (when it started is unknown)."))
    if zero:
        notes.append(Note("info", "missing", f"{zero} patient(s) with follow-up ending on day "
                                             "0 are left out (no time at risk)."))
    covs = [name, *[name_of(resolve_predictor(df, c)) for c in covariates]]
    try:
        result: CoxResult | None = cox(table, "stop", "event", list(dict.fromkeys(covs)),
                                       start="start", id="id")
    except CohortError as exc:
        result = None
        notes.append(Note("error", "cox", f"The time-varying Cox model could not be fitted: "
                                          f"{exc}"))
    if result is not None:
        notes += [Note("warning", "cox", n.text) for n in result.notes]
    return TimeVaryingResult(exposure=name, exposure_day=day, table=table, cox=result,
                             n_unknown_day=unknown, n_zero_time=zero, notes=tuple(notes))
