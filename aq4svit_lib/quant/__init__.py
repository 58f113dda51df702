"""Quantization core: quantizers, hierarchical configs, applying them, memory, packed export, energy."""

from .apply import WeightQuantizer, quantize_model
from .config import QuantConfig, paper_notation
from .export import export_packed, load_packed
from .memory import MemoryModel, MemoryReport, memory_report
from .quantizers import ALLOWED_BITS, FP32, FakeQuant, QuantScheme, dequantize, fake_quantize

__all__ = [
    "WeightQuantizer", "quantize_model", "QuantConfig", "paper_notation", "export_packed", "load_packed",
    "MemoryModel", "MemoryReport", "memory_report", "ALLOWED_BITS", "FP32", "FakeQuant", "QuantScheme",
    "dequantize", "fake_quantize",
]
