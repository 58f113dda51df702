"""One look for every figure and table: the papers' method names, fixed colours, units, and the setting caption.

Ids (``qsvit``, ``greedy``, ...) stay the keys of result files and CSV tables; what a reader sees (figure
legends, Markdown tables) uses the names below, so a figure, a table and the README name a method alike.
Units: accuracy in percent, drops in points (pp), memory in MiB (2^20 bytes) or % of FP32, time in seconds.
No matplotlib here: tables use it too.
"""

from __future__ import annotations

from collections.abc import Mapping


class _FromRegistry(Mapping):
    """A search method's display name / colour / marker comes from its registration (search/registry.py), so a new
    method brings its own; the few labels that are not methods (the published setting, FP32) are listed here."""

    def __init__(self, attribute: str, extra: dict[str, str]):
        self.attribute, self.extra = attribute, extra

    def _registered(self) -> dict[str, str]:
        from .search.registry import all_methods

        return {name: getattr(m, self.attribute) for name, m in all_methods().items()}

    def __getitem__(self, key: str) -> str:
        registered = self._registered()
        return registered[key] if key in registered else self.extra[key]

    def __iter__(self):
        return iter({**self.extra, **self._registered()})

    def __len__(self) -> int:
        return len({**self.extra, **self._registered()})


#: method id -> the name the papers (or the baseline's own literature) use
METHOD_NAMES: Mapping[str, str] = _FromRegistry("display_name", {"paper": "QSViT (published setting)", "fp32": "FP32"})
METHOD_COLORS: Mapping[str, str] = _FromRegistry("color", {"paper": "#b56576", "fp32": "#000000"})
METHOD_MARKERS: Mapping[str, str] = _FromRegistry("marker", {"paper": "P"})
DECISION_COLORS = {
    "accepted": "#2a9d8f", "kept": "#2a9d8f", "measured": "#8d99ae", "rejected": "#e76f51", "rejected_margin": "#e9c46a",
    "rejected_early": "#f4a261", "pruned_drift": "#6d597a", "pruned_rank": "#9d4edd", "pruned_minibatch": "#b56576", "repair": "#264653",
}
#: one colour per weight width, dark = few bits; the same width has the same colour in every bit map
BIT_COLORS = {2: "#7f0000", 3: "#d7301f", 4: "#fc8d59", 5: "#fdbb84", 6: "#fee08b", 8: "#d9ef8b", 10: "#a6d96a", 12: "#66bd63",
              16: "#1a9850", 32: "#d9d9d9"}
STAGE_PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#999999")


def method_name(method: str) -> str:
    """``beam`` -> ``AQ4SViT-Beam``; labels such as ``beam_gate-threshold`` keep their suffix."""
    base, _, rest = str(method).partition("_")
    name = METHOD_NAMES.get(method, METHOD_NAMES.get(base, method))
    return name if method in METHOD_NAMES or not rest else f"{name} ({rest.replace('-', ' ')})"


def bit_color(bits: int) -> str:
    return BIT_COLORS.get(int(bits), "#bdbdbd")


def stage_color(stage, order: list) -> str:
    """The colour of ``stage`` given the stage order of every panel (so one colour means one stage everywhere)."""
    return STAGE_PALETTE[order.index(stage) % len(STAGE_PALETTE)]


def fmt_bits(bits) -> str:
    return "/".join(str(b) for b in sorted(bits, reverse=True))


def setting(profile, *, delta=None, bits=None, scheme=None) -> str:
    """One line naming what a figure shows: dataset, profile, Δ, bit list, quantizer, split sizes.

    ``profile`` is a reproduce.Profile or anything with the same attributes (duck-typed: plots must not
    import the reproduce layer); ``delta``, ``bits``, ``scheme`` name a figure that departs from the profile
    (e.g. QSViT's own list in notebook 02).
    """
    scheme = scheme or getattr(profile, "scheme", None)
    quantizer = scheme.key() if scheme is not None else "uniform/per_channel/nearest"
    dataset = {"fashion_mnist": "Fashion-MNIST", "imagenet": "ImageNet"}.get(profile.dataset, profile.dataset)
    test = "all" if profile.spec.test_size is None else str(profile.spec.test_size)
    delta = profile.delta if delta is None else delta
    return (f"{dataset} · profile {profile.name} · Δ = {delta:g} pp · bits {fmt_bits(bits or profile.bits)} · {quantizer} · "
            f"search/verify/test {profile.spec.search_size}/{profile.spec.verify_size}/{test} images")
