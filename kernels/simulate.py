"""The chunk kernel: every scenario of a chunk, every path, every quarter, reduced over firms.

Dim letters: s = scenarios of the chunk, p = paths, t = quarters, m = metrics,
v = state variables, i = firms, k = attributes.

Scenarios run in parallel (``prange``); each scenario draws its firms once and runs every
path on them (common random numbers). A scenario's result depends only on its global
index, the seed and its parameters, never on the chunk it sits in or the thread that
runs it, so chunkings and thread counts agree bit for bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from kernels import rng
from kernels.firms import N_ATTRIBUTES, N_INDUSTRY, draw_founders, init_path
from kernels.registry import CONVERTED, EFFICIENCY, N_METRICS, N_STATE
from kernels.step import quarter


@njit(cache=True, nogil=True, parallel=True)
def simulate_into(params, firm_params, scenario_ids, seed, n_firms, out):
    """Run a chunk into ``out``.

    params:       float64 (s, p, N_PARAMETERS): each scenario's parameters under each path.
    firm_params:  float64 (N_FIRM_PARAMETERS,): firm distributions and jump shapes.
    scenario_ids: int64 (s,): global scenario indices (the RNG counter).
    seed:         uint64 run seed.
    n_firms:      firms per scenario.
    out:          float64 (s, p, t, m): written; t = number of quarters.
    """
    n_scen, n_paths = params.shape[0], params.shape[1]
    n_quarters = out.shape[2]
    k0, k1 = rng.split_seed(seed)
    for j in prange(n_scen):
        scenario = scenario_ids[j]
        attrs = np.empty((N_ATTRIBUTES, n_firms))
        state = np.empty((N_STATE, n_firms))
        ind = np.empty(N_INDUSTRY)
        draw_founders(attrs, firm_params, k0, k1, scenario)
        for p in range(n_paths):
            init_path(state, ind, attrs, params[j, p])
            for t in range(n_quarters):
                quarter(state, ind, params[j, p], firm_params, k0, k1, scenario, t, out[j, p, t])


def simulate(params, firm_params, scenario_ids, seed, n_firms, n_quarters):
    """Outcomes of a chunk: float64 array (scenario, path, quarter, metric).

    Allocates the output and calls :func:`simulate_into`; see there for the inputs. Thread
    count is numba's (``numba.set_num_threads``).
    """
    params = np.ascontiguousarray(params, dtype=np.float64)
    if params.ndim != 3:
        raise ValueError(f"params must have dims (scenario, path, parameter), got {params.shape}")
    out = np.empty((params.shape[0], params.shape[1], n_quarters, N_METRICS))
    simulate_into(params, np.ascontiguousarray(firm_params, dtype=np.float64),
                  np.ascontiguousarray(scenario_ids, dtype=np.int64), np.uint64(seed),
                  int(n_firms), out)
    return out


@njit(cache=True, nogil=True)
def trace_into(params, firm_params, scenario, seed, n_firms, out, efficiency, converted):
    """One scenario and path with per-firm traces, for mechanism tests and diagnostics.

    params: float64 (N_PARAMETERS,); out: (t, m); efficiency, converted: (t, i), written.
    """
    k0, k1 = rng.split_seed(seed)
    attrs = np.empty((N_ATTRIBUTES, n_firms))
    state = np.empty((N_STATE, n_firms))
    ind = np.empty(N_INDUSTRY)
    draw_founders(attrs, firm_params, k0, k1, scenario)
    init_path(state, ind, attrs, params)
    for t in range(out.shape[0]):
        quarter(state, ind, params, firm_params, k0, k1, scenario, t, out[t])
        efficiency[t] = state[EFFICIENCY]
        converted[t] = state[CONVERTED]


def trace(params, firm_params, scenario, seed, n_firms, n_quarters):
    """Per-firm traces of one scenario and path: (metrics (t, m), efficiency (t, i),
    converted (t, i)), all float64."""
    out = np.empty((n_quarters, N_METRICS))
    eff = np.empty((n_quarters, n_firms))
    conv = np.empty((n_quarters, n_firms))
    trace_into(np.ascontiguousarray(params, dtype=np.float64),
               np.ascontiguousarray(firm_params, dtype=np.float64), int(scenario),
               np.uint64(seed), int(n_firms), out, eff, conv)
    return out, eff, conv
