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
below) and ``call`` numbers the Philox blocks one variate needs (every variate of the
model needs one). Each block gives four 32-bit words.

The firm loop draws exactly two blocks per firm-quarter, EVENTS and SIZES, whatever
happens, so that it has no branch and LLVM vectorises it. Their words become uniforms by
``unit`` (23 bits, exact in float32 and float64 alike, so both builds of the kernel see the
same numbers), the shock normal by the inverse CDF (``vmath.inverse_normal``) and the
sizes by interpolation in a quantile table (``beta_table``, ``lognormal_table``), one
uniform each. A firm's attributes take three blocks of 32-bit uniforms: Box-Muller normals
and the same Beta tables.

All functions are scalar: the kernels call them per firm. They are compiled only into
jitted callers (``jit``, ``vmath.kernel_function``: no wrapper for Python callers, which run
them as Python) or inlined (``inline``), never cached on their own: the cached entry
points (``kernels/simulate.py``) contain them. A separate, vectorised NumPy
implementation lives in ``kernels/reference.py`` and is tested to give the same bits, so
the reference checks this one rather than sharing its code; the driver's own draws use it.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload
from scipy import special

from . import vmath
from .vmath import FASTMATH, KERNEL_ONLY, kernel_function

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
SIZES = 2  # (u_shock, u_jump, u_step_size, u_productivity) of a firm-quarter
FATE = 3  # (u_exit, u_world, unused, unused) of a firm-quarter
ATTR_INIT = 16  # initial firm attributes: ATTR_INIT + attribute block (0..2)
ATTR_ENTRY = 32  # attributes of an entrant that replaces firm i in quarter t
THETA = 64  # Monte Carlo design of the uncertain parameters (firm word = THETA_FIRM)
THETA_FIRM = 0xFFFFFFFF
POLICY = 65  # ``mc`` design of a path file's lever ranges (firm word = POLICY_FIRM)
POLICY_FIRM = 0xFFFFFFFE
CHOKE = 66  # a scenario's chokepoint event: (u_strikes, u_quarter, ...) (firm word CHOKE_FIRM)
CHOKE_FIRM = 0xFFFFFFFD

# Attribute numbers (rows of the attribute array, MODEL.md §2) ...
(
    ATTR_A0,
    ATTR_RD0,
    ATTR_ABSORB,
    ATTR_RISK,
    ATTR_LAYERS,
    ATTR_LOCK,
    ATTR_SIZE,
    ATTR_PROD,
    ATTR_DEP,
    ATTR_AGE,
) = range(10)
# ... and the three blocks of one firm's ATTR_INIT / ATTR_ENTRY streams: two Box-Muller
# normals (a0, z_prod); four uniforms through the Beta tables (rd0, absorb, risk, lock);
# (layers, size0, dependence through its Beta table, a founder's age).
ATTR_NORMALS, ATTR_BETAS, ATTR_COUNTS = range(3)
# Rows of the quantile tables the kernels take (``simulate.quantile_tables``).
TABLE_JUMP, TABLE_STEP, TABLE_RD0, TABLE_ABSORB, TABLE_RISK, TABLE_LOCK, TABLE_DEP = range(7)

# Every kernel function: compiled into its jitted callers only (the cached entry points of
# ``simulate.py`` contain it), where LLVM may inline it into the firm loop; vectorisable
# (``error_model`` "numpy" drops the division-by-zero checks that would branch out of the
# loop).
jit = kernel_function(nogil=True, fastmath=FASTMATH, error_model="numpy")
# The small functions of the firm loop are also inlined by numba itself: LLVM's inliner
# declines a function the size of unrolled Philox, and a call is not vectorisable.
inline = njit(nogil=True, fastmath=FASTMATH, error_model="numpy", inline="always")

UNIT_SHIFT = np.uint64(9)  # a word's top 23 bits make the hot-loop uniform
TWO_M23 = 2.0**-23
BETA_KNOTS = 4096  # cells of a Beta quantile table


