import gzip
import json
from pathlib import Path

import pytest
import torch

from aq4svit_lib.errors import UsageError
from aq4svit_lib.models import create_model, list_models, record_membranes
from tests.conftest import random_model

# Official state_dict key / shape lists (one per variant, produced by instantiating the official
# model classes; see README "Model zoo"), stored compressed as test data.
KEY_LISTS = json.loads(gzip.decompress((Path(__file__).parent / "data" / "sdt_keys.json.gz").read_bytes()))

CASES = {
    "v1_8_384": ("sdt_8_384", {}),
    "v1_6_512": ("sdt_6_512", {}),
    "v1_8_512": ("sdt_8_512", {}),
    "v1_10_512": ("sdt_10_512", {}),
    "v1_8_768": ("sdt_8_768", {}),
    "v2_metaspikformer_8_384_kdfalse": ("sdtv2_31m", {}),
    "v2_metaspikformer_8_384_kdtrue": ("sdtv2_31m", {"kd": True}),
    "v2_metaspikformer_8_512_kdfalse": ("sdtv2_55m", {"kd": False}),
    "v2_metaspikformer_8_512_kdtrue": ("sdtv2_55m", {}),
    "v2_metaspikformer_8_768_kdfalse": ("sdtv2", {"embed_dims": [192, 384, 768, 960]}),
    "v2_metaspikformer_8_768_kdtrue": ("sdtv2", {"embed_dims": [192, 384, 768, 960], "kd": True}),
    "v3b_Efficient_Spiking_Transformer_t": ("sdtv3", {"embed_dims": [24, 48, 96, 128]}),
    "v3b_Efficient_Spiking_Transformer_s": ("sdtv3_5m", {}),
    "v3b_Efficient_Spiking_Transformer_m": ("sdtv3_10m", {}),
    "v3b_Efficient_Spiking_Transformer_l": ("sdtv3_19m", {}),
}


def read_key_list(listing):
    entry = KEY_LISTS[listing]
    return entry["header"], {key: tuple(shape) for key, shape, _ in entry["keys"]}


def test_every_official_listing_is_covered():
    assert set(CASES) == {k for k in KEY_LISTS if not k.startswith("v3l_")}  # v3-Large: optional, not built


@pytest.mark.parametrize("listing", sorted(CASES))
def test_state_dict_keys_and_shapes_equal_official(listing):
    name, kwargs = CASES[listing]
    header, expected = read_key_list(listing)
    with torch.device("meta"):
        model = create_model(name, **kwargs)
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert list(ours) == list(expected)  # same keys, same order
    assert ours == expected
    n_params = int(header.split("n_params=")[1].split()[0].replace(",", ""))
    assert sum(p.numel() for p in model.parameters()) == n_params


def test_sdtv2_15m_matches_paper_parameter_count():
    with torch.device("meta"):
        assert sum(p.numel() for p in create_model("sdtv2_15m").parameters()) == 15_112_208


def test_all_named_variants_build():
    required = {"sdt_8_384", "sdt_6_512", "sdt_8_512", "sdt_10_512", "sdt_8_768", "sdtv2_15m", "sdtv2_31m",
                "sdtv2_55m", "sdtv3_5m", "sdtv3_10m", "sdtv3_19m", "sdt_tiny", "sdtv2_tiny", "sdtv3_tiny"}
    assert required <= set(list_models())


def test_unknown_model_lists_choices():
    with pytest.raises(UsageError) as err:
        create_model("sdtv4")
    assert "sdtv2_tiny" in str(err.value)


@pytest.mark.parametrize("name", ["sdt_tiny", "sdtv2_tiny", "sdtv3_tiny"])
def test_forward_is_deterministic_and_blockwise_equals_full(name):
    model = random_model(name)
    x = torch.randn(6, 1, 28, 28)
    with torch.no_grad():
        full = model(x)
        assert torch.equal(full, model(x))
        assert full.shape == (6, 10)
        for split_at in range(1, model.num_blocks):
            h = model.forward_blocks(x, 0, split_at)
            assert torch.equal(model.forward_blocks(h, split_at), full)


@pytest.mark.parametrize("family,kwargs", [
    ("sdt", dict(embed_dims=32, depths=1, T=2)),
    ("sdtv2", dict(embed_dims=[8, 16, 32, 40], T=2, kd=True)),
    ("sdtv3", dict(embed_dims=[8, 16, 32, 40])),
])
def test_imagenet_sized_forward(family, kwargs):
    """224 x 224 RGB input, 1000 classes: the full-scale path at small width (official token grid 14 x 14)."""
    model = random_model(family, in_channels=3, num_classes=1000, **kwargs)
    with torch.no_grad(), record_membranes(model) as rec:
        out = model(torch.randn(2, 3, 224, 224))
    assert out.shape == (2, 1000)
    last = list(rec.membranes.values())[-2]  # a neuron of the last transformer block
    assert last.shape[-1] in (14, 196)  # 14 x 14 tokens, as on ImageNet


