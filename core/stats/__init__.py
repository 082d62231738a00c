"""Statistics of the CAR-T cohort explorer: one public API for the app and for notebooks.

Each function takes a DataFrame and column names and returns a small frozen result object with
tidy DataFrames inside (column names documented in each docstring). Rows with a missing value in
the columns used are left out and counted. Every function agrees with R 4.2 to 4 significant
digits; the R code that produced the reference values sits beside them in ``tests/``.

>>> from core import stats
>>> stats.compare_groups(df, "fibrinogen_nadir", "crs_grade").pvalue   # doctest: +SKIP
"""

from core.stats.groups import (  # noqa: F401
    CompareResult, ContingencyResult, CorrelationResult, compare_groups, contingency, correlate,
)
from core.stats.regression import LogisticResult, logistic  # noqa: F401
from core.stats.survival import CoxResult, KaplanMeierResult, cox, kaplan_meier  # noqa: F401
