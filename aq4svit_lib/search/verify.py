"""Verification: the final configuration must meet the constraint on data the search did not choose on.

A search that keeps the smallest of many candidates passing on one split over-fits that split's
noise: the candidate that *just* passes is more often lucky than good (measured before the margins:
a 2000-image search split, delta 1.5 points, test drops up to 2.16 points). Two defences:

- **while searching**, :meth:`Constraint.accepts` asks for a paired confidence margin on ``search``
  (``search_confidence``, default 0.99; see search/common.py), so the search itself keeps headroom;
- **afterwards** (here), every method's answer is checked on the ``verify`` split (drawn from the
  training pool, disjoint from ``search``, never ``test``) against FP32 accuracy(verify) - delta.
  Nothing was chosen on ``verify``, so the count rule is an unbiased check (``verify_confidence``
  0.5, the default); a margin can be asked for here as well.

Why not the margin on ``verify`` alone (our first design): the search then hands over answers at the
edge of feasibility on ``search``, about half of which miss a margin on ``verify``; every default answer
backed off onto a larger, plainer configuration and the methods stopped differing.

**Back-off** (our rule): when the answer misses on ``verify``, the other configurations the search
found feasible on ``search`` that are at least as large are tried, smallest first, and the first
that passes on ``verify`` becomes the result; FP32 is the last resort (it always passes). Each try
is one evaluation with exact early rejection. The time is part of the search time: every method
pays it the same way.
"""

from __future__ import annotations

from .common import Constraint, SearchContext, fp32_bits, paired_drop, z_of

__all__ = ["verify", "backoff_order", "feasible_on_search", "paired_drop", "z_of"]

FEASIBLE_DECISIONS = ("accepted", "kept", "measured")


def feasible_on_search(ctx: SearchContext) -> list[tuple[int, float, str]]:
    """(memory, search accuracy, key) of every configuration in the trace that met the constraint on search.

    Accepted / kept candidates were judged by the search; a sweep's measured ones are judged here
    (their complete evaluation is in the memo, so this costs no forward pass).
    """
    out = {}
    for rec in ctx.trace:
        acc, key = rec.get("search_accuracy"), rec["key"]
        if rec["decision"] not in FEASIBLE_DECISIONS or acc is None or key in out:
            continue
        if rec["decision"] == "measured" and not ctx.constraint.accepts(ctx.evaluator.accuracy(ctx.space.bits_of(key), "search")):
            continue
        out[key] = (rec["memory_bytes"], acc, key)
    return list(out.values())


def backoff_order(ctx: SearchContext, final: dict[str, int]) -> list[dict[str, int]]:
    """The answer first, then the larger feasible configurations, smallest first (FP32 last)."""
    space = ctx.space
    final_key, final_bytes = space.key(final), space.memory_bytes(final)
    rest = sorted((m, -a, k) for m, a, k in feasible_on_search(ctx) if k != final_key and m >= final_bytes)
    order = [final] + [space.bits_of(k) for _, _, k in rest]
    fp32 = fp32_bits(space)
    return order + ([fp32] if space.key(fp32) not in {space.key(b) for b in order} else [])


def verify(ctx: SearchContext, final: dict[str, int], confidence: float = 0.5) -> tuple[dict[str, int], dict]:
    """(verified configuration, summary for result.json)."""
    ev, space = ctx.evaluator, ctx.space
    z = z_of(confidence)
    if "verify" not in ev.splits:
        return final, {"split": None, "note": "no verify split (verify_size 0): the result is not verified"}
    with ctx.in_phase("verify"):
        fp32 = ev.accuracy(fp32_bits(space), "verify")
        rule = Constraint(fp32.correct / fp32.n, ctx.constraint.delta, ctx.constraint.relative, confidence, fp32.hit_mask())
        tries = []
        for bits in backoff_order(ctx, final):
            ctx.counters["verify"] += 1
            r = ev.accuracy(bits, "verify", floor=rule.floor)  # the margin only raises the bar: reject early below it
            passed, se = rule.accepts(r), rule.standard_error(r)
            tries.append({"key": space.key(bits), "memory_bytes": space.memory_bytes(bits), "verify_accuracy": r.accuracy,
                          "standard_error": se, "passed": passed, "images_seen": r.seen})
            if passed:
                break
    summary = {"split": "verify", "fp32_accuracy": fp32.accuracy, "floor": rule.floor, "confidence": confidence, "z": z,
               "backoff_steps": len(tries) - 1, "search_choice_key": space.key(final),
               "search_choice_bytes": space.memory_bytes(final), "tries": tries}
    return bits, summary
