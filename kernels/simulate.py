"""The chunk kernel: every scenario of a chunk, every path, every quarter, reduced over firms.

Dim letters: s = scenarios of the chunk, p = paths, t = quarters, m = metrics,
v = state variables, i = firms, k = attributes.

Scenarios run in parallel on threads (``run_threads``); each scenario draws its firms once
and runs every path on them (common random numbers). A scenario's result depends only on
its global index, the seed and its parameters, never on the chunk it sits in or the
thread that runs it, so chunkings and thread counts agree bit for bit.

Two builds of one source, by ``precision``: "float32" (the fast path of every run: eight
firms per AVX2 instruction) and "float64" (the one checked against the NumPy reference).
Metrics are float64 in both.
"""

from __future__ import annotations

import functools
import itertools
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba import config as numba_config
from numba import njit

from . import rng
from .firms import ENTRY_ROWS, N_INDUSTRY, draw_founders, init_path
from .registry import (
    ABSORB_A,
    ABSORB_B,
    BORN,
    BROKE_THROUGH,
    CHOKE_PROB,
    CONVERTED,
    DEP_A,
    DEP_B,
    EFFICIENCY,
    ENTERED,
    JUMP_CAP,
    JUMP_SCALE,
    JUMP_SIGMA,
    LOCK_A,
    LOCK_B,
    LOG_TFP,
    N_INPUTS,
    N_METRICS,
    N_SNAPSHOT,
    N_STATE,
    PARADIGM,
    RD,
    RD0_A,
    RD0_B,
    RISK_A,
    RISK_B,
    S_AGE,
    S_BREAKTHROUGH,
    S_ENTERED,
    S_LOG_TFP,
    S_PARADIGM,
    S_RD,
    S_SHARE,
    SHARE,
    STEP_A,
    STEP_B,
)
from .step import D_JUMP, N_ROWS, quarter
from .vmath import kernel_function

PRECISIONS = {"float32": np.float32, "float64": np.float64}
QUARTERS_PER_YEAR = 4  # snapshots are taken at the end of each whole year


# Not rng.jit: no fastmath, as in the chunk kernel that calls it (reassociation could
# reorder the product of a snapshot's breakthrough value).
@kernel_function(nogil=True, fastmath=False, error_model="numpy")
def record_quarter(snap_year, state, jump_size, jump_scale, t):
    """Fold quarter t into its year's firm snapshot.

    snap_year: float32 (N_SNAPSHOT, i), written. Entry and breakthrough value accumulate over
    the year (``state[ENTERED]`` is cleared once read); levels are taken at its last quarter.
    jump_size: dtype F (i,), this quarter's breakthrough sizes (rng.SIZES, before scaling).
    """
    n = state.shape[1]
    quarter_of_year = t % QUARTERS_PER_YEAR
    if quarter_of_year == 0:
        for i in range(n):
            snap_year[S_ENTERED, i] = 0.0
            snap_year[S_BREAKTHROUGH, i] = 0.0
    for i in range(n):
        snap_year[S_ENTERED, i] = max(snap_year[S_ENTERED, i], state[ENTERED, i])
        state[ENTERED, i] = 0.0
        snap_year[S_BREAKTHROUGH, i] += state[BROKE_THROUGH, i] * jump_scale * jump_size[i]
    if quarter_of_year == QUARTERS_PER_YEAR - 1:
        for i in range(n):
            snap_year[S_LOG_TFP, i] = state[LOG_TFP, i]
            snap_year[S_SHARE, i] = state[SHARE, i]
            snap_year[S_RD, i] = state[RD, i]
            snap_year[S_PARADIGM, i] = state[PARADIGM, i]
            # years lived by the end of quarter t; born is the first quarter lived through
            snap_year[S_AGE, i] = (t + 1.0 - state[BORN, i]) / QUARTERS_PER_YEAR


@rng.inline
def buffers(n_firms, F):
    """One thread's buffers for a scenario's paths: the founders' attributes and a quarter's
    entrants (float64 (ENTRY_ROWS, i), ``firms.draw_firms``), the quarter's buffer (dtype F
    (N_ROWS, i): the firm state, then the quarter's draws, ``step.quarter``), its state rows
    (a view, (N_STATE, i)) and the industry state (float64 (N_INDUSTRY,))."""
    work = np.empty((N_ROWS, n_firms), dtype=F)
    return (
        np.empty((ENTRY_ROWS, n_firms)),
        work,
        work[:N_STATE],
        np.empty((ENTRY_ROWS, n_firms)),
        np.empty(N_INDUSTRY),
    )


