import argparse

import pytest
import torch

from aq4svit_lib.errors import CheckpointError
from aq4svit_lib.models import create_model, load_model
from aq4svit_lib.models.checkpoint import load_checkpoint, save_checkpoint
from tests.conftest import random_model


def _same(a, b):
    return all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())


def test_safetensors_round_trip_is_strict_and_exact(tmp_path):
    model = random_model("sdtv2_tiny", seed=3)
    path = save_checkpoint(model, tmp_path / "m.safetensors", note="x")
    again = load_model(path)
    assert _same(model, again)
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(model(x), again(x))


@pytest.mark.parametrize("wrapper", ["model", "state_dict", None])
@pytest.mark.parametrize("ddp", [False, True])
def test_official_pth_layouts_load(tmp_path, wrapper, ddp):
    model = random_model("sdtv3_tiny", seed=1)
    sd = model.state_dict()
    if ddp:
        sd = {"module." + k: v for k, v in sd.items()}
    obj = sd if wrapper is None else {wrapper: sd, "epoch": 299, "args": argparse.Namespace(model="x", kd=False)}
    path = tmp_path / "official.pth"
    torch.save(obj, path)
    fresh = create_model("sdtv3_tiny", checkpoint=path)
    assert _same(model, fresh)


def test_missing_unexpected_and_shape_mismatch_are_listed(tmp_path):
    sd = random_model("sdtv2_tiny").state_dict()
    sd.pop("head.bias")
    sd["head_kd.weight"] = torch.zeros(10, 80)
    sd["downsample2.encode_conv.weight"] = torch.zeros(32, 16, 5, 5)
    path = tmp_path / "bad.pth"
    torch.save({"model": sd}, path)
    with pytest.raises(CheckpointError) as err:
        create_model("sdtv2_tiny", checkpoint=path)
    msg = str(err.value)
    assert "1 missing keys" in msg and "head.bias" in msg
    assert "1 unexpected keys" in msg and "head_kd.weight" in msg
    assert "downsample2.encode_conv.weight: checkpoint [32, 16, 5, 5] vs model [32, 16, 3, 3]" in msg
    assert "kd" in msg  # hint about the kd head


def test_non_strict_loading_keeps_what_fits(tmp_path):
    model = random_model("sdtv2_tiny", seed=5)
    sd = model.state_dict()
    sd.pop("head.bias")
    torch.save(sd, tmp_path / "partial.pth")
    fresh = create_model("sdtv2_tiny")
    load_checkpoint(fresh, tmp_path / "partial.pth", strict=False)
    assert torch.equal(fresh.head.weight, model.head.weight)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")  # torch's, on the garbage we feed it
@pytest.mark.parametrize("content,needle", [
    (b"garbage bytes, not a checkpoint", "not a PyTorch checkpoint"),  # a text file
    (b"", "not a PyTorch checkpoint"),
    (b"\x80\x04garbage after a pickle header", "not a readable"),
    (b"PK\x03\x04 a zip header and nothing else", "not a readable"),
])
def test_garbage_file_is_a_clear_error(tmp_path, content, needle):
    path = tmp_path / "garbage.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as err:
        create_model("sdtv2_tiny", checkpoint=path)
    assert "garbage.pth" in str(err.value) and needle in str(err.value) and "weights_only" not in str(err.value)


def test_checkpoint_with_arbitrary_python_objects_is_refused_without_torchs_unsafe_hint(tmp_path):
    import pathlib

    path = tmp_path / "objects.pth"
    torch.save({"model": random_model("sdtv2_tiny").state_dict(), "extra": pathlib.PurePosixPath("x")}, path)
    with pytest.raises(CheckpointError, match="arbitrary code") as err:
        create_model("sdtv2_tiny", checkpoint=path)
    assert "weights_only" not in str(err.value)


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "full.pth"
    torch.save({"model": random_model("sdtv2_tiny").state_dict()}, path)
    data = path.read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError):
        create_model("sdtv2_tiny", checkpoint=tmp_path / "cut.pth")
    st = save_checkpoint(random_model("sdtv2_tiny"), tmp_path / "m.safetensors")
    (tmp_path / "cut.safetensors").write_bytes(st.read_bytes()[:1000])
    with pytest.raises(CheckpointError):
        create_model("sdtv2_tiny", checkpoint=tmp_path / "cut.safetensors")


def test_missing_file_and_non_state_dict():
    with pytest.raises(CheckpointError, match="does not exist"):
        create_model("sdtv2_tiny", checkpoint="/nonexistent/x.pth")


def test_pickled_non_tensor_payload_is_refused(tmp_path):
    path = tmp_path / "dict.pth"
    torch.save({"model": {"a": 1}}, path)
    with pytest.raises(CheckpointError, match="no state_dict"):
        create_model("sdtv2_tiny", checkpoint=path)
