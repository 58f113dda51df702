"""Accept / reject decisions on counts, never on rounded floats.

A drop of 5.00 points on a 2000-image split computed as ``(fp32 - acc) * 100`` comes out as 4.999999999999993 for
some counts, so the same true drop would be "tolerant" or not by rounding. Every threshold decision of the package
goes through these helpers, which compare integer counts against exact rationals: a float threshold given by a
user (``5.0``, ``1.5``) is taken as the decimal number it prints as.
"""

from __future__ import annotations

import math
from fractions import Fraction


def exact(x: float | int | Fraction) -> Fraction:
    """The decimal a user meant: 1.5 -> 3/2, 0.1 -> 1/10 (not the binary float's 0.1000000000000000055...)."""
    if isinstance(x, (int, Fraction)):
        return Fraction(x)
    if not math.isfinite(x):
        raise ValueError(f"not a finite threshold: {x}")
    return Fraction(repr(float(x)))


def drop_below(reference_correct: int, correct: int, n: int, points: float | Fraction) -> bool:
    """Is the drop from ``reference_correct`` to ``correct`` (of ``n``) strictly below ``points`` percentage points?"""
    return Fraction(100 * (reference_correct - correct)) < exact(points) * n


def drop_within(reference_correct: int, correct: int, n: int, points: float | Fraction) -> bool:
    """Is the drop at most ``points`` percentage points (the boundary included)?"""
    return Fraction(100 * (reference_correct - correct)) <= exact(points) * n


def required_correct(reference_correct: int, n: int, delta_points: float | Fraction, relative: bool = False) -> int:
    """Fewest correct answers of ``n`` that keep the drop within ``delta_points`` of ``reference_correct``
    (absolute points, or percent of the reference with ``relative``)."""
    d = exact(delta_points)
    floor = Fraction(reference_correct) * (1 - d / 100) if relative else Fraction(reference_correct) - d * n / 100
    return max(0, math.ceil(floor))


def floor_required(floor: float | Fraction, n: int) -> int:
    """Fewest correct answers of ``n`` meeting an accuracy ``floor`` (a fraction; a float is read as a rational)."""
    return max(0, math.ceil(rational(floor) * n))


#: derived floors (FP32 accuracy c / n minus a decimal delta) are rationals with small denominators; a float floor is
#: read back as the nearest rational with a denominator up to this (exact for splits up to 10^5 images)
MAX_DENOMINATOR = 10**7


def rational(x: float | int | Fraction) -> Fraction:
    """A float that stands for a rational with a small denominator (an accuracy c / n, a floor), exactly."""
    if isinstance(x, (int, Fraction)):
        return Fraction(x)
    if not math.isfinite(x):
        raise ValueError(f"not a finite number: {x}")
    return Fraction(x).limit_denominator(MAX_DENOMINATOR)


def at_least(correct: int, n: int, floor: float | Fraction, margin_sq: Fraction | None = None) -> bool:
    """correct / n >= floor (exact), and with ``margin_sq`` the excess over the floor is at least sqrt(margin_sq)
    (compared in squares: no square root is rounded)."""
    excess = Fraction(correct, n) - rational(floor)
    if excess < 0:
        return False
    return margin_sq is None or excess * excess >= margin_sq
