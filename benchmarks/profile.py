"""``python -m benchmarks.profile [--json PATH]``: where the float32 kernel's time goes.

One thread, the suite's case (default config, ``--scenarios`` x ``--firms`` x
``--quarters``, every path). The whole kernel is timed, then each costly section of a
firm-step alone, by a micro-kernel that runs the kernel's own functions (``kernels/rng.py``,
``kernels/vmath.py``) over the firms in a loop of its own, as often per firm-step as the
quarter does (``kernels/step.py``):

- ``philox``: the three Philox4x32-10 blocks of a firm-quarter (SIZES, FATE, EVENTS) and
  the 23-bit uniforms of their words;
- ``inverse_normal``: the two normals of the size-and-shock pass;
- ``tables``: the two quantile-table lookups (jump size, step size);
- ``exp_log``: the firm loop's eleven exp/log (its exp of log TFP also serves the
  selection pass and entry);
- ``entry``: the entry pass of every quarter, at the entry rate of the case (measured on
  its first scenario's paths, ``simulate.trace``), by the quarter's own ``firms.enter``:
  the scan of every firm for exits, the entrants' draws in passes over them
  (``firms.draw_firms``: three Philox blocks, five table lookups, a Box-Muller normal),
  their placing in the state with their initial terms (``firms.place_entrants``), and the
  shares' sum;
- ``rest``: the whole kernel less the five: the firm loop's other arithmetic (divisions,
  square roots, selects, sixteen running sums), the industry sums, selection, founders
  and snapshots.

A section timed alone runs without the others' register pressure and memory traffic, so
the sections are estimates; ``rest`` takes what they leave. Every figure is the median of
``--repeats`` runs (at least 3) with its range.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from resonance.kernels import load

simulate = load()  # configures numba as every run does, before the micro-kernels compile

from numba import njit  # noqa: E402

from resonance.kernels import rng, vmath  # noqa: E402
from resonance.kernels.firms import ENTRY_ROWS, enter  # noqa: E402
from resonance.kernels.registry import (  # noqa: E402
    ENTERED,
    N_STATE,
    SHARE,
)

MICRO = dict(nogil=True, fastmath=vmath.FASTMATH, error_model="numpy")
N_EXP_LOG = 11  # firm loop: keep, p_conv, p_d, log_usable, p_c, cap, u_t, u_f, cbrt (2),
# the TFP level (competitiveness; kept for the selection pass and entry)


@njit(**MICRO)
def philox(out, k0, k1, scenario, quarters):
    F = np.float32
    for t in range(quarters):
        for i in range(out.shape[0]):
            a0, a1, a2, a3 = rng.block(k0, k1, scenario, i, t, rng.SIZES)
            b0, b1, b2, _ = rng.block(k0, k1, scenario, i, t, rng.FATE)
            c0, c1, c2, c3 = rng.block(k0, k1, scenario, i, t, rng.EVENTS)
            out[i] = (
                rng.unit(a0, F)
                + rng.unit(a1, F)
                + rng.unit(a2, F)
                + rng.unit(a3, F)
                + rng.unit(b0, F)
                + rng.unit(b1, F)
                + rng.unit(b2, F)
                + rng.unit(c0, F)
                + rng.unit(c1, F)
                + rng.unit(c2, F)
                + rng.unit(c3, F)
            )


@njit(**MICRO)
def inverse_normal(out, u, v, quarters):
    F = np.float32
    for _ in range(quarters):
        for i in range(out.shape[0]):
            out[i] = vmath.inverse_normal(u[i], F) + vmath.inverse_normal(v[i], F)


@njit(**MICRO)
def tables(out, table, u, v, quarters):
    F = np.float32
    for _ in range(quarters):
        for i in range(out.shape[0]):
            out[i] = rng.beta_quantile(table[0], u[i], F) + rng.beta_quantile(table[1], v[i], F)


@njit(**MICRO)
def exp_log(out, x, y, quarters):
    s = np.float32(0.01)
    for _ in range(quarters):
        for i in range(out.shape[0]):
            a = x[i]
            b = y[i]
            acc = vmath.log(b) + vmath.log(b + s)
            acc += vmath.exp(-a) + vmath.exp(-a * s) + vmath.exp(a * a * s) + vmath.exp(b * s)
            acc += vmath.exp(a - b) + vmath.exp(b - a) + vmath.exp(-b) + vmath.exp(a * s - b)
            acc += vmath.exp(a + s)
            out[i] = acc


@njit(**MICRO)
def entry(state, p, fp, tables, k0, k1, leaves, entrants):
    """Every quarter's entry pass (``kernels/step.py``) for the firms flagged in
    leaves[t, i]."""
    n = leaves.shape[1]
    total = 0.0
    for t in range(leaves.shape[0]):
        # the TFP levels go to the entered flags' row, which nothing here reads
        enter(state, entrants, leaves[t], p, fp, tables, k0, k1, 3, t, -1.0, 0.0, state[ENTERED])
        for i in range(n):
            total += state[SHARE, i]
    return total


def entry_rate(config, params, firms: int, quarters: int) -> float:
    """Entrants per firm-quarter of the case: the mean over its first scenario's paths."""
    entered = [
        simulate.trace(params[0, p], config.firm_vector, 0, config.seed, firms, quarters)[3][
            :, ENTERED
        ].mean()
        for p in range(params.shape[1])
    ]
    return float(np.mean(entered))


