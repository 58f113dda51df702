"""Search methods register here, as models do in :mod:`aq4svit_lib.models.registry` (timm's pattern).

A method is one module: a settings dataclass (its fields are the method's options: the CLI, the
result file and the reproduce cache key derive from them) and a function
``run(ctx, settings) -> MethodOutput``. Registering it makes ``run_search``, ``aq4svit search
--method NAME`` and ``reproduce.ensure_search`` accept it without editing any of them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..errors import UsageError, choices


@dataclass
class MethodOutput:
    """What a method hands back: its final configuration, its table and the method-specific result fields."""

    bits: dict[str, int]
    table: pd.DataFrame | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SearchMethod:
    name: str
    settings: type  # a dataclass; every field has a default
    run: Callable[[Any, Any], MethodOutput]
    table_file: str | None  # where the method's table goes in the result folder
    summary: str
    defaults: dict = field(default_factory=dict)  # fixed fields, e.g. AQ4SViT's ``method``
    # how the method appears everywhere else, carried by its registration (nothing is edited elsewhere):
    display_name: str = ""  # figure legends and Markdown tables (default: the name)
    color: str = "#555555"  # one colour per method in every figure
    marker: str = "o"
    peer: bool = False  # one of notebook 07's compared methods (and `aq4svit compare`'s default list)
    notebook_variant: bool = False  # notebook 04 runs once per such method (its `method` parameter)
    order: int = 100  # where it appears in lists and tables
    #: whose method it is, shown next to it in every comparison: "as specified" (a paper's algorithm as written),
    #: "field" (the practitioners' and black-box methods), "ours" (our extensions, labelled as such)
    family: str = "field"
    module: str = ""  # the module that registered it: a cached result keys on its code

    def options(self) -> list[dataclasses.Field]:
        """The user-settable fields (those not fixed by the registration)."""
        return [f for f in dataclasses.fields(self.settings) if f.name not in self.defaults]

    def make_settings(self, **values):
        """The method's settings from ``values``; unknown names are a usage error naming the valid ones."""
        valid = {f.name for f in self.options()}
        unknown = sorted(set(values) - valid)
        if unknown:
            raise UsageError(f"{', '.join(unknown)}: not a setting of {self.name}; its settings: {', '.join(sorted(valid))}")
        return self.settings(**self.defaults, **values)


_METHODS: dict[str, SearchMethod] = {}
FAMILIES = ("as specified", "field", "ours")


def register_method(name: str, settings: type, *, table_file: str | None, summary: str, defaults: dict | None = None,
                    display_name: str = "", color: str = "#555555", marker: str = "o", peer: bool = False,
                    notebook_variant: bool = False, order: int = 100, family: str = "field"):
    """Decorator: ``@register_method("greedy", AQ4SViTSettings, ...)`` on ``run(ctx, settings)``; the keywords say how
    the method appears in figures, tables, notebook 07 (``peer``) and notebook 04 (``notebook_variant``)."""

    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {family!r}")

    def wrap(run):
        if name in _METHODS:
            raise ValueError(f"search method {name!r} is registered twice")
        _METHODS[name] = SearchMethod(name, settings, run, table_file, summary, dict(defaults or {}), display_name or name, color,
                                      marker, peer, notebook_variant, order, family, run.__module__)
        return run

    return wrap


_DISCOVERED = False
ENTRY_POINT_GROUP = "aq4svit.methods"


def discover() -> None:
    """Register the built-in methods (every module of this package) and the installed plugins (entry points), once."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    _DISCOVERED = True
    from ..plugins import import_package_modules, load_entry_points

    import_package_modules(__package__ or "aq4svit_lib.search", skip=("run",))
    load_entry_points(ENTRY_POINT_GROUP)


def all_methods() -> dict[str, SearchMethod]:
    discover()
    return dict(sorted(_METHODS.items(), key=lambda kv: (kv[1].order, kv[0])))


def get_method(name: str) -> SearchMethod:
    methods = all_methods()
    if name not in methods:
        raise UsageError(f"unknown method {name!r}; valid methods: {', '.join(methods)}")
    return methods[name]


def method_names() -> tuple[str, ...]:
    return tuple(all_methods())


def peer_methods() -> tuple[str, ...]:
    """Notebook 07's compared methods, in their registered order."""
    return tuple(n for n, m in all_methods().items() if m.peer)


def notebook_variants() -> tuple[str, ...]:
    """The methods notebook 04 runs, one executed copy each."""
    return tuple(n for n, m in all_methods().items() if m.notebook_variant)


def list_methods() -> str:
    return choices(all_methods())
