"""Searches over quantization configs: QSViT (Algorithms 1-4), AQ4SViT (Greedy / Beam + drift gate) and the
peer baselines (sensitivity + integer program, Optuna NSGA-II, random search).

Methods register in :mod:`.registry`; importing this package imports (and so registers) the built-in
ones. A new method is a new module with a settings dataclass and a ``@register_method`` function.
"""

from .aq4svit import AQ4SViT, AQ4SViTSettings
from .common import Constraint, SearchContext, SearchInterrupted
from .gate import DriftGate
from .qsvit import QSViT, QSViTSettings
from .registry import MethodOutput, SearchMethod, get_method, list_methods, method_names, register_method
from .results import RESULT_SCHEMA, ResultFolder, load_result, read_trace, validate_result
from .run import SearchOutcome, build_model, run_search
from .settings import DataSettings, EngineSettings, ModelSettings, SearchSettings
from .space import DEFAULT_BITS, LEVELS, SearchSpace, parse_bits

__all__ = [
    "AQ4SViT", "AQ4SViTSettings", "Constraint", "SearchContext", "SearchInterrupted", "DriftGate", "QSViT",
    "QSViTSettings", "MethodOutput", "SearchMethod", "get_method", "list_methods", "method_names", "register_method",
    "RESULT_SCHEMA", "ResultFolder", "load_result", "read_trace", "validate_result", "SearchOutcome", "build_model",
    "run_search", "DataSettings", "EngineSettings", "ModelSettings", "SearchSettings", "DEFAULT_BITS", "LEVELS",
    "SearchSpace", "parse_bits",
]