@jit
def philox_round(c0, c1, c2, c3, k0, k1, r):
    """Round r (0..9) of Philox4x32: two 32x32->64 products, swaps and the xor of the key
    bumped r times by the Weyl increments (uint64 words)."""
    p0 = PHILOX_M0 * c0
    p1 = PHILOX_M1 * c2
    rk0 = (k0 + np.uint64(r) * PHILOX_W0) & MASK32
    rk1 = (k1 + np.uint64(r) * PHILOX_W1) & MASK32
    return ((p1 >> SHIFT32) ^ c1 ^ rk0, p1 & MASK32, (p0 >> SHIFT32) ^ c3 ^ rk1, p0 & MASK32)


def philox_rounds(c0, c1, c2, c3, k0, k1):
    """The ten rounds of Philox4x32-10 (``uint64`` words holding 32 bits each).

    In plain Python (``NUMBA_DISABLE_JIT=1``) a loop of :func:`philox_round`; in compiled
    code the same arithmetic emitted as LLVM IR by :func:`_philox_rounds_ir`, written out
    round by round. Written out in Python (ten ``philox_round`` calls numba inlines) the
    rounds took numba some seconds of the cold compile to inline, and a loop of rounds
    inside the firm loop would keep LLVM from vectorising it.
    """
    for r in range(PHILOX_ROUNDS):
        c0, c1, c2, c3 = philox_round(c0, c1, c2, c3, k0, k1, r)
    return c0, c1, c2, c3


@intrinsic
def _philox_rounds_ir(typingctx, c0, c1, c2, c3, k0, k1):
    """:func:`philox_rounds` as straight-line IR on i64: the same products, shifts, masks
    and xors as :func:`philox_round`, so the same words bit for bit."""
    if any(a != types.uint64 for a in (c0, c1, c2, c3, k0, k1)):
        return None
    sig = types.UniTuple(types.uint64, 4)(*(types.uint64,) * 6)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        c0, c1, c2, c3, k0, k1 = args
        mask = ir.Constant(i64, int(MASK32))
        shift = ir.Constant(i64, int(SHIFT32))
        m0 = ir.Constant(i64, int(PHILOX_M0))
        m1 = ir.Constant(i64, int(PHILOX_M1))
        for r in range(PHILOX_ROUNDS):
            p0 = builder.mul(m0, c0)
            p1 = builder.mul(m1, c2)
            rk0 = builder.and_(builder.add(k0, ir.Constant(i64, r * int(PHILOX_W0))), mask)
            rk1 = builder.and_(builder.add(k1, ir.Constant(i64, r * int(PHILOX_W1))), mask)
            c0, c1, c2, c3 = (
                builder.xor(builder.xor(builder.lshr(p1, shift), c1), rk0),
                builder.and_(p1, mask),
                builder.xor(builder.xor(builder.lshr(p0, shift), c3), rk1),
                builder.and_(p0, mask),
            )
        return context.make_tuple(builder, signature.return_type, [c0, c1, c2, c3])

    return sig, codegen


@overload(philox_rounds, inline="always", jit_options={"error_model": "numpy", **KERNEL_ONLY})
def _philox_rounds_impl(c0, c1, c2, c3, k0, k1):
    return lambda c0, c1, c2, c3, k0, k1: _philox_rounds_ir(c0, c1, c2, c3, k0, k1)


