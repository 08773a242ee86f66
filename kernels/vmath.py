"""Branch-free math for the firm loop: exp, log, cube root and the inverse normal CDF;
and float64 log and cos for the Box-Muller normals of the firms' draws (``log64``,
``cos64``).

Scalar functions of one value; the firm loop calls them per firm and LLVM vectorises
the loop around them.

Why this module exists: the firm loop only runs at SIMD speed if LLVM can vectorise it,
and a call into libm stops that. Numba can route such calls to Intel's SVML, but only
with an SVML-patched LLVM (``python -m numba -s`` says "llvmlite Using SVML Patched
LLVM: False" on the pip wheels). So for ``float32`` arguments ``exp`` and ``log`` here
are Cephes-style polynomial kernels written with plain arithmetic and two bit casts
(the ``@intrinsic`` functions below), which LLVM vectorises 8 lanes wide on AVX2. For
``float64`` arguments they are libm's ``math.exp`` / ``math.log``: the float64 build of
the kernel is the one checked against the NumPy reference, where accuracy, not speed,
is the point. The firms' float64 draws (``firms.draw_firms``) need speed and float64
alike: ``log64`` and ``cos64`` are fdlibm's algorithms in plain arithmetic,
within one ulp of numpy's (tested), and vectorise 4 lanes wide on AVX2.

Accuracy of the float32 kernels, over their whole domain (``tests/kernels/test_vmath.py``):
``exp`` relative error below 4e-7 on [-87, 88] (measured 3.0e-7; clamped outside), ``log``
within 2 float32 ulps of the result (3e-7 absolute near log 1 = 0) on [1e-30, 1.6e38]
(arguments below 1e-30 are clamped to it); the inverse normal, relative error below 1e-6
on every 23-bit uniform of ``rng.unit``.

Dispatch is by ``numba.extending.overload`` on the argument type; without the JIT
(``NUMBA_DISABLE_JIT=1``) the plain Python bodies run and call ``math``.
"""

from __future__ import annotations

import math
from types import MappingProxyType

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload, register_jitable

from .compile import select_cpu_features

# numba fixes its CPU features at the first @njit decoration, which is this module's (every
# jitted module imports it before decorating anything): the wider vectors are chosen here.
select_cpu_features()

# The fastmath flags of every hot loop: reassociation alone, which lets LLVM vectorise the
# sums over firms. Not nnan/ninf (DESIGN.md: they break NaN checks), and not contract or
# arcp either: with them the machine code numba compiles in a process and the code it
# loads from its cache round differently in the last bit (measured), and a run's bits must
# not depend on which of the two a worker happens to run.
FASTMATH = {"reassoc"}
# Numba's options of a function only jitted code calls: no CPython or C wrapper, the entry
# points a call from Python needs, which numba otherwise builds and compiles for every
# function it compiles (0.6-1.0 s of the kernels' cold start on the Intel VM, alternating
# cold starts). Read-only: overloads take it as their options.
KERNEL_ONLY = MappingProxyType({"no_cpython_wrapper": True, "no_cfunc_wrapper": True})


def kernel_function(**options):
    """Decorator of a function the kernels call: it stays a plain Python function, and a
    jitted caller gets a compiled twin with numba's ``options`` and ``KERNEL_ONLY``
    (``register_jitable``, one per decorated function). Called from Python it runs as
    Python, as under ``NUMBA_DISABLE_JIT``: a numba dispatcher without its CPython wrapper
    would crash a Python caller. Tests reach the compiled code through a jitted caller."""

    def decorate(function):
        return register_jitable(**options, **KERNEL_ONLY)(function)

    return decorate


f32 = np.float32
i32 = np.int32


def reinterpret(source, target, llvm_type, name):
    """An ``@intrinsic`` that reinterprets a value of numba type ``source`` as the
    ``target`` (LLVM ``llvm_type``) with the same bits: one LLVM bitcast."""

    def typer(typingctx, x):
        if x != source:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], llvm_type)

        return target(source), codegen

    typer.__name__ = typer.__qualname__ = name
    return intrinsic(typer)


bits_to_float32 = reinterpret(types.int32, types.float32, ir.FloatType(), "bits_to_float32")
float32_to_bits = reinterpret(types.float32, types.int32, ir.IntType(32), "float32_to_bits")
bits_to_float64 = reinterpret(types.int64, types.float64, ir.DoubleType(), "bits_to_float64")
float64_to_bits = reinterpret(types.float64, types.int64, ir.IntType(64), "float64_to_bits")


