"""core.endpoints.settings: every threshold with its default, source and form metadata."""

from __future__ import annotations

from core import endpoints as ep


def test_settings_sources_are_documented() -> None:
    src = ep.EndpointSettings().source_table()
    text = " ".join(src["source"])
    assert "CTCAE" in text and "Taylor" in text and "Hines" in text
    assert list(src.columns) == ["setting", "source"]
