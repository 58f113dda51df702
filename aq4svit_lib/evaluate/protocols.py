"""The engine's seams as Protocols: what search code asks of an evaluator, and what the evaluator asks of
an executor and of a memo.

Real classes and test fakes are held to these (mypy structurally; tests/test_protocols.py compares the
methods' parameters at run time), so a fake cannot drift from the class it stands in for. Attributes are
read-only properties here: a plain attribute satisfies them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..data.splits import Split
    from ..models.base import QuantStructure, SpikingBackbone
    from ..quant.apply import WeightQuantizer
    from ..quant.config import QuantConfig
    from ..quant.quantizers import QuantScheme
    from .drift import DriftResult
    from .engine import AccuracyResult
    from .executor import ExecutorSettings, Request
    from .state import EvaluatorState


@runtime_checkable
class MemoProtocol(Protocol):
    """Evaluation results by key (memo.py: ``Memo`` on disk, ``InMemoryMemo`` without a file)."""

    def get(self, key: str) -> dict | None: ...

    def put(self, key: str, kind: str, value: dict) -> None: ...

    def __len__(self) -> int: ...

    def close(self) -> None: ...

    def stats(self) -> dict: ...


@runtime_checkable
class ExecutorProtocol(Protocol):
    """Where answers missing from the memo are computed (executor.py: ``SerialExecutor``; ray_executor.py)."""

    @property
    def remote(self) -> bool:
        """False: the evaluator computes in its own process and never calls :meth:`run`."""
        ...

    @property
    def speculates(self) -> bool:
        """Worth computing guesses ahead of the search?"""
        ...

    @property
    def numerics(self) -> tuple[str, str] | None:
        """(device, kernel family) of the workers, part of every memo key; None: the evaluator's device."""
        ...

    @property
    def settings(self) -> ExecutorSettings: ...

    def start(self, evaluator: EvaluatorState) -> None: ...

    def run(self, evaluator: EvaluatorState, requests: list[Request]) -> list[dict]: ...

    def broadcast(self, method: str, *args: Any) -> None: ...

    def stats(self) -> dict: ...

    def close(self) -> None: ...


@runtime_checkable
class EvaluatorProtocol(Protocol):
    """What search code asks of the engine (engine.py's ``Evaluator``; the search tests' fakes)."""

    @property
    def counters(self) -> Counter: ...

    @property
    def replayed_seconds(self) -> float: ...

    @property
    def replayed_images(self) -> int: ...

    @property
    def executor(self) -> ExecutorProtocol: ...

    @property
    def memo(self) -> MemoProtocol: ...

    @property
    def model(self) -> SpikingBackbone: ...

    @property
    def structure(self) -> QuantStructure: ...

    @property
    def splits(self) -> Mapping[str, Split]: ...

    @property
    def drift_aggregate(self) -> str: ...

    @property
    def drift_split(self) -> str: ...

    @property
    def batch_size(self) -> int: ...

    @property
    def quantizer(self) -> WeightQuantizer:
        """Applies a config's weights to ``model`` (what a gradient proxy differentiates through)."""
        ...

    def accuracy(self, config: QuantConfig | dict[str, int], split: str = "search", floor: float | None = None) -> AccuracyResult: ...

    def drift(self, config: QuantConfig | dict[str, int]) -> DriftResult: ...

    def prefetch(self, requests: Iterable[Request]) -> int: ...

    def pin(self, *configs: QuantConfig | dict[str, int]) -> None: ...

    def split(self, name: str) -> Split: ...

    def resolve(self, config: QuantConfig | dict[str, int]) -> tuple[dict[str, int], QuantScheme]: ...

    def stats(self) -> dict: ...
