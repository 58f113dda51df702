"""spikingjelly's own spiking transformers, configured for Fashion-MNIST: issue 27's demonstration that a network from
another library's zoo is searched like ours. spikingjelly builds the network; models/adapter.py wraps it.

    aq4svit train  --model aq4svit_lib.models.jelly:spikformer_fmnist --epochs 8 --out data/checkpoints/spikformer_fmnist.safetensors
    aq4svit search --model aq4svit_lib.models.jelly:spikformer_fmnist --checkpoint data/checkpoints/spikformer_fmnist.safetensors
"""

from __future__ import annotations

from .adapter import SpikingModel, spikformer_segments

#: a small Spikformer (spikingjelly.activation_based.model.spikformer.Spikformer) for 28 x 28 grey images
SPIKFORMER_FMNIST = dict(T=4, in_channels=1, img_size_h=28, img_size_w=28, patch_size=4, num_classes=10, embed_dims=64,
                         num_heads=4, mlp_ratio=2.0, depths=2)


def spikformer_fmnist() -> SpikingModel:
    """spikingjelly's Spikformer at :data:`SPIKFORMER_FMNIST`, fresh weights, wrapped with its forward segments (stem,
    each block, pooling + head), so the engine caches unchanged prefixes as it does for the SDT models."""
    from spikingjelly.activation_based.model.spikformer import Spikformer

    net = Spikformer(**SPIKFORMER_FMNIST)
    return SpikingModel(net, name="spikformer_fmnist", num_classes=10, in_channels=1, img_size=28, segments=spikformer_segments(net))
