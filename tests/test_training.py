import json

import pytest
import torch

from aq4svit_lib.data import SplitSpec, load_splits
from aq4svit_lib.errors import UsageError
from aq4svit_lib.models import load_model
from aq4svit_lib.training import TrainConfig, WeightAverage, accuracy, augment, lr_at, precise_bn, train


def test_lr_schedule_warms_up_then_decays_to_zero():
    lrs = [lr_at(s, 100, 10, 1.0) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:], strict=False))
    assert lrs[-1] < 0.01


def test_augment_shifts_and_flips_deterministically():
    x = torch.arange(2 * 28 * 28, dtype=torch.float32).reshape(2, 1, 28, 28)
    a = augment(x, 2, True, torch.Generator().manual_seed(0))
    b = augment(x, 2, True, torch.Generator().manual_seed(0))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, x)
    assert torch.equal(augment(x, 0, False, torch.Generator()), x)


def test_training_writes_a_checkpoint_that_reproduces_its_accuracy(tmp_path):
    spec = SplitSpec(search_size=58_000, minibatch_size=256, verify_size=0, test_size=1000)  # 2000 training images: quick
    cfg = TrainConfig(model="sdtv3_tiny", epochs=2, batch_size=50, seed=3, warmup_epochs=0.1)
    out = tmp_path / "m.safetensors"
    model, result = train(cfg, out, spec, progress=False, log=None)
    log = json.loads(out.with_suffix(".json").read_text())
    assert [h["epoch"] for h in log["history"]] == [1, 2] and log["config"]["seed"] == 3
    assert all(torch.isfinite(torch.tensor(h["loss"])) for h in log["history"])
    reloaded = load_model(out)
    assert accuracy(reloaded, load_splits(spec=spec)["test"]) == log["test_accuracy"] == result["test_accuracy"]
    assert log["test_accuracy"] > 0.3  # far above chance (0.1) after 80 steps


def test_the_split_training_uses_excludes_search_verify_and_test():
    s = load_splits(spec=SplitSpec())
    held_out = set(s["search"].indices) | set(s["verify"].indices)
    assert not set(s["train"].indices) & held_out and len(s["train"]) == 60_000 - len(held_out)
    assert s["train"].pool == "train" and s["test"].pool == "test"


def test_weight_average_is_an_exponential_moving_average():
    model = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema = WeightAverage(model, decay=0.5)
    for value in (4.0, 8.0):  # shadow: 0 -> 2 -> 5
        with torch.no_grad():
            model.weight.fill_(value)
        ema.update()
    ema.copy_to_model()
    assert torch.equal(model.weight, torch.full((1, 2), 5.0))
    with pytest.raises(UsageError, match="ema_decay"):
        WeightAverage(model, decay=1.0)


@pytest.mark.parametrize("bad", [{"epochs": 0}, {"lr": 0.0}, {"shift": -1}, {"label_smoothing": 1.0}, {"ema_decay": 1.0}])
def test_train_config_rejects_bad_settings_before_loading_data(bad):
    with pytest.raises(UsageError, match=next(iter(bad))):
        TrainConfig(**bad)


def test_precise_bn_sets_running_stats_to_the_mean_over_full_batches():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 1), torch.nn.BatchNorm2d(3))
    x = torch.randn(10, 1, 4, 4) * 3 + 1
    precise_bn(model, x, batch_size=4)  # batches 0..3 and 4..7; the partial batch 8..9 is left out
    feats = model[0](x[:8]).detach()
    means = torch.stack([feats[i : i + 4].mean((0, 2, 3)) for i in (0, 4)])
    assert torch.allclose(model[1].running_mean, means.mean(0), atol=1e-6)
    assert model[1].momentum == 0.1 and not model.training  # restored, and left in eval mode
