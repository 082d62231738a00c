"""``python -m core.ingest``: write the upload templates and the data dictionary."""

from core.ingest.templates import write_templates

for path in write_templates():
    print(path)
