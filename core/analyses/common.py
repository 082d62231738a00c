"""Constants shared by the analyses of several pages.

The seed of every sample and the scalar conversion are core-wide and live once in
:mod:`core.stats` (``DEFAULT_SEED``, ``python_value``); the analyses import them from there.
"""

from __future__ import annotations

from typing import Any

#: points a panel returns at most (a seeded sample beyond; statistics use every value)
DEFAULT_MAX_POINTS = 2000
#: the paper pools CRS grades 3 and 4 ("high-grade CRS")
POOL_CRS_34: dict[Any, str] = {3: "3-4", 4: "3-4"}
