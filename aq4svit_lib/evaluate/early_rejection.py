"""Exact early rejection: stop evaluating once an accuracy floor can no longer be reached.

A candidate passes when ``correct >= required_correct(floor, n)``. While evaluating, with ``errors``
wrong answers seen so far, it can still pass only if ``errors <= n - required``; the moment that
fails, the rest of the split cannot change the verdict, so the decision is identical to a full
evaluation's and only the time differs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..decisions import floor_required


def required_correct(floor: float | None, n: int) -> int:
    """Smallest number of correct answers out of ``n`` that meets ``floor`` (a fraction, read as the rational it
    stands for: 0.885 * 5000 is 4425 exactly, not 4425.000000000001)."""
    if floor is None:
        return 0
    return floor_required(floor, n)


def passes(correct: int, n: int, floor: float | None) -> bool:
    return correct >= required_correct(floor, n)


@dataclass
class Tally:
    """Running counts over a split of ``n`` examples with an optional floor."""

    n: int
    floor: float | None = None
    correct: int = 0
    correct5: int = 0
    seen: int = 0
    #: per-image top-1 hits in split order (bool tensors per batch): a paired comparison of two configs
    #: on the same images needs them, counts alone cannot give the variance of a drop
    hits: list = field(default_factory=list)

    @property
    def allowed_errors(self) -> int:
        return self.n - required_correct(self.floor, self.n)

    def add(self, correct: int, correct5: int, count: int) -> None:
        self.correct += correct
        self.correct5 += correct5
        self.seen += count

    @property
    def rejected(self) -> bool:
        """True as soon as the floor is out of reach (errors so far exceed the allowance)."""
        return self.floor is not None and (self.seen - self.correct) > self.allowed_errors
