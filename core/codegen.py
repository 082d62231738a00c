"""Code that recomputes a panel: one object both runs the computation and prints it.

A page does not write its "Show code" text by hand. It describes the computation once, as a
:class:`Recipe` of :class:`Call` steps, and the same object

* runs it (:meth:`Recipe.run`, with the page's data bound to the :class:`Ref` names), and
* prints it (:meth:`Recipe.code`): the few lines of ``core`` API a notebook runs to get the
  same result, with the page's arguments as Python literals,

so the shown code cannot drift from what the page computes. :func:`setup_code` prints the lines
that make ``patients`` (and ``labs``, ``treatments``, ``store``) for a data source, endpoint
settings and filter; :func:`filter_code` a :class:`~core.filters.CohortFilter` as the expression
that builds it; :func:`summary` turns a result into plain numbers to compare a notebook's result
with the app's::

    recipe = Recipe.of(result=Call(table_one, PATIENTS, "tocilizumab", ()))
    recipe.run({"patients": view.patients})["result"]    # what the page draws
    print(recipe.code())   # from core.analyses.cohort import table_one
                           # result = table_one(patients, 'tocilizumab', ())
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CODE_NAMES", "FLT", "LABS", "PATIENTS", "SETTINGS", "STORE", "TREATMENTS", "Call",
           "Item", "PanelCode", "Recipe", "Ref", "filter_code", "import_lines", "literal",
           "panel_code", "settings_code", "setup_code", "summary"]

#: The names :func:`setup_code` defines, in the order it defines them.
CODE_NAMES = ("settings", "store", "flt", "patients", "labs", "treatments")


@dataclass(frozen=True)
class Ref:
    """A name the code reads (``patients``, ``labs``, ``treatments``, ``store``, ``settings``,
    or an earlier step of the recipe); bound to a value when the recipe runs.

    Parameters
    ----------
    name : str
        A Python identifier.
    """

    name: str

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"Ref name must be an identifier; got {self.name!r}.")


    def __getitem__(self, key: Any) -> Item:  # noqa: ANN401
        """``patients["crs_grade"]`` in a recipe: the column of what the name is bound to."""
        return Item(self, key)


@dataclass(frozen=True)
class Item:
    """``base[key]``: a column of a bound frame (``PATIENTS["crs_grade"]``).

    Parameters
    ----------
    base : Ref or Call
    key : str or int
        A literal.
    """

    base: Any
    key: Any


PATIENTS, LABS, TREATMENTS = Ref("patients"), Ref("labs"), Ref("treatments")
STORE, SETTINGS, FLT = Ref("store"), Ref("settings"), Ref("flt")


class Call:
    """One call of a ``core`` function (or of a method of a ``core`` value) with its arguments.

    Parameters
    ----------
    fn : callable
        A module-level function, or a bound method of a dataclass value (e.g.
        ``OutcomeSpec("crs_grade", ">=", 2).values``).
    *args, **kwargs
        The arguments: literals (numbers, text, None, tuples, lists, dicts, dataclass values such
        as :class:`~core.filters.CohortFilter` or
        :class:`~core.endpoints.EndpointSettings`), :class:`Ref` names, or other
        :class:`Call` objects (run first, printed inline).

    Raises
    ------
    ValueError
        ``fn`` cannot be imported by its module and name (a lambda, a local function), so the
        printed code could not run.
    """

    __slots__ = ("args", "fn", "kwargs")

    def __init__(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        _importable(fn)

    def __repr__(self) -> str:
        return f"Call({self.expr(set())})"

    # running --------------------------------------------------------------------------------
    def resolve(self, env: Mapping[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The arguments with :class:`Ref` names looked up in ``env`` and inner calls run.

        Parameters
        ----------
        env : Mapping[str, Any]

        Returns
        -------
        (tuple, dict)
            Positional and keyword arguments for ``fn``.
        """
        return (tuple(_resolve(a, env) for a in self.args),
                {k: _resolve(v, env) for k, v in self.kwargs.items()})

    def run(self, env: Mapping[str, Any]) -> Any:  # noqa: ANN401 - any core result
        """``fn(*args, **kwargs)`` with the arguments resolved in ``env``.

        Parameters
        ----------
        env : Mapping[str, Any]

        Returns
        -------
        Any
            What ``fn`` returns.
        """
        args, kwargs = self.resolve(env)
        return self.fn(*args, **kwargs)

    # printing -------------------------------------------------------------------------------
    def refs(self) -> set[str]:
        """The :class:`Ref` names the call reads (inner calls included)."""
        out: set[str] = set()
        for value in (*self.args, *self.kwargs.values()):
            _collect_refs(value, out)
        return out

    def expr(self, imports: set[tuple[str, str]]) -> str:
        """The call as one Python expression; adds what it needs to ``imports``.

        Parameters
        ----------
        imports : set of (module, name)
            ``from module import name`` lines needed; updated in place.

        Returns
        -------
        str
        """
        owner = getattr(self.fn, "__self__", None)
        if owner is not None and not isinstance(owner, type):
            head = f"{literal(owner, imports)}.{self.fn.__name__}"
        else:
            imports.add(_public(self.fn.__module__, self.fn.__qualname__))
            head = self.fn.__qualname__
        parts = [literal(a, imports) for a in self.args]
        parts += [f"{k}={literal(v, imports)}" for k, v in self.kwargs.items()]
        return f"{head}({', '.join(parts)})"


