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


def register_method(name: str, settings: type, *, table_file: str | None, summary: str, defaults: dict | None = None):
    """Decorator: ``@register_method("greedy", AQ4SViTSettings, ...)`` on ``run(ctx, settings)``."""

    def wrap(run):
        if name in _METHODS:
            raise ValueError(f"search method {name!r} is registered twice")
        _METHODS[name] = SearchMethod(name, settings, run, table_file, summary, dict(defaults or {}))
        return run

    return wrap


def get_method(name: str) -> SearchMethod:
    if name not in _METHODS:
        raise UsageError(f"unknown method {name!r}; valid methods: {', '.join(_METHODS)}")
    return _METHODS[name]


def method_names() -> tuple[str, ...]:
    return tuple(_METHODS)


def list_methods() -> str:
    return choices(_METHODS)
