"""The chunk kernel: every scenario of a chunk, every path, every quarter, reduced over firms.

Dim letters: s = scenarios of the chunk, p = paths, t = quarters, m = metrics,
v = state variables, i = firms, k = attributes.

Scenarios run in parallel (``prange``); each scenario draws its firms once and runs every
path on them (common random numbers). A scenario's result depends only on its global
index, the seed and its parameters, never on the chunk it sits in or the thread that
runs it, so chunkings and thread counts agree bit for bit.

Two builds of one source, by ``precision``: "float32" (the fast path of every run: eight
firms per AVX2 instruction) and "float64" (the one checked against the NumPy reference).
Metrics are float64 in both.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import config as numba_config
from numba import njit, prange

from resonance.kernels import rng
from resonance.kernels.firms import N_ATTRIBUTES, N_INDUSTRY, draw_founders, init_path
from resonance.kernels.registry import (
    CONVERTED,
    EFFICIENCY,
    JUMP_A,
    JUMP_B,
    N_METRICS,
    N_STATE,
    STEP_A,
    STEP_B,
)
from resonance.kernels.step import quarter

PRECISIONS = {"float32": np.float32, "float64": np.float64}

# The ``mc`` sampler's unit-cube design, an entry point callers reach through ``load()``.
design_uniforms = rng.design_uniforms


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def simulate_into(params, firm_params, tables, scenario_ids, seed, n_firms, out, F):
    """Run a chunk into ``out``.

    params:       float64 (s, p, N_PARAMETERS): each scenario's parameters under each path.
    firm_params:  float64 (N_FIRM_PARAMETERS,): firm distributions and jump shapes.
    tables:       dtype F (2, knots + 1): Beta quantile tables of jump and step sizes.
    scenario_ids: int64 (s,): global scenario indices (the RNG counter).
    seed:         uint64 run seed.
    n_firms:      firms per scenario.
    out:          float64 (s, p, t, m): written; t = number of quarters.
    F:            np.float32 or np.float64, the float type of the firm state.
    """
    n_scen, n_paths = params.shape[0], params.shape[1]
    n_quarters = out.shape[2]
    k0, k1 = rng.split_seed(seed)
    for j in prange(n_scen):
        scenario = scenario_ids[j]
        attrs = np.empty((N_ATTRIBUTES, n_firms))
        state = np.empty((N_STATE, n_firms), dtype=F)
        draws = np.empty((3, n_firms), dtype=F)
        ind = np.empty(N_INDUSTRY)
        draw_founders(attrs, firm_params, k0, k1, scenario)
        for p in range(n_paths):
            init_path(state, ind, attrs, params[j, p])
            for t in range(n_quarters):
                quarter(
                    state,
                    draws,
                    ind,
                    params[j, p],
                    firm_params,
                    tables,
                    k0,
                    k1,
                    scenario,
                    t,
                    out[j, p, t],
                    F,
                )


def float_type(precision: str):
    """The numpy float type of a precision name; plain ``float`` for float64 without the
    JIT (``NUMBA_DISABLE_JIT=1``), where numpy scalars would only slow the Python loop."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
    if numba_config.DISABLE_JIT and precision == "float64":
        return float
    return PRECISIONS[precision]


def size_tables(firm_params, precision: str = "float32") -> np.ndarray:
    """Beta quantile tables of (jump, step) sizes: (2, knots + 1) of the precision's dtype.

    Made once per process and shapes (scipy's inverse takes milliseconds, a serial cost
    every chunk would otherwise pay); the kernels only read them.
    """
    fp = np.asarray(firm_params, dtype=np.float64)
    return _size_tables(
        float(fp[JUMP_A]), float(fp[JUMP_B]), float(fp[STEP_A]), float(fp[STEP_B]), precision
    )


@functools.lru_cache(maxsize=8)
def _size_tables(jump_a, jump_b, step_a, step_b, precision):
    return np.stack([rng.beta_table(jump_a, jump_b), rng.beta_table(step_a, step_b)]).astype(
        PRECISIONS[precision]
    )


def simulate(
    params, firm_params, scenario_ids, seed, n_firms, n_quarters, precision: str = "float32"
):
    """Outcomes of a chunk: float64 array (scenario, path, quarter, metric).

    Allocates the output and calls :func:`simulate_into`; see there for the inputs. Thread
    count is numba's (``numba.set_num_threads``).
    """
    F = float_type(precision)
    params = np.ascontiguousarray(params, dtype=np.float64)
    if params.ndim != 3:
        raise ValueError(f"params must have dims (scenario, path, parameter), got {params.shape}")
    out = np.empty((params.shape[0], params.shape[1], n_quarters, N_METRICS))
    simulate_into(
        params,
        np.ascontiguousarray(firm_params, dtype=np.float64),
        size_tables(firm_params, precision),
        np.ascontiguousarray(scenario_ids, dtype=np.int64),
        np.uint64(seed),
        int(n_firms),
        out,
        F,
    )
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def trace_into(params, firm_params, tables, scenario, seed, n_firms, out, efficiency, converted, F):
    """One scenario and path with per-firm traces, for mechanism tests and diagnostics.

    params: float64 (N_PARAMETERS,); out: (t, m); efficiency, converted: (t, i), written.
    """
    k0, k1 = rng.split_seed(seed)
    attrs = np.empty((N_ATTRIBUTES, n_firms))
    state = np.empty((N_STATE, n_firms), dtype=F)
    draws = np.empty((3, n_firms), dtype=F)
    ind = np.empty(N_INDUSTRY)
    draw_founders(attrs, firm_params, k0, k1, scenario)
    init_path(state, ind, attrs, params)
    for t in range(out.shape[0]):
        quarter(state, draws, ind, params, firm_params, tables, k0, k1, scenario, t, out[t], F)
        efficiency[t] = state[EFFICIENCY]
        converted[t] = state[CONVERTED]


def trace(params, firm_params, scenario, seed, n_firms, n_quarters, precision="float32"):
    """Per-firm traces of one scenario and path: (metrics (t, m), efficiency (t, i),
    converted (t, i)), all float64."""
    out = np.empty((n_quarters, N_METRICS))
    eff = np.empty((n_quarters, n_firms))
    conv = np.empty((n_quarters, n_firms))
    trace_into(
        np.ascontiguousarray(params, dtype=np.float64),
        np.ascontiguousarray(firm_params, dtype=np.float64),
        size_tables(firm_params, precision),
        int(scenario),
        np.uint64(seed),
        int(n_firms),
        out,
        eff,
        conv,
        float_type(precision),
    )
    return out, eff, conv
