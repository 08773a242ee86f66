"""Streaming bands against exact numpy statistics on the same outcomes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resonance.flows.engine.bands import B1, B2, compute_bands, sequential_map_reduce

Q = [0.05, 0.25, 0.5, 0.75, 0.95]


def _check(x, chunk):
    chunks = [x[a : a + chunk] for a in range(0, len(x), chunk)]
    bands = compute_bands(sequential_map_reduce(chunks), x.shape[1:], Q)
    exact = np.moveaxis(np.quantile(x, Q, axis=0), 0, -1)
    bound = (x.max(0) - x.min(0)) / (2 * B1 * B2)
    np.testing.assert_allclose(bands["error"], bound, rtol=1e-12)
    assert (np.abs(bands["quantiles"] - exact) <= bound[..., None] * (1 + 1e-9) + 1e-15).all()
    np.testing.assert_allclose(bands["mean"], x.mean(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bands["std"], x.std(0, ddof=1), rtol=1e-9, atol=1e-12)
    return bands


def test_bands_match_exact_quantiles_within_the_stated_bound():
    gen = np.random.default_rng(1)
    x = np.concatenate([gen.lognormal(0, 1.5, (700, 2, 3, 4)), gen.standard_t(2, (700, 2, 3, 4))])
    x[:, 0, 0, 0] = 7.5  # a constant group: exact, zero error, zero std
    bands = _check(x, 96)
    assert (bands["quantiles"][0, 0, 0] == 7.5).all() and bands["std"][0, 0, 0] == 0.0


@settings(max_examples=20, deadline=None)
@given(
    n=st.integers(2, 400),
    chunk=st.integers(1, 64),
    seed=st.integers(0, 2**32 - 1),
    scale=st.floats(1e-6, 1e6),
)
def test_bands_are_within_bound_for_any_size_and_chunking(n, chunk, seed, scale):
    x = np.random.default_rng(seed).normal(3.0 * scale, scale, (n, 1, 2, 3))
    _check(x, chunk)


@pytest.mark.parametrize("chunk", [1, 7, 50])
def test_bands_do_not_depend_on_chunking_or_merge_order(chunk):
    x = np.random.default_rng(2).gamma(2.0, size=(300, 2, 2, 2))
    ref = compute_bands(sequential_map_reduce([x]), x.shape[1:], Q)
    parts = [x[a : a + chunk] for a in range(0, len(x), chunk)][::-1]
    got = compute_bands(sequential_map_reduce(parts), x.shape[1:], Q)
    for key in ref:
        np.testing.assert_array_equal(got[key], ref[key])


def test_in_memory_bands_are_numpys_exact_statistics():
    from resonance.flows.engine.bands import exact_bands

    x = np.random.default_rng(3).lognormal(0, 1, (257, 3, 4))
    kept = x.copy()
    got = exact_bands(x, Q)
    np.testing.assert_array_equal(x, kept)  # its input is left as it was
    np.testing.assert_array_equal(got["quantiles"], np.moveaxis(np.quantile(x, Q, axis=0), 0, -1))
    # numpy's mean and standard deviation, over each (path, quarter)'s draws sorted
    np.testing.assert_allclose(got["mean"], x.mean(0), rtol=1e-14)
    np.testing.assert_allclose(got["std"], x.std(0, ddof=1), rtol=1e-13)
    shuffled = exact_bands(np.random.default_rng(9).permutation(x, axis=0), Q)
    for key in got:  # the draws alone decide the bits, not their order
        np.testing.assert_array_equal(shuffled[key], got[key])
    assert (got["error"] == 0).all()
    one = exact_bands(x[:1].copy(), Q)  # one scenario: its value, no spread
    assert (one["quantiles"] == x[0][..., None]).all() and (one["std"] == 0).all()


@pytest.mark.parametrize("n", [1, 2, 3, 5, 100, 1001])
def test_linear_quantiles_are_numpys_bits(n):
    """Ties, infinities, NaNs and the quantiles 0 and 1 included."""
    from resonance.flows.engine.bands import linear_quantiles

    rng = np.random.default_rng(n)
    rows = np.round(rng.standard_normal((40, n)), 1)  # ties
    rows[3, 0], rows[4, -1], rows[5, : n // 2 + 1] = np.nan, np.inf, -np.inf
    rows[6] = 7.0
    q = np.array([0.0, 0.05, 0.1, 1 / 3, 0.5, 0.75, 0.95, 0.999, 1.0])
    with np.errstate(invalid="ignore"):  # inf - inf, as numpy computes it
        expected = np.quantile(rows, q, axis=1).T
    rows.sort(axis=1)
    np.testing.assert_array_equal(linear_quantiles(rows, q), expected)


def test_the_streaming_passes_agree_with_the_in_memory_bands_within_their_bound():
    from resonance.flows.engine.bands import exact_bands

    x = np.random.default_rng(4).standard_t(3, (500, 2, 3, 2))
    stream = compute_bands(
        sequential_map_reduce([x[a : a + 64] for a in range(0, 500, 64)]), x.shape[1:], Q
    )
    for m in range(x.shape[-1]):
        exact = exact_bands(x[..., m].copy(), Q)
        bound = stream["error"][..., m][..., None] * (1 + 1e-9) + 1e-15
        assert (np.abs(stream["quantiles"][:, :, m] - exact["quantiles"]) <= bound).all()
        np.testing.assert_allclose(stream["std"][..., m], exact["std"], rtol=1e-9)