@inline
def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of counter (c0, c1, c2, c3) under key (k0, k1).

    All arguments and results are ``uint64`` holding 32-bit words. Matches the Random123
    known-answer vectors (``tests/kernels/test_rng.py``).
    """
    return philox_rounds(c0, c1, c2, c3, k0, k1)


@jit
def split_seed(seed):
    """The Philox key (k0, k1) of a 64-bit seed (``uint64``)."""
    s = np.uint64(seed)
    return s & MASK32, s >> SHIFT32


# ``stream`` and ``beta_quantile`` are small enough for LLVM's inliner: plain ``jit``, typed
# once rather than at each call site, the firm loops no slower (alternating A/B runs,
# issue 29) and the cold compile a little shorter.
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
    x0, x1, x2, x3 = philox4x32(
        np.uint64(scenario),
        np.uint64(firm),
        np.uint64(time),
        stream(variate, call),
        np.uint64(k0),
        np.uint64(k1),
    )
    return to_unit(x0), to_unit(x1), to_unit(x2), to_unit(x3)


@inline
def block(k0, k1, scenario, firm, time, variate):
    """The four 32-bit words (uint64) of call 0 of ``variate`` for one firm-quarter."""
    return philox4x32(
        np.uint64(scenario),
        np.uint64(firm),
        np.uint64(time),
        stream(variate, 0),
        np.uint64(k0),
        np.uint64(k1),
    )


@inline
def unit(word, F):
    """A 32-bit word as U(0, 1) of float type F: (top 23 bits + 1/2) / 2**23.

    Every value is exact in float32, so float32 and float64 kernels draw the same numbers;
    they lie in [2**-24, 1 - 2**-24].
    """
    return (F(np.int32(word >> UNIT_SHIFT)) + F(0.5)) * F(TWO_M23)


def beta_table(a, b, knots=BETA_KNOTS):
    """Quantiles of Beta(a, b) at u = k / knots, k = 0..knots: float64 (knots + 1,).

    With linear interpolation between them (``beta_quantile``) this is the quantile
    function of a distribution that equals Beta(a, b) at every knot and is uniform within
    a cell: its CDF is within 1 / knots of Beta's everywhere (Kolmogorov distance), and
    far closer inside, where the quantile function is smooth.
    """
    return special.betaincinv(float(a), float(b), np.linspace(0.0, 1.0, knots + 1))


def lognormal_table(sigma, cap, knots=BETA_KNOTS):
    """Quantiles of Y = exp(sigma Z - sigma^2 / 2) truncated above at ``cap``, at
    u = k / knots, k = 0..knots: float64 (knots + 1,). Untruncated, E[Y] = 1.

    The breakthrough-size law (docs/model.md, deviation 9): heavy-tailed like the value
    of real innovations, bounded so that no single breakthrough is absurd. Read by
    ``beta_quantile`` like a Beta table; the first knot (u = 0) is the lower end 0.
    """
    sigma, cap = float(sigma), float(cap)
    if sigma == 0.0:
        return np.full(knots + 1, min(1.0, cap))
    top = special.ndtr((math.log(cap) + 0.5 * sigma * sigma) / sigma)  # P(Y <= cap)
    u = np.linspace(0.0, 1.0, knots + 1) * top
    with np.errstate(divide="ignore"):
        return np.exp(sigma * special.ndtri(u) - 0.5 * sigma * sigma)


@jit
def beta_quantile(table, u, F):
    """A Beta variate of float type F from one uniform u in (0, 1) through a table of
    ``beta_table`` (of dtype F): linear interpolation between the knots."""
    x = u * F(table.shape[0] - 1)
    cell = np.floor(x)
    # an unsigned index: numba wraps a signed one that might be negative round the end
    k = np.uint32(cell)
    lo = table[k]
    return lo + (x - cell) * (table[k + np.uint32(1)] - lo)


@inline
def box_muller(u0, u1):
    """One standard normal from two uniforms in (0, 1) (Box-Muller, cosine branch), by
    ``vmath``'s float64 log and cos, so that a loop of them vectorises."""
    return math.sqrt(-2.0 * vmath.log64(u0)) * vmath.cos64(2.0 * math.pi * u1)


@jit
def uniform_int(u, lo, hi):
    """An integer uniform on lo..hi (inclusive) from one uniform u, as float64."""
    return float(math.floor(lo + u * (hi - lo + 1.0)))


@inline
def chokepoint_quarter(k0, k1, scenario, prob, n_quarters):
    """The quarter in which a scenario's key-technology chokepoint strikes, or -1 where it
    does not: int64 (MODEL.md §9; S4 §5.2).

    From the scenario's CHOKE stream (firm word CHOKE_FIRM, time word 0): it strikes when
    u0 < prob, in quarter floor(u1 n_quarters), uniform over the horizon. A function of
    the scenario's counter and its probability alone, so every path, chunk and worker sees
    the same event, and the driver stores the one the kernel simulates (its NumPy form,
    ``reference.chokepoint_quarters``, the same bits). Inlined into the chunk kernel, which
    then compiles no function for it.
    """
    u0, u1, _, _ = uniforms(k0, k1, scenario, np.int64(CHOKE_FIRM), np.int64(0), np.int64(CHOKE), 0)
    return np.int64(math.floor(u1 * n_quarters)) if u0 < prob else np.int64(-1)
