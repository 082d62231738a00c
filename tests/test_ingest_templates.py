"""core.ingest.templates: the data dictionary and the upload templates (committed in
data/templates, written by ``python -m core.ingest``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core import ingest


def test_data_dictionary_and_templates_cover_the_schema():
    d = ingest.data_dictionary()
    assert {"patients", "labs", "treatments"} <= set(d["table"])
    assert d.loc[d["column"] == "patient_id", "required"].all()
    for table in ("patients", "labs", "treatments"):
        tpl = ingest.template(table)
        raw = ingest.read_table(tpl.to_csv(index=False).encode(), f"{table}.csv")
        mapping = ingest.suggest_mapping(raw.headers, table)
        assert all(mapping.values()), table   # a template maps onto itself completely


def test_committed_templates_match_the_code():
    d = Path(__file__).resolve().parent.parent / "data" / "templates"
    for table in ("patients", "labs", "treatments"):
        committed = pd.read_csv(d / f"{table}.csv")
        assert list(committed.columns) == list(ingest.template(table).columns), table
        assert len(committed) == 2
    dictionary = pd.read_csv(d / "data_dictionary.csv", keep_default_na=False)
    assert dictionary["column"].tolist() == ingest.data_dictionary()["column"].tolist()
