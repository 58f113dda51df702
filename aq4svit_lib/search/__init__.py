"""Searches over quantization configs: QSViT (Algorithms 1-4) and AQ4SViT (Greedy / Beam + drift gate)."""

from .aq4svit import AQ4SViT, AQ4SViTSettings
from .common import Constraint, SearchContext, SearchInterrupted
from .gate import DriftGate
from .qsvit import QSViT, QSViTSettings
from .results import RESULT_SCHEMA, ResultFolder, load_result, read_trace, validate_result
from .run import METHODS, SearchOutcome, run_search
from .space import DEFAULT_BITS, LEVELS, SearchSpace, parse_bits

__all__ = [
    "AQ4SViT", "AQ4SViTSettings", "Constraint", "SearchContext", "SearchInterrupted", "DriftGate", "QSViT",
    "QSViTSettings", "RESULT_SCHEMA", "ResultFolder", "load_result", "read_trace", "validate_result", "METHODS",
    "SearchOutcome", "run_search", "DEFAULT_BITS", "LEVELS", "SearchSpace", "parse_bits",
]
