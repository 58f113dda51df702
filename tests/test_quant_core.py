import json
import math

import pytest
import torch

from aq4svit_lib.errors import ConfigError
from aq4svit_lib.models import create_model
from aq4svit_lib.quant import (
    MemoryModel,
    QuantConfig,
    QuantScheme,
    WeightQuantizer,
    export_packed,
    load_packed,
    memory_report,
    paper_notation,
)
from aq4svit_lib.quant.export import pack_bits, read_packed_header, unpack_bits
from tests.conftest import random_model


@pytest.fixture(scope="module")
def v2():
    return random_model("sdtv2_tiny", seed=7)


# -- configs ------------------------------------------------------------------------------
def test_precedence_most_specific_wins(v2):
    s = v2.quant_structure()
    cfg = QuantConfig(default=8, kinds={"q": 16, "mlp": 6}, stages={"3": 4}, blocks={"block3.1": 12},
                      block_kinds={"block3.1": {"q": 2}}, layers={"block3.1.attn.q_conv.0.body.0": 3})
    bits = cfg.resolve(s)
    assert bits["downsample1_1.encode_conv"] == 8  # default
    assert bits["block4.0.attn.q_conv.0.body.0"] == 16  # network-wide kind
    assert bits["block3.0.attn.q_conv.0.body.0"] == 4  # stage beats kind
    assert bits["block3.1.mlp.fc1_conv"] == 12  # block beats stage
    assert bits["block3.1.attn.q_conv.0.body.2.0"] == 2  # block kind beats block
    assert bits["block3.1.attn.q_conv.0.body.0"] == 3  # layer beats everything
    assert bits["ConvBlock1_1.0.conv1"] == 8 and bits["block4.0.mlp.fc1_conv"] == 6


def test_json_round_trip(tmp_path, v2):
    cfg = QuantConfig(default=8, stages={"3": 4}, block_kinds={"block3.0": {"q": 32}}, layers={"head": 16},
                      scheme=QuantScheme("fixed_point", "per_tensor", "truncate"), model="sdtv2_tiny")
    path = cfg.save(tmp_path / "c.json")
    again = QuantConfig.load(path)
    assert again == cfg and again.resolve(v2.quant_structure()) == cfg.resolve(v2.quant_structure())
    d = json.loads(path.read_text())
    assert d["format"] == "aq4svit.quant_config" and d["version"] == 1


def test_from_layer_bits_is_compact_and_exact(v2):
    s = v2.quant_structure()
    target = QuantConfig(default=8, stages={"3": 4}, block_kinds={"block3.0": {"q": 32}}, layers={"head": 16}).resolve(s)
    compact = QuantConfig.from_layer_bits(target, s)
    assert compact.resolve(s) == target
    assert len(compact.layers) <= 1 and len(compact.blocks) <= 8


@pytest.mark.parametrize("mutate,needle", [
    (lambda d: d.update(stages={"7": 8}), "stages: unknown name '7'"),
    (lambda d: d.update(blocks={"block9.0": 8}), "block9.0"),
    (lambda d: d.update(block_kinds={"block3.0": {"dwconv": 8}}), "valid block_kinds[block3.0]: k, mlp, proj, q, v"),
    (lambda d: d.update(layers={"nope": 8}), "layers: unknown name 'nope'"),
    (lambda d: d.update(kinds={"attention": 8}), "kinds: unknown name 'attention'"),
    (lambda d: d.update(default=7.5), "default: bits 7.5 not allowed"),
    (lambda d: d.update(stages={"1": 1}), "stages[1]: bits 1 not allowed"),
    (lambda d: d.update(blocks={"head": 64}), "blocks[head]: bits 64"),
])
def test_validation_names_the_entry_and_choices(v2, mutate, needle):
    d = QuantConfig(default=8).to_dict()
    mutate(d)
    with pytest.raises(ConfigError) as err:
        QuantConfig.from_dict(d).resolve(v2.quant_structure())
    assert needle in str(err.value)


def test_format_and_version_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="format version 2 not supported; valid versions: 1"):
        QuantConfig.from_dict({**QuantConfig().to_dict(), "version": 2})
    with pytest.raises(ConfigError, match="is not 'aq4svit.quant_config'"):
        QuantConfig.from_dict({"default": 8})
    with pytest.raises(ConfigError, match="unknown field"):
        QuantConfig.from_dict({**QuantConfig().to_dict(), "bits": 8})
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        QuantConfig.load(tmp_path / "bad.json")
    with pytest.raises(ConfigError, match="scheme"):
        QuantConfig.from_dict({**QuantConfig().to_dict(), "scheme": {"scheme": "log"}})
    base = QuantConfig().to_dict()
    # a scheme given as its name is the shorthand for {"scheme": name}; other non-objects are a clear error
    assert QuantConfig.from_dict({**base, "scheme": "fixed_point"}).scheme.scheme == "fixed_point"
    for bad, needle in ((["uniform"], "is an object"), ({"scheme": "fixed_point", "int_bits": 2.5}, "int_bits .* got 2.5"),
                        ({"scheme": "fixed_point", "int_bits": True}, "int_bits"), ({"seed": "1"}, "seed must be an integer"),
                        ("log", "scheme .*one of uniform, fixed_point, got 'log'")):
        with pytest.raises(ConfigError, match=needle):
            QuantConfig.from_dict({**base, "scheme": bad})


