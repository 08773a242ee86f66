"""The branch-free math of the firm loop against numpy's float64 functions."""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from scipy import stats

from resonance.kernels import vmath
from resonance.kernels.reference import inverse_normal as reference_inverse_normal

JIT = dict(fastmath=vmath.FASTMATH, error_model="numpy")


@njit(**JIT)
def _exp(x, out):
    for i in range(x.size):
        out[i] = vmath.exp(x[i])


@njit(**JIT)
def _log(x, out):
    for i in range(x.size):
        out[i] = vmath.log(x[i])


@njit(**JIT)
def _inverse_normal(u, out, F):
    for i in range(u.size):
        out[i] = vmath.inverse_normal(u[i], F)


@njit(**JIT)
def _cbrt(x, out, F):
    for i in range(x.size):
        out[i] = vmath.cbrt_positive(x[i], F)


def _apply(kernel, x, *args):
    out = np.empty_like(x)
    kernel(x, out, *args)
    return out


def test_float32_exp_is_accurate_over_its_domain():
    x = np.linspace(-87.0, 88.0, 1_000_001).astype(np.float32)
    got = _apply(_exp, x).astype(np.float64)
    assert np.max(np.abs(got / np.exp(x.astype(np.float64)) - 1.0)) < 4e-7


def test_float32_log_is_accurate_over_its_domain():
    x = np.exp(np.linspace(-69.0, 88.0, 1_000_001)).astype(np.float32)
    want = np.log(x.astype(np.float64))
    got = _apply(_log, x).astype(np.float64)
    # 2 float32 ulps of the result, or 3e-7 absolute near log(1) = 0
    ulp = np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
    assert np.all(np.abs(got - want) <= np.maximum(3e-7, 2.0 * ulp))


def test_float64_exp_and_log_are_libm():
    # Against the C library through Python's math module: NumPy's own SIMD exp may differ
    # from libm in the last bit on CPUs with AVX-512.
    x = np.linspace(-30.0, 30.0, 1001)
    np.testing.assert_array_equal(_apply(_exp, x), [math.exp(v) for v in x])
    y = np.exp(x)
    np.testing.assert_array_equal(_apply(_log, y), [math.log(v) for v in y])


def test_inverse_normal_is_accurate_on_every_23_bit_uniform():
    """Every value rng.unit can produce (a stride through all 2**23), both float types."""
    u = (np.arange(0, 2**23, 3) + 0.5) * 2.0**-23
    want = stats.norm.ppf(u)
    for float_type in (np.float32, np.float64):
        got = _apply(_inverse_normal, u.astype(float_type), float_type).astype(np.float64)
        assert np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want))) < 1e-6
    np.testing.assert_allclose(
        _apply(_inverse_normal, u, np.float64), reference_inverse_normal(u), rtol=1e-14, atol=1e-14
    )


def test_cube_root_is_accurate_and_zero_at_zero():
    x = np.concatenate([[0.0], np.logspace(-30, 0, 10_001)]).astype(np.float32)
    got = _apply(_cbrt, x, np.float32).astype(np.float64)
    want = np.cbrt(x.astype(np.float64))
    assert got[0] == 0.0
    # exp(log(x) / 3): the log's last-ulp error grows with |log x|, and so does this one
    bound = 2e-7 * np.maximum(1.0, np.abs(np.log(x[1:].astype(np.float64))))
    assert np.all(np.abs(got[1:] / want[1:] - 1.0) < bound)


@njit(**JIT)  # the kernels' flags: the functions must not take them on
def _float64(x, out, which):
    for i in range(x.size):
        out[i] = vmath.log64(x[i]) if which == 0 else vmath.cos64(x[i])


def _ulps(got, want):
    return np.max(np.abs(got - want) / np.spacing(np.abs(want)))


def test_float64_log_and_cos_are_within_an_ulp_of_numpy():
    gen = np.random.default_rng(7)
    # every uniform a Philox word can give (rng.to_unit), and positive floats far from 1
    words = gen.integers(0, 2**32, 500_000).astype(np.float64)
    u = (words + 0.5) * 2.0**-32
    cases = [
        (0, np.concatenate([u, np.exp(gen.uniform(-700.0, 700.0, 200_000))]), np.log),
        (2, 2.0 * np.pi * u, np.cos),  # Box-Muller's argument
    ]
    for which, x, want in cases:
        assert _ulps(_apply(_float64, x, which), want(x)) <= 1.0, which
    # the caller's own code does no float arithmetic, so a reassociation flag in its IR
    # could only be the inlined log64's or cos64's
    for signature in _float64.signatures:
        assert "reassoc" not in _float64.inspect_llvm(signature)
