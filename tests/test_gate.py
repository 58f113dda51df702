import math

import pytest

from aq4svit_lib.errors import UsageError
from aq4svit_lib.search import DriftGate


def test_no_pruning_before_the_level_has_both_outcomes():
    gate = DriftGate(margin=1.5, min_accepted=2, min_rejected=1)
    gate.start_level("greedy:network")
    gate.observe(0.1, True)
    gate.observe(5.0, False)
    assert gate.tau == math.inf and not gate.prunes(100.0)  # only one accepted so far
    gate.observe(0.3, True)
    assert gate.tau == pytest.approx(0.45)  # 1.5 x largest accepted score of the level
    assert gate.prunes(0.46) and not gate.prunes(gate.tau)


def test_tau_is_calibrated_per_level_and_carried_until_the_next_level_has_evidence():
    gate = DriftGate(margin=2.0)
    gate.start_level("network")
    gate.observe(0.4, True)
    gate.observe(0.9, False)
    assert gate.tau == pytest.approx(0.8)
    gate.start_level("stage")  # no evidence yet at this level: the network's tau stays in force
    assert gate.tau == pytest.approx(0.8)
    gate.observe(0.01, True)
    assert gate.tau == pytest.approx(0.8)  # still no rejection at this level
    gate.observe(0.2, False)
    assert gate.tau == pytest.approx(0.02)  # the stage level's own moves set it (it may fall)
    gate.observe(0.03, True)
    assert gate.tau == pytest.approx(0.06)
    assert gate.state()["tau_per_level"] == {"network": pytest.approx(0.8), "stage": pytest.approx(0.06)}


def test_moves_that_add_no_drift_are_not_evidence():
    gate = DriftGate()
    gate.start_level("network")
    gate.observe(0.0, True)  # e.g. a head-only change: no membrane moves
    gate.observe(0.5, False)
    assert gate.tau == math.inf  # tau = 0 would prune every move that changes anything
    gate.observe(0.2, True)
    assert gate.tau == pytest.approx(0.3)


def test_score_is_the_drift_a_move_adds_unless_absolute():
    assert DriftGate().score(0.75, 0.70) == pytest.approx(0.05)
    assert DriftGate(score_kind="absolute").score(0.75, 0.70) == 0.75
    assert DriftGate().score(0.3, None) == 0.3  # no parent: the drift itself


def test_off_and_rank_policies_never_threshold():
    for policy in ("off", "rank"):
        gate = DriftGate(policy=policy, threshold=0.1)
        gate.start_level("x")
        gate.observe(0.0, True)
        gate.observe(1.0, False)
        assert gate.tau == math.inf and not gate.prunes(1e30)


def test_fixed_threshold_and_validation():
    assert DriftGate(threshold=0.5).prunes(0.6) and not DriftGate(threshold=0.5).prunes(0.5)
    assert not DriftGate(threshold=math.inf).prunes(1e30)
    for kwargs, needle in (({"threshold": -1}, "threshold"), ({"margin": 0}, "margin"), ({"policy": "sometimes"}, "policy"),
                           ({"score_kind": "relative"}, "score"), ({"min_rejected": 0}, "at least one")):
        with pytest.raises(UsageError, match=needle):
            DriftGate(**kwargs)