def test_paper_notation_reproduces_qsvit_final_setting():
    s = create_model("sdtv2_tiny").quant_structure()
    cfg = QuantConfig(default=32, stages={"1": 8, "2": 8}, blocks={"ConvBlock1_1.0": 4, "downsample3": 4, "downsample4": 4})
    got = paper_notation(cfg.resolve(s), s)
    assert got["Stage-1"] == "(8,4,8,8)" and got["Stage-2"] == "(8,8,8)"
    assert got["Stage-3"] == "(4,32)" and got["Stage-4"] == "(4,32)"
    assert paper_notation(cfg.resolve(s), s, compact=False)["Stage-3"] == "(4,32,32,32,32,32,32)"
    mixed = QuantConfig(default=8, block_kinds={"block3.0": {"q": 32}}).resolve(s)
    assert paper_notation(mixed, s)["Stage-3"] == "(8,8|32,8)"


# -- applying -----------------------------------------------------------------------------
def test_apply_then_restore_is_bit_identical(v2):
    before = {k: v.clone() for k, v in v2.state_dict().items()}
    wq = WeightQuantizer(v2)
    wq.apply(QuantConfig(default=4, scheme=QuantScheme("fixed_point", rounding="stochastic", seed=3)))
    assert not torch.equal(v2.head.weight, before["head.weight"])
    wq.restore()
    assert all(torch.equal(before[k], v) for k, v in v2.state_dict().items())
    with wq.applied(QuantConfig(default=2)):
        pass
    assert all(torch.equal(before[k], v) for k, v in v2.state_dict().items())


def test_switching_touches_only_changed_layers_and_reuses_cache(v2):
    wq = WeightQuantizer(v2)
    s = wq.structure
    first = wq.apply(QuantConfig(default=8))
    assert len(first) == len(s.layers)
    changed = wq.apply(QuantConfig(default=8, blocks={"block3.2": 4}))
    assert sorted(changed) == sorted(layer.name for layer in s.layers_of("block3.2"))
    cached = wq.quantized("head", 8)
    assert wq.quantized("head", 8) is cached  # computed once per (layer, bits, scheme)
    assert v2.head.weight.data_ptr() == cached.values.data_ptr()
    wq.restore()


def test_quantized_forward_differs_and_is_deterministic(v2):
    wq = WeightQuantizer(v2)
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        ref = v2(x)
        with wq.applied(QuantConfig(default=2)):
            low = v2(x)
        with wq.applied(QuantConfig(default=16)):
            high = v2(x)
    assert not torch.equal(low, ref)
    assert (high - ref).abs().max() < (low - ref).abs().max()


# -- memory -------------------------------------------------------------------------------
def test_memory_equals_hand_computation_on_a_small_model():
    model = create_model("sdtv3", embed_dims=[8, 16, 32, 40], in_channels=1, num_classes=10)
    mm = MemoryModel(model)
    cfg = QuantConfig(default=8, stages={"3": 4}, layers={"head": 32})
    report = mm.report(cfg.resolve(mm.structure), cfg.scheme)
    expected = 0
    bits = cfg.resolve(mm.structure)
    layer_weights = {layer.name + ".weight": layer for layer in mm.structure.layers}
    for key, t in model.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        layer = layer_weights.get(key)
        if layer is None or bits[layer.name] == 32:
            expected += 4 * t.numel()
        else:
            expected += math.ceil(t.numel() * bits[layer.name] / 8) + 4 * t.shape[0]
    assert report.total_bytes == expected
    fp32 = sum(4 * t.numel() for k, t in model.state_dict().items() if not k.endswith("num_batches_tracked"))
    assert report.fp32_bytes == fp32
    assert report.saving == pytest.approx(1 - expected / fp32)
    by_stage = report.by("stage")
    assert int(by_stage["bytes"].sum()) == expected


@pytest.mark.parametrize("bits,expected_stage1", [(8, 1_695_296), (4, 866_080)])
def test_memory_sdtv2_55m_stage1_by_hand(bits, expected_stage1):
    # sdt_architecture.md section 3.4, stage 1 of metaspikformer_8_512: 1,662,080 params of which
    # 1,658,432 conv weights; BN running statistics 128 + 1024 + 256 + 2048; weight layers with
    # 64 + 640 + 128 + 1280 output channels (one FP32 scale each).
    with torch.device("meta"):
        model = create_model("sdtv2_55m")
    mm = MemoryModel(model)
    report = mm.report(QuantConfig(default=bits).resolve(mm.structure), QuantScheme())
    stage1 = report.by("stage").set_index("stage").loc["1"]
    weights = 1_658_432 * bits // 8
    scales = 4 * (64 + 640 + 128 + 1280)
    other_params = 4 * (1_662_080 - 1_658_432)
    running_stats = 4 * (128 + 1024 + 256 + 2048)
    assert weights + scales + other_params + running_stats == expected_stage1
    assert int(stage1["bytes"]) == expected_stage1
    assert int(stage1["fp32_bytes"]) == 4 * (1_662_080 + 3456)
    # the whole model: parameters 55,991,248 as in the table, at 4 bytes in FP32
    params = sum(p.numel() for p in model.parameters())
    assert params == 55_991_248


