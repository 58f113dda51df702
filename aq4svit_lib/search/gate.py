"""AQ4SViT's search gating policy: screen a candidate cheaply before paying for a full evaluation.

Three steps, cheapest first (each stops the candidate when it fails):

1. **drift gate** -- membrane-potential drift on the ``minibatch`` split (one forward from the first
   changed block), under one of three policies (``--gate``):

   - ``threshold`` (default): pruned when the candidate's drift *score* exceeds tau;
   - ``rank`` (Beam only): all children of a round are scored, only the best M go on (the paper's
     "selects promising candidates"); the rest are pruned without a threshold;
   - ``off``: nothing is pruned by drift (the ablation).
2. **minibatch check** -- the same forward's minibatch accuracy must satisfy a loose version of the
   constraint: FP32 minibatch accuracy - candidate minibatch accuracy <= delta + slack.
3. **full evaluation** -- accuracy on the ``search`` split with exact early rejection against the
   floor (FP32 search accuracy - delta).

**Score** (our choice; the paper gives no definition). Drift is measured against FP32, so it is
cumulative: it grows as the search state gets smaller, and a threshold on it that suits the first
candidates prunes every later one. The default score is therefore the drift a move *adds*:
``score = drift(candidate) - drift(parent)``, the parent being the accepted configuration the
candidate was derived from (``--gate-score absolute`` uses the drift itself). The rank policy
orders children by that increase per MiB the move saves (accuracy risk per byte gained).

**Calibration of tau** (our choice). Moves at different levels differ in kind (lowering the whole
network vs one block), so evidence is collected per level: once the current level has at least
``min_accepted`` candidates that passed the full evaluation and ``min_rejected`` that failed it,
tau = ``margin`` x (largest score among that level's accepted candidates). Until then the last
calibrated tau (of an earlier level) stays in force, and inf before the first calibration; accepted
moves that added no drift are not evidence. With
Greedy's network-level ladder, whose lowest widths fail at 2 bits, tau is set after a few
candidates. ``--drift-threshold`` fixes tau instead; ``inf`` disables the threshold.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from ..errors import UsageError, choices

POLICIES = ("threshold", "rank", "off")
SCORES = ("increase", "absolute")


@dataclass
class DriftGate:
    policy: str = "threshold"
    threshold: float | None = None  # fixed tau; None = calibrate
    margin: float = 1.5
    min_accepted: int = 1
    min_rejected: int = 1
    score_kind: str = "increase"
    evidence: dict = field(default_factory=lambda: defaultdict(lambda: {"accepted": [], "rejected": []}))
    level: str = ""
    carried_tau: float = math.inf  # the last calibrated tau of an earlier level
    taus: dict = field(default_factory=dict)  # level -> tau in force when the level ended

    def __post_init__(self):
        if self.policy not in POLICIES:
            raise UsageError(f"unknown gate policy {self.policy!r}; valid: {choices(POLICIES)}")
        if self.score_kind not in SCORES:
            raise UsageError(f"unknown gate score {self.score_kind!r}; valid: {choices(SCORES)}")
        if self.threshold is not None and (math.isnan(self.threshold) or self.threshold < 0):
            raise UsageError(f"drift threshold must be >= 0 (or inf to disable the gate), got {self.threshold}")
        if not self.margin > 0:
            raise UsageError(f"drift margin must be > 0, got {self.margin}")
        if self.min_accepted < 1 or self.min_rejected < 1:
            raise UsageError("the gate needs at least one accepted and one rejected candidate to calibrate")

    def score(self, drift: float, parent_drift: float | None) -> float:
        if self.score_kind == "absolute" or parent_drift is None:
            return drift
        return drift - parent_drift

    def start_level(self, level: str) -> None:
        if self.level:
            self.taus[self.level] = self.tau
            self.carried_tau = self._calibrated(self.level, self.carried_tau)
        self.level = level

    def _calibrated(self, level: str, fallback: float) -> float:
        ev = self.evidence[level]
        if len(ev["accepted"]) < self.min_accepted or len(ev["rejected"]) < self.min_rejected:
            return fallback
        return self.margin * max(0.0, max(ev["accepted"]))

    @property
    def tau(self) -> float:
        """Current threshold on the score; inf while there is no evidence (or with ``policy='off'``)."""
        if self.policy != "threshold":
            return math.inf
        if self.threshold is not None:
            return self.threshold
        return self._calibrated(self.level, self.carried_tau)

    def prunes(self, score: float) -> bool:
        return score > self.tau

    def observe(self, score: float, passed: bool) -> None:
        """Record the outcome of a full evaluation (the evidence tau is calibrated on).

        An accepted move that added no drift says nothing about how much drift is too much, so only
        accepted scores > 0 count (otherwise tau = 0 would prune every later move).
        """
        if passed and score <= 0:
            return
        self.evidence[self.level]["accepted" if passed else "rejected"].append(score)

    def state(self) -> dict:
        if self.level:
            self.taus[self.level] = self.tau
        taus = {k: (v if math.isfinite(v) else None) for k, v in self.taus.items()}
        tau = self.tau
        return {"policy": self.policy, "score": self.score_kind, "tau": tau if math.isfinite(tau) else None,
                "tau_per_level": taus, "calibrated": self.threshold is None, "margin": self.margin,
                "accepted": sum(len(e["accepted"]) for e in self.evidence.values()),
                "rejected": sum(len(e["rejected"]) for e in self.evidence.values())}
