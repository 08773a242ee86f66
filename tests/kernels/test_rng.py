"""The counter-based generator: published vectors, two implementations, statistics."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from scipy import stats

from resonance.flows.config import load_config
from resonance.kernels import reference, rng
from resonance.kernels.firms import (
    E_A0,
    E_ABSORB,
    E_AGE,
    E_DEP,
    E_FIRM,
    E_LAYERS,
    E_LOCK,
    E_RD0,
    E_RISK,
    E_SIZE,
    E_Z_PROD,
    ENTRY_ROWS,
    draw_firms,
)
from resonance.kernels.simulate import quantile_tables
from tests.helpers import DEFAULT_CONFIG

# The rows of the attribute scratch in the order of the reference's attributes (rng.ATTR_*);
# an entrant draws neither a0 (it imitates), nor size0, nor age.
FOUNDER_ROWS = [E_A0, E_RD0, E_ABSORB, E_RISK, E_LAYERS, E_LOCK, E_SIZE, E_Z_PROD, E_DEP, E_AGE]
ENTRANT = [k for k in range(10) if k not in (rng.ATTR_A0, rng.ATTR_SIZE, rng.ATTR_AGE)]

# Random123 kat_vectors, philox4x32 with 10 rounds: counter, key -> output.
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF, 0xFFFFFFFF), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


@pytest.mark.parametrize("counter, key, expected", KAT)
def test_philox_matches_random123_known_answers(counter, key, expected):
    words = rng.philox4x32(*(np.uint64(c) for c in counter), *(np.uint64(k) for k in key))
    assert tuple(int(w) for w in words) == expected
    words = reference.philox4x32(*counter, *key)
    assert tuple(int(w) for w in words) == expected


# The kernel's functions are compiled only into jitted callers (``rng.kernel_function``):
# called from Python they run as Python. These callers reach the compiled code.
@njit
def _numba_uniforms(seed, n):
    k0, k1 = rng.split_seed(seed)
    out = np.empty((n, 4))
    for s in range(n):
        out[s] = rng.uniforms(k0, k1, s, 7, 3, rng.EVENTS, 0)
    return out


@njit
def _numba_stream(k0, k1, scenario, firm, variate, call):
    return np.array(rng.uniforms(k0, k1, scenario, firm, 0, variate, call))


@njit
def _draw_firms(scratch, count, fp, tables, k0, k1, scenario, time_word, base):
    draw_firms(scratch, count, fp, tables, k0, k1, scenario, time_word, base)


@njit
def _beta_quantiles(table, u, F):
    return np.array([rng.beta_quantile(table, u[i], F) for i in range(u.size)])


def test_numpy_and_numba_generators_give_the_same_bits():
    seed = 987654321987
    n = 500
    got = _numba_uniforms(np.uint64(seed), n)
    key = reference.split_seed(seed)
    want = np.stack(
        reference.uniforms(key, np.arange(n, dtype=np.uint64), 7, 3, rng.EVENTS, 0), axis=1
    )
    np.testing.assert_array_equal(got, want)
    k0, k1 = rng.split_seed(np.uint64(seed))
    # A firm's attributes (three blocks: normals, Beta tables, uniforms) in both codes.
    fp = load_config(DEFAULT_CONFIG).firm_vector
    tables = quantile_tables(fp, "float64")
    # Firm 1 of every scenario, one column of the scratch each; then, in one call as the
    # kernel makes it, 37 firms of one scenario in shuffled order (columns to firms).
    scratch = np.zeros((ENTRY_ROWS, 64))
    shuffled = np.random.default_rng(3).permutation(64)[:37]
    for base, time_word in ((rng.ATTR_INIT, 0), (rng.ATTR_ENTRY, 2)):
        draws = reference.CounterDraws(seed, fp)
        scratch[E_FIRM, 0] = 1
        drawn = []
        for s in range(n):
            _draw_firms(scratch, 1, fp, tables, k0, k1, s, time_word, base)
            drawn.append(scratch[FOUNDER_ROWS, 0].copy())
        want = reference.draw_attributes(
            fp, draws, np.arange(n, dtype=np.uint64), np.uint64(1), np.uint64(time_word), base
        )
        scratch[E_FIRM, : shuffled.size] = shuffled
        _draw_firms(scratch, shuffled.size, fp, tables, k0, k1, 5, time_word, base)
        want_shuffled = reference.draw_attributes(
            fp, draws, np.uint64(5), shuffled.astype(np.uint64), np.uint64(time_word), base
        )
        for attrs_nb, attrs_np in (
            (np.array(drawn), np.stack(want, axis=1)),
            (scratch[FOUNDER_ROWS, : shuffled.size].T, np.stack(want_shuffled, axis=1)),
        ):
            if base == rng.ATTR_ENTRY:
                attrs_nb, attrs_np = attrs_nb[:, ENTRANT], attrs_np[:, ENTRANT]
            np.testing.assert_allclose(attrs_nb, attrs_np, rtol=1e-13, atol=1e-14)
    # The hot loop's blocks and 23-bit uniforms, in both float types.
    words_nb = np.array([rng.block(k0, k1, s, 3, 4, rng.SIZES) for s in range(n)])
    words_np = np.stack(reference.block(key, np.arange(n, dtype=np.uint64), 3, 4, rng.SIZES), 1)
    np.testing.assert_array_equal(words_nb, words_np)
    for float_type in (np.float32, np.float64):
        u_nb = np.array([rng.unit(w, float_type) for w in words_nb[:, 0]])
        np.testing.assert_array_equal(u_nb, reference.unit(words_np[:, 0]))


def test_kernel_functions_called_from_python_run_as_python():
    """Numba compiles the kernel's functions without the wrapper a Python caller needs
    (``rng.kernel_function``); from Python they are the plain functions, not a crash, with
    the compiled code's numbers."""
    assert not hasattr(rng.uniforms, "py_func") and not hasattr(draw_firms, "py_func")
    k0, k1 = rng.split_seed(np.uint64(42))
    got = np.array([rng.uniforms(k0, k1, s, 7, 3, rng.EVENTS, 0) for s in range(20)])
    np.testing.assert_array_equal(got, _numba_uniforms(np.uint64(42), 20))


