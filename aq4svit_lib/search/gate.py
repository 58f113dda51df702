"""AQ4SViT's search gating policy: screen a candidate cheaply before paying for a full evaluation.

Three steps, cheapest first (each stops the candidate when it fails):

1. **drift gate** -- membrane-potential drift on the ``minibatch`` split (one forward from the first
   changed block). Pruned when drift > tau. tau is either given (``--drift-threshold``) or
   calibrated during the run (rule below).
2. **minibatch check** -- the same forward's minibatch accuracy must satisfy a loose version of the
   constraint: FP32 minibatch accuracy - candidate minibatch accuracy <= delta + slack.
3. **full evaluation** -- accuracy on the ``search`` split with exact early rejection against the
   floor (FP32 search accuracy - delta).

Calibration rule for tau (our choice; the paper gives none): once at least ``min_accepted``
candidates have passed the full evaluation and at least ``min_rejected`` have failed it,
tau = ``margin`` x (largest drift among accepted candidates). Before that, nothing is pruned by
drift. tau only grows: later accepted candidates can raise it, never lower it. With
``threshold=inf`` the gate never prunes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..errors import UsageError


@dataclass
class DriftGate:
    threshold: float | None = None  # fixed tau; None = calibrate
    margin: float = 1.5
    min_accepted: int = 3
    min_rejected: int = 1
    accepted_drifts: list[float] = field(default_factory=list)
    rejected_drifts: list[float] = field(default_factory=list)

    def __post_init__(self):
        if self.threshold is not None and (math.isnan(self.threshold) or self.threshold < 0):
            raise UsageError(f"drift threshold must be >= 0 (or inf to disable the gate), got {self.threshold}")
        if self.margin <= 0:
            raise UsageError(f"drift margin must be > 0, got {self.margin}")

    @property
    def tau(self) -> float:
        """Current threshold; inf while there is not enough evidence."""
        if self.threshold is not None:
            return self.threshold
        if len(self.accepted_drifts) < self.min_accepted or len(self.rejected_drifts) < self.min_rejected:
            return math.inf
        return self.margin * max(self.accepted_drifts)

    def prunes(self, drift: float) -> bool:
        return drift > self.tau

    def observe(self, drift: float, passed: bool) -> None:
        """Record the outcome of a full evaluation (the evidence tau is calibrated on)."""
        (self.accepted_drifts if passed else self.rejected_drifts).append(drift)

    def state(self) -> dict:
        return {"tau": self.tau, "calibrated": self.threshold is None, "accepted": len(self.accepted_drifts),
                "rejected": len(self.rejected_drifts), "margin": self.margin}
