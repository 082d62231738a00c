"""ui.session: the demo is built once per server process and shared read-only; uploads (even of
the demo's own files) get their own store, their own label and their own memo."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from conftest import assert_clean, upload

DATA = Path(__file__).resolve().parent.parent / "data"


def _view(at):  # noqa: ANN001, ANN202
    return at.session_state["_view"]


def test_two_demo_sessions_share_one_store_and_one_memo(app_test):
    from ui import session

    alice, bob = app_test(), app_test()
    assert_clean(alice)
    assert_clean(bob)
    shared = session._demo()
    assert _view(alice).store is shared.store
    assert _view(bob).store is shared.store
    # neither session built (or holds) a store or a memo of its own
    for at in (alice, bob):
        assert "_store" not in at.session_state
        assert "_memo" not in at.session_state
    # Table 1 of the demo is in the process-wide memo (built by the first session)
    assert any(k[2] == "table_one" for k in shared.memo)


def test_uploading_the_demo_files_is_the_users_data_not_the_synthetic_demo(app_test):
    at = app_test()
    assert _view(at).synthetic
    assert any("synthetic demo cohort" in c.value.lower() for c in at.caption)
    upload(at, "demo_patients.csv", (DATA / "demo_patients.csv").read_bytes())
    upload(at, "demo_labs.csv", (DATA / "demo_labs.csv").read_bytes(), slot=1)
    upload(at, "demo_treatments.csv", (DATA / "demo_treatments.csv").read_bytes(), slot=2)
    assert_clean(at)
    view = _view(at)
    assert view.n_total == 41
    assert not view.synthetic
    assert view.source == "demo_patients.csv, demo_labs.csv, demo_treatments.csv"
    assert "synthetic" not in view.caption
    assert not any("synthetic demo cohort" in c.value.lower() for c in at.caption)
    # the upload has a store of its own, and its results stay in this session
    from ui import session

    assert view.store is not session._demo().store
    assert len(at.session_state["_memo"]) > 0
    assert not any(k[0] is not None and k[0][2] == view.source for k in session._demo().memo)


def test_changing_endpoint_settings_on_the_demo_gives_the_session_its_own_copy(app_test):
    from core.endpoints import EndpointSettings
    from ui import session

    at = app_test()
    shared = session._demo()
    before = shared.derived.cohort.patients.copy()
    at.session_state[session.SETTINGS_KEY] = replace(EndpointSettings(),
                                                     fibrinogen_lln=250.0)
    at.run()
    assert_clean(at)
    view = _view(at)
    assert view.synthetic
    assert view.store is not shared.store
    # the shared demo is untouched for everyone else
    assert shared.derived.cohort.patients.equals(before)
    other = app_test()
    assert _view(other).store is shared.store


def test_memo_keys_result_objects_by_content():
    """A frozen result holding DataFrames is keyed by its fields' content (its repr would
    truncate a large frame, so two different results could share a key)."""
    import pandas as pd

    from core.analyses.cohort import Incidence
    from ui.session import _key

    fields = {f: None for f in Incidence.__dataclass_fields__}
    big = pd.DataFrame({"x": range(1000)})
    other = big.copy()
    other.loc[500, "x"] = -1   # differs only where a repr would not show it
    a = Incidence(**{**fields, "table": big})
    b = Incidence(**{**fields, "table": other})
    assert _key(a) != _key(b)
    assert _key(a) == _key(Incidence(**{**fields, "table": big.copy()}))


def test_memo_keys_the_views_patients_by_view_key_and_columns(monkeypatch):
    """The view's patients, and column subsets of them made by ``columns.only``, are keyed by
    the view's key and their column names (no hash of every row on each call); any other
    frame, even with equal content, by content."""
    import pandas as pd

    from core.analyses import columns
    from core.filters import CohortFilter
    from ui import session

    patients = pd.DataFrame({"patient_id": ["a", "b", "c"], "x": [1.0, 2.0, None],
                             "y": [3, 4, 5]})
    view = session.CohortView(patients, 3, 3, "", CohortFilter(), None, False, "t",  # type: ignore[arg-type]
                              "k1")
    monkeypatch.setattr(session.st, "session_state", {"_view": view})
    sub = columns.only(patients, ("x", "y"))
    assert session._key(patients) == ("view", "k1", ("patient_id", "x", "y"))
    assert session._key(sub) == ("view", "k1", ("x", "y"))
    assert session._key(columns.only(patients, ("x",))) != session._key(sub)
    # a copy, a filtered frame or a subset of another frame: by content
    assert session._key(patients.copy())[0] == "frame"
    assert session._key(patients[patients["y"] > 3])[0] == "frame"
    assert session._key(columns.only(patients.copy(), ("x", "y")))[0] == "frame"
    assert session._key(patients.copy()) == session._key(patients.copy())
    # another view (another filter or data): another key for the same columns
    other = session.CohortView(patients, 3, 3, "", CohortFilter(), None, False, "t",  # type: ignore[arg-type]
                               "k2")
    monkeypatch.setattr(session.st, "session_state", {"_view": other})
    assert session._key(patients) == ("view", "k2", ("patient_id", "x", "y"))


def test_a_rerun_neither_reads_nor_hashes_the_uploaded_files_again(app_test, monkeypatch):
    from streamlit.runtime.uploaded_file_manager import UploadedFile

    from conftest import widget

    at = app_test()
    at.radio(key="data_source").set_value("upload").run()
    # the three files dropped together: the sorter reads each once, the load once more
    at.sidebar.file_uploader[3].set_value(
        [(f"demo_{t}.csv", (DATA / f"demo_{t}.csv").read_bytes(), "text/csv")
         for t in ("patients", "labs", "treatments")]).run()
    assert_clean(at)
    store = _view(at).store
    reads: list[str] = []
    original = UploadedFile.getvalue

    def counted(self):  # noqa: ANN001, ANN202
        import sys

        caller = sys._getframe(1).f_code.co_filename   # AppTest itself re-sends the files
        if "streamlit" not in Path(caller).parts:
            reads.append(f"{self.name} by {caller}")
        return original(self)

    monkeypatch.setattr(UploadedFile, "getvalue", counted)
    widget(at, "flt_crs_grade").set_value([1]).run()       # a filter change
    at.switch_page("views/lab_values.py").run()            # a page change
    assert_clean(at)
    assert reads == []          # the files are known by Streamlit's upload id, not by content
    assert _view(at).store is store                         # nor loaded or stored again
    assert _view(at).n == 13
    # the Data page's column mapping reads each file once, then shows its remembered preview
    at.switch_page("views/data.py").run()
    assert_clean(at)
    assert sorted(r.split(" by ")[0] for r in reads) == [
        "demo_labs.csv", "demo_patients.csv", "demo_treatments.csv"]
    assert {"patients · demo_patients.csv", "labs · demo_labs.csv",
            "treatments · demo_treatments.csv"} <= {h.value for h in at.subheader}
    reads.clear()
    widget(at, "flt_crs_grade").set_value([2]).run()
    assert_clean(at)
    assert reads == []


def test_a_big_upload_keeps_one_derived_cohort_a_small_one_four(app_test, monkeypatch):
    from core.endpoints import EndpointSettings
    from ui import session

    at = app_test()
    upload(at, "demo_patients.csv", (DATA / "demo_patients.csv").read_bytes())
    upload(at, "demo_labs.csv", (DATA / "demo_labs.csv").read_bytes(), slot=1)
    for lln in (150.0, 160.0, 170.0, 180.0, 190.0):        # five settings, one after another
        at.session_state[session.SETTINGS_KEY] = replace(EndpointSettings(),
                                                         fibrinogen_lln=lln)
        at.run()
    assert_clean(at)
    assert len(at.session_state["_derived"]) == 4           # the last four (demo-size labs)
    monkeypatch.setattr(session, "_BIG_LAB_ROWS", 1_000)    # the demo's labs count as big
    at.session_state[session.SETTINGS_KEY] = replace(EndpointSettings(), fibrinogen_lln=200.0)
    at.run()
    assert_clean(at)
    derived = at.session_state["_derived"]
    assert len(derived) == 1
    assert next(iter(derived))[1].fibrinogen_lln == 200.0   # the one in use
