"""The sidebar through AppTest: filters and their URL, uploads (one slot, all at once), the
reload warning, session isolation and a 2,000-column upload; the Data page as the place the
sidebar points to."""

from __future__ import annotations

from pathlib import Path

from conftest import assert_clean, upload, wide_patients_csv, widget

UPLOADS = Path(__file__).parent / "fixtures" / "uploads"


def metric(at) -> str:  # noqa: ANN001
    return next(m.value for m in at.metric if m.label == "Patients in view")


def test_filter_state_survives_page_change_and_is_in_the_url(app_test):
    at = app_test()
    widget(at, "flt_product").set_value(["axi-cel"]).run()
    assert at.query_params["product"] in ("axi-cel", ["axi-cel"])
    at.switch_page("views/data.py").run()
    assert_clean(at)
    assert metric(at) == "14 of 41"
    at.switch_page("views/cohort.py").run()
    assert metric(at) == "14 of 41"


def test_link_with_query_params_opens_the_same_view(app_test):
    at = app_test(query={"crs_grade": ["3", "4"]})
    assert_clean(at)
    assert metric(at) == "5 of 41"
    assert widget(at, "flt_crs_grade").value == [3, 4]


def test_reset_button_clears_filters(app_test):
    at = app_test()
    widget(at, "flt_crs_grade").set_value([1]).run()
    assert metric(at) == "13 of 41"
    next(b for b in at.button if b.label == "Reset filters").click().run()
    assert metric(at) == "41 of 41"
    assert widget(at, "flt_crs_grade").value == []


def test_no_match_warns_instead_of_failing(app_test):
    at = app_test()
    widget(at, "flt_crs_grade").set_value([0]).run()
    widget(at, "flt_tocilizumab_doses").set_value((1, 2)).run()
    assert not at.exception
    assert metric(at) == "0 of 41"
    assert any("No patient matches" in w.value for w in at.warning)


def test_upload_in_the_sidebar_loads_and_reports(app_test):
    at = app_test("views/data.py")
    at.radio(key="data_source").set_value("upload").run()
    assert not at.exception
    at.sidebar.file_uploader[0].set_value(
        ("german.csv", (UPLOADS / "german_cp1252.csv").read_bytes(), "text/csv")).run()
    assert not at.exception
    assert metric(at) == "4 of 4"
    assert any("patients: 4 rows read · 4 loaded · 0 rejected" in x.label for x in at.expander)
    assert any("converted to mg/dL" in i.value for i in at.info)


def test_bad_upload_shows_a_message_not_a_traceback(app_test):
    at = app_test()
    upload(at, "x.csv", (UPLOADS / "no_patient_id.csv").read_bytes())
    assert not at.exception
    assert any("no column for patient_id" in e.value for e in at.error)
    assert len(at.get("progress")) == 0                 # the failed load's bar is removed


def _files_under(*roots: Path) -> set[Path]:
    """Files under ``roots`` (os.walk: folders that other processes delete while we walk,
    as in a shared /tmp, are skipped instead of failing the walk)."""
    import os

    skip = {".venv", "test-artifacts", "__pycache__", ".pytest_cache"}
    out: set[Path] = set()
    for root in roots:
        for folder, dirs, files in os.walk(root, onerror=lambda _: None):
            dirs[:] = [d for d in dirs if d not in skip]
            out |= {Path(folder) / f for f in files}
    return out


def _holds(path: Path, marker: bytes) -> bool:
    try:
        return path.is_file() and path.stat().st_size < 5_000_000 and marker in path.read_bytes()
    except OSError:  # gone or unreadable meanwhile (another process's temporary file)
        return False


def test_an_upload_stays_in_its_session_and_touches_no_disk(app_test):
    import tempfile
    import uuid

    marker = f"PAT-{uuid.uuid4().hex[:12]}"   # appears nowhere else on this machine
    content = f"patient_id,age,crs_grade\n{marker},60,1\nP2,61,2\n".encode()
    roots = (Path(__file__).resolve().parent.parent, Path(tempfile.gettempdir()))
    alice = app_test()
    upload(alice, "mine.csv", content)
    assert metric(alice) == "2 of 2"
    bob = app_test()   # a second browser session, started after Alice's upload
    assert metric(bob) == "41 of 41"
    assert marker not in set(bob.session_state["_view"].patients["patient_id"])
    written = [p for p in _files_under(*roots) if _holds(p, marker.encode())]
    assert written == []