def _median_range(times: list[float], per: float) -> dict:
    ns = [t / per * 1e9 for t in times]
    return {"ns": float(np.median(ns)), "range": [min(ns), max(ns)]}


def measure(scenarios=8, firms=1000, quarters=40, repeats=5) -> dict:
    """ns per firm-step of the whole kernel and of each section (median, range)."""
    import numba

    from benchmarks.throughput import case

    numba.set_num_threads(1)
    config, params, ids = case(scenarios, firms, quarters)
    steps = scenarios * firms * quarters * params.shape[1]

    def kernel():
        simulate.simulate(params, config.firm_vector, ids, config.seed, firms, quarters)

    gen = np.random.default_rng(0)
    u = gen.uniform(2.0**-24, 1.0 - 2.0**-24, firms).astype(np.float32)
    v = gen.uniform(2.0**-24, 1.0 - 2.0**-24, firms).astype(np.float32)
    x = gen.uniform(0.0, 5.0, firms).astype(np.float32)
    y = gen.uniform(0.5, 5.0, firms).astype(np.float32)
    table = simulate.quantile_tables(config.firm_vector)[:2].copy()
    out = np.empty(firms, np.float32)
    k0, k1 = rng.split_seed(np.uint64(config.seed))
    rate = entry_rate(config, params, firms, quarters)
    # each quarter's exiting firms: the case's rate of them, at random places
    leaves = (gen.uniform(size=(quarters, firms)) < rate).astype(np.float32)
    state = np.zeros((N_STATE, firms), np.float32)
    entrants = np.empty((ENTRY_ROWS, firms))
    all_tables = simulate.quantile_tables(config.firm_vector)
    # Each micro-kernel runs every quarter in one call: called once a quarter, numba's
    # dispatch (about 0.5-0.9 us a call) would count as 0.5-0.9 ns per firm-step.
    sections = {
        "philox": lambda: philox(out, k0, k1, 3, quarters),
        "inverse_normal": lambda: inverse_normal(out, u, v, quarters),
        "tables": lambda: tables(out, table, u, v, quarters),
        "exp_log": lambda: exp_log(out, x, y, quarters),
        "entry": lambda: entry(
            state, params[0, 0], config.firm_vector, all_tables, k0, k1, leaves, entrants
        ),
    }
    kernel()
    for run in sections.values():
        run()
    # The sections' loops run firms x quarters firm-steps per call; timed in rounds that
    # alternate with the kernel's, so a change in a shared machine's load hits all alike.
    per_section = firms * quarters
    reps = max(1, steps // per_section)
    times = {"kernel": [], **{k: [] for k in sections}}
    for _ in range(max(3, repeats)):
        start = time.perf_counter()
        kernel()
        times["kernel"].append(time.perf_counter() - start)
        for name, run in sections.items():
            start = time.perf_counter()
            for _ in range(min(reps, 50)):
                run()
            times[name].append((time.perf_counter() - start) / min(reps, 50) * reps)
    result = {name: _median_range(t, steps) for name, t in times.items()}
    rest = [
        times["kernel"][k] - sum(times[s][k] for s in sections) for k in range(len(times["kernel"]))
    ]
    result["rest"] = _median_range(rest, steps)
    result["entry_rate"] = rate
    result["firm_steps_per_s_1thread"] = 1e9 / result["kernel"]["ns"]
    result["case"] = {
        "scenarios": scenarios,
        "firms": firms,
        "quarters": quarters,
        "paths": int(params.shape[1]),
        "repeats": max(3, repeats),
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile")
    parser.add_argument("--scenarios", type=int, default=8)
    parser.add_argument("--firms", type=int, default=1000)
    parser.add_argument("--quarters", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="also write the profile as JSON to this path")
    args = parser.parse_args()
    result = measure(args.scenarios, args.firms, args.quarters, args.repeats)
    total = result["kernel"]["ns"]
    print(
        f"float32 kernel, 1 thread: {total:.1f} ns per firm-step "
        f"({result['firm_steps_per_s_1thread'] / 1e6:.1f} M firm-steps/s); "
        f"median of {result['case']['repeats']} (range)"
    )
    for name in ("philox", "inverse_normal", "tables", "exp_log", "entry", "rest"):
        r = result[name]
        print(
            f"  {name:15s} {r['ns']:6.1f} ns ({r['range'][0]:.1f}-{r['range'][1]:.1f})"
            f"  {r['ns'] / total:5.0%}"
        )
    print(f"  (entrants: {result['entry_rate']:.2%} of the firms a quarter)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