def _importable(fn: Callable[..., Any]) -> None:
    owner = getattr(fn, "__self__", None)
    if owner is not None and not isinstance(owner, type):
        if not dataclasses.is_dataclass(owner):
            raise ValueError(f"{fn!r}: only methods of dataclass values can be printed.")
        _importable_name(type(owner).__module__, type(owner).__qualname__)
        return
    _importable_name(getattr(fn, "__module__", None), getattr(fn, "__qualname__", ""))


def _importable_name(module: str | None, qualname: str) -> None:
    if not module or "<" in qualname:
        raise ValueError(f"{module}.{qualname} cannot be imported by name.")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise ValueError(f"{module}.{qualname} cannot be imported by name.")


def _public(module: str, qualname: str) -> tuple[str, str]:
    """(module, name) to import ``qualname`` from: the shortest package path that exports the
    same object (``core.endpoints`` rather than ``core.endpoints.settings``)."""
    name = qualname.split(".")[0]
    target = getattr(importlib.import_module(module), name)
    parts = module.split(".")
    for i in range(1, len(parts)):
        candidate = ".".join(parts[:i])
        if getattr(importlib.import_module(candidate), name, None) is target:
            return candidate, name
    return module, name


def _resolve(value: Any, env: Mapping[str, Any]) -> Any:  # noqa: ANN401
    if isinstance(value, Ref):
        if value.name not in env:
            raise KeyError(f"Nothing bound to {value.name!r}.")
        return env[value.name]
    if isinstance(value, Call):
        return value.run(env)
    if isinstance(value, Item):
        return _resolve(value.base, env)[value.key]
    if isinstance(value, tuple):
        return tuple(_resolve(v, env) for v in value)
    if isinstance(value, list):
        return [_resolve(v, env) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, env) for k, v in value.items()}
    return value


def _collect_refs(value: Any, out: set[str]) -> None:  # noqa: ANN401
    if isinstance(value, Ref):
        out.add(value.name)
    elif isinstance(value, Call):
        out |= value.refs()
    elif isinstance(value, Item):
        _collect_refs(value.base, out)
    elif isinstance(value, (tuple, list)):
        for v in value:
            _collect_refs(v, out)
    elif isinstance(value, dict):
        for v in value.values():
            _collect_refs(v, out)


