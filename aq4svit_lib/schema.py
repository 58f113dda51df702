"""Declarative settings: each field is declared once, with its default, its constraint and its help.

scikit-learn's parameter constraints are the model. From the one declaration come the validation
(:func:`validate`, called in ``__post_init__``: a wrong value is a usage error naming the field's flag
and what would be right), the command line's flags (:func:`add_arguments`) and the defaults every
other place reads (:func:`default`), so no default is written twice. Torch-free: the CLI imports it.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .errors import UsageError


class Constraint:
    """What a value must be: ``accepts`` decides, ``text`` says it in words, ``parse`` reads a command line."""

    text = "a value"

    def accepts(self, value: Any) -> bool:
        raise NotImplementedError

    def parse(self, text: str) -> Any:
        return text

    def normalize(self, value: Any) -> Any:
        return value


@dataclass(frozen=True)
class Interval(Constraint):
    """A number of ``kind`` (int or float) between ``low`` and ``high``; ``closed`` says which ends belong."""

    kind: type
    low: float | None = None
    high: float | None = None
    closed: str = "both"  # both, left, right, neither
    allow_inf: bool = False  # +inf is a meaningful value (a threshold that never prunes)

    @property
    def text(self) -> str:  # type: ignore[override]
        what = "an integer" if self.kind is int else "a number"
        left = self.closed in ("both", "left")
        right = self.closed in ("both", "right")
        if self.low is not None and self.high is not None:
            return f"{what} in {'[' if left else '('}{self.low:g}, {self.high:g}{']' if right else ')'}"
        if self.low is not None:
            return f"{what} {'>=' if left else '>'} {self.low:g}"
        if self.high is not None:
            return f"{what} {'<=' if right else '<'} {self.high:g}"
        return what

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.kind is int and (isinstance(value, float) and not value.is_integer()):
            return False
        if math.isnan(value) or (math.isinf(value) and not (self.allow_inf and value > 0)):
            return False
        if math.isinf(value):
            return self.low is None or value > self.low
        left, right = self.closed in ("both", "left"), self.closed in ("both", "right")
        if self.low is not None and (value < self.low or (value == self.low and not left)):
            return False
        return not (self.high is not None and (value > self.high or (value == self.high and not right)))

    def parse(self, text: str) -> Any:
        return self.kind(text)

    def normalize(self, value: Any) -> Any:
        return int(value) if self.kind is int else value


@dataclass(frozen=True)
class Options(Constraint):
    """One of a fixed set of strings."""

    values: tuple[str, ...]

    @property
    def text(self) -> str:  # type: ignore[override]
        return "one of " + ", ".join(self.values)

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.values


@dataclass(frozen=True)
class Boolean(Constraint):
    text = "true or false"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool)


@dataclass(frozen=True)
class Text(Constraint):
    text = "a non-empty string"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and bool(value.strip())


@dataclass(frozen=True)
class Checked(Constraint):
    """A value read by a function that raises UsageError on a wrong one and returns the normalized value
    (a bit list: ``"8,32,4"`` -> ``(32, 8, 4)``)."""

    read: Callable[[Any], Any]
    description: str

    @property
    def text(self) -> str:  # type: ignore[override]
        return self.description

    def accepts(self, value: Any) -> bool:
        try:
            self.read(value)
        except UsageError:
            return False
        return True

    def parse(self, text: str) -> Any:
        return self.read(text)

    def normalize(self, value: Any) -> Any:
        return self.read(value)


@dataclass(frozen=True)
class Setting:
    """The metadata one field carries."""

    constraint: Constraint | None
    help: str
    flag: str | None = None  # the command line's name, when not --<field-name>
    none: str = ""  # non-empty: None is allowed and means this
    cli: bool = True  # offered as a flag where the class's flags are


def setting(default: Any = dataclasses.MISSING, constraint: Constraint | None = None, help: str = "", *,
            factory: Callable[[], Any] | None = None, flag: str | None = None, none: str = "", cli: bool = True) -> Any:
    """A dataclass field declared with its constraint and help (``none``: what None means, when allowed)."""
    meta = {"setting": Setting(constraint, help, flag, none, cli), "help": help}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def spec_of(f: dataclasses.Field) -> Setting | None:
    return f.metadata.get("setting")


def flag_of(f: dataclasses.Field) -> str:
    spec = spec_of(f)
    return (spec.flag if spec and spec.flag else None) or "--" + f.name.replace("_", "-")


def dest_of(f: dataclasses.Field) -> str:
    """The attribute a parsed command line holds the field's value in (from its flag: --split-seed -> split_seed)."""
    return flag_of(f)[2:].replace("-", "_")