def test_recorded_membranes_have_expected_shapes():
    model = random_model("sdtv2_tiny")  # T=4, widths 16/32/64/80, 28x28 input
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad(), record_membranes(model) as rec:
        model(x)
    assert rec.membranes["ConvBlock1_1.0.Conv.lif1"].shape == (4, 3, 8, 14, 14)
    assert rec.membranes["block3.0.attn.q_lif"].shape == (4, 3, 64, 2, 2)
    assert rec.membranes["block3.0.attn.attn_lif"].shape == (4, 3, 64, 4)  # [T, B, C, N]
    assert rec.membranes["block3.0.mlp.fc1_lif"].shape == (4, 3, 64, 4)
    assert rec.membranes["lif"].shape == (4, 3, 80)
    for name, m in rec.membranes.items():
        assert rec.spikes[name].shape == m.shape
        assert set(rec.spikes[name].unique().tolist()) <= {0.0, 1.0}
    v3 = random_model("sdtv3_tiny")
    with torch.no_grad(), record_membranes(v3) as rec3:
        v3(x)
    assert rec3.membranes["block3.0.attn.v_spike"].shape == (3, 256, 2, 2)  # no T, value 4x wide
    assert torch.equal(rec3.spikes["block3.0.attn.v_spike"], torch.round(rec3.membranes["block3.0.attn.v_spike"].clamp(0, 4)) / 4)
    # neurons that never run report nothing: v1's rpe_lif and attn_lif are declared, unused
    v1 = random_model("sdt_tiny")
    with torch.no_grad(), record_membranes(v1) as rec1:
        v1(x)
    assert "patch_embed.rpe_lif" not in rec1.membranes and "block.0.attn.attn_lif" not in rec1.membranes
    assert rec1.membranes["block.0.attn.talking_heads_lif"].shape == (4, 3, 8, 1, 12)


@pytest.mark.parametrize("name,kinds", [
    ("sdtv2_tiny", {"downsample", "pwconv", "dwconv", "channel_conv", "q", "k", "v", "proj", "mlp", "head"}),
    ("sdtv3_tiny", {"downsample", "pwconv", "dwconv", "channel_conv", "q", "k", "v", "proj", "mlp", "head"}),
    ("sdt_tiny", {"sps", "rpe", "q", "k", "v", "proj", "mlp", "head"}),
])
def test_quant_structure_lists_every_weight_layer(name, kinds):
    model = create_model(name)
    s = model.quant_structure()
    assert {layer.kind for layer in s.layers} == kinds
    weights = {n[: -len(".weight")] for n, p in model.named_parameters() if p.dim() > 1}
    weights.discard("block.0.attn.talking_heads")  # v1: declared, never used
    assert {layer.name for layer in s.layers} == {w for w in weights if "talking_heads" not in w}
    assert [b.index for b in s.blocks] == list(range(model.num_blocks))
    assert s.blocks[-1].kind == "head"
    assert sum(layer.params for layer in s.layers) == sum(
        p.numel() for n, p in model.named_parameters() if p.dim() > 1 and "talking_heads" not in n)


def test_repconv_chain_belongs_to_its_kind():
    s = create_model("sdtv2_tiny").quant_structure()
    q = [layer.name for layer in s.layers if layer.block == "block3.0" and layer.kind == "q"]
    assert q == ["block3.0.attn.q_conv.0.body.0", "block3.0.attn.q_conv.0.body.2.0", "block3.0.attn.q_conv.0.body.2.1"]


def test_v2_block_table_matches_paper_stage_layout():
    s = create_model("sdtv2_tiny").quant_structure()
    per_stage = {st: [b.kind for b in s.blocks_of(st)] for st in s.stages}
    assert per_stage["1"] == ["downsample", "conv_block", "downsample", "conv_block"]
    assert per_stage["2"] == ["downsample", "conv_block", "conv_block"]
    assert per_stage["3"] == ["downsample"] + ["transformer_block"] * 6
    assert per_stage["4"] == ["downsample"] + ["transformer_block"] * 2
    assert per_stage["head"] == ["head"]


@pytest.mark.parametrize("name", ["sdt_tiny", "sdtv2_tiny", "sdtv3_tiny"])
def test_shipped_checkpoint_reaches_its_recorded_accuracy(name):
    """Quick check on the first 2000 test images (the full 10 000: benchmarks/bench_models.py)."""
    from aq4svit_lib.data import load_splits
    from aq4svit_lib.models import default_checkpoint

    path = default_checkpoint(name)
    assert path.stat().st_size <= 5 * 2**20
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["test_accuracy"] >= 0.90  # the target, recorded on the full 10 000 test images
    model = create_model(name, checkpoint="default")
    test = load_splits()["test"].head(2000, "test2000")
    correct = 0
    with torch.no_grad():
        for x, y in test.batches(500):
            correct += int((model(x).argmax(1) == y).sum())
    # 3 standard errors of a 2000-image estimate around the full-set accuracy
    assert abs(correct / 2000 - card["test_accuracy"]) <= 3 * (0.1 * 0.9 / 2000) ** 0.5 + 0.005


def test_sdtv2_tiny_attention_fires():
    """The tiny model's attention scale keeps attn_lif alive at 2 x 2 tokens (it is silent at 0.125)."""
    from aq4svit_lib.data import load_splits

    model = create_model("sdtv2_tiny", checkpoint="default")
    assert model.block3[0].attn.scale == pytest.approx(0.125 * 196 / 4)
    x, _ = next(load_splits()["minibatch"].batches(256))
    with torch.no_grad(), record_membranes(model) as rec:
        model(x)
    rates = [float(rec.spikes[f"block3.{i}.attn.attn_lif"].mean()) for i in range(6)]
    assert max(rates) > 0.01
