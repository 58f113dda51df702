"""Where a search's evaluations run: the executor seam of the evaluation engine.

A search asks the :class:`~aq4svit_lib.evaluate.Evaluator` one question at a time, as always. The
executor decides where an answer that is not in the memo is computed:

- ``serial`` (the default): in this process, on demand -- the engine exactly as it was;
- ``ray`` (:mod:`.ray_executor`): on long-lived Ray actors, each holding the model, the splits and its
  own prefix cache. The driver keeps the memo (one writer), the trace and the search state; it does no
  heavy torch work itself (every evaluation goes to a worker, so the memo's numerics are the workers').

Parallelism comes from :meth:`Evaluator.prefetch`: where an algorithm knows several independent
questions ahead (Algorithm 1's single-group candidates, a Beam round's children, Greedy's remaining
ladder of one unit, a baseline's batch), it hands them over at once; the workers answer them in
parallel and the answers land in the memo. The algorithm then runs its serial loop unchanged and
finds them there, so its decisions -- and the final configuration, accuracies and evaluation counts --
are the serial run's. Questions the loop never asks (a speculative step past Greedy's first failure)
cost worker time and count in ``images_forwarded``, never in the evaluation counts. With ``serial``
a prefetch does nothing.

Executors register like search methods (:func:`register_executor`), so a new backend is one module.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from ..errors import UsageError, choices
from ..quant.quantizers import QuantScheme
from .protocols import ExecutorProtocol

E = TypeVar("E", bound=ExecutorProtocol)


@dataclass(frozen=True)
class Request:
    """One question for the engine: ``accuracy`` of ``bits`` on ``split`` (with an early-rejection
    ``floor``), ``drift`` of ``bits`` on the minibatch, or the hardest-first ``order`` of ``split``."""

    kind: str
    bits: tuple[tuple[str, int], ...] = ()
    split: str = "search"
    floor: float | None = None
    scheme: QuantScheme | None = None  # None: the evaluator's

    @classmethod
    def accuracy(cls, bits: dict[str, int], split: str = "search", floor: float | None = None, scheme=None) -> Request:
        return cls("accuracy", tuple(sorted(bits.items())), split, floor, scheme)

    @classmethod
    def drift(cls, bits: dict[str, int], split: str = "minibatch", scheme=None) -> Request:
        return cls("drift", tuple(sorted(bits.items())), split, None, scheme)

    @property
    def config(self) -> dict[str, int]:
        return dict(self.bits)


@dataclass(frozen=True)
class ExecutorSettings:
    """How (not what) a search computes: never part of a result's cache key, results do not depend on it."""

    name: str = "serial"
    workers: int = 2  # ray: actors (each loads the model and the splits once)
    address: str | None = None  # ray: an existing cluster (``ray start --head``); None starts a local one
    gpus_per_worker: float = 0.0  # ray: fractions allowed (0.5 = two workers per GPU)
    threads_per_worker: int | None = None  # ray: torch threads per actor; None = the actor's CPUs (workers x threads <= cores)
    kill_worker_after: int | None = field(default=None, repr=False)  # fault injection (tests): worker 0 dies at its n-th request, once

    def __post_init__(self):
        get_executor(self.name)
        if isinstance(self.workers, bool) or int(self.workers) != self.workers or self.workers < 1:
            raise UsageError(f"workers must be an integer >= 1, got {self.workers!r}")
        if not (math.isfinite(self.gpus_per_worker) and self.gpus_per_worker >= 0):
            raise UsageError(f"GPUs per worker must be >= 0 (fractions allowed), got {self.gpus_per_worker!r}")
        if self.threads_per_worker is not None and (int(self.threads_per_worker) != self.threads_per_worker or self.threads_per_worker < 1):
            raise UsageError(f"threads per worker must be an integer >= 1, got {self.threads_per_worker!r}")


class SerialExecutor:
    """Today's engine: every evaluation in this process, when the search asks for it."""

    remote = False
    speculates = False  # worth computing guesses ahead of the search (e.g. Greedy's next ladder steps)?
    numerics: tuple[str, str] | None = None  # where remote workers compute (device, kernel family); None: the evaluator's device

    def __init__(self, settings: ExecutorSettings | None = None):
        self.settings = settings or ExecutorSettings()

    def start(self, evaluator) -> None:
        """Nothing to start: the evaluator computes in this process."""

    def run(self, evaluator, requests: list[Request]) -> list[dict]:  # pragma: no cover - never called: remote is False
        raise NotImplementedError

    def broadcast(self, method: str, *args) -> None:
        """Tell every worker something that changes no result (pins, a split's order): nothing to tell here."""

    def stats(self) -> dict:
        return {"executor": "serial", "workers": 1}

    def close(self) -> None:
        pass


_EXECUTORS: dict[str, Callable[[ExecutorSettings], ExecutorProtocol]] = {}


def register_executor(name: str) -> Callable[[type[E]], type[E]]:
    """Decorator on a class ``cls(settings)`` with ``remote``, ``speculates``, ``numerics``, ``start``, ``run``, ``broadcast``,
    ``stats`` and ``close`` (see SerialExecutor; protocols.py's ExecutorProtocol)."""

    def wrap(cls: type[E]) -> type[E]:
        if name in _EXECUTORS:
            raise ValueError(f"executor {name!r} is registered twice")
        _EXECUTORS[name] = cls
        return cls

    return wrap


#: executor modules in this package (a new backend is one more module named ``*_executor``); others come as plugins
ENTRY_POINT_GROUP = "aq4svit.executors"
_DISCOVERED = False


def _load_builtin() -> None:
    """Register every ``*_executor`` module of this package and the installed plugins, once (a module imports its
    backend, e.g. Ray, only when an executor is made)."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    _DISCOVERED = True
    import importlib
    import pkgutil

    from ..plugins import load_entry_points

    for info in pkgutil.iter_modules(importlib.import_module(__package__ or "aq4svit_lib.evaluate").__path__):
        if info.name.endswith("_executor"):
            importlib.import_module(f"{__package__}.{info.name}")
    load_entry_points(ENTRY_POINT_GROUP)


def get_executor(name: str) -> Callable[[ExecutorSettings], ExecutorProtocol]:
    _load_builtin()
    if name not in _EXECUTORS:
        raise UsageError(f"unknown executor {name!r}; valid: {choices(_EXECUTORS)}")
    return _EXECUTORS[name]


def executor_names() -> tuple[str, ...]:
    _load_builtin()
    return tuple(_EXECUTORS)


def make_executor(settings: ExecutorSettings | str | None = None):
    """The executor for ``settings`` (a name is enough: ``make_executor("ray")``)."""
    if settings is None or isinstance(settings, str):
        settings = ExecutorSettings(settings or "serial")
    return get_executor(settings.name)(settings)


register_executor("serial")(SerialExecutor)
