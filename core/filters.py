"""CohortFilter: the sidebar state as a frozen value.

A filter is a set of conditions on patient columns. It turns into

* a parameterised SQL WHERE clause (values are never pasted into SQL; identifiers are quoted and
  must be columns of the loaded table),
* a one-line caption for figures: ``"CRS 1-2 · tisa-cel, axi-cel · tocilizumab ≥ 1 dose · n = 27"``,
* URL query parameters, so that a copied link reproduces the view.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from core import schema
from core.errors import ColumnError

Scalar = str | int | float
Op = Literal["in", "between"]

#: the order of conditions in captions and URLs: the clinically important first
CAPTION_ORDER = ("crs_grade", "product", "tocilizumab_doses", "tocilizumab_cum_mg", "disease",
                 "sex", "age", "corticosteroids", "icans_grade")
_SHORT = {"crs_grade": "CRS", "icans_grade": "ICANS", "tocilizumab_doses": "tocilizumab doses",
          "tocilizumab_cum_mg": "tocilizumab cum.", "corticosteroids": "steroids"}


def quote_ident(name: str) -> str:
    """Quote an SQL identifier (double quotes, embedded quotes doubled)."""
    return '"' + str(name).replace('"', '""') + '"'


@dataclass(frozen=True)
class Condition:
    """One condition: ``column IN values`` or ``column BETWEEN lo AND hi`` (inclusive)."""

    column: str
    op: Op
    values: tuple[Scalar, ...]

    def sql(self) -> tuple[str, list[Scalar]]:
        ident = quote_ident(self.column)
        if self.op == "between":
            return f"{ident} BETWEEN ? AND ?", [self.values[0], self.values[1]]
        if not self.values:
            return "FALSE", []
        return f"{ident} IN ({', '.join('?' * len(self.values))})", list(self.values)

    def caption(self) -> str:
        short = _SHORT.get(self.column, schema.PATIENT_COLUMNS[self.column].label.lower()
                           if self.column in schema.PATIENT_COLUMNS else self.column)
        unit = schema.unit_of(self.column)
        unit = f" {unit}" if unit and unit not in ("day", "years") else ""
        if self.op == "between":
            lo, hi = (_fmt(v) for v in self.values)
            return f"{short} {lo}–{hi}{unit}"
        vals = list(self.values)
        if self.column in ("tocilizumab", "corticosteroids", "bulky", "iec_hs"):
            names = ["yes" if v == 1 else "no" for v in vals]
            return f"{short}: {', '.join(names)}"
        ints = [v for v in vals if isinstance(v, int)]
        if len(ints) == len(vals) > 1 and ints == list(range(ints[0], ints[-1] + 1)):
            return f"{short} {ints[0]}-{ints[-1]}"
        text = ", ".join(_fmt(v) for v in vals)
        if self.column in ("product", "disease"):
            return text
        return f"{short} {text}"


def python_value(v: Any) -> Any:
    """A numpy scalar as a Python one, and a whole float as an int (2.0 -> 2).

    Values read back from DuckDB or pandas (distinct values for the sidebar, group labels of
    charts and tables) become the plain values that filters, captions and URLs use.
    """
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _fmt(v: Scalar) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return f"{v:g}" if isinstance(v, float) else str(v)


@dataclass(frozen=True)
class CohortFilter:
    """The cohort filter: conditions on patient columns, combined with AND.

    Build one with keyword shortcuts or :meth:`where`::

        CohortFilter().where("crs_grade", [1, 2]).between("tocilizumab_doses", 1, 4)
    """

    conditions: tuple[Condition, ...] = field(default_factory=tuple)

    # construction ---------------------------------------------------------------------------
    def where(self, column: str, values: Iterable[Scalar]) -> CohortFilter:
        """Keep rows whose ``column`` is one of ``values`` (replaces an earlier condition)."""
        vals = tuple(sorted(set(values), key=lambda v: (str(type(v)), v)))
        return self._set(Condition(column, "in", vals))

    def between(self, column: str, lo: float, hi: float) -> CohortFilter:
        """Keep rows with ``lo <= column <= hi`` (missing values are left out)."""
        lo, hi = sorted((float(lo), float(hi)))
        return self._set(Condition(column, "between", (lo, hi)))

    def without(self, column: str) -> CohortFilter:
        return replace(self, conditions=tuple(c for c in self.conditions if c.column != column))

    def _set(self, cond: Condition) -> CohortFilter:
        rest = tuple(c for c in self.conditions if c.column != cond.column)
        order = {c: i for i, c in enumerate(CAPTION_ORDER)}
        ordered = sorted((*rest, cond), key=lambda c: (order.get(c.column, 99), c.column))
        return replace(self, conditions=tuple(ordered))

    def get(self, column: str) -> Condition | None:
        return next((c for c in self.conditions if c.column == column), None)

    @property
    def is_empty(self) -> bool:
        return not self.conditions

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c.column for c in self.conditions)

    # outputs --------------------------------------------------------------------------------
    def to_sql(self, allowed_columns: Iterable[str] | None = None) -> tuple[str, list[Scalar]]:
        """A WHERE clause body and its parameters, e.g. ``('"crs_grade" IN (?, ?)', [1, 2])``.

        ``allowed_columns`` (the loaded table's columns) guards identifiers: a condition on any
        other column raises :class:`ColumnError`. An empty filter gives ``("TRUE", [])``.
        """
        if allowed_columns is not None:
            allowed = set(allowed_columns)
            unknown = [c.column for c in self.conditions if c.column not in allowed]
            if unknown:
                raise ColumnError(f"Filter on unknown column(s): {', '.join(unknown)}.")
        parts: list[str] = []
        params: list[Scalar] = []
        for c in self.conditions:
            s, p = c.sql()
            parts.append(s)
            params += p
        return (" AND ".join(parts) or "TRUE"), params

    def caption(self, n: int | None = None) -> str:
        """One line for figures, ``"CRS 1-2 · tisa-cel · n = 27"``; no filter: "All patients"."""
        parts = [c.caption() for c in self.conditions] or ["All patients"]
        if n is not None:
            parts.append(f"n = {n}")
        return " · ".join(parts)

    def to_query_params(self) -> dict[str, list[str]]:
        """URL parameters: ``{"crs_grade": ["1", "2"], "age": ["40..70"]}``."""
        out: dict[str, list[str]] = {}
        for c in self.conditions:
            if c.op == "between":
                out[c.column] = [f"{_fmt(c.values[0])}..{_fmt(c.values[1])}"]
            else:
                out[c.column] = [str(v) for v in c.values]
        return out

    @classmethod
    def from_query_params(cls, params: Mapping[str, Iterable[str]],
                          kinds: Mapping[str, str]) -> tuple[CohortFilter, list[str]]:
        """Rebuild a filter from URL parameters.

        Parameters
        ----------
        params : key -> values (repeated keys give several values).
        kinds : column -> "numeric" or "text" for the loaded table; keys not in it are ignored
            and reported (a link made for another data set).

        Returns
        -------
        (CohortFilter, list of str)
            The filter, and messages about parameters that were ignored.
        """
        flt, ignored = cls(), []
        for key, raw in params.items():
            values = [v for v in ([raw] if isinstance(raw, str) else list(raw)) if v != ""]
            if key not in kinds:
                ignored.append(f"'{key}' (not a column of this cohort)")
                continue
            if len(values) == 1 and ".." in values[0] and kinds[key] == "numeric":
                lo, _, hi = values[0].partition("..")
                try:
                    flt = flt.between(key, float(lo), float(hi))
                except ValueError:
                    ignored.append(f"'{key}={values[0]}' (not a range)")
                continue
            if kinds[key] == "numeric":
                try:
                    nums = [float(v) for v in values]
                except ValueError:
                    ignored.append(f"'{key}' (expected numbers)")
                    continue
                flt = flt.where(key, [int(v) if v.is_integer() else v for v in nums])
            else:
                flt = flt.where(key, values)
        return flt, ignored
