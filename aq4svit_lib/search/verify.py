"""Verification: the final configuration must meet the constraint on data the search did not choose on.

A search that keeps the smallest of many candidates passing on one split over-fits that split's
noise: the candidate that *just* passes is more often lucky than good (measured before this step:
a 2000-image search split, delta 1.5 points, test drops up to 2.16 points). So every method's
answer is checked on the ``verify`` split (drawn from the training pool, disjoint from ``search``,
never ``test``) against the same rule, FP32 accuracy(verify) - delta, **plus a confidence margin**.

**Margin** (our statistics): the verify drop ``d = acc(FP32) - acc(config)`` is a paired estimate (both on
the same images), so its standard error comes from the images on which exactly one of the two is right:
``SE = sqrt((discordant/n - d^2) / n)`` (the McNemar variance). A configuration passes when
``acc(config) >= floor + z * SE`` with ``z`` the one-sided normal quantile of ``confidence`` (default 0.95,
z = 1.645): the true drop then exceeds delta with probability about 1 - confidence, instead of about
one half for a configuration that only just passes. ``confidence = 0.5`` (z = 0) is the plain count rule.
A 3000-image verify split and a 1.5-point drop give SE of about 0.4 points, so the margin is ~0.7 points.

**Back-off** (our rule): when the answer misses on ``verify``, the other configurations the search
found feasible on ``search`` that are at least as large are tried, smallest first, and the first
that passes on ``verify`` becomes the result; FP32 is the last resort (it always passes). Each try
is one evaluation with exact early rejection. The time is part of the search time: every method
pays it the same way.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from ..errors import UsageError
from .common import Constraint, SearchContext, fp32_bits

FEASIBLE_DECISIONS = ("accepted", "kept", "measured")


def feasible_on_search(ctx: SearchContext) -> list[tuple[int, float, str]]:
    """(memory, search accuracy, key) of every configuration in the trace that met the constraint on search."""
    n = len(ctx.evaluator.splits["search"])
    out = {}
    for rec in ctx.trace:
        acc = rec.get("search_accuracy")
        if rec["decision"] in FEASIBLE_DECISIONS and acc is not None and ctx.constraint.met(round(acc * n), n):
            out[rec["key"]] = (rec["memory_bytes"], acc, rec["key"])
    return list(out.values())


def backoff_order(ctx: SearchContext, final: dict[str, int]) -> list[dict[str, int]]:
    """The answer first, then the larger feasible configurations, smallest first (FP32 last)."""
    space = ctx.space
    final_key, final_bytes = space.key(final), space.memory_bytes(final)
    rest = sorted((m, -a, k) for m, a, k in feasible_on_search(ctx) if k != final_key and m >= final_bytes)
    order = [final] + [space.bits_of(k) for _, _, k in rest]
    fp32 = fp32_bits(space)
    return order + ([fp32] if space.key(fp32) not in {space.key(b) for b in order} else [])


def z_of(confidence: float) -> float:
    """One-sided normal quantile; validates ``confidence`` (0.5 <= confidence < 1)."""
    if not (0.5 <= confidence < 1):
        raise UsageError(f"verify confidence must be in [0.5, 1), got {confidence}")
    return NormalDist().inv_cdf(confidence)


def paired_drop(reference: np.ndarray, candidate: np.ndarray) -> tuple[float, float]:
    """(drop, standard error) of a paired accuracy difference from per-image hits (fractions)."""
    n = len(reference)
    drop = float(reference.mean() - candidate.mean())
    discordant = float((reference != candidate).mean())
    return drop, math.sqrt(max(discordant - drop * drop, 0.0) / n)


def verify(ctx: SearchContext, final: dict[str, int], confidence: float = 0.95) -> tuple[dict[str, int], dict]:
    """(verified configuration, summary for result.json)."""
    ev, space = ctx.evaluator, ctx.space
    z = z_of(confidence)
    if "verify" not in ev.splits:
        return final, {"split": None, "note": "no verify split (verify_size 0): the result is not verified"}
    with ctx.in_phase("verify"):
        fp32 = ev.accuracy(fp32_bits(space), "verify")
        rule = Constraint(fp32.correct / fp32.n, ctx.constraint.delta, ctx.constraint.relative)
        tries = []
        for bits in backoff_order(ctx, final):
            ctx.counters["verify"] += 1
            r = ev.accuracy(bits, "verify", floor=rule.floor)  # the margin only raises the bar: reject early below it
            passed, se = bool(r.passed), None
            if passed and z > 0:
                reference, candidate = fp32.hit_mask(), r.hit_mask()
                assert reference is not None and candidate is not None, "complete passes record per-image hits"
                _, se = paired_drop(reference, candidate)
                passed = r.correct / r.n >= rule.floor + z * se
            tries.append({"key": space.key(bits), "memory_bytes": space.memory_bytes(bits), "verify_accuracy": r.accuracy,
                          "standard_error": se, "passed": passed, "images_seen": r.seen})
            if passed:
                break
    summary = {"split": "verify", "fp32_accuracy": fp32.accuracy, "floor": rule.floor, "confidence": confidence, "z": z,
               "backoff_steps": len(tries) - 1, "search_choice_key": space.key(final),
               "search_choice_bytes": space.memory_bytes(final), "tries": tries}
    return bits, summary