def test_uniforms_pass_chi_square_and_have_no_serial_correlation():
    key = reference.split_seed(12345)
    u = np.concatenate(
        reference.uniforms(key, np.arange(50_000, dtype=np.uint64), 0, 0, rng.EVENTS, 0)
    )
    assert u.min() > 0.0 and u.max() < 1.0
    counts, _ = np.histogram(u, bins=100, range=(0, 1))
    assert stats.chisquare(counts).pvalue > 1e-3
    lag1 = np.corrcoef(u[:-1], u[1:])[0, 1]
    assert abs(lag1) < 4.0 / np.sqrt(u.size)  # ~4 sigma of a zero correlation


def test_counters_are_independent_streams():
    """Neighbouring firms, quarters and streams are uncorrelated."""
    key = reference.split_seed(7)
    firms = np.arange(20_000, dtype=np.uint64)
    a = reference.uniforms(key, 0, firms, 5, rng.EVENTS, 0)[0]
    b = reference.uniforms(key, 0, firms, 6, rng.EVENTS, 0)[0]
    c = reference.uniforms(key, 0, firms, 5, rng.SIZES, 0)[0]
    for x, y in ((a, b), (a, c), (a[:-1], a[1:])):
        assert abs(np.corrcoef(x, y)[0, 1]) < 4.0 / np.sqrt(x.size)