def test_a_2000_column_upload_renders_and_reads_only_the_columns_picked(app_test, capsys,
                                                                       monkeypatch):
    """A registry export with 2,000 columns (41 patients): the sidebar offers every further
    column without scanning them and reads values only for the ones the user picks."""
    import time

    from core.store import CohortStore

    scanned: set[str] = set()
    for name in ("distinct", "value_range"):
        original = getattr(CohortStore, name)

        def recording(self, column, *args, _original=original, **kwargs):  # noqa: ANN001, ANN202
            scanned.add(column)
            return _original(self, column, *args, **kwargs)

        monkeypatch.setattr(CohortStore, name, recording)
    at = app_test()
    start = time.perf_counter()
    upload(at, "wide.csv", wide_patients_csv(2000))
    seconds = time.perf_counter() - start
    with capsys.disabled():  # a measurement for the reader, not an assertion
        print(f"\n2,000-column upload (load + sidebar + Cohort page): {seconds:.1f} s")
    assert_clean(at)
    assert metric(at) == "41 of 41"
    extra = widget(at, "flt__extra")
    assert len(extra.options) > 1900 and "extra_0000" in extra.options
    assert not {c for c in scanned if c.startswith("extra_")}   # nothing read for them
    extra.set_value(["extra_0000", "extra_0001", "extra_0004", "extra_0005",
                     "extra_0006"]).run()
    assert_clean(at)
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "extra_0004: 41 different values: too many to pick from" in captions  # free text
    assert "extra_0005: one value only (x)" in captions                          # constant
    assert "extra_0006: no values" in captions                                   # blank
    assert {c for c in scanned if c.startswith("extra_")} == {
        "extra_0000", "extra_0001", "extra_0004", "extra_0005", "extra_0006"}
    # a picked code is a choice, and it filters
    widget(at, "flt_extra_0001").set_value([0, 1]).run()
    assert_clean(at)
    assert int(metric(at).split()[0]) < 41
    assert widget(at, "flt_extra_0000").value[0] < widget(at, "flt_extra_0000").value[1]


DATA = Path(__file__).parent.parent / "data"


def _leave_armed(at) -> bool:  # noqa: ANN001
    """Whether the sidebar's beforeunload script is armed on this run."""
    scripts = [h.proto.body for h in at.get("html") if "beforeunload" in h.proto.body]
    assert len(scripts) == 1
    return "if (true)" in scripts[0]


def test_reload_warning_while_an_upload_or_a_pinned_report_would_be_lost(app_test):
    from ui.sidebar import LEAVE_NOTE, LEAVE_NOTE_REPORT

    at = app_test()
    assert not _leave_armed(at)                         # demo, nothing pinned
    next(b for b in at.button if b.label == "Add to report").click().run()
    assert _leave_armed(at)
    assert any(c.value == LEAVE_NOTE_REPORT for c in at.sidebar.caption)
    upload(at, "mine.csv", b"patient_id,age,crs_grade\nP1,60,1\nP2,61,2\n")
    assert _leave_armed(at)
    assert any(c.value == LEAVE_NOTE for c in at.sidebar.caption)


