"""The error hierarchy of core.

Every error a user can cause (with the data they uploaded, or the columns, groups and settings
they chose) is a :class:`CohortError`; its message says what to fix. Pages show it through
``ui.guard``; anything else is a bug.

A bad argument that no user can cause, because the app never offers it (an unknown option such
as ``logistic(method="frith")``, a string where a list is expected), is a programmer error and
raises ``ValueError`` or ``TypeError``: it must reach the developer as a traceback, not the user
as advice.
"""

from __future__ import annotations


class CohortError(Exception):
    """Base class: a problem the user can fix. ``str(exc)`` is written for the user."""


class DataFormatError(CohortError):
    """A file could not be read as a table (empty, binary, unknown format, bad encoding)."""


class ValidationError(CohortError):
    """The table was read but cannot be used as it is (missing patient_id, duplicate IDs, ...)."""


class ColumnError(CohortError):
    """A named column does not exist or has the wrong kind (text where a number is needed)."""


class InsufficientDataError(CohortError):
    """A statistic cannot be computed: too few observations, a single group, no events, ..."""


class ExportError(CohortError):
    """A figure or report could not be built."""
