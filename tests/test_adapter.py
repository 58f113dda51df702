"""Bring your own model (models/adapter.py): a faithful wrapper (our sdtv2_tiny through the generic path gives the native
path's numbers), spikingjelly's own Spikformer searched, a user's Dataset split by the library's rules, clear errors."""

from __future__ import annotations

import copy
import json
import re

import numpy as np
import pytest
import torch

from aq4svit_lib.data import SplitSpec, load_splits
from aq4svit_lib.errors import UsageError
from aq4svit_lib.evaluate import Evaluator
from aq4svit_lib.models import create_model
from aq4svit_lib.models.adapter import LayerMapping, Segment, SpikingModel, infer_blocks, spikformer_segments, wrap
from aq4svit_lib.search import run_search

SPEC = SplitSpec(search_size=120, minibatch_size=32, verify_size=120, test_size=200)


def _native_mapping(native) -> dict:
    """The mapping a user writes to give the wrapper the zoo's own structure (exact paths, so first-match is exact)."""
    s = native.quant_structure()
    quantized = {layer.name for layer in s.layers}
    others = [name for name, m in native.named_modules() if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Linear))
              and name not in quantized]
    return {"blocks": {f"^{re.escape(layer.name)}$": layer.block for layer in s.layers},
            "stages": {f"^{re.escape(b.name)}$": b.stage for b in s.blocks},
            "kinds": {f"^{re.escape(layer.name)}$": layer.kind for layer in s.layers},
            "skip": [f"^{re.escape(name)}$" for name in others]}


def _native_segments(native) -> list[Segment]:
    def block(i):
        return lambda net, x: net.forward_blocks(x, i, i + 1)

    s = native.quant_structure()
    return [Segment(b.name, block(i), b.modules) for i, b in enumerate(s.blocks)]


@pytest.fixture(scope="module")
def sdtv2():
    native = create_model("sdtv2_tiny", checkpoint="default")
    # the generic path on our own network (wrap() would hand a zoo model back unwrapped)
    wrapped = SpikingModel(copy.deepcopy(native), name="sdtv2_tiny", num_classes=10, in_channels=1, img_size=28,
                           mapping=_native_mapping(native), segments=_native_segments(native))
    plain = SpikingModel(copy.deepcopy(native), name="sdtv2_tiny", mapping=_native_mapping(native))  # one segment: no prefix cache
    return native, wrapped, plain


def _strip(bits: dict) -> dict:
    return {k.removeprefix("net."): v for k, v in bits.items()}


def test_the_mapping_gives_the_wrapper_the_native_structure(sdtv2):
    native, wrapped, plain = sdtv2
    a, b = native.quant_structure(), wrapped.quant_structure()
    assert [(x.name.removeprefix("net."), x.block, x.stage, x.kind, x.params) for x in b.layers] == \
           [(x.name, x.block, x.stage, x.kind, x.params) for x in a.layers]
    assert [x.name for x in b.blocks] == [x.name for x in a.blocks] and b.stages == a.stages
    assert wrapped.sequential and not plain.sequential and wrapped.num_blocks == len(a.blocks) and plain.num_blocks == 1


def test_wrapped_accuracy_and_drift_equal_the_native_path(sdtv2):
    native, wrapped, plain = sdtv2
    splits = load_splits("fashion_mnist", SPEC)
    config_native = {layer.name: 2 for layer in native.quant_structure().layers if layer.stage in ("2", "3")}
    results = []
    for net in (native, wrapped, plain):
        prefix = "" if net is native else "net."
        config = {prefix + k: v for k, v in config_native.items()}
        with Evaluator(net, splits, quiet=True) as ev:
            fp32, q = ev.accuracy({}, "search"), ev.accuracy(config, "search")
            d = ev.drift(config)
            results.append((fp32.correct, q.correct, d.drift, d.drift_max, d.spike_disagreement, d.per_layer))
    assert results[0][1] < results[0][0]  # the config moves something (else equality proves nothing)
    assert results[1] == results[0] and results[2] == results[0]


def test_a_search_through_the_wrapper_finds_the_native_answer(sdtv2):
    native, wrapped, _ = sdtv2
    kw = dict(spec=SPEC, delta=3.0, bits=(32, 8, 4, 2), levels=("network", "stage"), export=False)
    a = run_search("greedy", "sdtv2_tiny", net=native, **kw)
    b = run_search("greedy", "sdtv2_tiny", net=wrapped, **kw)
    assert _strip(b.bits) == a.bits and b.result["memory_bytes"] == a.result["memory_bytes"]
    assert b.result["final"]["search_accuracy"] == a.result["final"]["search_accuracy"]
    assert list(b.trace.decision) == list(a.trace.decision) and list(b.trace.drift) == list(a.trace.drift)


# -- spikingjelly's own zoo ---------------------------------------------------------------------------------
def _spikformer(depths=2):
    from spikingjelly.activation_based.model.spikformer import Spikformer

    torch.manual_seed(0)
    return Spikformer(T=2, in_channels=1, img_size_h=28, img_size_w=28, patch_size=4, num_classes=10, embed_dims=32,
                      num_heads=2, mlp_ratio=2.0, depths=depths).eval()


