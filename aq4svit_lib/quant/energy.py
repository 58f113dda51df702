"""Energy per inference from measured activity and layer shapes, under two clearly named estimates.

Every constant lives in :data:`CONSTANTS` with its source. Only weight layers (the conv / linear
layers that the quantizers touch) are counted; attention products, BN and neurons are not.

``sdt_convention`` -- the estimate of the SDT papers (45 nm, 32-bit float, Horowitz 2014):
    a layer whose input is real-valued (the first layer) costs MACs x E_MAC (4.6 pJ);
    a layer whose input is spikes costs SOPs x E_AC (0.9 pJ), SOPs = input activity x MACs,
    MACs counted over all T time steps, activity = mean spike count per input element and step.
It ignores bit width, so quantization changes it only through firing rates.

``bit_aware`` -- our estimate (label it so wherever it is shown): with b-bit integer weights an
accumulate costs E_add_int32 x b / 32 (integer add energy ~ linear in width), a multiply (real
input meets weight) costs E_mul_int32 x (b / 32)^2 (~ quadratic) + one 32-bit integer add; FP32
layers keep the float costs of the SDT convention. Each weight is read once per inference from
on-chip SRAM at E_sram per bit.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass

import pandas as pd
import torch

from ..models.base import SpikingBackbone
from .quantizers import FP32

CONSTANTS = {
    "E_MAC_fp32_pJ": (4.6, "SDT v1/v2 papers; Horowitz, ISSCC 2014 (45 nm): FP32 mult 3.7 + add 0.9"),
    "E_AC_fp32_pJ": (0.9, "SDT v1/v2 papers; Horowitz 2014: FP32 add"),
    "E_add_int32_pJ": (0.1, "Horowitz 2014: 32-bit integer add (8-bit: 0.03)"),
    "E_mul_int32_pJ": (3.1, "Horowitz 2014: 32-bit integer multiply (8-bit: 0.2)"),
    "E_sram_per_bit_pJ": (10.0 / 64, "Horowitz 2014: 64-bit read from an 8 KB SRAM, 10 pJ"),
}


def constant(name: str) -> float:
    return CONSTANTS[name][0]


def _is_spiking(x: torch.Tensor) -> bool:
    """Spike tensors hold non-negative multiples of 1/4 (binary LIF spikes or v3 multi-spikes)."""
    if x.numel() == 0 or bool((x < 0).any()):
        return False
    return bool(torch.equal(x * 4, torch.round(x * 4)))


@dataclass
class LayerActivity:
    macs: float = 0.0  # multiply-accumulates per image, all time steps
    activity_sum: float = 0.0  # sum over calls of mean spike count x macs
    real_input: bool = False


@torch.inference_mode()
def measure_activity(model: SpikingBackbone, batches) -> pd.DataFrame:
    """Forward ``batches`` of images; return MACs per image and input activity of every weight layer."""
    structure = model.quant_structure()
    modules = dict(model.named_modules())
    stats = {layer.name: LayerActivity() for layer in structure.layers}
    images = 0
    family = structure.family

    def hook_for(layer):
        def hook(module, inputs, output):
            x = inputs[0]
            fan_in = module.weight[0].numel()
            macs = output.numel() * fan_in
            st = stats[layer.name]
            st.macs += macs
            if _is_spiking(x):
                per_spike = 4.0 if family == "sdtv3" and layer.kind != "head" else 1.0  # v3 stores count / 4
                st.activity_sum += float(x.float().mean()) * per_spike * macs
            else:
                st.real_input = True
                st.activity_sum += macs

        return hook

    handles = [modules[layer.name].register_forward_hook(hook_for(layer)) for layer in structure.layers]
    device = next(model.parameters()).device
    try:
        for x, _ in batches:
            model(x.to(device))
            images += len(x)
    finally:
        for h in handles:
            h.remove()
    rows = []
    for layer in structure.layers:
        st = stats[layer.name]
        rows.append(
            dict(
                layer=layer.name, block=layer.block, stage=layer.stage, kind=layer.kind, params=layer.params,
                macs=st.macs / images, activity=(st.activity_sum / st.macs) if st.macs else 0.0, real_input=st.real_input,
            )
        )
    return pd.DataFrame(rows)


def energy_table(activity: pd.DataFrame, bits: dict[str, int]) -> pd.DataFrame:
    """Add both estimates (pJ per image) for the given per-layer bits to an activity table."""
    t = activity.copy()
    t["bits"] = [bits.get(name, FP32) for name in t.layer]
    ops = t.macs * t.activity  # SOPs for spiking inputs, MACs for real inputs
    t["E_sdt_convention_pJ"] = ops.where(~t.real_input, 0) * constant("E_AC_fp32_pJ") + ops.where(t.real_input, 0) * constant("E_MAC_fp32_pJ")
    b = t.bits.astype(float)
    add_q = constant("E_add_int32_pJ") * b / 32
    mac_q = constant("E_mul_int32_pJ") * (b / 32) ** 2 + constant("E_add_int32_pJ")
    fp = t.bits == FP32
    per_op = t.real_input.map({True: 1, False: 0}) * mac_q + (~t.real_input).map({True: 1, False: 0}) * add_q
    per_op = per_op.where(~fp, t.real_input.map({True: constant("E_MAC_fp32_pJ"), False: constant("E_AC_fp32_pJ")}))
    t["E_bit_aware_compute_pJ"] = ops * per_op
    t["E_bit_aware_memory_pJ"] = t.params * b * constant("E_sram_per_bit_pJ")
    t["E_bit_aware_pJ"] = t.E_bit_aware_compute_pJ + t.E_bit_aware_memory_pJ
    return t


def energy_summary(table: pd.DataFrame) -> dict:
    return {
        "sdt_convention_uJ": float(table.E_sdt_convention_pJ.sum()) / 1e6,
        "bit_aware_uJ": float(table.E_bit_aware_pJ.sum()) / 1e6,
        "bit_aware_compute_uJ": float(table.E_bit_aware_compute_pJ.sum()) / 1e6,
        "bit_aware_memory_uJ": float(table.E_bit_aware_memory_pJ.sum()) / 1e6,
        "sops_per_image": float((table.macs * table.activity)[~table.real_input].sum()),
        "macs_per_image": float(table.macs[table.real_input].sum()),
    }


# -- measured GPU power (QSViT reported power on an RTX 4090) ----------------------------------
def nvml_available() -> tuple[bool, str]:
    if not torch.cuda.is_available():
        return False, "no CUDA device"
    try:
        import pynvml  # noqa: F401  (package nvidia-ml-py)
    except ImportError:
        return False, "pynvml (nvidia-ml-py) is not installed"
    return True, ""


class PowerMeter:
    """Samples the GPU's power draw (NVML) in a background thread while the block runs."""

    def __init__(self, device_index: int = 0, interval_s: float = 0.05, nvml=None):
        self.device_index, self.interval_s = device_index, interval_s
        self._nvml = nvml
        self.samples_w: list[float] = []
        self.seconds = 0.0

    @contextlib.contextmanager
    def measure(self):
        nvml = self._nvml
        if nvml is None:
            import pynvml

            nvml = pynvml
        nvml.nvmlInit()
        handle = nvml.nvmlDeviceGetHandleByIndex(self.device_index)
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                self.samples_w.append(nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0)  # mW -> W
                stop.wait(self.interval_s)

        thread = threading.Thread(target=sample, daemon=True)
        start = time.perf_counter()
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()
            self.seconds = time.perf_counter() - start
            nvml.nvmlShutdown()

    @property
    def mean_watts(self) -> float | None:
        return sum(self.samples_w) / len(self.samples_w) if self.samples_w else None
