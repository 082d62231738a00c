"""Statistics of the CAR-T cohort explorer: one public API for the app and for notebooks.

Each function takes a DataFrame and column names and returns a small frozen result object with
tidy DataFrames inside (column names documented in each docstring) and typed ``notes``
(:class:`core.notes.Note`; ``messages`` gives their texts). Rows with a missing value in the
columns used are left out and counted. Every function agrees with R 4.2 to 4 significant
digits; the R code that produced the reference values sits beside them in ``tests/``.

Rooms (one concept per module)
------------------------------
compare            compare_groups (Kruskal-Wallis, Mann-Whitney, Dunn post hoc), tukey_box
correlation        correlate, correlation_matrix_frame
contingency_tests  contingency (chi-square, Fisher; test choice)
fisher_exact       Fisher 2x2 p and the exact r x c enumeration
multiplicity       holm
design             design_matrix (treatment coding), collinearity
regression         logistic (ML, separation; from firth.FAST_MIN_ROWS patients on distinct rows
                   with counts, separation LP by row generation)
firth              Firth's penalised logistic fit, LRT p, profile CIs (frequency weights at
                   large n: collapse)
survival           kaplan_meier (lifelines KaplanMeierFitter; R's median rule), time/event checks
logrank            log-rank and pairwise log-rank (lifelines multivariate_logrank_test)
cox_model          cox (lifelines CoxPHFitter, Efron ties; CoxTimeVaryingFitter for start-stop;
                   from efron.FAST_MIN_ROWS rows its own Newton-Raphson on vectorised sums)
efron              Efron partial likelihood, score, information and cox.zph blocks (loops;
                   vectorised efron_fast from FAST_MIN_ROWS rows)
ph_test            cox.zph
competing          cumulative_incidence (Aalen-Johansen, cmprsk variance), Gray's test
_common            complete cases, option checks, solver budgets, shared constants,
                   distinct_rows

Example (``df`` a patient table; the README's runnable example is checked by
``tests/test_readme.py``)::

    from core import stats
    res = stats.compare_groups(df, "fibrinogen_nadir", "crs_grade")
    res.pvalue, res.posthoc, [n.text for n in res.notes if n.kind == "dropped"]
"""

from core.stats._common import (
    DEFAULT_SEED,
    EPV_MIN,
    SolverBudget,
    complete_cases,
    numeric,
    python_value,
    require_columns,
)
from core.stats.compare import TUKEY_BOX_COLUMNS, CompareResult, compare_groups, dunn, tukey_box
from core.stats.competing import CumulativeIncidenceResult, GrayResult, cumulative_incidence
from core.stats.contingency_tests import (
    CONTINGENCY_TESTS,
    ContingencyResult,
    ContingencyTest,
    contingency,
)
from core.stats.correlation import (
    CORRELATION_METHODS,
    CorrelationMethod,
    CorrelationResult,
    correlate,
    correlation_matrix_frame,
)
from core.stats.cox_model import CoxResult, cox
from core.stats.design import INTERCEPT, Design, aliased_terms, check_full_rank, design_matrix
from core.stats.logrank import LogRankResult
from core.stats.multiplicity import holm
from core.stats.regression import LOGISTIC_METHODS, LogisticMethod, LogisticResult, logistic
from core.stats.survival import KaplanMeierResult, kaplan_meier

__all__ = [
    "CONTINGENCY_TESTS", "CORRELATION_METHODS", "DEFAULT_SEED", "EPV_MIN", "INTERCEPT",
    "LOGISTIC_METHODS", "TUKEY_BOX_COLUMNS", "CompareResult", "ContingencyResult",
    "ContingencyTest", "CorrelationMethod", "CorrelationResult", "CoxResult",
    "CumulativeIncidenceResult", "Design", "GrayResult",
    "KaplanMeierResult", "LogRankResult", "LogisticMethod", "LogisticResult", "SolverBudget",
    "aliased_terms", "check_full_rank", "compare_groups", "complete_cases", "contingency",
    "correlate", "correlation_matrix_frame", "cox", "cumulative_incidence", "design_matrix",
    "dunn", "holm", "kaplan_meier", "logistic", "numeric", "python_value",
    "require_columns", "tukey_box",
]
