import pytest
import torch

from aq4svit_lib.quant.energy import CONSTANTS, PowerMeter, energy_summary, energy_table, measure_activity, nvml_available
from tests.conftest import random_model


@pytest.fixture(scope="module")
def activity():
    model = random_model("sdtv2_tiny", seed=1)
    g = torch.Generator().manual_seed(0)
    batches = [(torch.randn(8, 1, 28, 28, generator=g), torch.zeros(8, dtype=torch.long)) for _ in range(2)]
    return model, measure_activity(model, batches)


def test_macs_match_layer_shapes(activity):
    model, act = activity
    row = act.set_index("layer").loc["downsample1_1.encode_conv"]
    # 7x7 conv, 1 -> 8 channels, 14x14 output, T = 4 repetitions of the image
    assert row.macs == 8 * 14 * 14 * 7 * 7 * 1 * 4
    assert bool(row.real_input) and row.activity == 1.0
    head = act.set_index("layer").loc["head"]
    assert head.macs == 10 * 80 * 4 and not bool(head.real_input)
    spiking = act[~act.real_input]
    assert ((spiking.activity >= 0) & (spiking.activity <= 1)).all()
    assert len(act[act.real_input]) >= 1  # the first layer, plus RepConv's inner real-valued convs


def test_sdt_convention_and_bit_aware_estimates(activity):
    _, act = activity
    fp32 = energy_table(act, {})
    first = fp32.set_index("layer").loc["downsample1_1.encode_conv"]
    assert first.E_sdt_convention_pJ == pytest.approx(first.macs * 4.6)
    spk = fp32[~fp32.real_input].iloc[3]
    assert spk.E_sdt_convention_pJ == pytest.approx(spk.macs * spk.activity * 0.9)
    # FP32 weights: compute cost of both estimates agree; bit-aware adds weight reads
    assert fp32.E_bit_aware_compute_pJ.sum() == pytest.approx(fp32.E_sdt_convention_pJ.sum())
    q8 = energy_table(act, {name: 8 for name in act.layer})
    q4 = energy_table(act, {name: 4 for name in act.layer})
    s32, s8, s4 = (energy_summary(t) for t in (fp32, q8, q4))
    assert s32["sdt_convention_uJ"] == s8["sdt_convention_uJ"]  # bit-blind by definition
    assert s4["bit_aware_uJ"] < s8["bit_aware_uJ"] < s32["bit_aware_uJ"]
    assert s8["bit_aware_memory_uJ"] == pytest.approx(s32["bit_aware_memory_uJ"] / 4)


def test_constants_have_sources():
    assert CONSTANTS["E_MAC_fp32_pJ"][0] == 4.6 and CONSTANTS["E_AC_fp32_pJ"][0] == 0.9
    assert all(isinstance(src, str) and src for _, src in CONSTANTS.values())


def test_power_meter_samples_with_a_fake_nvml():
    class FakeNVML:
        calls = 0

        def nvmlInit(self):
            pass

        def nvmlShutdown(self):
            pass

        def nvmlDeviceGetHandleByIndex(self, i):
            return i

        def nvmlDeviceGetPowerUsage(self, handle):
            FakeNVML.calls += 1
            return 150_000  # mW

    meter = PowerMeter(interval_s=0.005, nvml=FakeNVML())
    with meter.measure():
        torch.randn(200, 200) @ torch.randn(200, 200)
        import time

        time.sleep(0.05)
    assert meter.mean_watts == pytest.approx(150.0) and len(meter.samples_w) >= 2


def test_nvml_reports_why_it_is_unavailable(monkeypatch):
    import builtins
    import sys

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert nvml_available() == (False, "no CUDA device")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a GPU, but no NVML bindings
    monkeypatch.delitem(sys.modules, "pynvml", raising=False)
    real_import = builtins.__import__

    def no_pynvml(name, *args, **kwargs):
        if name == "pynvml":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pynvml)
    assert nvml_available() == (False, "pynvml (nvidia-ml-py) is not installed")
