"""The main job as a user runs it, ``resonance run configs/default.yaml``, split into where
its wall time goes (``flows/engine/timing.py``), through Prefect and not.

Each run is a fresh process into a fresh store with a warm kernel cache; the runs of the
two engines alternate, and the figures are medians with their spread (min, max).
``simulation_share`` is the issue's measure: the kernel-only time at the kernel's rate
measured in this suite (one thread's rate x the workers) over the wall time;
``simulation_share_in_run`` uses the kernel's seconds measured inside the run's tasks.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.throughput import CONFIG, ROOT

PARTS = (
    "wall_s",
    "startup_s",
    "cluster_s",
    "prefect_s",
    "simulation_s",
    "kernel_s",
    "store_writes_s",
    "bands_s",
    "report_s",
    "other_s",
    "simulation_share",
)


def one_run(engine: str, extra: list[str], tmp: str) -> dict:
    """The timing split of one ``resonance run`` (a fresh process and store)."""
    timing_file = Path(tmp) / f"timing-{engine}.json"
    cmd = [sys.executable, "-m", "resonance", "run", str(CONFIG), *extra]
    cmd += ["--out", f"{tmp}/{engine}.zarr", "--no-progress", "--overwrite", "--engine", engine]
    env = {**os.environ, "RESONANCE_TIMING_FILE": str(timing_file)}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return json.loads(timing_file.read_text())


def measure(
    repeats: int = 3,
    extra: tuple[str, ...] = (),
    thread_rate: float | None = None,
    engines: tuple[str, ...] = ("prefect", "direct"),
) -> dict:
    """Median split of ``repeats`` runs per engine (``extra``: CLI size overrides), and
    the issue's simulation share at ``thread_rate`` (firm-steps/s of one kernel thread)."""
    runs = {engine: [] for engine in engines}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            for engine in runs:
                runs[engine].append(one_run(engine, list(extra), tmp))
    result = {}
    for engine, parts in runs.items():
        summary = {
            key: statistics.median(p[key] for p in parts) for key in PARTS if key in parts[0]
        }
        summary["spread"] = {
            key: [min(p[key] for p in parts), max(p[key] for p in parts)]
            for key in ("wall_s", "simulation_s", "bands_s")
        }
        summary["simulation_share_in_run"] = summary.pop("simulation_share")
        steps, threads = parts[0]["firm_steps"], parts[0]["threads"]
        summary.update(firm_steps=steps, threads=threads, runs=len(parts))
        if thread_rate:
            kernel_only = steps / (thread_rate * threads)
            summary["kernel_only_s"] = kernel_only
            summary["simulation_share"] = kernel_only / summary["wall_s"]
        result[engine] = summary
    return result


def closing_line(main_job: dict) -> str:
    """One line of the suite's table: the Prefect run's split."""
    p = main_job["prefect"]
    return (
        f"wall {p['wall_s']:.1f} s: first chunk at {p['startup_s']:.1f} s, simulation "
        f"{p['simulation_s']:.1f} s, bands {p['bands_s']:.2f} s, report {p['report_s']:.1f} s; "
        f"simulation share {p.get('simulation_share', p['simulation_share_in_run']):.2f}"
    )


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 3), indent=1))
