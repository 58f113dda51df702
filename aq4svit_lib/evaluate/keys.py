"""What identifies an evaluation: memo keys, prefix signatures, pinned prefixes, whose work a record is.

Apart from the rest of the engine because results on disk are found by exactly these keys: what goes
into one changes only on purpose (any change makes every stored entry miss).
"""

from __future__ import annotations

import hashlib

import torch

from .. import __version__
from ..data.splits import Split
from ..provenance import engine_version
from ..quant.config import QuantConfig
from ..quant.quantizers import FP32, QuantScheme
from .memo import result_key
from .state import EvaluatorState

#: The engine's identity in memo keys: a hash of the code of data, models, quant and evaluate plus the
#: torch / numpy versions, so any change that could alter a number makes old memo entries miss.
ENGINE_VERSION = engine_version()


def device_numerics(device: torch.device) -> tuple[str, str]:
    """The device's type and kernel family: on CPU, ATen and oneDNN pick AVX2 or AVX-512 kernels whose float
    sums differ (one Fashion-MNIST test image flipped between two machines), so memo keys carry it."""
    if device.type == "cpu":
        return "cpu", torch.backends.cpu.get_cpu_capability()
    if device.type == "cuda":
        return "cuda", torch.cuda.get_device_name(device)
    return device.type, ""


def _answers(cached: dict | None, floor: float | None) -> bool:
    """Does a memo record answer an accuracy question with this floor? A complete one always; one rejected
    early under floor f' answers any floor >= f' (it is out of reach there too)."""
    return cached is not None and (cached["complete"] or (floor is not None and cached["floor"] is not None and floor >= cached["floor"]))


class MemoKeys(EvaluatorState):
    def _replayed(self, key: str, record: dict) -> None:
        """Add back the time and images of another session's evaluation (a killed run of this search, or another
        search sharing the model's memo), once per record (a search may look a result up twice): what a search
        reports is what it would have cost alone, not what this replay cost."""
        if record.get("session") not in (None, self.session) and key not in self._replayed_keys:
            self._replayed_keys.add(key)
            self.replayed_seconds += record.get("seconds") or 0.0
            self.replayed_images += record.get("forwarded") or 0

    def signatures(self, bits: dict[str, int], scheme: QuantScheme) -> list[str]:
        """sig[i] identifies the bits of blocks 0..i-1 (the key of the activation entering block i)."""
        sigs, h = [""], hashlib.blake2b(digest_size=12)
        for layers in self._block_layers:
            token = ",".join(str(bits[name]) for name in layers)
            if any(bits[name] != FP32 for name in layers):
                token += "@" + scheme.key()
            h.update(token.encode() + b";")
            sigs.append(h.hexdigest())
        return sigs

    def _key(self, kind: str, bits: dict[str, int], scheme: QuantScheme, split: Split) -> str:
        quantized = any(b != FP32 for b in bits.values())
        canonical = ",".join(str(bits[layer.name]) for layer in self.structure.layers)
        return result_key(kind, self.fingerprint, scheme.key() if quantized else "fp32", canonical, split.hash, self._numerics(),
                          ENGINE_VERSION, __version__)

    def _numerics(self) -> tuple:
        """Where (device, kernel family) and in what batches the forward runs: each can move float sums, hence
        threshold crossings. With a remote executor, the workers' hardware."""
        return (*(self.executor.numerics or device_numerics(self.device)), self.batch_size)

    def pin(self, *configs: QuantConfig | dict[str, int]) -> None:
        """Keep the prefix activations of these configs (FP32 is always kept) in the cache."""
        self._pins = [self.resolve(c) for c in configs]
        self._refresh_pins()
        if self.executor.remote:
            self.executor.broadcast("pin", list(configs))

    def _refresh_pins(self) -> None:
        keys: set[tuple] = set()
        fp32 = {layer.name: FP32 for layer in self.structure.layers}
        for bits, scheme in [(fp32, self.scheme), *self._pins]:
            sigs = self.signatures(bits, scheme)
            for name in self.splits:
                for ns in ("acc", "drift"):
                    keys.update((ns, self.splits[name].hash, i, sigs[i]) for i in range(self.n_blocks))
        self.cache.pin(keys)
