"""The per-chunk and per-task costs that ``docs/scaling.md`` scales up to a cluster.

``python -m benchmarks.scaling_costs [TASKS]`` prints them as JSON:

- ``scheduler``: wall seconds per task of ``TASKS`` (default 10,000) tiny tasks through
  the same bounded window of futures a run uses (``DaskExecutor.map``), on a LocalCluster
  of one worker per core: the scheduler's and the driver's overhead per task.
- ``chunk``: one chunk of the default config (32 scenarios x 1,000 firms x 8 paths x 40
  quarters) on one worker: kernel seconds, write seconds, the bytes and the number of
  objects it adds to the store (draws and marks; firm snapshots only in the first chunk).
- ``inputs``: the driver making a store of 2^22 scenarios (a model of 2 firms, so only the
  scenario inputs are large): seconds per million scenarios, objects, and the peak of
  Python's allocations (tracemalloc), which is one shard's design, not the run's.
- ``bands``: seconds to reduce a store of 2,048 and of 8,192 scenarios' draws in memory,
  and the streamed passes at 2,048 (per value, they scale linearly).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.throughput import CONFIG


def _tiny(shared, i: int) -> int:
    return i


def scheduler_overhead(tasks: int = 10_000) -> dict:
    from resonance.flows.engine.cluster import ClusterSpec, connect
    from resonance.flows.engine.execute import DaskExecutor

    spec = ClusterSpec(kind="local", dashboard_address=None)  # worker processes, over TCP
    with connect(spec) as client:
        executor = DaskExecutor(client, 1)
        list(executor.map(_tiny, None, ((i,) for i in range(200))))  # warm
        began = time.perf_counter()
        done = sum(1 for _ in executor.map(_tiny, None, ((i,) for i in range(tasks))))
        seconds = time.perf_counter() - began
        workers = executor.n_workers
    return {
        "tasks": done,
        "workers": workers,
        "seconds": seconds,
        "seconds_per_task": seconds / done,
        "tasks_per_second": done / seconds,
    }


def _store_size(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def chunk_costs(chunks: int = 4) -> dict:
    """One chunk's kernel and write seconds (median of ``chunks``), bytes and objects."""
    import numpy as np

    from resonance.flows.config import load_config
    from resonance.flows.engine.execute import prepare_store
    from resonance.flows.engine.plan import make_plan
    from resonance.flows.engine.store_io import write_chunk

    with tempfile.TemporaryDirectory() as tmp:
        n = 32 * (chunks + 1)
        config = load_config(CONFIG, {"sizes.scenarios": n, "store": f"{tmp}/c.zarr"})
        plan = make_plan(config)
        prepare_store(plan)
        before = _store_size(Path(config.store))
        plan.job.warm()
        kernel, write, grew = [], [], []
        for k, (a, b) in enumerate(plan.chunks):
            began = time.perf_counter()
            outcomes, snapshots = plan.job.simulate(a, b)
            mid = time.perf_counter()
            write_chunk(config.store, config.sha256, a, b, outcomes, snapshots)
            end = time.perf_counter()
            size = _store_size(Path(config.store))
            if k:  # chunk 0 also holds the firm snapshots
                kernel.append(mid - began)
                write.append(end - mid)
                grew.append((size[0] - before[0], size[1] - before[1]))
            before = size
        steps = 32 * config.n_firms * config.n_quarters * len(config.path_names)
    return {
        "scenarios": 32,
        "firm_steps": steps,
        "kernel_s": float(np.median(kernel)),
        "write_s": float(np.median(write)),
        "bytes": int(np.median([g[0] for g in grew])),
        "objects": int(np.median([g[1] for g in grew])),
        "threads": int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1)),
    }


def input_costs(n: int = 2**22) -> dict:
    """The driver's cost of a store's scenario inputs: made and written a shard at a time."""
    import tracemalloc

    from resonance.flows.config import load_config
    from resonance.flows.engine.execute import DesignInputs
    from resonance.flows.engine.store_write import open_or_create

    with tempfile.TemporaryDirectory() as tmp:
        small = {"sizes.firms": 2, "sizes.quarters": 4, "sizes.firm_snapshots": 0}
        config = load_config(
            CONFIG,
            {**small, "sizes.scenarios": n, "paths": ["baseline"], "store": f"{tmp}/i.zarr"},
        )
        tracemalloc.start()
        began = time.perf_counter()
        open_or_create(config, config.store, False, DesignInputs.of(config))
        seconds = time.perf_counter() - began
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        draws = Path(config.store, "draws")
        # an input's shards are draws/<name>/c/<k>; the outcome's (none here) c.<k>.0.0.0
        inputs = [
            p for p in draws.rglob("*") if p.is_file() and p.relative_to(draws).parts[1:2] == ("c",)
        ]
    return {
        "scenarios": n,
        "parameters": len(config.uncertain_names),
        "seconds": seconds,
        "seconds_per_million": seconds / (n / 1e6),
        "objects": len(inputs),
        "peak_traced_mb": peak / 2**20,
    }


def bands_costs() -> dict:
    from benchmarks.system import bands_and_store

    small = bands_and_store(scenarios=2048, firms=10, quarters=40, chunk=32)
    large = bands_and_store(scenarios=8192, firms=10, quarters=40, chunk=128)
    return {
        "in_memory_s": {"2048": small["bands_s"], "8192": large["bands_s"]},
        "streaming_s": {"2048": small["bands_streaming_s"], "8192": large["bands_streaming_s"]},
        "values": {"2048": small["values"], "8192": large["values"]},
    }


if __name__ == "__main__":
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    result = {
        "scheduler": scheduler_overhead(tasks),
        "chunk": chunk_costs(),
        "inputs": input_costs(),
        "bands": bands_costs(),
    }
    print(json.dumps(result, indent=1))
