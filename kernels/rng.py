"""Counter-based random numbers: Philox4x32-10 and the variates the model draws from it.

Every random number of a run is a pure function of

    key     = the run's 64-bit seed               (two 32-bit words)
    counter = (scenario, firm, time word, stream) (four 32-bit words)

through the Philox4x32-10 bijection of Salmon, Moraes, Dror & Shaw, "Parallel random
numbers: as easy as 1, 2, 3", SC'11 (doi:10.1145/2063384.2063405), the generator of the
Random123 library, which passes TestU01's BigCrush. Nothing depends on chunking, worker
count, thread schedule or path, so the same seed gives the same numbers bit for bit
anywhere, and every path sees the same draws (common random numbers, MODEL.md §1).

The stream word is ``variate << 8 | call``: ``variate`` names what is drawn (the constants
below) and ``call`` numbers the Philox blocks one variate needs (a Beta(2, 8) step needs
ten uniforms, that is three blocks). Each block gives four 32-bit words.

All functions are scalar and ``@njit``: the kernels call them per firm. A separate,
vectorised NumPy implementation lives in ``kernels/reference.py`` and is tested to give the
same bits, so the reference checks this one rather than sharing its code.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Philox4x32 round multipliers and Weyl key increments (Random123, philox.h).
PHILOX_M0 = np.uint64(0xD2511F53)
PHILOX_M1 = np.uint64(0xCD9E8D57)
PHILOX_W0 = np.uint64(0x9E3779B9)
PHILOX_W1 = np.uint64(0xBB67AE85)
PHILOX_ROUNDS = 10
MASK32 = np.uint64(0xFFFFFFFF)
SHIFT32 = np.uint64(32)
TWO_M32 = 2.0**-32

# What is drawn: the high bits of the stream word.
EVENTS = 1  # (u_conversion, u_breakthrough, u_step, u_spillover) of a firm-quarter
SHOCK = 2  # competitiveness shock (Box-Muller from words 0, 1)
JUMP = 3  # breakthrough size, Beta(jump_a, jump_b)
STEP = 4  # incremental step size, Beta(step_a, step_b)
ATTR_INIT = 16  # initial firm attributes: ATTR_INIT + attribute number (0..6)
ATTR_ENTRY = 32  # attributes of an entrant that replaces firm i in quarter t
THETA = 64  # Monte Carlo design of the uncertain parameters (firm word = THETA_FIRM)
THETA_FIRM = 0xFFFFFFFF

# Attribute numbers inside the ATTR_INIT / ATTR_ENTRY blocks (MODEL.md §2).
ATTR_A0, ATTR_RD0, ATTR_ABSORB, ATTR_RISK, ATTR_LAYERS, ATTR_LOCK, ATTR_SIZE = range(7)

jit = njit(cache=True, nogil=True)


@jit
def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of counter (c0, c1, c2, c3) under key (k0, k1).

    All arguments and results are ``uint64`` holding 32-bit words. Matches the Random123
    known-answer vectors (``tests/kernels/test_rng.py``).
    """
    for _ in range(PHILOX_ROUNDS):
        p0 = PHILOX_M0 * c0
        p1 = PHILOX_M1 * c2
        c0, c1, c2, c3 = (
            (p1 >> SHIFT32) ^ c1 ^ k0,
            p1 & MASK32,
            (p0 >> SHIFT32) ^ c3 ^ k1,
            p0 & MASK32,
        )
        k0 = (k0 + PHILOX_W0) & MASK32
        k1 = (k1 + PHILOX_W1) & MASK32
    return c0, c1, c2, c3


@jit
def split_seed(seed):
    """The Philox key (k0, k1) of a 64-bit seed (``uint64``)."""
    s = np.uint64(seed)
    return s & MASK32, s >> SHIFT32


@jit
def stream(variate, call):
    """The stream word of block ``call`` of ``variate``."""
    return np.uint64(variate * 256 + call)


@jit
def to_unit(x):
    """A 32-bit word as a uniform on the open interval (0, 1): (x + 1/2) / 2**32."""
    return (np.float64(x) + 0.5) * TWO_M32


@jit
def uniforms(k0, k1, scenario, firm, time, variate, call):
    """Four U(0, 1) variates of one Philox block, as float64."""
    x0, x1, x2, x3 = philox4x32(np.uint64(scenario), np.uint64(firm), np.uint64(time),
                                stream(variate, call), np.uint64(k0), np.uint64(k1))
    return to_unit(x0), to_unit(x1), to_unit(x2), to_unit(x3)


@jit
def normal(k0, k1, scenario, firm, time, variate):
    """One standard normal variate (Box-Muller, cosine branch, words 0 and 1 of call 0)."""
    u0, u1, _, _ = uniforms(k0, k1, scenario, firm, time, variate, 0)
    return math.sqrt(-2.0 * math.log(u0)) * math.cos(2.0 * math.pi * u1)


@jit
def beta_int(k0, k1, scenario, firm, time, variate, a, b):
    """One Beta(a, b) variate for integer shapes a, b >= 1.

    Uses Beta(a, b) = G_a / (G_a + G_b) with G_n = -log(u_1 ... u_n) ~ Gamma(n, 1): exact,
    loop-free of rejection, a + b uniforms from ceil((a + b) / 4) blocks. Products are taken
    per block (at most four factors of >= 2**-33, so no underflow), one log per part and block.
    """
    n = a + b
    log_a = 0.0
    log_b = 0.0
    j = 0
    for call in range((n + 3) // 4):
        u = uniforms(k0, k1, scenario, firm, time, variate, call)
        prod_a = 1.0
        prod_b = 1.0
        for w in range(4):
            if j < a:
                prod_a *= u[w]
            elif j < n:
                prod_b *= u[w]
            j += 1
        log_a += math.log(prod_a)
        log_b += math.log(prod_b)
    return log_a / (log_a + log_b)


@jit
def uniform_int(u, lo, hi):
    """An integer uniform on lo..hi (inclusive) from one uniform u, as float64."""
    return float(math.floor(lo + u * (hi - lo + 1.0)))


@njit(cache=True, nogil=True)
def design_uniforms(seed, scenario_ids, n_dims):
    """Monte Carlo design: U(0, 1) of shape (scenarios, n_dims), float64.

    Uniform d of scenario s comes from the THETA stream of (s, firm word THETA_FIRM), so a
    scenario's world parameters do not depend on how many scenarios the run has.
    """
    k0, k1 = split_seed(seed)
    out = np.empty((scenario_ids.shape[0], n_dims))
    for j in range(scenario_ids.shape[0]):
        for call in range((n_dims + 3) // 4):
            u = uniforms(k0, k1, scenario_ids[j], THETA_FIRM, 0, THETA, call)
            for w in range(4):
                d = 4 * call + w
                if d < n_dims:
                    out[j, d] = u[w]
    return out
