"""ruff and mypy on the rooms that are clean (configuration: pyproject.toml).

Every path in :data:`CLEAN` must stay clean: a finding there fails this test, so ``make test``
runs ruff and mypy on those paths. The list began with core/stats and grew room by room as each
became clean; it now holds all application code: core/, ui/, views/ and app.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "pyproject.toml"

#: Paths (files or folders, relative to the repository root) held to zero findings.
CLEAN = [
    "core",   # every room: analyses, charts, endpoints, export, ingest, stats, and the modules
    "ui",
    "views",
    "app.py",
]


def _tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def _ruff(*paths: str | Path) -> subprocess.CompletedProcess[str]:
    return _tool("ruff", "check", "--config", str(CONFIG), "--no-fix",
                 "--output-format", "concise", *map(str, paths))


def _mypy(*paths: str | Path) -> subprocess.CompletedProcess[str]:
    return _tool("mypy", "--config-file", str(CONFIG), "--no-error-summary", *map(str, paths))


def test_clean_paths_exist():
    missing = [p for p in CLEAN if not (ROOT / p).exists()]
    assert not missing, f"listed as clean but not found (moved?): {missing}"


def test_ruff_finds_nothing_in_clean_paths():
    res = _ruff(*CLEAN)
    assert res.returncode == 0, f"ruff check {' '.join(CLEAN)}:\n{res.stdout}{res.stderr}"


def test_ruff_finds_nothing_anywhere():
    """Tests, benchmarks and tools are held to ruff too (mypy covers the application code)."""
    res = _ruff(".")
    assert res.returncode == 0, f"ruff check .:\n{res.stdout}{res.stderr}"


def test_mypy_finds_nothing_in_clean_paths():
    res = _mypy(*CLEAN)
    assert res.returncode == 0, f"mypy {' '.join(CLEAN)}:\n{res.stdout}{res.stderr}"


@pytest.fixture(scope="module")
def dirty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A module with one lint finding (unused import) and one type error."""
    path = tmp_path_factory.mktemp("lint") / "dirty.py"
    path.write_text('import os\n\n\ndef f(x: int) -> str:\n    return x\n')
    return path


def test_the_checks_can_fail(dirty: Path):
    """The harness is not vacuous: the same calls report a finding in a dirty file."""
    ruff, mypy = _ruff(dirty), _mypy(dirty)
    assert ruff.returncode == 1 and "F401" in ruff.stdout, ruff.stdout + ruff.stderr
    assert mypy.returncode == 1 and "return-value" in mypy.stdout, mypy.stdout + mypy.stderr
