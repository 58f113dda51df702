import logging
import math
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aq4svit_lib.evaluate import Evaluator, Memo, passes, required_correct
from aq4svit_lib.models import create_model
from aq4svit_lib.quant import QuantConfig
from tests.conftest import random_model

TINY = ["sdt_tiny", "sdtv2_tiny", "sdtv3_tiny"]


@pytest.fixture(scope="module", params=TINY)
def trained(request):
    return request.param, create_model(request.param, checkpoint="default")


def random_configs(structure, n, seed):
    rng = random.Random(seed)
    blocks = [b.name for b in structure.blocks]
    for _ in range(n):
        yield QuantConfig(default=32, blocks={b: rng.choice([2, 3, 4, 8]) for b in rng.sample(blocks, 3)})


def test_cached_and_uncached_accuracy_and_drift_are_identical(trained, small_splits):
    name, model = trained
    cached = Evaluator(model, small_splits, batch_size=200, quiet=True)
    plain = Evaluator(create_model(name, checkpoint="default"), small_splits, batch_size=200, cache_bytes=0, quiet=True)
    starts = []
    for cfg in random_configs(cached.structure, 4, seed=len(name)):
        a, b = cached.accuracy(cfg), plain.accuracy(cfg)
        assert (a.correct, a.correct5, a.n) == (b.correct, b.correct5, b.n)
        da, db = cached.drift(cfg), plain.drift(cfg)
        assert da.per_layer == db.per_layer and da.correct == db.correct
        assert da.spike_disagreement == db.spike_disagreement
        starts.append(a.start_block)
        assert b.start_block == 0
    assert max(starts) > 0  # the cache was actually used
    assert plain.cache.used_bytes == 0


def test_prefix_cache_forwards_fewer_blocks(small_splits):
    model = create_model("sdtv2_tiny", checkpoint="default")
    # natural order: with hardest-first ordering the FP32 accuracy comes from the ordering pass (memo), and the
    # FP32 prefix is cached by the first candidate instead (tested below)
    ev = Evaluator(model, small_splits, batch_size=200, quiet=True, hardest_first=())
    ev.accuracy(QuantConfig())
    before = ev.counters["block_forwards_acc"]
    r = ev.accuracy(QuantConfig(blocks={"block4.1": 4}))
    assert r.start_block == ev.structure.block_index["block4.1"].index
    assert ev.counters["block_forwards_acc"] - before == len(small_splits["search"]) * 2  # block4.1 and head


def test_first_candidate_caches_the_fp32_prefix_after_ordering(small_splits):
    ev = Evaluator(create_model("sdtv2_tiny", checkpoint="default"), small_splits, batch_size=200, quiet=True)
    assert ev.accuracy(QuantConfig()).from_memo  # recorded by the ordering pass, no second FP32 forward
    first = ev.accuracy(QuantConfig(blocks={"block4.0": 4}))
    assert first.start_block == 0
    later = ev.accuracy(QuantConfig(blocks={"block4.1": 4}))  # shares the FP32 prefix up to block4.0
    assert later.start_block == ev.structure.block_index["block4.0"].index


@pytest.fixture(scope="module")
def v3_eval(small_splits):
    model = create_model("sdtv3_tiny", checkpoint="default")
    ev = Evaluator(model, small_splits, batch_size=100, quiet=True)
    cfg = QuantConfig(default=32, stages={"3": 3})
    full = ev.accuracy(cfg)
    return ev, cfg, full


@given(st.floats(min_value=0.0, max_value=1.0))
@settings(max_examples=20, deadline=None)
def test_early_rejection_decision_equals_full_evaluation(v3_eval, floor):
    ev, cfg, full = v3_eval
    fresh = Evaluator(ev.model, ev.splits, batch_size=100, quiet=True)  # no memo: really recompute
    r = fresh.accuracy(cfg, floor=floor)
    assert r.passed == passes(full.correct, full.n, floor)
    if not r.passed:
        assert not r.complete or r.seen == r.n
        assert r.forwarded <= full.n and r.upper_bound < floor + 1e-12
    else:
        assert r.complete and r.correct == full.correct


