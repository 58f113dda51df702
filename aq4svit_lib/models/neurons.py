"""Spiking neurons of the SDT family, and the membrane-potential observer hook.

``LIF`` is a multi-step leaky integrate-and-fire neuron over the leading time axis, with the
equations of spikingjelly's ``LIFNode(tau=2.0, detach_reset=True, step_mode='m')`` (decay_input,
hard reset to 0), written so that the floating-point operations are the same ones and the
spikes are bit-identical (``tests/test_neurons.py`` checks this against spikingjelly itself).
It keeps no state between calls: every forward starts from V = 0, so the official
``functional.reset_net`` after each batch is built in.

``MultiSpike`` is SDT v3's stateless integer neuron: round(clamp(x, 0, D)) / norm.

Neither has parameters or buffers, so they add no state_dict keys (as in the official code).
During a forward, a neuron reports its pre-spike membrane potential (LIF: the charge H[t]
before firing and reset; MultiSpike: its input) and its output to the observer installed
with :func:`observe_neurons`; that is the raw material of AQ4SViT's drift gate.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

Observer = Callable[[str, torch.Tensor, torch.Tensor], None]


class _SpikeFn(torch.autograd.Function):
    """Heaviside forward, sigmoid surrogate backward (spikingjelly's default, alpha = 4)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        sg = torch.sigmoid(ctx.alpha * x)
        return grad * ctx.alpha * sg * (1 - sg), None


class _RoundClampFn(torch.autograd.Function):
    """round(clamp(x, lo, hi)) with a straight-through gradient inside [lo, hi] (SDT v3)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return torch.round(torch.clamp(x, lo, hi))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        inside = (x >= ctx.lo) & (x <= ctx.hi)
        return grad * inside.to(grad.dtype), None, None


class SpikingNeuron(nn.Module):
    """Common part of the neurons: the observer hook."""

    _observer: Observer | None = None
    _observer_name: str = ""

    def _report(self, membrane: torch.Tensor, out: torch.Tensor) -> None:
        if self._observer is not None:
            self._observer(self._observer_name, membrane, out)


class LIF(SpikingNeuron):
    """Multi-step LIF over dim 0 (time): H = V + (X - V) / tau; S = H >= v_th; V = H (1 - S)."""

    def __init__(self, v_threshold: float = 1.0, tau: float = 2.0, alpha: float = 4.0):
        super().__init__()
        self.v_threshold = float(v_threshold)
        self.tau = float(tau)
        self.alpha = float(alpha)

    def extra_repr(self) -> str:
        return f"v_threshold={self.v_threshold}, tau={self.tau}"

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and x_seq.requires_grad:
            return self._forward_train(x_seq)
        return self._forward_eval(x_seq)

    def _forward_train(self, x_seq: torch.Tensor) -> torch.Tensor:
        v = torch.zeros_like(x_seq[0])
        spikes, charges = [], []
        for x in x_seq:
            h = v + (x - v) / self.tau
            s = _SpikeFn.apply(h - self.v_threshold, self.alpha)
            v = h * (1.0 - s.detach())  # detach_reset=True
            spikes.append(s)
            charges.append(h)
        out = torch.stack(spikes)
        if self._observer is not None:
            self._report(torch.stack(charges).detach(), out.detach())
        return out

    def _forward_eval(self, x_seq: torch.Tensor) -> torch.Tensor:
        # Same values as the loop above, with fewer passes over memory: at t = 0, V = 0 so
        # H = 0 + (X - 0) / tau equals X / tau exactly; the hard reset V = H (1 - S) equals
        # H with the firing positions set to 0.
        want_h = self._observer is not None
        out = torch.empty_like(x_seq)
        charges = torch.empty_like(x_seq) if want_h else None
        v = None
        for t, x in enumerate(x_seq):
            h = x / self.tau if v is None else v + (x - v) / self.tau
            fired = h >= self.v_threshold
            out[t] = fired
            if want_h:
                charges[t] = h
            if t + 1 < len(x_seq):
                v = h.masked_fill_(fired, 0.0)
        if want_h:
            self._report(charges, out)
        return out


class MultiSpike(SpikingNeuron):
    """SDT v3 integer neuron: round(clamp(x, 0, max_value)) / norm (round half to even)."""

    def __init__(self, max_value: int = 4, norm: float | None = None):
        super().__init__()
        self.max_value = max_value
        self.norm = float(max_value if norm is None else norm)

    def extra_repr(self) -> str:
        return f"max_value={self.max_value}, norm={self.norm}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and x.requires_grad:
            out = _RoundClampFn.apply(x, 0.0, float(self.max_value)) / self.norm
        else:  # same values without the autograd.Function overhead
            out = torch.round(torch.clamp(x, 0.0, float(self.max_value))) / self.norm
        self._report(x, out)
        return out


def neuron_modules(model: nn.Module) -> Iterator[tuple[str, SpikingNeuron]]:
    """(qualified name, neuron) for every spiking neuron in ``model``."""
    for name, module in model.named_modules():
        if isinstance(module, SpikingNeuron):
            yield name, module


@contextlib.contextmanager
def observe_neurons(model: nn.Module, observer: Observer):
    """Call ``observer(name, membrane, output)`` for every neuron that runs inside the block (ours, and spikingjelly's
    nodes of a network brought by a user)."""
    root = getattr(model, "neuron_root", model)  # a wrapped network names its neurons as the user's network does
    neurons = list(neuron_modules(root))
    for name, module in neurons:
        module._observer, module._observer_name = observer, name
    hooks = [_ChargeHook(name, node, observer) for name, node in jelly_nodes(root)]
    try:
        yield
    finally:
        for _, module in neurons:
            module._observer = None
        for hook in hooks:
            hook.remove()


def jelly_nodes(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(qualified name, node) for every spikingjelly neuron in ``model`` (none without spikingjelly)."""
    try:
        from spikingjelly.activation_based.neuron import BaseNode
    except ImportError:
        return []
    return [(name, m) for name, m in model.named_modules() if isinstance(m, BaseNode)]


def _charge(node: Any, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:  # a spikingjelly node (untyped library)
    """H = the node's potential after charging ``x`` from ``v``, before firing (see _ChargeHook)."""
    if hasattr(node, "single_step_functional_forward"):
        threshold = node.v_threshold
        node.v_threshold = float("inf")
        try:
            _, states = node.single_step_functional_forward((x,), (v,))
            return states[0]
        except NotImplementedError:
            pass
        finally:
            node.v_threshold = threshold
    final = node.v
    node.v = v
    node.neuronal_charge(x)
    h, node.v = node.v, final
    return h


class _ChargeHook:
    """The pre-spike membrane potential H[t] of a multi-step spikingjelly node, reported like our neurons' (drift is
    measured on H, before firing and reset). spikingjelly keeps only the potential *after* reset (``v_seq``); H[t] is
    rebuilt from it with the node's own step: its functional step with the threshold lifted out of reach (no spike, so
    no reset: the state it returns is H), or its ``neuronal_charge`` for nodes written the older way. A node with more
    state than ``v`` (adaptive ones) reports ``v_seq`` itself."""

    def __init__(self, name: str, node: Any, observer: Observer):  # a spikingjelly node (untyped library)
        if getattr(node, "step_mode", "m") != "m":
            from ..errors import UsageError

            raise UsageError(f"neuron {name} runs in single-step mode; the drift gate reads multi-step nodes "
                             "(spikingjelly.activation_based.functional.set_step_mode(net, 'm'))")
        self.name, self.node, self.observer = name, node, observer
        self.stored = node.store_v_seq
        node.store_v_seq = True
        self._handles = [node.register_forward_pre_hook(self._before), node.register_forward_hook(self._after)]
        self.v0: torch.Tensor | float = 0.0

    def _before(self, node, inputs) -> None:
        self.v0 = node.v  # the resting potential (after reset_net)

    def _after(self, node, inputs, output) -> None:
        x_seq, v_seq = inputs[0], getattr(node, "v_seq", None)
        if not isinstance(v_seq, torch.Tensor) or v_seq.shape != x_seq.shape:
            return  # a node that does not store its potentials: nothing to report
        if list(getattr(node, "_memories", {"v": 0})) != ["v"]:
            self.observer(self.name, v_seq.detach(), output.detach())
            return
        charges = torch.empty_like(x_seq)
        v = self.v0 if isinstance(self.v0, torch.Tensor) else torch.full_like(x_seq[0], float(self.v0))
        for t in range(x_seq.shape[0]):
            charges[t] = _charge(node, x_seq[t], v)
            v = v_seq[t]
        self.observer(self.name, charges.detach(), output.detach())

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self.node.store_v_seq = self.stored


class MembraneRecord:
    """Membrane potentials and outputs of every neuron, in the order the neurons ran."""

    def __init__(self) -> None:
        self.membranes: dict[str, torch.Tensor] = {}
        self.spikes: dict[str, torch.Tensor] = {}

    def __call__(self, name: str, membrane: torch.Tensor, out: torch.Tensor) -> None:
        self.membranes[name] = membrane.detach().clone()
        self.spikes[name] = out.detach().clone()

    def firing_rates(self) -> dict[str, float]:
        """Mean output per neuron and time step (for MultiSpike: mean normalised count)."""
        return {k: float(v.float().mean()) for k, v in self.spikes.items()}


@contextlib.contextmanager
def record_membranes(model: nn.Module) -> Iterator[MembraneRecord]:
    """Record the pre-spike membrane potential and output of every neuron during a forward.

    >>> with record_membranes(model) as rec:
    ...     model(x)
    >>> rec.membranes["block3.0.attn.q_lif"].shape   # [T, B, C, H, W]
    """
    record = MembraneRecord()
    with observe_neurons(model, record):
        yield record
