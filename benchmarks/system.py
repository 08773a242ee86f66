"""The parts around the kernel: Dask scaling, peak memory, JIT compile and start-up time,
band reduction and store writes."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks.memory import run_and_measure
from benchmarks.throughput import CONFIG, ROOT, median_time


def sized_config(store: str, scenarios: int, firms: int, quarters: int, chunk: int):
    """The default config at these sizes, into ``store``."""
    from resonance.flows.config import load_config

    sizes = {"sizes.scenarios": scenarios, "sizes.firms": firms, "sizes.quarters": quarters}
    return load_config(CONFIG, {**sizes, "chunk_scenarios": chunk, "store": store})


def dask_scaling(
    max_workers: int, scenarios=64, firms=400, quarters=40, chunk=4, repeats=3
) -> list:
    """Speed-up and parallel efficiency of the engine on 1, 2, 4, ... workers.

    Times the simulation of all chunks on a warm LocalCluster (start-up and bands excluded,
    so the figure is the engine's scaling, not Dask's start-up). The worker counts take
    turns ``repeats`` times and each count's median is used, so that a change in this
    shared machine's load does not pose as (in)efficiency; ``spread`` is the range of the
    speed-ups of neighbouring runs.
    """
    from resonance.flows.engine.cluster import ClusterSpec, connect
    from resonance.flows.engine.execute import DaskExecutor, prepare_store, simulate_chunks
    from resonance.flows.engine.plan import make_plan

    counts = sorted({1, max_workers, *[2**k for k in range(1, 8) if 2**k < max_workers]})
    timings = {n: [] for n in counts}
    for _ in range(repeats):
        for n in counts:
            with tempfile.TemporaryDirectory() as tmp:
                config = sized_config(f"{tmp}/s.zarr", scenarios, firms, quarters, chunk)
                plan = make_plan(config)
                # worker processes, as a cluster of many machines has them (the default
                # local cluster's threads are measured by the main job)
                spec = ClusterSpec(kind="local", dashboard_address=None)
                with connect(spec, workers=n) as client:
                    executor = DaskExecutor(client, 1)
                    todo = prepare_store(plan)
                    simulate_chunks(plan, executor, todo[:n])  # warm every worker
                    rest = prepare_store(plan)
                    start = time.perf_counter()
                    simulate_chunks(plan, executor, rest)
                    timings[n].append((time.perf_counter() - start) / len(rest))
    base = float(np.median(timings[1]))
    rows = []
    for n in counts:
        median = float(np.median(timings[n]))
        pairs = [a / b for a, b in zip(timings[1], timings[n], strict=True)]
        rows.append(
            {
                "workers": n,
                "seconds_per_chunk": median,
                "speedup": base / median,
                "efficiency": base / median / n,
                "spread": [min(pairs), max(pairs)],
            }
        )
    return rows


def peak_memory(scenarios=256, firms=300, quarters=40, factors=(1, 2, 4), workers=2) -> dict:
    """Peak RSS (MB, whole process tree) of `resonance run` at 1x, 2x, 4x the scenarios.

    The runs go side by side: each tree's peak is its own, and CPU contention does not
    change how much memory a run holds.
    """
    from concurrent.futures import ThreadPoolExecutor

    def one(factor, tmp):
        cmd = [
            "resonance",
            "run",
            str(CONFIG),
            "--scenarios",
            str(scenarios * factor),
            "--firms",
            str(firms),
            "--quarters",
            str(quarters),
            "--workers",
            str(workers),
            "--out",
            f"{tmp}/m{factor}.zarr",
            "--no-progress",
            "--engine",
            "direct",
        ]
        got = run_and_measure(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if got["returncode"] != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed")
        return round(got["peak_rss_mb"], 1)

    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(len(factors)) as pool:
        peaks = list(pool.map(lambda f: one(f, tmp), factors))
    return {f"{f}x": peak for f, peak in zip(factors, peaks, strict=True)}


# A new process's import of the kernels and first call of what a run compiles, on inputs
# made beforehand (``sys.argv[1]``, an .npz), so that only the kernels' own start is timed:
# the float32 kernel, all a run compiles (the driver's draws, the chokepoints of
# ``plan.world_events`` and the ``mc`` design, are NumPy since 2026-12-06).
_FIRST_CALL = """
import sys, time
start = time.perf_counter()
import numpy as np
from resonance.kernels import load

kernels = load()  # configures numba as every run does
case = np.load(sys.argv[1])
kernels.simulate(case["params"], case["firm_vector"], case["ids"], int(case["seed"]), 10, 2)
print(time.perf_counter() - start)
"""
# The same first call with the inputs made in the process, which imports the driver's
# stack (the config, the design: dask, xarray, zarr, scipy.stats; about 1.3 s on the Intel
# VM): the measure of every run of the suite before 2026-12-05's sixteenth, kept beside it.
_FIRST_CALL_WITH_DRIVER = """
import time
start = time.perf_counter()
import numpy as np
from benchmarks.throughput import case
from resonance.kernels import load