@njit(cache=True, nogil=True, error_model="numpy")
def simulate_into(
    params, firm_params, tables, scenario_ids, seed, n_firms, out, snap, F, start, stop
):
    """Run scenarios [start, stop) of a chunk into ``out`` (and ``snap``).

    params:       float64 (s, p, N_INPUTS): each scenario's parameters under each path, then
                  the path's cost coefficients (registry.COST_COEFFICIENTS).
    firm_params:  float64 (N_FIRM_PARAMETERS,): firm distributions and jump shapes.
    tables:       dtype F (7, knots + 1): ``quantile_tables`` (sizes and Beta attributes).
    scenario_ids: int64 (s,): global scenario indices (the RNG counter).
    seed:         uint64 run seed.
    n_firms:      firms per scenario.
    out:          float64 (s, p, t, m): rows [start, stop) written; t = number of quarters.
    snap:         float32 (k, p, y, N_SNAPSHOT, i): firm snapshots of the chunk's first k
                  scenarios (k may be 0) at the end of each of the y = t // 4 whole years.
    F:            np.float32 or np.float64, the float type of the firm state.
    start, stop:  the chunk's rows this call runs.
    """
    n_paths = params.shape[1]
    n_quarters = out.shape[2]
    n_snap, n_years = snap.shape[0], snap.shape[2]
    k0, k1 = rng.split_seed(seed)
    attrs, work, state, entrants, ind = buffers(n_firms, F)
    for j in range(start, stop):
        scenario = scenario_ids[j]
        draw_founders(attrs, firm_params, tables, k0, k1, scenario)
        # The chokepoint is a world event: drawn once per scenario from its probability,
        # which no path may lever (registry.WORLD_EVENT), so every path sees the same strike.
        strike = np.float64(
            rng.chokepoint_quarter(k0, k1, scenario, params[j, 0, CHOKE_PROB], n_quarters)
        )
        for p in range(n_paths):
            init_path(state, ind, attrs, params[j, p], strike)
            for t in range(n_quarters):
                quarter(
                    work,
                    entrants,
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
                year = t // QUARTERS_PER_YEAR
                if j < n_snap and year < n_years:
                    record_quarter(
                        snap[j, p, year],
                        state,
                        work[D_JUMP],
                        params[j, p, JUMP_SCALE],
                        t,
                    )


def run_threads(body, n: int, threads: int) -> None:
    """Call ``body(start, stop)`` over [0, n) in batches on ``threads`` threads.

    The kernels release the GIL (``nogil``), so plain threads run them in parallel. Numba's
    ``parallel=True`` would do the same from inside the kernel, at the price of its parfor
    lowering: about a third of the cold compile (measured: 16.2 s against 10.9-11.8 s of
    CPU time for the float32 build). Threads take the next batch when they finish one, so
    a thread slowed by other work on its core holds up no other; a scenario's result does
    not depend on the thread or batch that runs it.
    """
    if threads <= 1 or n <= 1:
        body(0, n)
        return
    batch = max(1, n // (4 * threads))
    starts = itertools.count(0, batch)  # shared: next() on a count is atomic under the GIL

    def work() -> None:
        for start in starts:
            if start >= n:
                return
            body(start, min(n, start + batch))

    with ThreadPoolExecutor(threads) as pool:
        for done in [pool.submit(work) for _ in range(min(threads, n))]:
            done.result()


def float_type(precision: str):
    """The numpy float type of a precision name; plain ``float`` for float64 without the
    JIT (``NUMBA_DISABLE_JIT=1``), where numpy scalars would only slow the Python loop."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
    if numba_config.DISABLE_JIT and precision == "float64":
        return float
    return PRECISIONS[precision]


def check_firms(n_firms) -> None:
    """Refuse a firm count the kernels' row views cannot index (``rows.row_length``)."""
    if not 0 < int(n_firms) < 2**32:
        raise ValueError(f"firms per scenario must be in 1 .. 2**32 - 1, got {n_firms}")


def quantile_tables(firm_params, precision: str = "float32") -> np.ndarray:
    """Quantile tables of the kernel's one-uniform draws: (7, knots + 1) of the precision's
    dtype, rows ``rng.TABLE_*``: the jump size (truncated lognormal,
    ``rng.lognormal_table``), the incremental step and the five Beta attributes rd0,
    absorb, risk, lock and the key-technology dependence (``rng.beta_table``).

    Made once per process and shapes (scipy's inverse takes milliseconds, a serial cost
    every chunk would otherwise pay); the kernels only read them.
    """
    fp = np.asarray(firm_params, dtype=np.float64)
    shapes = tuple(
        float(fp[k])
        for k in (
            *(STEP_A, STEP_B, RD0_A, RD0_B, ABSORB_A, ABSORB_B),
            *(RISK_A, RISK_B, LOCK_A, LOCK_B, DEP_A, DEP_B),
        )
    )
    return _quantile_tables(float(fp[JUMP_SIGMA]), float(fp[JUMP_CAP]), shapes, precision)


@functools.lru_cache(maxsize=8)
def _quantile_tables(jump_sigma, jump_cap, shapes, precision):
    betas = [rng.beta_table(shapes[k], shapes[k + 1]) for k in range(0, len(shapes), 2)]
    return np.stack([rng.lognormal_table(jump_sigma, jump_cap), *betas]).astype(
        PRECISIONS[precision]
    )


def simulate(
    params,
    firm_params,
    scenario_ids,
    seed,
    n_firms,
    n_quarters,
    precision: str = "float32",
    snapshots: int = 0,
):
    """Outcomes of a chunk: float64 array (scenario, path, quarter, metric); with
    ``snapshots`` = k > 0, also the firm snapshots of its first k scenarios: a tuple
    (outcomes, float32 (k, path, year, N_SNAPSHOT, firm)).

    Allocates the outputs and calls :func:`simulate_into` on batches of scenarios; see there
    for the inputs. Thread count is numba's (``numba.set_num_threads``).
    """
    F = float_type(precision)
    check_firms(n_firms)
    params = np.ascontiguousarray(params, dtype=np.float64)
    if params.ndim != 3 or params.shape[2] != N_INPUTS:
        raise ValueError(
            f"params must have dims (scenario, path, N_INPUTS = {N_INPUTS}): the model's "
            f"parameters then the cost coefficients; got {params.shape}"
        )
    out = np.empty((params.shape[0], params.shape[1], n_quarters, N_METRICS))
    k = min(max(int(snapshots), 0), params.shape[0])
    snap = np.zeros(
        (k, params.shape[1], n_quarters // QUARTERS_PER_YEAR, N_SNAPSHOT, n_firms), np.float32
    )
    firm_params = np.ascontiguousarray(firm_params, dtype=np.float64)
    tables = quantile_tables(firm_params, precision)
    scenario_ids = np.ascontiguousarray(scenario_ids, dtype=np.int64)
    seed = np.uint64(seed)

    def body(start, stop):
        simulate_into(
            params,
            firm_params,
            tables,
            scenario_ids,
            seed,
            int(n_firms),
            out,
            snap,
            F,
            start,
            stop,
        )

    run_threads(body, params.shape[0], numba.get_num_threads())
    return (out, snap) if snapshots else out


@njit(cache=True, nogil=True, error_model="numpy")
def trace_into(params, firm_params, tables, scenario, seed, n_firms, out, history, jumps, F):
    """One scenario and path with per-firm traces, for mechanism tests and diagnostics.

    params: float64 (N_INPUTS,); out: (t, m); history: (t, N_STATE, i), the firm state
    after each quarter; jumps: (t, i), each quarter's breakthrough sizes before scaling.
    ``entered`` in the history is 1 only in the quarter of the entry.
    """
    k0, k1 = rng.split_seed(seed)
    attrs, work, state, entrants, ind = buffers(n_firms, F)
    draw_founders(attrs, firm_params, tables, k0, k1, scenario)
    strike = rng.chokepoint_quarter(k0, k1, scenario, params[CHOKE_PROB], out.shape[0])
    init_path(state, ind, attrs, params, np.float64(strike))
    for t in range(out.shape[0]):
        quarter(work, entrants, ind, params, firm_params, tables, k0, k1, scenario, t, out[t], F)
        history[t] = state
        jumps[t] = work[D_JUMP]
        state[ENTERED] = 0.0


def trace(params, firm_params, scenario, seed, n_firms, n_quarters, precision="float32"):
    """Per-firm traces of one scenario and path: (metrics (t, m), efficiency (t, i),
    converted (t, i), state history (t, N_STATE, i), breakthrough sizes before scaling
    (t, i)), all float64. ``efficiency`` is the firms' reinvestment signal (the state row
    ``efficiency``: own return on R&D with damper and premium), not the reported metric.
    params: float64 (N_INPUTS,), the model's parameters then the cost coefficients."""
    check_firms(n_firms)
    params = np.ascontiguousarray(params, dtype=np.float64)
    if params.shape != (N_INPUTS,):
        raise ValueError(
            f"params must have shape (N_INPUTS = {N_INPUTS},): the model's parameters then "
            f"the cost coefficients; got {params.shape}"
        )
    out = np.empty((n_quarters, N_METRICS))
    history = np.empty((n_quarters, N_STATE, n_firms))
    jumps = np.empty((n_quarters, n_firms))
    trace_into(
        params,
        np.ascontiguousarray(firm_params, dtype=np.float64),
        quantile_tables(firm_params, precision),
        int(scenario),
        np.uint64(seed),
        int(n_firms),
        out,
        history,
        jumps,
        float_type(precision),
    )
    return out, history[:, EFFICIENCY], history[:, CONVERTED], history, jumps
