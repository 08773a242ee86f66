"""Thread scaling of the Numba kernel alone (prange over scenarios), 1 .. N threads.

Needs only numpy and numba, so it also runs on machines without the rest of the stack:
``python -m benchmarks.kernel_scaling --save case.npz`` writes the inputs here, and
``python benchmarks/kernel_scaling.py --load case.npz`` times them there.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def save(path: str, scenarios: int = 64, firms: int = 1000, quarters: int = 40) -> None:
    from benchmarks.throughput import case

    config, params, ids = case(scenarios, firms, quarters)
    np.savez(
        path,
        params=params,
        firm_params=config.firm_vector,
        ids=ids,
        seed=np.uint64(config.seed),
        firms=firms,
        quarters=quarters,
    )


def scaling(path: str, repeats: int = 3) -> list[dict]:
    import numba

    from resonance.kernels import load

    simulate = load().simulate  # configures numba as every run does

    case = np.load(path)
    args = (
        case["params"],
        case["firm_params"],
        case["ids"],
        np.uint64(case["seed"]),
        int(case["firms"]),
        int(case["quarters"]),
    )
    simulate(*args)
    steps = (
        case["params"].shape[0]
        * case["params"].shape[1]
        * int(case["firms"])
        * int(case["quarters"])
    )
    most = numba.config.NUMBA_NUM_THREADS
    rows = []
    for n in sorted({1, most, *[2**k for k in range(1, 7) if 2**k < most]}):
        numba.set_num_threads(n)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            simulate(*args)
            times.append(time.perf_counter() - start)
        rows.append({"threads": n, "firm_steps_per_s": steps / float(np.median(times))})
    for row in rows:
        row["speedup"] = row["firm_steps_per_s"] / rows[0]["firm_steps_per_s"]
        row["efficiency"] = row["speedup"] / row["threads"]
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--save")
    parser.add_argument("--load")
    args = parser.parse_args()
    if args.save:
        save(args.save)
    if args.load:
        result = {"cores": os.cpu_count(), "scaling": scaling(args.load)}
        print(json.dumps(result, indent=1))