def test_memory_report_cli_style_dict(v2):
    d = memory_report(v2, QuantConfig(default=4)).to_dict()
    assert 0.8 < d["saving"] < 0.875 and len(d["stages"]) == 5


# -- packed export ------------------------------------------------------------------------
@pytest.mark.parametrize("bits", list(range(2, 17)))
def test_pack_unpack_round_trip(bits):
    g = torch.Generator().manual_seed(bits)
    codes = torch.randint(-(2 ** (bits - 1)), 2 ** (bits - 1), (1001,), generator=g).numpy()
    packed = pack_bits(codes, bits)
    assert len(packed) == math.ceil(1001 * bits / 8)
    assert (unpack_bits(packed, bits, 1001) == codes).all()


@pytest.mark.parametrize("name,scheme", [
    ("sdtv2_tiny", QuantScheme()),
    ("sdtv3_tiny", QuantScheme("fixed_point", "per_tensor")),
    ("sdt_tiny", QuantScheme("uniform", "per_channel", "stochastic", seed=5)),
])
def test_export_load_gives_identical_logits_and_file_matches_report(tmp_path, name, scheme):
    model = random_model(name, seed=2)
    cfg = QuantConfig(default=6, stages={"1": 3}, layers={"head": 32}, scheme=scheme, model=name)
    path = export_packed(model, cfg, tmp_path / "q.safetensors")
    rebuilt = load_packed(path)
    wq = WeightQuantizer(model)
    x = torch.randn(5, 1, 28, 28)
    with torch.no_grad(), wq.applied(cfg):
        expected = model(x)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), expected)
    header, meta = read_packed_header(path)
    payload = path.stat().st_size - 8 - header
    report = memory_report(model, cfg)
    assert abs(payload - report.total_bytes) <= 0.02 * report.total_bytes
    assert json.loads(meta["config"])["default"] == 6 and rebuilt.quant_config == cfg


def test_full_scale_sdtv2_55m_with_random_weights(tmp_path):
    """Apply / restore, memory, packed export and reload on the 55M model (random weights, small input)."""
    torch.manual_seed(0)
    model = create_model("sdtv2_55m")  # T = 4, kd head, 55,991,248 parameters
    cfg = QuantConfig(default=8, stages={"3": 4, "4": 4}, blocks={"downsample1_1": 32}, layers={"head": 16, "head_kd": 16})
    x = torch.randn(1, 3, 32, 32)  # any resolution runs: no positional embedding
    wq = WeightQuantizer(model)
    before = model.head.weight.clone()
    with torch.no_grad(), wq.applied(cfg):
        expected = model(x)
    assert torch.equal(model.head.weight, before)
    report = memory_report(model, cfg)
    assert 0.8 < report.saving < 0.875
    path = export_packed(model, cfg, tmp_path / "55m.safetensors")
    header, _ = read_packed_header(path)
    assert abs(path.stat().st_size - 8 - header - report.total_bytes) <= 0.02 * report.total_bytes
    with torch.no_grad():
        assert torch.equal(load_packed(path)(x), expected)


def test_fused_repconv_equals_the_trained_branches_and_exports(tmp_path):
    from aq4svit_lib.errors import UsageError
    from aq4svit_lib.models import fuse_repconv

    model = random_model("sdtv2_tiny", seed=11)
    fused = fuse_repconv(model)
    original_branch = model.block3[1].attn.k_conv
    x = (torch.rand(6, 64, 2, 2) < 0.3).float()  # spikes entering the branch
    with torch.no_grad():
        assert torch.allclose(fused.block3[1].attn.k_conv(x), original_branch(x), atol=1e-5, rtol=1e-5)
    s = fused.quant_structure()
    q = [layer for layer in s.layers if layer.block == "block3.0" and layer.kind == "q"]
    assert [layer.name for layer in q] == ["block3.0.attn.q_conv.conv"] and q[0].shape == (64, 64, 3, 3)
    assert sum(p.numel() for p in fused.parameters()) > sum(p.numel() for p in model.parameters())
    cfg = QuantConfig(default=4, stages={"1": 8})
    path = export_packed(fused, cfg, tmp_path / "fused.safetensors")
    inp = torch.randn(3, 1, 28, 28)
    with torch.no_grad(), WeightQuantizer(fused).applied(cfg):
        expected = fused(inp)
    with torch.no_grad():
        assert torch.equal(load_packed(path)(inp), expected)
    with pytest.raises(UsageError, match="no RepConv"):
        fuse_repconv(create_model("sdtv3_tiny"))
