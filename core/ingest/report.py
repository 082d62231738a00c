"""What happened to every row and cell of an uploaded table: :class:`LoadReport`, and the
:class:`Collector` that gathers it while a table is validated."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.ingest.wording import short


@dataclass(frozen=True)
class LoadReport:
    """What happened to every row and cell of one uploaded table.

    Attributes
    ----------
    table : "patients", "labs" or "treatments".
    filename, detected : file name and the detected format line.
    rows_read : data rows in the file: every row from the one after the header to the last
        non-blank row (blank rows, repeated headers and malformed rows included), so
        ``rows_read == rows_loaded + rows_rejected``.
    rows_loaded : rows in the validated frame.
    rejected : DataFrame (row, patient_id, reason): rows not loaded; ``row`` is the spreadsheet
        row number (header = row 1).
    cell_issues : DataFrame (row, patient_id, column, value, problem): cells set missing or
        changed (censored "<0.5"); their rows were loaded.
    mapping : header -> canonical column (None: kept under its own name).
    conversions : human sentences about unit conversions applied.
    notes : human sentences about the file as a whole (columns renamed, dates converted, a
        mapping entry ignored, no data rows).
    """

    table: str
    filename: str
    detected: str
    rows_read: int
    rows_loaded: int
    rejected: pd.DataFrame
    cell_issues: pd.DataFrame
    mapping: dict[str, str | None]
    conversions: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def rows_rejected(self) -> int:
        """Rows not loaded (``rows_read - rows_loaded``)."""
        return len(self.rejected)

    def summary(self) -> str:
        """``"patients: 41 rows read · 41 loaded · 0 rejected · 2 cell problems"``."""
        return (f"{self.table}: {self.rows_read} rows read · {self.rows_loaded} loaded · "
                f"{self.rows_rejected} rejected · {len(self.cell_issues)} cell problems")


@dataclass
class Collector:
    """Collects, while one table is validated, the rows to reject and the cells to list.

    Attributes
    ----------
    row_numbers : spreadsheet row number of each position in the table.
    ids : the patient ID of each position (for the listings).
    cells : one dict per cell problem (row, patient_id, column, value, problem).
    rejected : position -> reason (reasons for one row joined by ``"; "``).
    """

    row_numbers: np.ndarray
    ids: pd.Series
    cells: list[dict] = field(default_factory=list)
    rejected: dict[int, str] = field(default_factory=dict)

    def cell(self, pos: int | np.integer, column: str, value: str, problem: str) -> None:
        """List the cell at position ``pos`` of ``column``; its row stays loaded."""
        self.cells.append({"row": int(self.row_numbers[pos]),
                           "patient_id": short(self.ids.iloc[pos]), "column": column,
                           "value": short(value, 200), "problem": problem})

    def reject(self, pos: int | np.integer, reason: str) -> None:
        """Reject the row at position ``pos`` (a second reason is appended to the first)."""
        key = int(pos)
        if key in self.rejected:
            self.rejected[key] += "; " + reason
        else:
            self.rejected[key] = reason
