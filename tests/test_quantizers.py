"""Property tests of both quantizers."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aq4svit_lib.errors import UsageError
from aq4svit_lib.quant import dequantize, fake_quantize

BITS = st.integers(min_value=2, max_value=16)
SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def weights(draw, min_dim=1):
    shape = draw(st.lists(st.integers(1, 6), min_size=max(2, min_dim), max_size=4))
    seed = draw(st.integers(0, 2**31 - 1))
    scale = draw(st.sampled_from([1e-3, 0.02, 0.3, 1.0, 7.5]))
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g) * scale


@given(weights(), st.sampled_from(["uniform", "fixed_point"]), st.sampled_from(["per_channel", "per_tensor"]))
@SETTINGS
def test_32_bits_is_exact_identity(w, scheme, gran):
    q = fake_quantize(w, 32, scheme, gran)
    assert q.values is w and q.codes is None


@given(weights(), BITS, st.sampled_from(["per_channel", "per_tensor"]))
@SETTINGS
def test_uniform_levels_error_and_symmetry(w, bits, gran):
    q = fake_quantize(w, bits, "uniform", gran)
    qmax = 2 ** (bits - 1) - 1
    # at most 2^b - 1 distinct levels per scale group
    groups = q.codes.reshape(w.shape[0], -1) if gran == "per_channel" else q.codes.reshape(1, -1)
    for row in groups:
        assert len(row.unique()) <= 2**bits - 1
    assert int(q.codes.abs().max()) <= qmax
    # rounding to nearest: error at most s / 2 per element
    s = q.scale.reshape(-1, *[1] * (w.dim() - 1)) if gran == "per_channel" else q.scale
    assert bool(((q.values - w).abs() <= s / 2 + 1e-6 * w.abs().max()).all())
    # symmetry: quantize(-w) == -quantize(w)
    assert torch.equal(fake_quantize(-w, bits, "uniform", gran).codes, -q.codes)
    # idempotence
    assert torch.allclose(fake_quantize(q.values, bits, "uniform", gran).values, q.values, rtol=0, atol=1e-6 * float(w.abs().max()))
    assert torch.equal(dequantize(q.codes, q.scale), q.values)


@given(weights(), BITS, st.sampled_from(["nearest", "truncate"]))
@SETTINGS
def test_fixed_point_grid_and_range(w, bits, rounding):
    q = fake_quantize(w, bits, "fixed_point", "per_tensor", rounding)
    step = float(q.scale)
    assert math.log2(step) == round(math.log2(step))  # a power of two: Qm.n
    m = math.log2(step) + bits - 1
    absmax = float(w.abs().max())
    assert m >= 0 and absmax <= 2**m - step  # no saturation ...
    assert m == 0 or absmax > 2 ** (m - 1) - step / 2  # ... with the smallest such m
    assert int(q.codes.max()) <= 2 ** (bits - 1) - 1 and int(q.codes.min()) >= -(2 ** (bits - 1))
    assert len(q.codes.unique()) <= 2**bits
    err = (q.values - w).abs()
    bound = step / 2 if rounding == "nearest" else step
    assert bool((err <= bound + 1e-7).all())
    if rounding == "truncate":
        assert bool((q.values <= w + 1e-7).all())  # floor never rounds up
    assert torch.equal(fake_quantize(q.values, bits, "fixed_point", "per_tensor", rounding).values, q.values)


def test_fixed_point_small_weights_lose_resolution():
    w = torch.full((4, 4), 0.01)
    assert float(fake_quantize(w, 4, "fixed_point", "per_tensor").values.abs().max()) == 0.0  # Q0.3 step 0.125
    assert float(fake_quantize(w, 4, "uniform", "per_tensor").values.abs().max()) == pytest.approx(0.01)
    # fixed integer bits make even 16-bit coarse for small weights
    q = fake_quantize(torch.full((2, 2), 0.003), 16, "fixed_point", "per_tensor", int_bits=8)
    assert float(q.scale) == 2.0**-7 and float(q.values.abs().max()) == 0.0


def test_all_zero_channel_stays_zero():
    w = torch.randn(3, 5)
    w[1] = 0
    for scheme in ("uniform", "fixed_point"):
        q = fake_quantize(w, 4, scheme)
        assert torch.equal(q.values[1], torch.zeros(5)) and not torch.isnan(q.values).any()


@given(st.integers(0, 10_000), st.integers(3, 12))
@settings(max_examples=25, deadline=None)
def test_stochastic_rounding_is_reproducible_and_unbiased(seed, bits):
    step = 2.0 ** -(bits - 1)  # Q0.(b-1): weights below 1
    k = torch.randint(0, 2 ** (bits - 1) - 2, (4000,), generator=torch.Generator().manual_seed(seed))
    w = (k + 0.25) * step  # a quarter step above a grid point: nearest is biased by -step / 4
    a = fake_quantize(w, bits, "fixed_point", "per_tensor", "stochastic", seed=seed)
    b = fake_quantize(w, bits, "fixed_point", "per_tensor", "stochastic", seed=seed)
    assert torch.equal(a.values, b.values) and float(a.scale) == step
    err = a.values - w  # Bernoulli(1/4) x step - step / 4: mean 0, sd ~0.43 step
    assert abs(float(err.mean())) <= 5 * 0.5 * step / math.sqrt(len(w))
    nearest = fake_quantize(w, bits, "fixed_point", "per_tensor", "nearest")
    assert float((nearest.values - w).mean()) == pytest.approx(-step / 4, rel=1e-3)


def test_stochastic_rounding_differs_by_seed():
    w = torch.rand(10, 100)
    a = fake_quantize(w, 4, "uniform", rounding="stochastic", seed=1)
    b = fake_quantize(w, 4, "uniform", rounding="stochastic", seed=2)
    assert not torch.equal(a.codes, b.codes)


@pytest.mark.parametrize("bits", [0, 1, 17, 24, 31, 33, 8.0, "8", True])
def test_bits_outside_the_allowed_set_are_refused(bits):
    with pytest.raises(UsageError, match="2 to 16, or 32"):
        fake_quantize(torch.randn(3, 3), bits)


def test_unknown_scheme_options_are_refused():
    with pytest.raises(UsageError, match="uniform, fixed_point"):
        fake_quantize(torch.randn(2, 2), 8, scheme="log2")
    with pytest.raises(UsageError, match="per_channel"):
        fake_quantize(torch.randn(2, 2), 8, granularity="per_row")
    with pytest.raises(UsageError, match="int_bits"):
        fake_quantize(torch.randn(2, 2), 8, int_bits=2)