@dataclass(frozen=True)
class Recipe:
    """Named steps; each step's result is bound to its name for the steps after it.

    Parameters
    ----------
    steps : tuple of (str, Call)
        In order; the last step's result is the panel's result.
    """

    steps: tuple[tuple[str, Call], ...]

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError("A recipe needs at least one step.")
        for name, step in self.steps:
            if not name.isidentifier() or not isinstance(step, Call):
                raise ValueError(f"Step {name!r}: need an identifier and a Call.")

    @classmethod
    def of(cls, **steps: Call) -> Recipe:
        """``Recipe.of(event=Call(...), result=Call(...))``, steps in keyword order."""
        return cls(tuple(steps.items()))

    @property
    def result_name(self) -> str:
        """The name of the last step."""
        return self.steps[-1][0]

    def refs(self) -> set[str]:
        """The names the recipe reads from outside (not made by an earlier step)."""
        made: set[str] = set()
        out: set[str] = set()
        for name, step in self.steps:
            out |= step.refs() - made
            made.add(name)
        return out

    def run(self, env: Mapping[str, Any],
            call: Callable[[Call, Mapping[str, Any]], Any] | None = None) -> dict[str, Any]:
        """Run every step.

        Parameters
        ----------
        env : Mapping[str, Any]
            Values of the names the recipe reads (see :meth:`refs`); read lazily.
        call : callable, optional
            ``call(step, names) -> result`` runs one step (default :meth:`Call.run`); the app
            passes one that memoises.

        Returns
        -------
        dict
            Step name -> its result, in step order.
        """
        run = call or (lambda step, names: step.run(names))
        made: dict[str, Any] = {}
        names = _Chain(made, env)
        for name, step in self.steps:
            made[name] = run(step, names)
        return made

    def code(self) -> str:
        """Import lines, then one assignment per step.

        Returns
        -------
        str
            E.g. ``"from core.analyses.cohort import table_one\\n\\nresult = table_one(...)"``.
        """
        imports: set[tuple[str, str]] = set()
        lines = [f"{name} = {step.expr(imports)}" for name, step in self.steps]
        return "\n".join([*import_lines(imports), "", *lines])


class _Chain(Mapping[str, Any]):
    """The steps made so far, then the outer names (read lazily: ``labs`` is only fetched
    when a step reads it)."""

    def __init__(self, first: Mapping[str, Any], second: Mapping[str, Any]) -> None:
        self._first, self._second = first, second

    def __getitem__(self, key: str) -> Any:  # noqa: ANN401
        if key in self._first:
            return self._first[key]
        return self._second[key]

    def __contains__(self, key: object) -> bool:
        return key in self._first or key in self._second

    def __iter__(self) -> Any:  # noqa: ANN401
        yield from self._first
        yield from (k for k in self._second if k not in self._first)

    def __len__(self) -> int:
        return len(set(self._first) | set(self._second))


def import_lines(imports: Iterable[tuple[str, str]]) -> list[str]:
    """``from module import a, b`` lines, one per module, sorted.

    Parameters
    ----------
    imports : iterable of (module, name)

    Returns
    -------
    list of str
    """
    by_module: dict[str, set[str]] = {}
    for module, name in imports:
        by_module.setdefault(module, set()).add(name)
    return [f"from {m} import {', '.join(sorted(names))}" for m, names in sorted(by_module.items())]


# ---------------------------------------------------------------------------------------------
# Literals
# ---------------------------------------------------------------------------------------------