simulate = load().simulate  # configures numba as every run does
config, params, ids = case(2, 10, 2)
simulate(params, config.firm_vector, ids, config.seed, 10, 2)
print(time.perf_counter() - start)
"""


def compile_times(warm_repeats: int = 3, cold_repeats: int = 3) -> dict:
    """Seconds from a new process's start to the end of the float32 kernel's first call,
    with a cold and with a warm cache: medians of ``cold_repeats`` cold caches (each a
    fresh directory) and ``warm_repeats`` warm starts, with their ranges.

    ``compile_s_cold`` imports the kernels and calls what a run compiles (the float32
    kernel) on inputs made beforehand: the kernels' cold start,
    the issue's measure of the compile. ``..._with_driver_imports``
    also imports the driver's stack to make the inputs (alternating with it, each with a
    cache of its own), as the suite measured it before."""
    from benchmarks.throughput import case

    def first_call(script, cache, *args):
        done = subprocess.run(
            [sys.executable, "-c", script, *args],
            cwd=ROOT,
            env={**os.environ, "NUMBA_CACHE_DIR": cache},
            capture_output=True,
            text=True,
            check=True,
        )
        return float(done.stdout.strip().splitlines()[-1])

    cold, warm, cold_driver = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        config, params, ids = case(2, 10, 2)
        inputs = f"{tmp}/case.npz"
        np.savez(
            inputs,
            params=params,
            firm_vector=config.firm_vector,
            ids=ids,
            seed=config.seed,
        )
        for k in range(max(cold_repeats, warm_repeats)):
            with tempfile.TemporaryDirectory() as cache:
                if k < cold_repeats:
                    cold.append(first_call(_FIRST_CALL, cache, inputs))
                else:
                    first_call(_FIRST_CALL, cache, inputs)
                if k < warm_repeats:
                    warm.append(first_call(_FIRST_CALL, cache, inputs))
            if k < cold_repeats:
                with tempfile.TemporaryDirectory() as cache:
                    cold_driver.append(first_call(_FIRST_CALL_WITH_DRIVER, cache))
    return {
        "compile_s_cold": float(np.median(cold)),
        "compile_s_cold_range": [min(cold), max(cold)],
        "compile_s_cold_with_driver_imports": float(np.median(cold_driver)),
        "compile_s_cold_with_driver_imports_range": [min(cold_driver), max(cold_driver)],
        "startup_s_warm": float(np.median(warm)),
        "startup_s_warm_range": [min(warm), max(warm)],
    }


def bands_and_store(scenarios=512, firms=50, quarters=40, chunk=32) -> dict:
    """Seconds of the store writes and of the band reduction, against the simulation."""
    from resonance.flows.engine.execute import SequentialExecutor, finalise_bands, prepare_store
    from resonance.flows.engine.plan import make_plan
    from resonance.flows.engine.store_io import write_chunk

    with tempfile.TemporaryDirectory() as tmp:
        config = sized_config(f"{tmp}/b.zarr", scenarios, firms, quarters, chunk)
        plan = make_plan(config)
        prepare_store(plan)
        outcomes = [plan.simulate_chunk(a, b) for a, b in plan.chunks]
        start = time.perf_counter()
        sim = [plan.simulate_chunk(a, b) for a, b in plan.chunks[:4]]
        simulate_s = (time.perf_counter() - start) / 4 * len(plan.chunks)
        del sim
        start = time.perf_counter()
        for k, (a, b) in enumerate(plan.chunks):
            write_chunk(config.store, config.sha256, a, b, outcomes[k])
        write_s = time.perf_counter() - start
        bands_s = median_time(lambda: finalise_bands(plan, SequentialExecutor()), 3)
        from resonance.flows.engine import bands

        cap, bands.MEMORY_CAP = bands.MEMORY_CAP, 0  # as a store past the cap is reduced
        try:
            streaming_s = median_time(lambda: finalise_bands(plan, SequentialExecutor()), 1)
        finally:
            bands.MEMORY_CAP = cap
        values = sum(o.size for o in outcomes)
    return {
        "values": values,
        "simulate_s": simulate_s,
        "store_write_s": write_s,
        "bands_s": bands_s,
        "bands_streaming_s": streaming_s,
        "store_write_mvalues_per_s": values / write_s / 1e6,
        "bands_mvalues_per_s": values / bands_s / 1e6,
    }


if __name__ == "__main__":
    # `python -m benchmarks.system WORKERS`: Dask scaling alone, as JSON (for big machines).
    import json

    most = int(sys.argv[1]) if len(sys.argv) > 1 else (os.cpu_count() or 1)
    print(json.dumps(dask_scaling(most, scenarios=16 * most, firms=1000, quarters=40, chunk=8)))