def validate(obj: Any) -> None:
    """Check every declared field of ``obj`` against its constraint; store the normalized value."""
    for f in dataclasses.fields(obj):
        spec = spec_of(f)
        if spec is None or spec.constraint is None:
            continue
        value = getattr(obj, f.name)
        if value is None and spec.none:
            continue
        where = f"{flag_of(f)} ({type(obj).__name__}.{f.name})" if spec.cli else f"{type(obj).__name__}.{f.name}"
        if isinstance(spec.constraint, Checked):  # its reader says what is wrong
            try:
                value = spec.constraint.read(value)
            except UsageError as exc:
                raise UsageError(f"{where}: {exc}") from None
        elif not spec.constraint.accepts(value):
            allowed = f" (or None: {spec.none})" if spec.none else ""
            raise UsageError(f"{where} must be {spec.constraint.text}{allowed}, got {value!r}")
        object.__setattr__(obj, f.name, spec.constraint.normalize(value))


def default(cls: type, name: str) -> Any:
    """A field's declared default (the one place it is written)."""
    f = {f.name: f for f in dataclasses.fields(cls)}[name]
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    raise KeyError(f"{cls.__name__}.{name} has no default")


def defaults(cls: type) -> dict[str, Any]:
    return {f.name: default(cls, f.name) for f in dataclasses.fields(cls)
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING}


def shown(value: Any, none: str = "none") -> str:
    """A default as a command line would spell it (None: what it means)."""
    if value is None:
        return none or "none"
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value))
    return str(value)


def shown_default(cls: type, f: dataclasses.Field) -> str:
    spec = spec_of(f)
    return shown(default(cls, f.name), spec.none if spec else "")


def _argtype(constraint: Constraint) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = constraint.parse(text)
        except (ValueError, UsageError):
            raise argparse.ArgumentTypeError(f"must be {constraint.text}, got {text!r}") from None
        if not constraint.accepts(value):
            raise argparse.ArgumentTypeError(f"must be {constraint.text}, got {text!r}")
        return constraint.normalize(value)

    parse.__name__ = type(constraint).__name__.lower()
    return parse


def argument_kwargs(spec: Setting) -> dict[str, Any]:
    """argparse keywords that read a flag the way the declaration's constraint accepts values."""
    if isinstance(spec.constraint, Boolean):
        return {"action": argparse.BooleanOptionalAction}
    if spec.constraint is None:
        return {}
    kwargs: dict[str, Any] = {"type": _argtype(spec.constraint)}
    if isinstance(spec.constraint, Options):
        kwargs["metavar"] = "{" + ",".join(spec.constraint.values) + "}"
    return kwargs


def add_arguments(parser: Any, cls: type, *, only: Iterable[str] | None = None, skip: Iterable[str] = (),
                  suppress: bool = False) -> list[str]:
    """One flag per declared field of ``cls`` (its type, default and help from the declaration); returns the dests.

    ``suppress``: an absent flag leaves no attribute (so a caller can tell "not given" from the default).
    """
    names = None if only is None else list(only)
    out = []
    for f in dataclasses.fields(cls):
        spec = spec_of(f)
        if spec is None or not spec.cli or f.name in set(skip) or (names is not None and f.name not in names):
            continue
        value = default(cls, f.name)
        text = spec.help + (f" (default: {shown_default(cls, f)})" if "default" not in spec.help else "")
        kwargs = {"dest": dest_of(f), "help": text, "default": argparse.SUPPRESS if suppress else value, **argument_kwargs(spec)}
        parser.add_argument(flag_of(f), **kwargs)
        out.append(dest_of(f))
    return out


def from_args(cls: type, args: argparse.Namespace, *, skip: Iterable[str] = ()) -> dict[str, Any]:
    """The values a parsed command line gives for ``cls``'s declared fields (absent ones left out)."""
    return {f.name: getattr(args, dest_of(f)) for f in dataclasses.fields(cls)
            if (spec := spec_of(f)) is not None and spec.cli and f.name not in set(skip) and hasattr(args, dest_of(f))}
