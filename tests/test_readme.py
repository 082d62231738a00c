"""The README's example of the public core API runs as written.

Every python block of the section "The public core API" is executed, in order, as one script in
a fresh interpreter at the repository root (as a user pastes it into a notebook), so the README
cannot drift from the code.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTION = "The public core API"


def _section(markdown: str, title: str) -> str:
    """The text under the ``## title`` heading, up to the next heading of level 1 or 2."""
    match = re.search(rf"^## {re.escape(title)}[ \t]*\n(.*?)(?=^#{{1,2}} |\Z)", markdown,
                      flags=re.M | re.S)
    assert match, f"README has no section '## {title}'"
    return match.group(1)


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python[ \t]*\n(.*?)^```", text, flags=re.M | re.S)


def test_the_section_has_an_example():
    blocks = _python_blocks(_section((ROOT / "README.md").read_text(encoding="utf-8"), SECTION))
    assert blocks and all(b.strip() for b in blocks)


def test_the_core_api_example_runs():
    blocks = _python_blocks(_section((ROOT / "README.md").read_text(encoding="utf-8"), SECTION))
    script = "\n".join(blocks)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, f"README example failed:\n{script}\n---\n{res.stderr[-3000:]}"
