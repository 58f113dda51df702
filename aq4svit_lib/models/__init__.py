"""Model zoo: SDT v1 / v2 / v3 with official state_dict keys, plus our Fashion-MNIST defaults."""

from .base import BlockInfo, LayerInfo, QuantStructure, SpikingBackbone
from .fuse import fuse_repconv
from .neurons import LIF, MultiSpike, observe_neurons, record_membranes
from .registry import REGISTRY, create_model, default_checkpoint, get_entry, list_models, load_model

__all__ = [
    "BlockInfo", "LayerInfo", "QuantStructure", "SpikingBackbone", "LIF", "MultiSpike",
    "observe_neurons", "record_membranes", "REGISTRY", "create_model", "default_checkpoint",
    "get_entry", "list_models", "load_model", "fuse_repconv",
]
