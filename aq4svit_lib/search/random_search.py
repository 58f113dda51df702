"""Random search: random configurations under a fixed budget of full evaluations, the floor any method must beat.

Each unit of ``level`` (default ``block``, the finest level Greedy and Beam search) draws its width
uniformly from the bit list, independently; duplicates are drawn again. The candidates are drawn up
front from ``seed``, so a run is a fixed list of configurations (a resumed run replays the same list
from the memo). Each is evaluated on ``search`` with exact early rejection, as every method's
candidates are; the answer is the smallest configuration that meets the constraint (FP32 if none).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..schema import Interval, Options, setting, validate
from .common import SearchContext, fp32_bits
from .registry import MethodOutput, register_method
from .space import LEVELS, SearchSpace
from .trials import Trials

#: full evaluations of the random and Optuna baselines (about Beam's count on the default profile)
BUDGET = 60


@dataclass
class RandomSettings:
    budget: int = setting(BUDGET, Interval(int, 1), "full evaluations (distinct configurations); random and optuna share it")
    level: str = setting("block", Options(LEVELS), "unit whose width is drawn")

    def __post_init__(self):
        validate(self)


def draw(space: SearchSpace, level: str, count: int, seed: int) -> list[dict[str, int]]:
    """``count`` distinct configurations, each unit's width uniform over the bit list (fewer if the space is smaller)."""
    rng = np.random.default_rng(seed)
    units = space.units(level)
    out: list[dict[str, int]] = []
    keys = {space.key(fp32_bits(space))}
    size = len(space.bits) ** len(units)
    for _ in range(50 * count):
        if len(out) == min(count, size - 1):
            break
        bits = fp32_bits(space)
        for unit, b in zip(units, rng.choice(space.bits, size=len(units)), strict=True):
            bits = space.set_unit(bits, unit, int(b))
        if (key := space.key(bits)) not in keys:
            keys.add(key)
            out.append(bits)
    return out


@register_method("random", RandomSettings, table_file="trials.csv",
                 summary="random configurations under the same budget of full evaluations (the floor)",
                 display_name="Random", color="#8d99ae", marker="x", peer=True, order=60)
def run_random(ctx: SearchContext, settings: RandomSettings) -> MethodOutput:
    trials = Trials(ctx, "random")
    with ctx.in_phase("random"):
        proposals = draw(ctx.space, settings.level, settings.budget, ctx.seed)
        trials.prefetch(proposals)  # independent of each other's results: one batch on a parallel executor
        for bits in proposals:
            trials.evaluate(bits, early_rejection=True)
    return MethodOutput(trials.best(), trials.table(), {"budget": settings.budget, "level": settings.level})