@pytest.mark.parametrize("offset", [-2, -1, 0, 1, 2])
def test_early_rejection_at_the_decision_boundary(v3_eval, offset):
    ev, cfg, full = v3_eval
    floor = (full.correct + offset) / full.n  # passes exactly when offset <= 0
    r = Evaluator(ev.model, ev.splits, batch_size=100, quiet=True).accuracy(cfg, floor=floor)
    assert r.passed is (offset <= 0)


def test_early_rejection_saves_images(v3_eval):
    ev, cfg, full = v3_eval
    fresh = Evaluator(ev.model, ev.splits, batch_size=100, quiet=True)
    r = fresh.accuracy(cfg, floor=min(1.0, full.accuracy + 0.3))
    assert r.passed is False and r.forwarded < full.n and not r.complete


def test_required_correct_absorbs_float_noise():
    assert required_correct(0.9 - 0.015, 5000) == 4425
    assert required_correct(0.885, 5000) == 4425
    assert passes(4425, 5000, 0.885) and not passes(4424, 5000, 0.885)


def test_drift_zero_for_fp32_grows_with_fewer_bits_and_is_deterministic(small_splits):
    model = create_model("sdtv2_tiny", checkpoint="default")
    ev = Evaluator(model, small_splits, batch_size=200, quiet=True)
    fp32 = ev.drift(QuantConfig())
    assert fp32.drift == 0 and fp32.spike_disagreement == 0 and set(fp32.per_layer.values()) == {0.0}
    drifts = [ev.drift(QuantConfig(blocks={"ConvBlock2_1.0": b})).drift for b in (16, 8, 4, 2)]
    assert 0 < drifts[0] < drifts[1] < drifts[2] < drifts[3]
    again = Evaluator(create_model("sdtv2_tiny", checkpoint="default"), small_splits, batch_size=64, quiet=True)
    d = again.drift(QuantConfig(blocks={"ConvBlock2_1.0": 4}))
    assert d.drift == pytest.approx(drifts[2], rel=1e-9)
    # layers before the quantized block do not drift
    layer = ev.drift(QuantConfig(blocks={"ConvBlock2_1.0": 4})).per_layer
    assert layer["ConvBlock1_1.0.lif1"] == 0.0 and layer["ConvBlock2_1.0.lif2"] > 0


def test_drift_matches_its_definition(small_splits):
    """Per layer ||H_q - H_fp||_2 / ||H_fp||_2 over the minibatch; mean and max over layers; spike disagreement."""
    from aq4svit_lib.models import record_membranes
    from aq4svit_lib.quant import WeightQuantizer

    model = create_model("sdtv3_tiny", checkpoint="default")
    cfg = QuantConfig(default=32, stages={"2": 3})
    d = Evaluator(model, small_splits, batch_size=32, quiet=True).drift(cfg)
    x, _ = next(small_splits["minibatch"].batches(len(small_splits["minibatch"])))
    with torch.no_grad(), record_membranes(model) as ref:
        model(x)
    with torch.no_grad(), WeightQuantizer(model).applied(cfg), record_membranes(model) as q:
        model(x)
    per_layer = {k: float((q.membranes[k] - ref.membranes[k]).double().norm() / ref.membranes[k].double().norm()) for k in ref.membranes}
    assert d.per_layer.keys() == per_layer.keys()
    for k in per_layer:
        assert d.per_layer[k] == pytest.approx(per_layer[k], rel=1e-6, abs=1e-12)
    assert d.drift == pytest.approx(sum(per_layer.values()) / len(per_layer), rel=1e-6)
    assert d.drift_max == pytest.approx(max(per_layer.values()), rel=1e-6)
    disagree = sum(float((q.spikes[k] != ref.spikes[k]).float().mean()) for k in ref.spikes) / len(ref.spikes)
    assert d.spike_disagreement == pytest.approx(disagree, rel=1e-6)
    assert per_layer["ConvBlock1_1.0.Conv.spike1"] == 0.0 and d.drift > 0


