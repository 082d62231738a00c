"""The Data page through AppTest: what every row became, the column mapping, and messages (never
a traceback) for the clinic files that broke it."""

from __future__ import annotations

from pathlib import Path

from conftest import assert_clean, upload

PAGE = "views/data.py"
UPLOADS = Path(__file__).parent / "fixtures" / "uploads"
TEMPLATES = Path(__file__).resolve().parent.parent / "data" / "templates"


def on_data_page(app_test, name: str, data: bytes, slot: int = 0):  # noqa: ANN001, ANN201
    at = app_test(PAGE)
    return upload(at, name, data, slot)


def texts(elements) -> list[str]:  # noqa: ANN001
    return [e.value for e in elements]


def test_demo_shows_the_format_and_no_error(app_test):
    at = app_test(PAGE)
    assert_clean(at)
    assert at.title[0].value == "Data"
    assert any("synthetic demo cohort" in i for i in texts(at.info))


def test_a_cell_longer_than_the_csv_limit_loads_and_the_mapping_shows(app_test):
    data = ("patient_id,age,Bemerkung\nP1,60," + "x" * 200_000 + "\nP2,61,ok\n").encode()
    at = on_data_page(app_test, "long.csv", data)
    assert_clean(at)
    assert any("patients: 2 rows read · 2 loaded · 0 rejected" in x.label for x in at.expander)
    assert any(b.label == "Apply mapping for patients" for b in at.button)
    assert any("Read as: CSV · ',' separated" in c for c in texts(at.caption))


def test_a_json_file_is_named_on_the_page_and_in_the_mapping(app_test):
    at = on_data_page(app_test, "cohort.csv", (UPLOADS / "json_export.csv").read_bytes())
    assert not at.exception
    errors = texts(at.error)
    assert any("is a JSON file" in e for e in errors)
    # the column-mapping section reads the file again: a message, not a second crash
    assert any(e.startswith("patients · cohort.csv: 'cohort.csv' is a JSON file") for e in errors)


def test_a_header_only_file_says_there_are_no_data_rows(app_test):
    at = on_data_page(app_test, "h.csv", (UPLOADS / "header_only.csv").read_bytes())
    assert not at.exception
    assert any("has a header row but no data rows" in e for e in texts(at.error))
    assert not any(e.rstrip().endswith("Reasons:") for e in texts(at.error))


def test_a_row_with_another_delimiter_is_listed(app_test):
    at = on_data_page(app_test, "m.csv", (UPLOADS / "mixed_delimiter.csv").read_bytes())
    assert_clean(at)
    assert any("5 rows read · 4 loaded · 1 rejected" in x.label for x in at.expander)
    rejected = next(d.value for d in at.dataframe if "reason" in d.value.columns)
    assert "it looks ';'-separated" in rejected["reason"].iloc[0]


def test_a_workbook_with_the_table_on_sheet_2_names_the_sheet(app_test):
    at = on_data_page(app_test, "k.xlsx", (UPLOADS / "table_on_sheet2.xlsx").read_bytes())
    assert_clean(at)
    assert any("Excel workbook, sheet 'Patienten' (of 3: 'Info', 'Patienten', 'Labs')" in c
               for c in texts(at.caption))


def test_the_templates_have_no_disagreements(app_test):
    at = on_data_page(app_test, "patients.csv", (TEMPLATES / "patients.csv").read_bytes())
    at = upload(at, "labs.csv", (TEMPLATES / "labs.csv").read_bytes(), slot=1)
    assert_clean(at)
    endpoints = next(i for i in texts(at.info) if i.startswith("Patient-level endpoints"))
    assert "differ" not in endpoints


def test_a_mapping_saved_for_another_file_does_not_break_the_page(app_test):
    at = on_data_page(app_test, "p.csv", (UPLOADS / "patients_p1_p3.csv").read_bytes())
    at.session_state["mappings"] = {"patients": {"Pat.-Nr.": "patient_id", "age": "age"}}
    at.run()
    assert_clean(at)
    assert any("3 rows read · 3 loaded" in x.label for x in at.expander)


def test_files_dropped_together_get_their_column_mapping(app_test):
    """The mapping editor shows the files sorted from the drop-all zone, not only the three
    slots' own files."""
    data = Path(__file__).resolve().parent.parent / "data"
    at = app_test(PAGE)
    at.radio(key="data_source").set_value("upload").run()
    at.sidebar.file_uploader[3].set_value([
        ("export_a.csv", (data / "demo_patients.csv").read_bytes(), "text/csv"),
        ("export_b.csv", (data / "demo_treatments.csv").read_bytes(), "text/csv")]).run()
    assert_clean(at)
    assert "Column mapping" in texts(at.header)
    subheads = " ".join(texts(at.subheader) + texts(at.markdown) + texts(at.caption))
    assert "export_a.csv" in subheads and "export_b.csv" in subheads


def test_the_messy_export_lists_every_conversion_on_the_page(app_test):
    from core.demo.messy import make_messy_export

    export = make_messy_export()
    at = on_data_page(app_test, "patienten.csv", export.csv("patients"))
    at = upload(at, "labor.csv", export.csv("labs"), slot=1)
    assert not at.exception
    infos, warnings = texts(at.info), texts(at.warning)
    assert "d_dimer_max: header says 'ng/ml FEU'; converted to mg/L FEU (x 0.001)" in infos
    assert any(i.startswith("labs: ") and "'µmol/l' converted to mg/dL (/ 88.4)" in i
               for i in infos)
    assert any("mg/l DDU" in w and "approximate" in w for w in warnings)
    assert any("not converted to INR" in w for w in warnings)
    assert any("MX05" in w and "contradict" in w for w in warnings)
    registry = next(d.value for d in at.dataframe if "canonical unit" in d.value.columns)
    hb = registry.set_index("analyte").loc["haemoglobin"]
    assert hb["reference range"] == "12-17.5 (women 12-16; men 13-17.5)"
    assert "mmol/L x 1.611" in hb["accepted units (factor into canonical)"]


def test_normal_pt_set_on_the_data_page_converts_pt_seconds_and_survives_page_changes(app_test):
    """PT in seconds is listed as not converted until the laboratory's normal PT is given;
    then 18 s with a normal of 12 s is read as an INR of 18 / 12 = 1.5 (approximate)."""
    patients = b"patient_id,age\nA,50\n"
    labs = b"patient_id,day,analyte,value,unit\nA,1,PT,18,s\n"
    at = on_data_page(app_test, "p.csv", patients)
    upload(at, "l.csv", labs, slot=1)
    assert_clean(at)
    labs_frame = at.session_state["uploaded_cohort"].labs
    assert "inr" not in set(labs_frame["analyte"])
    widget = next(n for n in at.number_input if n.key == "_pt_normal_input")
    widget.set_value(12.0).run()
    assert_clean(at)
    labs_frame = at.session_state["uploaded_cohort"].labs
    inr = labs_frame.loc[labs_frame["analyte"] == "inr", "value"]
    assert inr.tolist() == [1.5]
    at.switch_page("views/cohort.py").run()      # the setting outlives the Data page's widgets
    labs_frame = at.session_state["uploaded_cohort"].labs
    assert labs_frame.loc[labs_frame["analyte"] == "inr", "value"].tolist() == [1.5]
