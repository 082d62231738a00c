"""core.endpoints.settings: every threshold with its default, source and form metadata."""

from __future__ import annotations

import pytest

from core import endpoints as ep
from core.errors import ValidationError


def test_settings_sources_are_documented() -> None:
    src = ep.EndpointSettings().source_table()
    text = " ".join(src["source"])
    assert "CTCAE" in text and "Taylor" in text and "Hines" in text
    assert list(src.columns) == ["setting", "source"]


def test_the_settings_form_is_generated_from_the_field_metadata():
    sections = ep.EndpointSettings.sections()
    assert list(sections) == ["Fibrinogen (CTCAE v5)", "Window (days after infusion)",
                              "IEC-HS screen (Hines 2023)", "ISTH overt DIC (Taylor 2001)",
                              "Corticosteroids for CRS/ICANS"]
    titles = {s.name: s.title for specs in sections.values() for s in specs}
    # the labels the page wrote by hand before, units from the schema's analytes
    assert titles["fibrinogen_lln"] == "Fibrinogen LLN (mg/dL)"
    assert titles["ferritin_uln"] == "Ferritin ULN (ng/mL)"
    assert titles["dic_d_dimer_moderate"] == "D-dimer 2 points above (mg/L FEU)"
    assert titles["dic_platelets_mild"] == "Platelets 1 point below (10^9/L)"
    assert titles["iec_window_days"] == "All within (days)"
    assert titles["dic_inr_strong"] == "INR 2 points above"
    assert set(titles) == set(ep.EndpointSettings().table()["setting"])
    baseline = next(s for s in sections["Fibrinogen (CTCAE v5)"] if s.choices)
    assert baseline.name == "abnormal_baseline" and list(baseline.choices) == ["relative", "lln"]
    assert all(s.step for specs in sections.values() for s in specs if s.choices is None)


def test_bad_arguments_are_programming_errors_bad_values_the_users():
    with pytest.raises(ValueError, match="abnormal_baseline"):
        ep.EndpointSettings(abnormal_baseline="frith")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a number"):
        ep.EndpointSettings(fibrinogen_lln="200")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="non-negative"):
        ep.EndpointSettings(fibrinogen_lln=-1.0)
    with pytest.raises(TypeError, match="EndpointSettings"):
        ep.derive(None, settings={"fibrinogen_lln": 150})  # type: ignore[arg-type]
