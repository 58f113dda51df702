"""What the parts of the :class:`~aq4svit_lib.evaluate.Evaluator` share, declared in one place.

The evaluator is assembled from one mixin per concern (keys.py, forward.py, ordering.py,
drift_reference.py, handoff.py). Each reads the attributes ``Evaluator.__init__`` sets and calls
methods of the others; this base declares both for the type checker. It adds nothing at run time.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import torch

    from ..data.splits import Split
    from ..models.base import QuantStructure, SpikingBackbone
    from ..quant.apply import WeightQuantizer
    from ..quant.config import QuantConfig
    from ..quant.quantizers import QuantScheme
    from .drift import DriftReference, DriftResult
    from .early_rejection import Tally
    from .engine import AccuracyResult
    from .executor import Request
    from .prefix_cache import PrefixCache
    from .protocols import ExecutorProtocol, MemoProtocol


class EvaluatorState:
    """Attributes of an evaluator (set in ``Evaluator.__init__``) and the methods its parts call on each other."""

    device: torch.device
    model: SpikingBackbone
    splits: dict[str, Split]
    base_splits: dict[str, Split]
    orders: dict[str, np.ndarray]
    executor: ExecutorProtocol
    scheme: QuantScheme
    _batch_size: int
    quantizer: WeightQuantizer
    structure: QuantStructure
    n_blocks: int
    _block_layers: list[list[str]]
    cache: PrefixCache
    memo: MemoProtocol
    quiet: bool
    drift_split: str
    drift_aggregate: str
    drift_reference_bytes: int
    fingerprint: str
    counters: Counter
    _reference: DriftReference | None
    _fp32_drift_result: DriftResult | None
    _reference_replay: tuple[float, int] | None
    _positions: int | None  # set on first use (drift_reference.py)
    _pins: list[tuple[dict[str, int], QuantScheme]]
    _hardest_first: set[str]
    _ordered: set[str]
    session: str
    _replayed_keys: set[str]
    replayed_seconds: float
    replayed_images: int

    if TYPE_CHECKING:

        @property
        def batch_size(self) -> int: ...  # engine.py

        def resolve(self, config: QuantConfig | dict[str, int]) -> tuple[dict[str, int], QuantScheme]: ...  # engine.py

        def accuracy(self, config: QuantConfig | dict[str, int], split: str = "search", floor: float | None = None) -> AccuracyResult: ...

        def signatures(self, bits: dict[str, int], scheme: QuantScheme) -> list[str]: ...  # keys.py

        def _key(self, kind: str, bits: dict[str, int], scheme: QuantScheme, split: Split) -> str: ...

        def _numerics(self) -> tuple: ...

        def _refresh_pins(self) -> None: ...

        def _replayed(self, key: str, record: dict) -> None: ...

        def _run(self, bits, scheme, split: Split, ns: str, floor=None, observer=None, prefix_extra=None,
                 use_cache=True) -> tuple[Tally, int, int]: ...  # forward.py

        def split(self, name: str) -> Split: ...  # ordering.py

        def _compute_order(self, split: Split) -> tuple[np.ndarray, dict, int]: ...

        def drift(self, config: QuantConfig | dict[str, int]) -> DriftResult: ...  # drift_reference.py

        def _drift_kind(self) -> str: ...

        def _drift_positions(self) -> int | None: ...

        def _own(self, scheme: QuantScheme) -> QuantScheme | None: ...  # handoff.py

        def _remote(self, todo: dict[str, Request]) -> dict[str, dict]: ...
