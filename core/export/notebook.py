"""The report pack's Jupyter notebook: every pinned figure recomputed from the pack's CSVs.

:func:`build_notebook` writes ``report.ipynb`` (nbformat 4.5 JSON, written directly: no
runtime dependency on nbformat). It reads the filtered tables the ZIP holds (patients, labs,
treatments), derives the endpoints under each figure's endpoint settings exactly as the app
does (:func:`core.endpoints.apply_to_cohort` into a :class:`core.store.CohortStore`), applies
the figure's filter (a :class:`~core.filters.CohortFilter` expression), and runs the figure's
:class:`~core.codegen.Recipe`: the same ``core`` calls the page made. Each figure's title,
filter caption and statistic come first as text. The results are collected in ``results``
(item number -> result object). :func:`read_pack_csv` reads a pack CSV back as the app's
table (undoing :func:`~core.export.tables.safe_csv`'s formula guard).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from core.codegen import PanelCode, import_lines, literal
from core.export.figures import SYNTHETIC_LABEL
from core.export.report import Report, ReportMeta
from core.export.tables import FORMULA_TRIGGERS

__all__ = ["NOTEBOOK_NAME", "build_notebook", "csv_dtypes", "read_pack_csv"]

#: The notebook's file name in the ZIP.
NOTEBOOK_NAME = "report.ipynb"
#: Environment variable the first cell reads for the repository folder (the one with core/).
REPO_VARIABLE = "CART_EXPLORER_REPO"


def csv_dtypes(df: pd.DataFrame) -> dict[str, str]:
    """How :func:`read_pack_csv` must read ``df``'s columns back: text stays text.

    Parameters
    ----------
    df : pandas.DataFrame

    Returns
    -------
    dict
        Column -> ``"str"`` (text, categorical, mixed) or ``"Int64"`` (nullable integers);
        floats, integers and booleans without missing values are left to the CSV reader.
    """
    out: dict[str, str] = {}
    for col in df.columns:
        dtype = df[col].dtype
        if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(dtype) \
                or pd.api.types.is_string_dtype(dtype):
            out[str(col)] = "str"
        elif str(dtype) == "Int64":
            out[str(col)] = "Int64"
    return out


def read_pack_csv(path: str | Path, dtypes: Mapping[str, str] | None = None) -> pd.DataFrame:
    """A CSV of the pack read back as the table it was written from.

    Parameters
    ----------
    path : str or Path
        A ``*.csv`` of the ZIP (UTF-8 with BOM, written by
        :func:`~core.export.tables.safe_csv`).
    dtypes : Mapping[str, str], optional
        :func:`csv_dtypes` of the table (the notebook passes them): text columns stay text
        (an ID ``"007"`` is not read as the number 7).

    Returns
    -------
    pandas.DataFrame
        Empty cells missing; text cells (and headers) that the formula guard prefixed with
        ``'`` get their text back; floats read at full precision (``round_trip``).

    Notes
    -----
    The guard follows the OWASP CSV-injection advice that :mod:`core.export.tables` cites; this
    undoes exactly that prefix (``'`` before one of :data:`FORMULA_TRIGGERS`). A text that
    itself began with ``'=`` (or ``'+``, ...) cannot be told apart from a guarded one and
    loses its quote.
    """
    dtypes = dict(dtypes or {})
    raw = pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False, na_values=[""],
                      float_precision="round_trip", dtype="str", nrows=0)
    guarded = {str(c): _unguard(str(c)) for c in raw.columns}
    frame = pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False, na_values=[""],
                        float_precision="round_trip",
                        dtype={c: dtypes[g] for c, g in guarded.items() if g in dtypes} or None)
    frame.columns = [guarded[str(c)] for c in frame.columns]
    for col in frame.columns:
        if dtypes.get(col) == "str":
            frame[col] = frame[col].map(lambda v: _unguard(v) if isinstance(v, str) else v)
    return frame


def _unguard(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_TRIGGERS) else text


# ---------------------------------------------------------------------------------------------
# The notebook
# ---------------------------------------------------------------------------------------------

def _cell(kind: str, source: str, index: int) -> dict:
    cell: dict = {"cell_type": kind, "id": f"cell-{index:03d}", "metadata": {},
                  "source": source.splitlines(keepends=True)}
    if kind == "code":
        cell["execution_count"] = None
        cell["outputs"] = []
    return cell


def _intro(report: Report, meta: ReportMeta) -> str:
    lines = [f"# {report.title}", "",
             f"Cohort: {meta.cohort}  ", f"Filters: {meta.filters or '(none)'}  ",
             f"Date: {meta.when.isoformat()} · CAR-T cohort explorer {meta.app_version}"]
    if meta.synthetic:
        lines += ["", f"**{SYNTHETIC_LABEL}**"]
    lines += [
        "", "This notebook recomputes every pinned figure of the pack and its statistic with the "
        "app's `core` library, from the CSV files beside it (the filtered patient, lab and "
        "treatment tables): it derives the endpoints under the figure's endpoint settings, "
        "applies the figure's filter and makes the same calls the app made.",
        "", "## How to run",
        "1. Unzip the pack and open this notebook from the unzipped folder (the CSV paths are "
        "relative to it).",
        "2. Put the CAR-T cohort explorer repository (the folder that holds `core/`) on "
        f"`sys.path`: set the environment variable `{REPO_VARIABLE}` to it, or edit `REPO` in "
        "the first code cell.",
        "3. Use a Python environment with the repository's `requirements.txt` installed "
        "(e.g. its `.venv`), then *Run All* (or `jupyter nbconvert --to notebook --execute "
        f"{NOTEBOOK_NAME}`).",
        "", "Each figure's result is kept in `results` (figure number -> result object).",
    ]
    return "\n".join(lines)


_PATH_CELL = f'''import os
import sys

REPO = os.environ.get("{REPO_VARIABLE}", "")  # the folder that holds core/; edit if needed
if REPO:
    sys.path.insert(0, os.path.abspath(REPO))
import core

print("core", core.__version__, "from", os.path.dirname(core.__file__))'''


def _load_cell(meta: ReportMeta, files: Mapping[str, tuple[str, Mapping[str, str]]]) -> str:
    imports = {("core", "ingest"), ("core.export.notebook", "read_pack_csv"),
               ("core.endpoints", "apply_to_cohort"), ("core.store", "CohortStore")}
    body = []
    for table in ("patients", "labs", "treatments"):
        if table in files:
            name, dtypes = files[table]
            body.append(f"{table} = read_pack_csv({name!r}, {literal(dict(dtypes), imports)})")
        else:
            body.append(f"{table} = None")
    body += [
        "cohort = ingest.load_frames(patients, labs, treatments, "
        f"source={meta.cohort!r}, synthetic={bool(meta.synthetic)!r})",
        "",
        "_stores = {}",
        "",
        "",
        "def store_for(settings):",
        '    """The cohort with its endpoints derived under `settings`, in a DuckDB store."""',
        "    key = repr(settings)",
        "    if key not in _stores:",
        "        _stores[key] = CohortStore(apply_to_cohort(cohort, settings).cohort)",
        "    return _stores[key]",
        "",
        "",
        "results = {}",
        'print(f"{len(cohort.patients)} patients, {len(cohort.labs)} lab rows, "',
        '      f"{len(cohort.treatments)} treatment rows")',
    ]
    return "\n".join([*import_lines(imports), "", *body])


def _item_cells(report: Report, meta: ReportMeta) -> list[tuple[str, str]]:
    cells: list[tuple[str, str]] = []
    for i, item in enumerate(report, start=1):
        fig = item.figure
        text = [f"## {i:02d}. {fig.title}", "", *(f"{line}  " for line in fig.text_lines)]
        code = item.code
        if code is None:
            text += ["", "_This figure has no recipe to recompute it; its data are in the "
                         "ZIP's `tables/` folder when it carried a table._"]
            cells.append(("markdown", "\n".join(text)))
            continue
        if fig.caption != meta.filters:
            text += ["", f"_Pinned under another filter than the pack's tables "
                         f"({meta.filters or 'none'}): the tables hold only the pack's "
                         f"patients, so the numbers differ unless this filter is narrower._"]
        cells.append(("markdown", "\n".join(text)))
        try:
            source = _item_code(i, code)
        except ValueError as exc:  # an argument that cannot be written as code
            cells.append(("markdown", f"_Not recomputed: {exc}_"))
            continue
        cells.append(("code", source))
    return cells


def _item_code(i: int, code: PanelCode) -> str:
    """The code cell of item ``i``: settings, store, filter, the recipe's steps, the result."""
    imports: set[tuple[str, str]] = set()
    body = [f"settings = {literal(code.settings, imports)}",
            "store = store_for(settings)",
            f"flt = {literal(code.flt, imports)}"]
    for name in ("patients", "labs", "treatments"):
        if name in code.recipe.refs():
            body.append(f"{name} = store.{name}(flt)")
    body += [f"{name} = {step.expr(imports)}" for name, step in code.recipe.steps]
    result = code.recipe.result_name
    body += [f"results[{i}] = {result}", result]
    return "\n".join([*import_lines(imports), "", *body])