def test_the_structure_of_spikingjellys_spikformer_is_inferred_from_its_module_tree():
    net = _spikformer()
    assert [b for b, _, _ in infer_blocks(net)] == ["patch_embed", "blocks.0", "blocks.1", "head"]
    s = wrap(net, name="spikformer").quant_structure()
    assert s.stages == ("patch_embed", "blocks", "head")
    kinds = {layer.kind for layer in s.layers if layer.block == "blocks.1"}
    assert kinds == {layer.kind for layer in s.layers if layer.block == "blocks.0"} and len(kinds) >= 4  # same kinds in every block
    assert all(not re.search(r"(^|\.)\d+(\.|$)", k) for k in kinds)  # list indices removed


def test_a_mapping_overrides_kinds_and_skips_layers():
    net = _spikformer()
    s = wrap(net, mapping={"kinds": {r"attn\.(q|k|v)": "qkv"}, "skip": [r"^head$"]}).quant_structure()
    assert "qkv" in {layer.kind for layer in s.layers} and not any(layer.block == "head" for layer in s.layers)
    with pytest.raises(UsageError, match="unknown keys"):
        LayerMapping.from_dict({"kind": {}})
    with pytest.raises(UsageError, match="not a regular expression"):
        LayerMapping.from_dict({"skip": ["("]})


def test_spikformer_segments_chain_its_own_forward_and_wrong_ones_are_refused():
    net = _spikformer()
    x = torch.rand(3, 1, 28, 28)
    seg = wrap(copy.deepcopy(net), segments=spikformer_segments(net))
    seg.check_segments(x)  # equal to the plain forward, exactly
    with torch.inference_mode():
        assert torch.equal(seg(x), wrap(copy.deepcopy(net))(x))
    broken = spikformer_segments(net)[:-1] + [Segment("head", lambda n, h: n.head(h.flatten(3).mean(-1)) + 1.0, ("head",))]
    with pytest.raises(UsageError, match="do not reproduce"):
        wrap(copy.deepcopy(net), segments=broken).check_segments(x)


def test_spikingjelly_neurons_report_their_pre_spike_membrane():
    """H[t] rebuilt by the hook equals the LIF charge computed by hand (V after a spike is reset to 0)."""
    from spikingjelly.activation_based import functional, neuron

    from aq4svit_lib.models import record_membranes

    node = neuron.LIFNode(tau=2.0, detach_reset=True, step_mode="m")
    net = torch.nn.Sequential(node)
    x = torch.rand(4, 3, 5) * 2
    functional.reset_net(net)
    with record_membranes(net) as rec:
        spikes = net(x)
    h, v = [], torch.zeros(3, 5)
    for t in range(4):
        ht = v + (x[t] - v) / 2.0
        h.append(ht)
        v = ht * (ht < 1.0)
    assert torch.allclose(rec.membranes["0"], torch.stack(h)) and torch.equal(rec.spikes["0"], spikes)
    assert node.store_v_seq is False  # the hook leaves the node as it found it


def test_greedy_and_beam_search_a_spikingjelly_spikformer_on_a_users_dataset():
    from aq4svit_lib.data import dataset_splits

    torch.manual_seed(0)
    images, labels = torch.rand(400, 1, 28, 28), torch.randint(0, 10, (400,))
    data = _Tensors(images, labels)
    splits = dataset_splits(data, spec=SplitSpec(search_size=96, minibatch_size=32, verify_size=64))
    net = _spikformer(depths=1)
    for method in ("greedy", "beam"):
        out = run_search(method, net=net, splits=splits, delta=50.0, bits=(32, 8, 4), beam_width=2, export=False,
                         require_trained=False)
        assert out.result["model"] == "custom" and out.result["settings"]["data"]["dataset"] == "custom"
        assert out.result["memory_bytes"] < out.result["fp32_bytes"] and out.result["final"]["meets_constraint"]
        assert (out.trace.drift.dropna() > 0).any()  # the gate read the spikingjelly neurons' membranes


class _Tensors(torch.utils.data.Dataset):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


def test_a_users_dataset_is_split_by_the_fashion_mnist_rules():
    from aq4svit_lib.data import dataset_splits

    x, y = torch.rand(500, 1, 8, 8), torch.arange(500) % 10
    train, test = _Tensors(x, y), _Tensors(x[:100], y[:100])
    spec = SplitSpec(search_size=50, minibatch_size=16, verify_size=30)
    s = dataset_splits(test, train, spec)
    assert [len(s[k]) for k in ("search", "minibatch", "verify", "train", "test")] == [50, 16, 30, 420, 100]
    assert not set(s["search"].indices) & set(s["verify"].indices) and not set(s["train"].indices) & set(s["search"].indices)
    assert np.array_equal(s["minibatch"].indices, s["search"].indices[:16])
    held = dataset_splits(test, None, SplitSpec(search_size=40, minibatch_size=8, verify_size=20))  # no train pool
    assert len(held["test"]) == 40 and not set(held["test"].indices) & set(held["search"].indices)
    assert s["search"].hash == dataset_splits(test, train, spec)["search"].hash  # deterministic: caches key on it