def test_memo_hit_after_rerun(tmp_path, small_splits):
    model = random_model("sdtv3_tiny", seed=4)
    cfg = QuantConfig(default=4)
    first = Evaluator(model, small_splits, memo=tmp_path / "memo.sqlite", quiet=True)
    a, d = first.accuracy(cfg), first.drift(cfg)
    first.close()
    second = Evaluator(model, small_splits, memo=tmp_path / "memo.sqlite", quiet=True)
    b, e = second.accuracy(cfg), second.drift(cfg)
    assert b.from_memo and e.from_memo and second.counters["evaluations"] == 0
    assert (a.correct, a.correct5) == (b.correct, b.correct5) and d.per_layer == e.per_layer
    assert second.counters["images_forwarded"] == 0


def test_memo_keys_on_weights_and_split(tmp_path, small_splits):
    cfg = QuantConfig(default=4)
    ev = Evaluator(random_model("sdtv3_tiny", seed=4), small_splits, memo=tmp_path / "m.sqlite", quiet=True)
    ev.accuracy(cfg)
    other = Evaluator(random_model("sdtv3_tiny", seed=5), small_splits, memo=tmp_path / "m.sqlite", quiet=True)
    assert not other.accuracy(cfg).from_memo
    assert not ev.accuracy(cfg, split="minibatch").from_memo


def test_rejection_in_memo_is_reused_only_for_higher_floors(tmp_path, v3_eval):
    ev0, cfg, full = v3_eval
    ev = Evaluator(ev0.model, ev0.splits, memo=tmp_path / "m.sqlite", batch_size=100, quiet=True)
    floor = full.accuracy + 0.2
    assert ev.accuracy(cfg, floor=floor).passed is False
    assert ev.accuracy(cfg, floor=floor + 0.05).from_memo
    r = ev.accuracy(cfg, floor=full.accuracy - 0.01)  # lower floor: must recompute, and passes
    assert not r.from_memo and r.passed and r.complete


def test_corrupted_memo_is_reported_once_and_rebuilt(tmp_path, small_splits, caplog):
    path = tmp_path / "memo.sqlite"
    ev = Evaluator(random_model("sdtv3_tiny", seed=4), small_splits, memo=path, quiet=True)
    ev.accuracy(QuantConfig(default=8))
    ev.close()
    data = path.read_bytes()
    path.write_bytes(data[:100] + b"\x00garbage" * 50)
    with caplog.at_level(logging.WARNING, logger="aq4svit.memo"):
        memo = Memo(path)
        memo.get("x")
        memo.put("k", "accuracy", {"a": 1})
    assert memo.rebuilt and memo.get("k") == {"a": 1}
    assert sum("corrupted" in r.message for r in caplog.records) == 1
    assert (tmp_path / "memo.sqlite.corrupt").exists()
    path.write_bytes(b"")  # truncated to nothing: an empty file is a valid empty database
    assert Memo(path).get("k") is None


def test_cache_respects_its_byte_budget(small_splits):
    model = create_model("sdtv2_tiny", checkpoint="default")
    budget = 3_000_000
    ev = Evaluator(model, small_splits, batch_size=200, cache_bytes=budget, quiet=True)
    for cfg in random_configs(ev.structure, 8, seed=1):
        ev.accuracy(cfg)
        ev.drift(cfg)
        assert ev.cache.used_bytes <= budget
    assert ev.cache.evictions > 0 and len(ev.cache) > 0


def test_pinned_entries_survive_eviction(small_splits):
    model = create_model("sdtv3_tiny", checkpoint="default")
    ev = Evaluator(model, small_splits, batch_size=200, cache_bytes=40_000_000, quiet=True)  # FP32 + state fit, not more
    state = QuantConfig(default=8)
    ev.pin(state)
    ev.accuracy(state)
    for cfg in random_configs(ev.structure, 8, seed=2):
        ev.accuracy(cfg)
    assert ev.cache.evictions > 0
    r = ev.accuracy(QuantConfig(default=8, blocks={"head": 4}))
    assert r.start_block == ev.n_blocks - 1


