"""Firm-steps per second of every implementation of the quarter, on the same case.

A firm-step is one (scenario, firm, quarter, path) update. Measured in one process, one
after another, on the same parameters and (for the counter-based ones) the same draws:

- the Numba kernel on one thread and on all (its float32 build, the one every run uses),
  and its float64 build on one thread;
- the NumPy reference (counter-based draws, vectorised over scenarios and firms);
- the same NumPy code drawing from NumPy's own Generator (no counters);
- the kernel's own source run as plain Python (``NUMBA_DISABLE_JIT=1``, in a subprocess):
  a per-firm loop the way an agent-based (Mesa-style) model computes it; a small case,
  scaled per firm-step;
- JAX (``benchmarks/jax_model.py``) where it is installed (``pip install -e ".[bench]"``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numba
import numpy as np

from resonance.flows.config import load_config
from resonance.flows.engine.plan import make_plan
from resonance.kernels import load, reference

simulate = load().simulate  # configures numba as every run does

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "default.yaml"


def run_times(fn, repeats: int) -> list[float]:
    """Seconds of ``repeats`` calls of ``fn``, one after another."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median_time(fn, repeats: int) -> float:
    return float(np.median(run_times(fn, repeats)))


def rate_range(steps: float, times: list[float]) -> list[float]:
    """[min, max] firm-steps per second over the runs behind a median (the spread)."""
    return [steps / max(times), steps / min(times)]


def case(scenarios: int, firms: int, quarters: int):
    """(config, params (s, p, k), scenario ids) of the default config at these sizes."""
    config = load_config(
        CONFIG, {"sizes.scenarios": scenarios, "sizes.firms": firms, "sizes.quarters": quarters}
    )
    return config, make_plan(config).params(0, scenarios), np.arange(scenarios)


_PYTHON_CASE = """
import json, sys, time
import numpy as np
from benchmarks.throughput import case
from resonance.kernels import load

simulate = load().simulate  # configures numba as every run does
scenarios, firms, quarters = map(int, sys.argv[1:4])
config, params, ids = case(scenarios, firms, quarters)
start = time.perf_counter()
simulate(params, config.firm_vector, ids, config.seed, firms, quarters, precision="float64")
print(json.dumps(time.perf_counter() - start))
"""


def python_loop_seconds(scenarios=1, firms=50, quarters=4) -> float:
    """Seconds of the kernel's source as plain Python (per-firm loops, no JIT), in Python
    floats (the float64 build: ``kernels.simulate.float_type``)."""
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _PYTHON_CASE, str(scenarios), str(firms), str(quarters)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(
    scenarios=32,
    firms=500,
    quarters=40,
    ref_scenarios=8,
    repeats=3,
    python_case=(1, 50, 4),
    jax=True,
) -> dict:
    """Firm-steps per second of each implementation and the ratios between them."""
    config, params, ids = case(scenarios, firms, quarters)
    n_paths = params.shape[1]
    steps = scenarios * firms * quarters * n_paths

    def kernel(precision="float32"):
        return simulate(
            params, config.firm_vector, ids, config.seed, firms, quarters, precision=precision
        )

    kernel()  # compile or load the cache
    kernel("float64")
    threads = numba.get_num_threads()
    result = {}
    try:
        # One and all threads in alternation, so that a change in the shared machine's
        # load between the two does not pose as (in)efficiency.
        times = {1: [], threads: []}
        for _ in range(repeats):
            for n in times:
                numba.set_num_threads(n)
                times[n].append(median_time(kernel, 1))
        result["kernel_firm_steps_per_s_1thread"] = steps / float(np.median(times[1]))
        result["kernel_firm_steps_per_s_1thread_range"] = rate_range(steps, times[1])
        result["kernel_firm_steps_per_s_all_threads"] = steps / float(np.median(times[threads]))
        result["kernel_firm_steps_per_s_all_threads_range"] = rate_range(steps, times[threads])
        # Each pair of neighbouring runs gives one efficiency; their range is the spread.
        pairs = [a / (threads * b) for a, b in zip(times[1], times[threads], strict=True)]
        result["parallel_efficiency_range"] = [min(pairs), max(pairs)]
        numba.set_num_threads(1)
        f64 = run_times(lambda: kernel("float64"), max(3, repeats))
        result["kernel_float64_firm_steps_per_s_1thread"] = steps / float(np.median(f64))
        result["kernel_float64_firm_steps_per_s_1thread_range"] = rate_range(steps, f64)
    finally:
        numba.set_num_threads(threads)

    sub = params[:ref_scenarios]
    ref_steps = ref_scenarios * firms * quarters * n_paths
    for key, draws in (
        ("numpy_firm_steps_per_s", None),
        ("numpy_generator_firm_steps_per_s", "generator"),
    ):

        def run(draws=draws):
            d = reference.GeneratorDraws(config.seed, config.firm_vector) if draws else None
            reference.simulate(
                sub, config.firm_vector, ids[:ref_scenarios], config.seed, firms, quarters, draws=d
            )

        ref = run_times(run, max(3, repeats))
        result[key] = ref_steps / float(np.median(ref))
        result[f"{key}_range"] = rate_range(ref_steps, ref)

    s, f, q = python_case
    result["python_firm_steps_per_s"] = s * f * q * n_paths / python_loop_seconds(s, f, q)

    try:
        if not jax:
            raise ImportError
        from benchmarks import jax_model

        result["jax_firm_steps_per_s"] = jax_model.firm_steps_per_s(
            config, sub, ids[:ref_scenarios], firms, quarters, repeats
        )
    except ImportError:
        result["jax_firm_steps_per_s"] = None
        result["jax_note"] = (
            "JAX is not installed (pip install -e '.[bench]')"
            if jax
            else "JAX skipped in --quick (its compile alone takes ~15 s)"
        )

    one = result["kernel_firm_steps_per_s_1thread"]
    result["ratio_kernel_numpy"] = one / result["numpy_firm_steps_per_s"]
    # The ratio's spread: slowest kernel run over fastest reference run, and back.
    kernel_range, numpy_range = (
        result["kernel_firm_steps_per_s_1thread_range"],
        result["numpy_firm_steps_per_s_range"],
    )
    result["ratio_kernel_numpy_range"] = [
        kernel_range[0] / numpy_range[1],
        kernel_range[1] / numpy_range[0],
    ]
    result["ratio_kernel_float64_numpy"] = (
        result["kernel_float64_firm_steps_per_s_1thread"] / result["numpy_firm_steps_per_s"]
    )
    result["ratio_kernel_numpy_generator"] = one / result["numpy_generator_firm_steps_per_s"]
    result["ratio_kernel_python"] = one / result["python_firm_steps_per_s"]
    if result["jax_firm_steps_per_s"]:
        result["ratio_kernel_jax"] = one / result["jax_firm_steps_per_s"]
    result["parallel_efficiency_all_threads"] = result["kernel_firm_steps_per_s_all_threads"] / (
        threads * one
    )
    result["threads"] = threads
    result["case"] = {
        "scenarios": scenarios,
        "firms": firms,
        "quarters": quarters,
        "paths": n_paths,
        "reference_scenarios": ref_scenarios,
        "python_case": list(python_case),
    }
    return result
