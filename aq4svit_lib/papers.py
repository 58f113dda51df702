"""What the two papers publish, in one place (our numbers are compared to these, never replaced by them).

Sources: ``../shared/reference/papers.md`` and the summaries beside it. Only numbers the papers state
are here; where they are silent (most of AQ4SViT's settings) the package documents its own choice
where it is made.
"""

from __future__ import annotations

#: QSViT (Putra et al., IJCNN 2025): SDTv2 on ImageNet, manual guided methodology.
QSVIT = {
    "model": "SDTv2 (55M)",
    "dataset": "ImageNet",
    "memory_saving": 0.2275,  # of the final mixed-precision network vs FP32
    "max_accuracy_loss_pts": 2.1,
    "precisions": (32, 16, 12, 8, 4),  # the layer-wise sweep's list
}

#: AQ4SViT: the automated hierarchical search with the membrane-drift gate.
AQ4SVIT = {
    "speedup_vs_qsvit": 6.6,  # "up to"
    "memory_saving_greedy": 0.825,  # "up to", within the accuracy constraint
    "memory_saving_beam": 0.90,
    "accuracy_constraint_pts": 1.5,
}

#: QSViT's final setting for SDTv2 on ImageNet, per stage (downsample, then blocks; "32" for the
#: transformer blocks covers all of them): Stage-1 (8,4,8,8), Stage-2 (8,8,8), Stage-3 (4,32), Stage-4 (4,32).
QSVIT_PAPER_SETTING = {
    "downsample1_1": 8, "ConvBlock1_1.0": 4, "downsample1_2": 8, "ConvBlock1_2.0": 8,
    "downsample2": 8, "ConvBlock2_1.0": 8, "ConvBlock2_2.0": 8,
    "downsample3": 4, "downsample4": 4,
}