def test_unknown_split_is_a_clear_error(small_splits):
    ev = Evaluator(random_model("sdtv3_tiny"), small_splits, quiet=True)
    with pytest.raises(Exception, match="unknown split 'val'"):
        ev.accuracy(QuantConfig(), split="val")


def test_weights_are_restored_after_evaluations(small_splits):
    model = random_model("sdtv2_tiny", seed=9)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ev = Evaluator(model, small_splits, quiet=True)
    ev.accuracy(QuantConfig(default=3))
    ev.drift(QuantConfig(default=3))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_hardest_first_order_keeps_accuracy_and_rejects_sooner(small_splits):
    model = create_model("sdtv3_tiny", checkpoint="default")
    natural = Evaluator(model, small_splits, batch_size=50, quiet=True, hardest_first=())
    ordered = Evaluator(model, small_splits, batch_size=50, quiet=True)
    cfg = QuantConfig(default=32, stages={"1": 2})
    a, b = natural.accuracy(cfg), ordered.accuracy(cfg)
    assert (a.correct, a.correct5) == (b.correct, b.correct5)
    split = ordered.split("search")
    assert sorted(split.indices.tolist()) == sorted(small_splits["search"].indices.tolist())
    assert split.hash != small_splits["search"].hash
    fp32 = natural.accuracy(QuantConfig())
    wrong = fp32.n - fp32.correct
    # FP32's own mistakes (negative margin) come first
    x, y = next(iter(split.batches(wrong)))
    with torch.no_grad():
        assert (model(x).argmax(1) != y).all()
    floor = fp32.accuracy - 0.015
    fresh_natural = Evaluator(model, small_splits, batch_size=50, quiet=True, hardest_first=())
    fresh_ordered = Evaluator(model, small_splits, batch_size=50, quiet=True)
    ra, rb = fresh_natural.accuracy(cfg, floor=floor), fresh_ordered.accuracy(cfg, floor=floor)
    assert ra.passed == rb.passed is False and rb.forwarded < ra.forwarded


def test_the_order_is_memoised(tmp_path, small_splits):
    model = create_model("sdtv3_tiny", checkpoint="default")
    Evaluator(model, small_splits, memo=tmp_path / "m.sqlite", quiet=True).accuracy(QuantConfig())
    again = Evaluator(model, small_splits, memo=tmp_path / "m.sqlite", quiet=True)
    again.accuracy(QuantConfig())
    assert again.counters["images_forwarded"] == 0


def test_per_image_hits_match_the_model_in_split_order_and_survive_the_memo(tmp_path, small_splits):
    model = create_model("sdtv3_tiny", checkpoint="default")
    ev = Evaluator(model, small_splits, batch_size=50, memo=tmp_path / "m.sqlite", quiet=True)
    fp32, quant = ev.accuracy(QuantConfig()), ev.accuracy(QuantConfig(default=3))
    split = ev.split("search")  # hardest-first order: FP32's record was written by the ordering pass
    x, y = next(iter(split.batches(len(split))))
    with torch.no_grad():
        assert (fp32.hit_mask() == (model(x).argmax(1) == y).numpy()).all()
    assert quant.hit_mask().sum() == quant.correct and len(quant.hit_mask()) == quant.n
    assert (fp32.hit_mask() != quant.hit_mask()).any()  # 3 bits changes some answers
    again = Evaluator(model, small_splits, batch_size=50, memo=tmp_path / "m.sqlite", quiet=True)
    replay = again.accuracy(QuantConfig(default=3))
    assert replay.from_memo and (replay.hit_mask() == quant.hit_mask()).all()
    rejected = again.accuracy(QuantConfig(default=2), floor=fp32.accuracy)
    assert not rejected.complete and rejected.hit_mask() is None