def test_founders_attributes_follow_their_distributions():
    """20,000 founders of one scenario: Beta attributes through their tables, normals by
    Box-Muller, Pareto sizes, integer layers, exponential ages (KS tests; MODEL.md §2 and
    docs/model.md)."""
    config = load_config(DEFAULT_CONFIG)
    fp = config.firm_vector
    draws = reference.CounterDraws(42, fp)
    firms = np.arange(20_000, dtype=np.uint64)
    a0, rd0, absorb, risk, layers, lock, size0, z_prod, dep, age = reference.draw_attributes(
        fp, draws, np.uint64(0), firms, np.uint64(0), rng.ATTR_INIT
    )
    raw = config.schema.firm_parameters
    checks = [
        (rd0, stats.beta(raw["rd0_a"], raw["rd0_b"])),
        (absorb, stats.beta(raw["absorb_a"], raw["absorb_b"])),
        (risk, stats.beta(raw["risk_a"], raw["risk_b"])),
        (lock, stats.beta(raw["lock_a"], raw["lock_b"])),
        (dep, stats.beta(raw["dep_a"], raw["dep_b"])),
        (a0, stats.norm(raw["a0_mean"], raw["a0_sd"])),
        (z_prod, stats.norm()),
        (size0, stats.pareto(raw["size_alpha"])),
        (age, stats.expon(scale=4.0 * raw["age_mean"])),  # quarters
    ]
    for x, law in checks:
        assert stats.kstest(x, law.cdf).pvalue > 1e-3
    low, high = int(raw["layers_min"]), int(raw["layers_max"])
    assert set(np.unique(layers)) == set(range(low, high + 1))
    # the four Beta attributes and the two normals come from different words: uncorrelated
    for x, y in (
        (rd0, absorb),
        (risk, lock),
        (a0, z_prod),
        (dep, layers),
        (dep, size0),
        (age, dep),
    ):
        assert abs(np.corrcoef(x, y)[0, 1]) < 4.0 / np.sqrt(x.size)


@pytest.mark.parametrize("float_type", [np.float32, np.float64])
@pytest.mark.parametrize("a, b", [(2, 5), (2, 8), (1, 1), (5, 1)])
def test_table_beta_sizes_follow_their_distribution(float_type, a, b):
    """The hot loop's Beta sizes (one uniform through a quantile table) pass a KS test at
    100,000 draws, equal Beta's quantiles at every knot and stay in [0, 1]."""
    table = rng.beta_table(a, b).astype(float_type)
    words = reference.block(
        reference.split_seed(3), np.arange(100_000, dtype=np.uint64), 0, 0, rng.SIZES
    )[1]
    x = _beta_quantiles(table, reference.unit(words).astype(float_type), float_type)
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert stats.kstest(x, stats.beta(a, b).cdf).pvalue > 1e-3
    knots = np.arange(1, rng.BETA_KNOTS) / rng.BETA_KNOTS
    np.testing.assert_allclose(
        stats.beta(a, b).cdf(table[1:-1].astype(np.float64)),
        knots,
        atol=1e-6 if float_type is np.float32 else 1e-12,
    )


def test_shock_normals_are_standard_normal():
    """The hot loop's shock: Giles' inverse normal of one 23-bit uniform."""
    words = reference.block(
        reference.split_seed(8), np.arange(100_000, dtype=np.uint64), 0, 0, rng.SIZES
    )[0]
    z = reference.inverse_normal(reference.unit(words))
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert abs(z.mean()) < 4 / np.sqrt(z.size) and abs(z.std() - 1) < 0.01


def test_design_uniforms_do_not_depend_on_the_scenario_count():
    ids = np.arange(100, dtype=np.int64)
    full = reference.design_uniforms(5, ids, 10)
    part = reference.design_uniforms(5, ids[40:60], 10)
    np.testing.assert_array_equal(full[40:60], part)
    # the kernel's THETA stream, word for word, over its three Philox calls
    k0, k1 = rng.split_seed(np.uint64(5))
    words = [_numba_stream(k0, k1, 7, rng.THETA_FIRM, rng.THETA, call) for call in range(3)]
    np.testing.assert_array_equal(full[7], np.concatenate(words)[:10])
    assert reference.design_uniforms(5, ids, 0).shape == (100, 0)  # no uncertain parameter
