"""aq4svit: automated post-training quantization search for spiking vision transformers."""

__version__ = "0.1.0"