def test_same_bits_under_another_scheme_never_share_a_memo_or_cache_entry(tmp_path, small_splits):
    from aq4svit_lib.quant import QuantScheme

    model = create_model("sdtv3_tiny", checkpoint="default")
    ev = Evaluator(model, small_splits, memo=tmp_path / "m.sqlite", quiet=True)
    per_channel = ev.accuracy(QuantConfig(default=3))
    per_tensor = ev.accuracy(QuantConfig(default=3, scheme=QuantScheme("uniform", "per_tensor", "nearest")))
    fixed = ev.accuracy(QuantConfig(default=3, scheme=QuantScheme("fixed_point", "per_tensor", "truncate")))
    assert not per_tensor.from_memo and not fixed.from_memo and ev.counters["evaluations"] == 3
    assert len({per_channel.correct, per_tensor.correct, fixed.correct}) > 1  # the schemes really differ here
    other = Evaluator(model, small_splits, memo=tmp_path / "m.sqlite", quiet=True, scheme=QuantScheme("uniform", "per_tensor", "nearest"))
    bits = {layer.name: 3 for layer in other.structure.layers}  # plain bits: the evaluator's own scheme applies
    again = other.accuracy(bits)
    assert again.from_memo and again.correct == per_tensor.correct


def test_editing_the_model_or_batch_size_after_construction_cannot_stale_results(small_splits):
    model = create_model("sdtv3_tiny", checkpoint="default")
    ev = Evaluator(model, small_splits, batch_size=100, quiet=True)
    before = ev.accuracy(QuantConfig(default=4))
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(0)  # the caller's model is now broken; the evaluator works on its own copy
    fresh = Evaluator(create_model("sdtv3_tiny", checkpoint="default"), small_splits, batch_size=100, quiet=True)
    after = ev.accuracy(QuantConfig(default=3))  # computed after the edit: still the original weights
    assert after.forwarded > 0 and after.correct == fresh.accuracy(QuantConfig(default=3)).correct
    assert before.correct == fresh.accuracy(QuantConfig(default=4)).correct
    assert Evaluator(model, small_splits, quiet=True).fingerprint != ev.fingerprint  # the edited model is another model
    with pytest.raises(AttributeError):
        ev.batch_size = 7


def test_drift_on_subsampled_positions_matches_its_definition_on_those_positions(small_splits):
    """The ImageNet-scale path: FP32 membranes too large to keep are measured on fixed random positions."""
    from aq4svit_lib.evaluate.drift import _flat
    from aq4svit_lib.models import record_membranes
    from aq4svit_lib.quant import WeightQuantizer

    model = create_model("sdtv3_tiny", checkpoint="default")
    cfg = QuantConfig(default=32, stages={"2": 3})
    mb = small_splits["minibatch"]
    ev = Evaluator(model, small_splits, batch_size=len(mb), quiet=True, drift_reference_bytes=1)  # forces sub-sampling
    d = ev.drift(cfg)
    layers = ev._reference.layers
    sampled = {k: r.index for k, r in layers.items() if r.index is not None}
    assert sampled and all(len(i) == 256 for i in sampled.values())
    x, _ = next(mb.batches(len(mb)))
    with torch.no_grad(), record_membranes(model) as ref:
        model(x)
    with torch.no_grad(), WeightQuantizer(model).applied(cfg), record_membranes(model) as q:
        model(x)
    changed = 0
    for k, idx in sampled.items():
        h_fp, h_q = _flat(ref.membranes[k], False)[:, idx].double(), _flat(q.membranes[k], False)[:, idx].double()
        if h_fp.norm() > 0:
            assert d.per_layer[k] == pytest.approx(float((h_q - h_fp).norm() / h_fp.norm()), rel=1e-6, abs=1e-12)
            changed += d.per_layer[k] > 0
    assert changed > 0 and math.isfinite(d.drift) and d.drift > 0


def test_a_silent_layer_is_left_out_of_drift_instead_of_making_it_infinite():
    from aq4svit_lib.evaluate.drift import DriftReference, LayerRef, silent_layers, summarize

    ref = DriftReference(time_major=False)
    ref.layers = {"a": LayerRef(0, None, ref2=4.0, count=10), "silent": LayerRef(0, None, ref2=0.0, count=10)}
    drift, worst, disagree, per_layer = summarize(ref, {"a": [1.0, 2], "silent": [3.0, 5]})
    assert silent_layers(ref) == ["silent"] and per_layer == {"a": 0.5}
    assert drift == worst == 0.5 and disagree == pytest.approx((0.2 + 0.5) / 2)


