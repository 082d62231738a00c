"""Benchmark: uploading a patient table with 2,000 columns (41 rows) through the real app.

Hospital exports often carry every field of the registry. The sidebar, the Cohort page and the
column pickers must not scan every column on every rerun. Prints the wall time of the upload
rerun (sidebar + Cohort page), of a filter change, and of opening each page, through AppTest.
Run: `.venv/bin/python benchmarks/wide_upload.py [n_columns]`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import upload, wide_patients_csv, widget  # noqa: E402

PAGES = ["views/cohort.py", "views/data.py", "views/lab_values.py", "views/correlations.py",
         "views/tocilizumab.py", "views/paper_figures.py", "views/risk_factors.py",
         "views/survival.py"]


def main(n_columns: int = 2000) -> None:
    from streamlit.testing.v1 import AppTest

    data = wide_patients_csv(n_columns)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    t0 = time.perf_counter()
    upload(at, "wide.csv", data)
    print(f"upload of {n_columns} columns x 41 rows (sidebar + Cohort page): "
          f"{time.perf_counter() - t0:.2f} s; exceptions: {len(at.exception)}")
    t0 = time.perf_counter()
    widget(at, "flt_crs_grade").set_value([1, 2]).run()
    print(f"filter change (CRS 1-2): {time.perf_counter() - t0:.2f} s")
    for page in PAGES:
        t0 = time.perf_counter()
        at.switch_page(page).run()
        print(f"{page}: {time.perf_counter() - t0:.2f} s; exceptions: {len(at.exception)}, "
              f"errors: {len(at.error)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