def build_notebook(report: Report, meta: ReportMeta,
                   files: Mapping[str, tuple[str, Mapping[str, str]]]) -> bytes:
    """``report.ipynb``: reads the pack's CSVs and recomputes every pinned figure.

    Parameters
    ----------
    report : Report
        Items with a :class:`~core.codegen.PanelCode` are recomputed; the others are listed.
    meta : ReportMeta
    files : Mapping[str, (str, Mapping[str, str])]
        ``"patients"`` (required), ``"labs"``, ``"treatments"`` -> (CSV name in the ZIP,
        :func:`csv_dtypes` of the table).

    Returns
    -------
    bytes
        nbformat 4.5 JSON (UTF-8), kernel ``python3``, no outputs.

    Raises
    ------
    ValueError
        No patients file.
    """
    if "patients" not in files:
        raise ValueError("The notebook needs the pack's patients CSV.")
    cells = [("markdown", _intro(report, meta)), ("code", _PATH_CELL),
             ("markdown", "## The pack's tables"), ("code", _load_cell(meta, files)),
             *_item_cells(report, meta)]
    notebook = {
        "cells": [_cell(kind, source, i) for i, (kind, source) in enumerate(cells)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    return json.dumps(notebook, indent=1, ensure_ascii=False).encode("utf-8")
