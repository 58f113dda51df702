import math

import pytest

from aq4svit_lib.errors import UsageError
from aq4svit_lib.search import DriftGate


def test_no_pruning_before_enough_evidence():
    gate = DriftGate(margin=1.5, min_accepted=3, min_rejected=1)
    for d in (0.1, 0.2):
        gate.observe(d, True)
    gate.observe(5.0, False)
    assert gate.tau == math.inf and not gate.prunes(100.0)  # only 2 accepted so far
    gate.observe(0.3, True)
    assert gate.tau == pytest.approx(0.45)  # 1.5 x largest accepted drift
    assert gate.prunes(0.46) and not gate.prunes(gate.tau)


def test_needs_a_rejection_too_and_tau_never_decreases():
    gate = DriftGate(margin=2.0, min_accepted=2, min_rejected=1)
    gate.observe(0.2, True)
    gate.observe(0.1, True)
    assert gate.tau == math.inf  # no failed full evaluation yet
    gate.observe(0.9, False)
    taus = [gate.tau]
    for d in (0.05, 0.4, 0.3):
        gate.observe(d, True)
        taus.append(gate.tau)
    assert taus == sorted(taus) and taus[-1] == pytest.approx(0.8)


def test_fixed_threshold_and_validation():
    assert DriftGate(threshold=0.5).prunes(0.6) and not DriftGate(threshold=0.5).prunes(0.5)
    assert not DriftGate(threshold=math.inf).prunes(1e30)
    with pytest.raises(UsageError):
        DriftGate(threshold=-1)
    with pytest.raises(UsageError):
        DriftGate(margin=0)