@pytest.mark.parametrize(("data", "match"), [
    (torch.utils.data.TensorDataset(torch.rand(10, 1, 8, 8), torch.tensor([0.5] * 10)), "class indices"),
    ([], "is empty"),
])
def test_a_dataset_that_cannot_work_is_a_usage_error(data, match):
    from aq4svit_lib.data import dataset_splits

    with pytest.raises(UsageError, match=match):
        dataset_splits(data)


def test_a_model_whose_input_does_not_fit_the_data_is_the_users_mismatch():
    from aq4svit_lib.data import dataset_splits

    splits = dataset_splits(_Tensors(torch.rand(300, 3, 28, 28), torch.arange(300) % 10), spec=SplitSpec(search_size=64, minibatch_size=16,
                                                                                                     verify_size=32))
    with pytest.raises(UsageError, match="does not accept this data's input"):
        run_search("greedy", net=_spikformer(depths=1), splits=splits, export=False)  # 1-channel model, 3-channel images


def test_a_non_module_is_refused():
    with pytest.raises(UsageError, match="must be a torch nn.Module"):
        SpikingModel(lambda x: x)


USER_MODULE = '''
import torch
from spikingjelly.activation_based.model.spikformer import Spikformer


def build():
    torch.manual_seed(0)
    return Spikformer(T=2, in_channels=1, img_size_h=28, img_size_w=28, patch_size=4, num_classes=10, embed_dims=32,
                      num_heads=2, mlp_ratio=2.0, depths=1)


class Data(torch.utils.data.Dataset):
    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.x, self.y = torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


def data():
    return Data(200, 1), Data(300, 2)  # (test, train)
'''


def test_the_command_line_searches_a_users_module_callable_on_a_users_data(tmp_path, monkeypatch, capsys):
    from aq4svit_lib.cli import main

    (tmp_path / "my_models.py").write_text(USER_MODULE)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    code = main(["search", "--method", "greedy", "--model", "my_models:build", "--dataset", "custom", "--data-root", "my_models:data",
                 "--search-size", "64", "--minibatch-size", "16", "--verify-size", "32", "--delta", "50", "--bits", "32,8,4",
                 "--no-require-trained", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    result = json.loads((out / "result.json").read_text())
    assert result["model"] == "my_models:build" and result["splits"]["search"]["size"] == 64
    assert (out / "final.safetensors").is_file()  # the answer exported like a zoo model's
    assert main(["search", "--method", "greedy", "--model", "my_models:missing", "--dataset", "custom", "--data-root", "my_models:data",
                 "--out", str(tmp_path / "x")]) == 2
    assert "has no 'missing'" in capsys.readouterr().err


def test_the_fashion_mnist_spikformer_of_spikingjellys_zoo_is_wrapped_with_its_segments():
    from aq4svit_lib.models.jelly import spikformer_fmnist

    model = spikformer_fmnist().eval()
    assert model.sequential and model.num_blocks == 4 and model.quant_structure().stages == ("patch_embed", "blocks", "head")
    model.check_segments(torch.rand(2, 1, 28, 28))
    with torch.inference_mode():
        assert model(torch.rand(2, 1, 28, 28)).shape == (2, 10)  # [T, N, classes] averaged over time


def test_the_shipped_spikformer_is_searched_by_greedy_and_beam_from_the_command_line(tmp_path, capsys):
    """Issue 27's demonstration as a user types it: spikingjelly's Spikformer (module:callable) with our trained weights on
    Fashion-MNIST; trained (no --no-require-trained), each answer meets Δ on search and verify and is exported."""
    from aq4svit_lib.cli import main
    from aq4svit_lib.models.registry import CHECKPOINT_DIR

    checkpoint = CHECKPOINT_DIR / "spikformer_fmnist.safetensors"
    for method in ("greedy", "beam"):
        out = tmp_path / method
        code = main(["search", "--method", method, "--model", "aq4svit_lib.models.jelly:spikformer_fmnist", "--checkpoint",
                     str(checkpoint), "--search-size", "200", "--minibatch-size", "32", "--verify-size", "200",
                     "--delta", "5", "--bits", "32,8,4,2", "--levels", "network,stage", "--beam-width", "2", "--out", str(out),
                     "--memo", str(tmp_path / "memo.sqlite")])  # shared: FP32's test and verify evaluations once
        assert code == 0, capsys.readouterr().err
        result = json.loads((out / "result.json").read_text())
        assert result["model"] == "spikformer_fmnist" and result["fp32"]["test_accuracy"] > 0.85  # the wrapped network's name
        assert result["final"]["meets_constraint"] and result["final"]["meets_constraint_verify"]
        assert result["saving_vs_fp32"] > 0.5 and (out / "final.safetensors").is_file()