@njit(nogil=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def horner9(c, x, F):
    """c[0] x^8 + c[1] x^7 + ... + c[8] in float type F, by Horner's rule, written out
    (a loop over the coefficients inside the firm loop would keep it from vectorising)."""
    y = F(c[0])
    y = y * x + F(c[1])
    y = y * x + F(c[2])
    y = y * x + F(c[3])
    y = y * x + F(c[4])
    y = y * x + F(c[5])
    y = y * x + F(c[6])
    y = y * x + F(c[7])
    return y * x + F(c[8])


# Cephes expf: x = n ln2 + r, |r| <= ln2 / 2, e^r by a degree-6 polynomial, 2^n by bits.
_LOG2E = f32(1.44269504088896341)
_LN2_HI = f32(0.693359375)
_LN2_LO = f32(-2.12194440e-4)
_EXP_P = tuple(
    f32(c)
    for c in (
        1.9875691500e-4,
        1.3981999507e-3,
        8.3334519073e-3,
        4.1665795894e-2,
        1.6666665459e-1,
        5.0000001201e-1,
    )
)


def _exp32(x):
    x = min(max(x, f32(-87.0)), f32(88.0))
    n = np.floor(x * _LOG2E + f32(0.5))
    r = x - n * _LN2_HI - n * _LN2_LO
    y = _EXP_P[0]
    y = y * r + _EXP_P[1]
    y = y * r + _EXP_P[2]
    y = y * r + _EXP_P[3]
    y = y * r + _EXP_P[4]
    y = y * r + _EXP_P[5]
    y = y * r * r + r + f32(1.0)
    return y * bits_to_float32(i32((i32(n) + i32(127)) << i32(23)))


# Cephes logf: x = 2^e m, m in [sqrt(1/2), sqrt(2)), log(m) by a degree-9 polynomial.
_SQRTHF = f32(0.707106781186547524)
_LOG_P = tuple(
    f32(c)
    for c in (
        7.0376836292e-2,
        -1.1514610310e-1,
        1.1676998740e-1,
        -1.2420140846e-1,
        1.4249322787e-1,
        -1.6668057665e-1,
        2.0000714765e-1,
        -2.4999993993e-1,
        3.3333331174e-1,
    )
)
_LOG_TINY = f32(1e-30)


def _log32(x):
    bits = float32_to_bits(max(x, _LOG_TINY))
    e = f32(i32((bits >> i32(23)) - i32(126)))
    m = bits_to_float32(i32((bits & i32(0x007FFFFF)) | i32(0x3F000000)))  # in [0.5, 1)
    low = f32(m < _SQRTHF)  # 1 below sqrt(1/2): move m to [sqrt(1/2), sqrt(2)) (arithmetic, no phi)
    e = e - low
    m = m * (f32(1.0) + low) - f32(1.0)
    z = m * m
    y = horner9(_LOG_P, m, f32) * m * z
    y = y + _LN2_LO * e - f32(0.5) * z
    return m + y + _LN2_HI * e


def exp(x):
    """e**x; float32: branch-free polynomial (vectorises), float64: libm."""
    return math.exp(x)


def log(x):
    """Natural log of x > 0; float32: branch-free polynomial (vectorises), float64: libm."""
    return math.log(x)


@overload(exp, jit_options={"fastmath": FASTMATH, "error_model": "numpy", **KERNEL_ONLY})
def _exp_impl(x):
    if x == types.float32:
        return _exp32
    return lambda x: math.exp(x)


@overload(log, jit_options={"fastmath": FASTMATH, "error_model": "numpy", **KERNEL_ONLY})
def _log_impl(x):
    if x == types.float32:
        return _log32
    return lambda x: math.log(x)


# Float64 log and cos(2 pi u) without libm, for the loop of the firms' Box-Muller normals
# (kernels/firms.py: draw_firms), which a libm call would keep scalar: fdlibm's algorithms
# as musl writes them (log.c, __cos.c; __sin.c's polynomial in plain Horner form), within
# one ulp of numpy's (tested). Compiled with fastmath off, which must be said: numba gives
# a callee that does not set it its caller's flags (the kernels' "reassoc"), and called,
# not inlined by numba: LLVM inlines them and keeps each instruction's own (no) flags, so
# no reassociation can undo their compensated sums (tested).
i64 = np.int64
_LN2_HI64 = 6.93147180369123816490e-01
_LN2_LO64 = 1.90821492927058770002e-10
_LG = (
    6.666666666666735130e-01,
    3.999999999940941908e-01,
    2.857142874366239149e-01,
    2.222219843214978396e-01,
    1.818357216161805012e-01,
    1.531383769920937332e-01,
    1.479819860511658591e-01,
)
_PIO2_HI = 1.57079632673412561417e00  # the first 33 bits of pi / 2: q pi/2 is exact
_PIO2_LO = 6.07710050650619224932e-11  # pi / 2 - _PIO2_HI
_INV_PIO2 = 6.36619772367581382433e-01
_SIN = (
    -1.66666666666666324348e-01,
    8.33333333332248946124e-03,
    -1.98412698298579493134e-04,
    2.75573137070700676789e-06,
    -2.50507602534068634195e-08,
    1.58969099521155010221e-10,
)
_COS = (
    4.16666666666666019037e-02,
    -1.38888888888741095749e-03,
    2.48015872894767294178e-05,
    -2.75573143513906633035e-07,
    2.08757232129817482790e-09,
    -1.13596475577881948265e-11,
)


def _log64(x):
    bits = float64_to_bits(x)
    # x = 2^k m with m in [sqrt(1/2), sqrt(2)): move the high word's mantissa so that the
    # exponent field counts from sqrt(1/2), not 1
    high = (bits >> i64(32)) + i64(0x3FF00000 - 0x3FE6A09E)
    k = (high >> i64(20)) - i64(0x3FF)
    high = (high & i64(0x000FFFFF)) + i64(0x3FE6A09E)
    m = bits_to_float64((high << i64(32)) | (bits & i64(0xFFFFFFFF)))
    f = m - 1.0
    half_f2 = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG[1] + w * (_LG[3] + w * _LG[5]))
    t2 = z * (_LG[0] + w * (_LG[2] + w * (_LG[4] + w * _LG[6])))
    dk = np.float64(k)
    return s * (half_f2 + (t2 + t1)) + dk * _LN2_LO64 - half_f2 + f + dk * _LN2_HI64