def test_dropping_all_files_at_once_sorts_them_into_their_tables(app_test):
    at = app_test()
    at.radio(key="data_source").set_value("upload").run()
    # names that say nothing: the columns decide; plus a file that fits no table
    at.sidebar.file_uploader[3].set_value([
        ("export_1.csv", (DATA / "demo_treatments.csv").read_bytes(), "text/csv"),
        ("export_2.csv", (DATA / "demo_patients.csv").read_bytes(), "text/csv"),
        ("export_3.csv", (DATA / "demo_labs.csv").read_bytes(), "text/csv"),
        ("notes.csv", b"a,b\n1,2\n", "text/csv")]).run()
    assert_clean(at)
    assert metric(at) == "41 of 41"
    captions = [c.value for c in at.sidebar.caption]
    assert ("Sorted: patients ← export_2.csv; labs ← export_3.csv; treatments ← export_1.csv"
            in captions)
    lab_rows = (DATA / "demo_labs.csv").read_bytes().count(b"\n") - 1   # less the header
    assert any(f"labs: {lab_rows} rows read" in c for c in captions)
    assert any(w.value.startswith("Not used: notes.csv (neither patients, labs nor "
                                  "treatments") for w in at.sidebar.warning)
    # a file in its own slot wins over one dropped together
    upload(at, "few.csv", b"patient_id,age\nA,50\nB,60\n", slot=0)
    assert metric(at) == "2 of 2"
    assert any("export_2.csv (patients: the slot above is already filled)" in w.value
               for w in at.sidebar.warning)


def test_classify_by_name_then_by_columns():
    from ui.sidebar import classify

    labs = (DATA / "demo_labs.csv").read_bytes()
    assert classify("Laborwerte_2024.xlsx", b"") == "labs"         # the name decides
    assert classify("Tocilizumab-Gaben.csv", b"") == "treatments"
    assert classify("patients.csv", b"") == "patients"
    assert classify("export.csv", labs) == "labs"                  # the header decides
    assert classify("patient_labs.csv", labs) == "labs"            # two names: the header
    assert classify("export.csv", b"Patient-ID;Alter;CRS Grad\nP1;60;1\n") == "patients"
    assert classify("export.csv", b"x,y\n1,2\n") is None
    assert classify("export.csv", b"") is None                     # unreadable: no guess


def test_compressed_and_parquet_names_are_sorted_by_their_stem():
    from ui.sidebar import UPLOAD_TYPES, sort_uploads, stem

    for ending in ("csv", "tsv", "txt", "xlsx", "parquet", "csv.gz", "tsv.gz", "txt.gz", "zip"):
        assert ending in UPLOAD_TYPES
    assert stem("Labs.CSV.GZ") == "labs"
    assert stem("export.parquet") == "export"
    assert stem("befund.2024.zip") == "befund.2024"
    assert stem("notes.odt") == "notes"                 # an unknown ending: the last one only
    # the names decide (no bytes read): labs.csv.gz -> labs, as the issue asks
    placed, unused = sort_uploads([("labs.csv.gz", b""), ("Patienten.parquet", b""),
                                   ("Therapie.txt.gz", b""), ("Laborwerte.zip", b"")])
    assert placed == {"patients": "Patienten.parquet", "labs": "labs.csv.gz",
                      "treatments": "Therapie.txt.gz"}
    assert unused == ["Laborwerte.zip (a second labs file)"]


def test_the_upload_limit_fits_a_10_million_row_labs_csv_and_the_sidebar_says_it(app_test):
    import tomllib

    config = tomllib.loads((DATA.parent / ".streamlit" / "config.toml").read_text())
    limit_mb = config["server"]["maxUploadSize"]
    # hand estimate: the demo labs' bytes per data row times 10 million rows, twice over
    demo = (DATA / "demo_labs.csv").read_bytes()
    per_row = len(demo) / (demo.count(b"\n") - 1)      # ~29 bytes per lab row
    assert limit_mb * 2**20 >= 2 * 10_000_000 * per_row
    at = app_test()
    at.radio(key="data_source").set_value("upload").run()
    note = next(c.value for c in at.sidebar.caption if "per file" in c.value)
    assert f"up to {limit_mb / 1024:g} GB per file" in note
    assert ".csv.gz" in note and "Parquet" in note


class _Slot:
    """Records what an ``st.empty()`` placeholder was asked to show."""

    def __init__(self) -> None:
        self.shown: list[tuple[float, str]] = []
        self.emptied = 0

    def progress(self, value: float, text: str) -> None:
        self.shown.append((value, text))

    def empty(self) -> None:
        self.emptied += 1


class _Where:
    """A container whose ``empty()`` adds a recorded placeholder."""

    def __init__(self) -> None:
        self.slots: list[_Slot] = []

    def empty(self) -> _Slot:
        self.slots.append(_Slot())
        return self.slots[-1]


