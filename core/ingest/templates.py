"""The data dictionary and the upload templates (``python -m core.ingest`` writes them)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core import schema
from core.ingest.cohort import DATA_DIR


def data_dictionary() -> pd.DataFrame:
    """The data dictionary: table, column, required, type, unit, range, description, aliases."""
    rows = []
    for table, cols in schema.TABLES.items():
        for c in cols.values():
            rng = "" if c.lo is None else f"{c.lo:g} to {c.hi:g}"
            rows.append({"table": table, "column": c.name, "required": c.required,
                         "type": c.kind, "unit": c.unit or "", "range": rng,
                         "allowed values": ", ".join(c.levels or ()),
                         "description": c.description,
                         "also recognised as": ", ".join(c.aliases)})
    for a in schema.ANALYTES.values():
        rows.append({"table": "labs (analyte)", "column": a.name, "required": False,
                     "type": "analyte", "unit": a.unit, "range": _reference(a),
                     "allowed values": "", "description": f"{a.label}. {a.source}",
                     "also recognised as": ", ".join(a.aliases) + _units(a)})
    return pd.DataFrame(rows)


def _limits(lln: float | None, uln: float | None) -> str:
    return f"{lln if lln is not None else ''}-{uln if uln is not None else ''}"


def _reference(a: schema.Analyte) -> str:
    """``"reference 12.0-17.5 (F 12.0-16.0, M 13.0-17.5)"``."""
    by_sex = ", ".join(f"{s} {_limits(*r)}" for s, r in a.by_sex.items())
    return f"reference {_limits(a.lln, a.uln)}" + (f" ({by_sex})" if by_sex else "")


def _units(a: schema.Analyte) -> str:
    """`` · units: g/L x 100, ... · approximate: ... · not converted: ...``."""
    out = " · units: " + ", ".join(f"{u or '(none)'} x {f:g}" for u, f in a.units.items())
    if a.unit_notes:
        out += " · " + "; ".join(f"{u}: {n}" for u, n in a.unit_notes.items())
    if a.not_converted:
        out += " · not converted: " + "; ".join(f"{u}: {n}"
                                                 for u, n in a.not_converted.items())
    return out


def template(table: schema.TableName) -> pd.DataFrame:
    """An upload template: the canonical headers and two synthetic example rows.

    Raises
    ------
    ValueError
        ``table`` is not a table of the schema.
    """
    cols = list(schema.columns_of(table))
    examples = {
        "patients": [
            {"patient_id": "P001", "age": 64, "sex": "F", "disease": "High-grade B-NHL",
             "disease_subtype": "primary", "bulky": 0, "cci": 2, "product": "axi-cel",
             "target": "CD19", "costimulation": "CD28", "lymphodepletion": "Flu/Cy",
             "crs_grade": 2, "icans_grade": 0, "tocilizumab": 1, "tocilizumab_doses": 2,
             "tocilizumab_cum_mg": 1600, "corticosteroids": 0, "fibrinogen_baseline": 380,
             "fibrinogen_nadir": 140, "pfs_days": 365, "pfs_event": 0, "os_days": 365,
             "os_event": 0},
            {"patient_id": "P002", "age": 71, "sex": "M", "disease": "Multiple myeloma",
             "bulky": 0, "cci": 3, "product": "ide-cel", "target": "BCMA",
             "costimulation": "4-1BB", "lymphodepletion": "Flu/Cy", "crs_grade": 1,
             "icans_grade": 1, "tocilizumab": 0, "tocilizumab_doses": 0,
             "tocilizumab_cum_mg": 0, "corticosteroids": 0, "fibrinogen_baseline": 310,
             "fibrinogen_nadir": 290, "pfs_days": 200, "pfs_event": 1, "os_days": 420,
             "os_event": 0},
        ],
        "labs": [
            {"patient_id": "P001", "day": -1, "analyte": "fibrinogen", "value": 380,
             "unit": "mg/dL"},
            {"patient_id": "P001", "day": 5, "analyte": "fibrinogen", "value": 140,
             "unit": "mg/dL"},
        ],
        "treatments": [
            {"patient_id": "P001", "day": 2, "drug": "tocilizumab", "dose": 800, "unit": "mg"},
            {"patient_id": "P001", "day": 3, "drug": "tocilizumab", "dose": 800, "unit": "mg"},
        ],
    }[table]
    return pd.DataFrame(examples).reindex(columns=cols)


def write_templates(directory: Path | None = None) -> list[Path]:
    """Write the upload templates (CSV) and the data dictionary to ``data/templates``.

    ``python -m core.ingest`` (or ``make demo-data``) calls this; the files are committed so
    the README can link them, and a test checks they match this code.
    """
    d = directory or DATA_DIR / "templates"
    d.mkdir(parents=True, exist_ok=True)
    paths = []
    for table in ("patients", "labs", "treatments"):
        path = d / f"{table}.csv"
        template(table).to_csv(path, index=False)
        paths.append(path)
    path = d / "data_dictionary.csv"
    data_dictionary().to_csv(path, index=False)
    return [*paths, path]


if __name__ == "__main__":
    for p in write_templates():
        print(p)