def _cos64(x):
    q = np.floor(x * _INV_PIO2 + 0.5)  # the nearest multiple of pi / 2 ...
    r = (x - q * _PIO2_HI) - q * _PIO2_LO  # ... and the rest, in [-pi / 4, pi / 4]
    z = r * r
    w = z * z
    sin_r = r + z * r * (
        _SIN[0] + z * (_SIN[1] + z * (_SIN[2] + z * (_SIN[3] + z * (_SIN[4] + z * _SIN[5]))))
    )
    tail = z * (_COS[0] + z * (_COS[1] + z * _COS[2])) + w * w * (
        _COS[3] + z * (_COS[4] + z * _COS[5])
    )
    half_z = 0.5 * z
    one_less = 1.0 - half_z
    cos_r = one_less + (((1.0 - one_less) - half_z) + z * tail)
    quadrant = i64(q) & i64(3)  # cos(r + q pi / 2): cos r, -sin r, -cos r, sin r
    value = sin_r if (quadrant & i64(1)) != 0 else cos_r
    return -value if (quadrant == 1) | (quadrant == 2) else value


def log64(x):
    """Natural log of a positive normal float64; compiled: fdlibm's, vectorises."""
    return math.log(x)


def cos64(x):
    """cos x of a float64 in [0, 2 pi] (Box-Muller's 2 pi u); compiled: fdlibm's kernels
    after a two-part reduction by pi / 2, exact for the few quadrants of that range."""
    return math.cos(x)


_EXACT = {"error_model": "numpy", "fastmath": False, **KERNEL_ONLY}  # see above
overload(log64, jit_options=_EXACT)(lambda x: _log64 if x == types.float64 else None)
overload(cos64, jit_options=_EXACT)(lambda x: _cos64 if x == types.float64 else None)


# Giles' single-precision erfinv ("Approximating the erfinv function", GPU Computing Gems
# Jade, 2011): a polynomial in w = -log(1 - x^2) for w < 5 and one in sqrt(w) beyond.
# Both are evaluated and one selected, so the loop has no branch; Φ⁻¹(u) = √2 erfinv(2u - 1).
_GILES_CENTRAL = (
    2.81022636e-08,
    3.43273939e-07,
    -3.5233877e-06,
    -4.39150654e-06,
    0.00021858087,
    -0.00125372503,
    -0.00417768164,
    0.246640727,
    1.50140941,
)
_GILES_TAIL = (
    -0.000200214257,
    0.000100950558,
    0.00134934322,
    -0.00367342844,
    0.00573950773,
    -0.0076224613,
    0.00943887047,
    1.00167406,
    2.83297682,
)
SQRT2 = 1.4142135623730951


@njit(nogil=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def inverse_normal(u, F):
    """Φ⁻¹(u) for u in (0, 1), in float type F (np.float32 or np.float64).

    Relative error below 1e-6 on the 23-bit uniforms of ``rng.unit`` (measured in
    tests/kernels/test_vmath.py); 1 - x^2 is formed as 4u(1 - u), which is exact to
    rounding where 1 - x^2 would cancel.
    """
    w = -log(F(4.0) * u * (F(1.0) - u))
    p = horner9(_GILES_CENTRAL, w - F(2.5), F)
    q = horner9(_GILES_TAIL, math.sqrt(w) - F(3.0), F)
    return F(SQRT2) * (p if w < F(5.0) else q) * (F(2.0) * u - F(1.0))


@njit(nogil=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def cbrt_positive(x, F):
    """x**(1/3) for x > 0 (exp of log / 3); 0 for x <= 0."""
    return exp(log(x) * F(1.0 / 3.0)) if x > F(0.0) else F(0.0)
