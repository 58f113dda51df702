"""The evaluation engine: accuracy with prefix caching and exact early rejection, the drift probe, the memo."""

from .drift import DriftResult
from .early_rejection import passes, required_correct
from .engine import AccuracyResult, Evaluator
from .memo import Memo, model_fingerprint
from .prefix_cache import PrefixCache
from .protocols import EvaluatorProtocol, ExecutorProtocol, MemoProtocol

__all__ = ["DriftResult", "passes", "required_correct", "AccuracyResult", "Evaluator", "Memo", "model_fingerprint", "PrefixCache",
           "EvaluatorProtocol", "ExecutorProtocol", "MemoProtocol"]