@pytest.mark.parametrize("margin", [0.05, 0.2, 0.5])
def test_a_full_record_in_a_shared_memo_answers_a_floor_as_a_fresh_evaluation_would(tmp_path, v3_eval, margin):
    """Another search's complete evaluation, met under a floor it misses: the same early stop (images seen, partial
    count, not complete) and the same cost as this search alone, whichever search evaluated the config first."""
    ev0, cfg, full = v3_eval
    floor = min(1.0, full.accuracy + margin)
    alone = Evaluator(ev0.model, ev0.splits, batch_size=100, quiet=True).accuracy(cfg, floor=floor)
    first = Evaluator(ev0.model, ev0.splits, memo=tmp_path / "m.sqlite", batch_size=100, quiet=True)
    first.accuracy(cfg)  # in full
    first.close()
    other = Evaluator(ev0.model, ev0.splits, memo=tmp_path / "m.sqlite", batch_size=100, quiet=True)
    r = other.accuracy(cfg, floor=floor)
    assert r.from_memo and other.counters["evaluations"] == 0
    assert (r.passed, r.complete, r.seen, r.correct) == (alone.passed, alone.complete, alone.seen, alone.correct)
    assert other.replayed_images == alone.forwarded < full.n


@pytest.mark.parametrize("batch_size", [100, 10_000])  # 10 000: one batch, the floor is out of reach only after the last image
def test_a_floor_missed_only_at_the_last_batch_reads_as_the_complete_pass_it_was(tmp_path, v3_eval, batch_size):
    """Fresh, a pass whose floor falls out of reach only in its last batch has seen every image: complete, with its
    accuracy. The memo's replay must say the same (Ray's workers and the serial run differed on exactly this)."""
    ev0, cfg, full = v3_eval
    n = full.n
    floor = (full.correct + 1) / n  # one image short: rejected only once the errors of the last batch are counted
    alone = Evaluator(ev0.model, ev0.splits, batch_size=batch_size, quiet=True).accuracy(cfg, floor=floor)
    assert alone.passed is False and alone.complete == (alone.seen == n)
    first = Evaluator(ev0.model, ev0.splits, memo=tmp_path / "m.sqlite", batch_size=batch_size, quiet=True)
    first.accuracy(cfg)
    first.close()
    r = Evaluator(ev0.model, ev0.splits, memo=tmp_path / "m.sqlite", batch_size=batch_size, quiet=True).accuracy(cfg, floor=floor)
    assert (r.passed, r.complete, r.seen, r.correct, r.accuracy) == (alone.passed, alone.complete, alone.seen, alone.correct, alone.accuracy)
    if batch_size >= n:
        assert r.complete and r.accuracy == full.accuracy


def test_a_search_meeting_only_drift_records_counts_the_reference_pass_once(tmp_path, small_splits):
    """Alone, the first drift question builds the FP32 reference (one pass over the minibatch): a search that finds
    every drift in the memo replays that pass once, and one that later builds it does not count it twice."""
    model = random_model("sdtv3_tiny", seed=4)
    a, b = QuantConfig(default=4), QuantConfig(default=8)
    alone = Evaluator(model, small_splits, quiet=True)
    alone.drift(a)
    alone_images = alone.counters["images_forwarded"]
    first = Evaluator(model, small_splits, memo=tmp_path / "m.sqlite", quiet=True)
    first.drift(a)
    first.close()
    replay = Evaluator(model, small_splits, memo=tmp_path / "m.sqlite", quiet=True)
    replay.drift(a)
    assert replay.counters["images_forwarded"] == 0 and replay.replayed_images == alone_images
    replay.drift(b)  # a miss: the reference is built for real now, and its replay is taken back
    both = Evaluator(model, small_splits, quiet=True)
    both.drift(a), both.drift(b)
    assert replay.counters["images_forwarded"] + replay.replayed_images == both.counters["images_forwarded"]
