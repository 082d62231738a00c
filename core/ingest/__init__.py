"""Ingest: uploaded bytes -> validated tables, every row loaded or listed with its reason.

The flow for one uploaded file::

    raw = read_table(data, "export.csv")                 # bytes -> RawTable (all cells as text)
    mapping = suggest_mapping(raw.headers, "patients")   # header -> canonical name or None
    frame, report = validate(raw, mapping, "patients")   # typed frame + what happened to every row

and for a whole cohort ``load_upload(Upload(...), ..., progress=...)``, ``load_frames(df, ...)``
(a notebook's frames) or ``load_demo()``. At registry scale (ten million lab rows) the lab and
treatment files are read dictionary-encoded (``read_table(..., coded=True)``) and checked once
per distinct cell text; their text key columns (labs: patient_id, analyte, unit; treatments:
patient_id, drug, unit) come out as pandas Categorical with sorted categories.

Nothing is dropped silently: every data row is either in ``frame``
or listed in ``report.rejected`` with the reason; every cell that could not be used is listed in
``report.cell_issues`` (its row is kept, the cell set missing). Nothing touches disk.

==============  ===========================================================================
module          concept
==============  ===========================================================================
``read``        bytes -> :class:`RawTable`: header row, rows that do not fit it
``filekind``    what a file that is not a table is (PDF, image, archive, HTML, JSON, ...)
``packed``      gzip-compressed files, ZIP archives of one table, Parquet files
``delimited``   text decoding, delimiter, records, decimal mark; the pyarrow fast path
``coded``       dictionary-encoded (Categorical) text columns, built from codes
``workbook``    Excel worksheets, the sheet that holds the table
``mapping``     header -> canonical column; names for extra columns
``dates``       dates -> days after infusion (dates dropped)
``parse``       cells -> values: NA tokens, numbers, censored ``<x``, 0/1, grades, sex, IDs
``units``       THE place where units are converted (headers, lab units, doses)
``columns``     one column typed by its kind, unusable cells listed
``validate``    one table checked; rows rejected with reasons
``report``      :class:`LoadReport`
``cohort``      :class:`Cohort`, :func:`load_upload`, :func:`load_frames`, :func:`load_demo`
``templates``   data dictionary and upload templates (``python -m core.ingest`` writes them)
==============  ===========================================================================
"""

from core.ingest.cohort import (
    DATA_DIR,
    DEMO_SOURCE,
    Cohort,
    Progress,
    Upload,
    empty_table,
    load_demo,
    load_frames,
    load_upload,
    normalise_labs,
)
from core.ingest.mapping import merge_mapping, suggest_mapping
from core.ingest.parse import NA_TOKENS
from core.ingest.read import RawTable, read_table
from core.ingest.report import LoadReport
from core.ingest.templates import data_dictionary, template, write_templates
from core.ingest.validate import validate

__all__ = ["DATA_DIR", "DEMO_SOURCE", "NA_TOKENS", "Cohort", "LoadReport", "Progress", "RawTable",
           "Upload",
           "data_dictionary", "empty_table", "load_demo", "load_frames", "load_upload",
           "merge_mapping", "normalise_labs", "read_table", "suggest_mapping", "template",
           "validate", "write_templates"]