def literal(value: Any, imports: set[tuple[str, str]]) -> str:  # noqa: ANN401, C901
    """``value`` as Python source that evaluates to an equal value.

    Parameters
    ----------
    value : Any
        None, bool, int, float, str, numpy scalars, tuples, lists, dicts and ranges of those,
        a :class:`~core.filters.CohortFilter`, a dataclass value (only the fields that differ
        from their defaults are written), an importable function, a :class:`Ref` or a
        :class:`Call`.
    imports : set of (module, name)
        Updated in place with the imports the source needs.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        A value that cannot be written as code (a DataFrame: pass a :class:`Ref`).
    """
    from core.filters import CohortFilter

    if isinstance(value, Ref):
        return value.name
    if isinstance(value, Call):
        return value.expr(imports)
    if isinstance(value, Item):
        return f"{literal(value.base, imports)}[{literal(value.key, imports)}]"
    if hasattr(value, "item") and not hasattr(value, "__len__"):  # numpy scalar
        value = value.item()
    if value is None or isinstance(value, (bool, int, str, range)):
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            imports.add(("math", "inf" if math.isinf(value) else "nan"))
            return ("-" if value < 0 else "") + ("inf" if math.isinf(value) else "nan")
        return repr(value)
    if isinstance(value, tuple):
        inner = [literal(v, imports) for v in value]
        return f"({inner[0]},)" if len(inner) == 1 else f"({', '.join(inner)})"
    if isinstance(value, list):
        return f"[{', '.join(literal(v, imports) for v in value)}]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k, imports)}: {literal(v, imports)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, CohortFilter):
        imports.add(("core.filters", "CohortFilter"))
        return filter_code(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _dataclass_literal(value, imports)
    if callable(value) and not isinstance(value, type):
        _importable(value)
        imports.add(_public(value.__module__, value.__qualname__))
        return value.__qualname__
    raise ValueError(f"A {type(value).__name__} cannot be written as code; bind it to a Ref.")


def _dataclass_literal(value: Any, imports: set[tuple[str, str]]) -> str:  # noqa: ANN401
    cls = type(value)
    _importable_name(cls.__module__, cls.__qualname__)
    imports.add(_public(cls.__module__, cls.__qualname__))
    parts = []
    for f in dataclasses.fields(value):
        if not f.init:
            continue
        v = getattr(value, f.name)
        if f.default is not dataclasses.MISSING and _same(v, f.default):
            continue
        if f.default_factory is not dataclasses.MISSING and _same(v, f.default_factory()):
            continue
        parts.append(f"{f.name}={literal(v, imports)}")
    return f"{cls.__qualname__}({', '.join(parts)})"


def _same(a: Any, b: Any) -> bool:  # noqa: ANN401
    try:
        return type(a) is type(b) and bool(a == b)
    except (TypeError, ValueError):
        return False


def filter_code(flt: Any) -> str:  # noqa: ANN401 - a CohortFilter
    """The expression that builds ``flt``: ``CohortFilter().where("crs_grade", [1, 2])``.

    Parameters
    ----------
    flt : CohortFilter

    Returns
    -------
    str
        ``CohortFilter()`` followed by one ``.where`` / ``.between`` per condition.
    """
    text = "CohortFilter()"
    for c in flt.conditions:
        if c.op == "between":
            lo, hi = c.values
            text += f".between({c.column!r}, {float(lo)!r}, {float(hi)!r})"
        else:
            text += f".where({c.column!r}, {list(c.values)!r})"
    return text


def settings_code(settings: Any) -> str:  # noqa: ANN401 - an EndpointSettings
    """``EndpointSettings(...)`` with the fields that differ from the defaults.

    Parameters
    ----------
    settings : EndpointSettings

    Returns
    -------
    str
    """
    return literal(settings, set())


def _setup(flt: Any, settings: Any, *, synthetic: bool, source: str,  # noqa: ANN401
           needs: Iterable[str], imports: set[tuple[str, str]]) -> list[str]:
    """The setup lines of :func:`setup_code`; adds their imports to ``imports``."""
    from core.filters import CohortFilter

    needs = set(needs)
    imports |= {("core.endpoints", "EndpointSettings"), ("core.endpoints", "apply_to_cohort"),
                ("core.store", "CohortStore"), ("core.filters", "CohortFilter")}
    body = []
    if synthetic:
        imports.add(("core", "ingest"))
        body.append("cohort = ingest.load_demo()")
    else:
        body += [f"# cohort = your upload ({source or 'your files'}), loaded as the app does:",
                 "# cohort = ingest.load_upload(ingest.Upload('patients.csv', "
                 "open('patients.csv', 'rb').read()), ...)"]
    body.append(f"settings = {literal(settings, imports)}")
    body.append("store = CohortStore(apply_to_cohort(cohort, settings).cohort)")
    body.append(f"flt = {literal(flt if flt is not None else CohortFilter(), imports)}")
    for name in ("patients", "labs", "treatments"):
        if name in needs:
            body.append(f"{name} = store.{name}(flt)")
    return body


def setup_code(flt: Any, settings: Any, *, synthetic: bool,  # noqa: ANN401
               source: str = "", needs: Iterable[str] = ("patients",)) -> str:
    """The lines that make ``store`` and the filtered ``patients`` (``labs``, ``treatments``).

    Parameters
    ----------
    flt : CohortFilter
    settings : EndpointSettings
    synthetic : bool
        The demo: the code loads it; otherwise it expects ``cohort`` (the user's upload,
        loaded with :func:`core.ingest.load_upload`) and says so in a comment.
    source : str
        The upload's file names, for the comment.
    needs : iterable of str
        The names the panel's recipe reads (``patients``, ``labs``, ``treatments``, ``store``,
        ``settings``).

    Returns
    -------
    str
    """
    imports: set[tuple[str, str]] = set()
    body = _setup(flt, settings, synthetic=synthetic, source=source, needs=needs,
                  imports=imports)
    return "\n".join([*import_lines(imports), "", *body])


def panel_code(recipe: Recipe, flt: Any, settings: Any, *, synthetic: bool,  # noqa: ANN401
               source: str = "") -> str:
    """The whole "Show code" text of a panel: imports, setup (:func:`setup_code`), steps.

    Parameters
    ----------
    recipe : Recipe
    flt : CohortFilter
    settings : EndpointSettings
    synthetic : bool
    source : str

    Returns
    -------
    str
        Runs as it is on the demo; on an upload once ``cohort`` is loaded.
    """
    imports: set[tuple[str, str]] = set()
    body = _setup(flt, settings, synthetic=synthetic, source=source, needs=recipe.refs(),
                  imports=imports)
    steps = [f"{name} = {step.expr(imports)}" for name, step in recipe.steps]
    return "\n".join([*import_lines(imports), "", *body, *steps])


# ---------------------------------------------------------------------------------------------
# Comparing results
# ---------------------------------------------------------------------------------------------

def summary(value: Any) -> Any:  # noqa: ANN401, C901
    """A result as plain JSON-like data, to compare two computations of it.

    Parameters
    ----------
    value : Any
        A result dataclass, DataFrame, Series, number, text or a container of those.

    Returns
    -------
    Any
        Dataclasses -> dict of their fields (private fields and charts left out); DataFrames
        -> ``{"columns": [...], "rows": [[...], ...]}``; Series -> list; numbers as float
        (NaN and missing -> None); anything else -> ``str``.
    """
    import numpy as np
    import pandas as pd

    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        f = float(value)
        return None if math.isnan(f) else f
    if isinstance(value, str):
        return value
    if isinstance(value, pd.DataFrame):
        frame = value.reset_index(drop=True)
        return {"columns": [str(c) for c in frame.columns],
                "rows": [[summary(v) for v in row] for row in frame.itertuples(index=False)]}
    if isinstance(value, pd.Series):
        return [summary(v) for v in value.tolist()]
    if isinstance(value, np.ndarray):
        return [summary(v) for v in value.tolist()]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: summary(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not f.name.startswith("_")}
    if isinstance(value, Mapping):
        return {str(k): summary(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [summary(v) for v in value]
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


@dataclass(frozen=True)
class PanelCode:
    """A panel's recipe with what it was computed on: the filter, the endpoint settings and
    the data source (kept with a pinned figure, so the report's notebook can redo it).

    Parameters
    ----------
    recipe : Recipe
    flt : CohortFilter
    settings : EndpointSettings
    synthetic : bool
        The demo cohort.
    source : str
        The data source's name (uploaded file names).
    """

    recipe: Recipe
    flt: Any
    settings: Any
    synthetic: bool = False
    source: str = ""

    def text(self) -> str:
        """The "Show code" text (:func:`panel_code`)."""
        return panel_code(self.recipe, self.flt, self.settings, synthetic=self.synthetic,
                          source=self.source)
