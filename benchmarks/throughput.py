"""Firm-steps per second of the Numba kernel (1 thread, all threads) and the NumPy reference,
measured in one run on the same draws. A firm-step is one (scenario, firm, quarter, path)."""

from __future__ import annotations

import time
from pathlib import Path

import numba
import numpy as np

from flows.config import load_config
from flows.plan import make_plan
from kernels import reference
from kernels.simulate import simulate

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "default.yaml"


def _median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def measure(scenarios=32, firms=500, quarters=40, ref_scenarios=8, repeats=3):
    """Dict of firm-steps per second and ratios; the reference runs a subset of scenarios."""
    config = load_config(CONFIG, {"sizes.scenarios": scenarios, "sizes.firms": firms,
                                  "sizes.quarters": quarters})
    plan = make_plan(config)
    params = plan.params(0, scenarios)
    ids = np.arange(scenarios)
    n_paths = params.shape[1]

    def kernel():
        return simulate(params, config.firm_vector, ids, config.seed, firms, quarters)

    kernel()  # compile / load the cache
    threads = numba.get_num_threads()
    result = {"threads": threads}
    for label, n in (("1thread", 1), ("all_threads", threads)):
        numba.set_num_threads(n)
        seconds = _median_time(kernel, repeats)
        steps = scenarios * firms * quarters * n_paths
        result[f"kernel_firm_steps_per_s_{label}"] = steps / seconds
    numba.set_num_threads(threads)
    sub = params[:ref_scenarios]
    seconds = _median_time(lambda: reference.simulate(sub, config.firm_vector,
                                                      ids[:ref_scenarios], config.seed, firms,
                                                      quarters), max(1, repeats - 1))
    result["numpy_firm_steps_per_s"] = ref_scenarios * firms * quarters * n_paths / seconds
    result["ratio_kernel_numpy"] = (result["kernel_firm_steps_per_s_1thread"]
                                    / result["numpy_firm_steps_per_s"])
    result["parallel_efficiency_all_threads"] = (
        result["kernel_firm_steps_per_s_all_threads"]
        / (threads * result["kernel_firm_steps_per_s_1thread"]))
    return result