def test_progress_maps_each_phase_into_its_share_and_never_moves_back():
    import threading

    from ui.session import PHASES, Progress

    assert PHASES == {"ingest": (0.0, 0.7), "derive": (0.7, 0.9), "store": (0.9, 1.0)}
    where = _Where()
    bar = Progress(where)
    bar.done()
    assert where.slots == []                            # nothing shown: no element added
    ingest = bar.phase("ingest")
    ingest("Reading labs.csv", 0.0)
    ingest("Reading labs.csv", 0.005)                   # < 1% further, same step: skipped
    ingest("Checking values in labs.csv", 0.5)          # 0.7 * 0.5
    ingest("Converting units", 0.4)                     # a step going back stays put
    worker = threading.Thread(target=ingest, args=("from a worker", 0.9))
    worker.start()
    worker.join()                                       # another thread: ignored
    bar.phase("derive")("Deriving endpoints", 0.0)
    bar.phase("store")("Building the database", 0.5)    # 0.9 + 0.1 * 0.5
    assert len(where.slots) == 1                        # one placeholder, updated in place
    slot = where.slots[0]
    assert slot.shown == [(0.0, "Reading labs.csv"), (0.35, "Checking values in labs.csv"),
                          (0.35, "Converting units"), (0.7, "Deriving endpoints"),
                          (0.95, "Building the database")]
    assert bar.steps == [t for _, t in slot.shown]
    bar.done()
    assert slot.emptied == 1


def test_an_upload_shows_its_steps_on_a_bar_that_is_gone_when_loaded(app_test, monkeypatch):
    from ui import session

    seen: list[tuple[str, float]] = []
    original = session.Progress.update

    def record(self, label, fraction):  # noqa: ANN001, ANN202
        seen.append((label, fraction))
        return original(self, label, fraction)

    monkeypatch.setattr(session.Progress, "update", record)
    at = app_test()
    assert seen == []                                   # the demo loads without a bar
    at.radio(key="data_source").set_value("upload").run()
    at.sidebar.file_uploader[0].set_value(
        ("patients.csv", (DATA / "demo_patients.csv").read_bytes(), "text/csv"))
    at.sidebar.file_uploader[1].set_value(
        ("labs.csv", (DATA / "demo_labs.csv").read_bytes(), "text/csv")).run()
    assert_clean(at)
    assert metric(at) == "41 of 41"
    labels = list(dict.fromkeys(label for label, _ in seen))
    assert labels == ["Reading patients.csv", "Checking values in patients.csv",
                      "Reading labs.csv", "Checking values in labs.csv", "Converting units",
                      "Loaded", "Deriving endpoints", "Building the database"]
    fractions = [f for _, f in seen]
    assert fractions[0] == 0.0 and fractions[-1] == 0.9
    assert all(b >= a for a, b in zip(fractions, fractions[1:]))
    assert len(at.get("progress")) == 0                 # removed once the cohort is ready
    # a filter change reruns without reading, deriving or building again (and no bar)
    seen.clear()
    widget(at, "flt_crs_grade").set_value([1]).run()
    assert seen == []
    assert metric(at) == "13 of 41"


def test_streamlits_per_run_copy_of_an_upload_shares_its_bytes():
    import copy

    from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec

    import ui.sidebar  # noqa: F401 - installs the sharing copy

    data = b"patient_id,age\nP1,60\n" * 1000
    f = UploadedFile(UploadedFileRec("id-1", "patients.csv", "text/csv", data), None)
    f.read(7)
    twin = copy.deepcopy(f)                   # what Streamlit does to a widget value each run
    assert twin is not f and twin.getvalue() is data        # the same bytes, not a copy
    assert (twin.file_id, twin.name, twin.type, twin.size) == ("id-1", "patients.csv",
                                                               "text/csv", len(data))
    assert twin.tell() == 7 and twin.read(3) == b"_id"      # its own read position
    assert f.tell() == 7
    pair = copy.deepcopy([f, f])
    assert pair[0] is pair[1]                                # one copy per object (memo)
