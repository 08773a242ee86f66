"""Wall time of a small `resonance run` through the Prefect flow against the engine called
directly (median of several runs, each a fresh process, as a user would run it)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "default.yaml"


def time_run(engine: str, repeats: int = 3) -> list[float]:
    times = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [
                sys.executable,
                "-m",
                "resonance",
                "run",
                str(CONFIG),
                "--scenarios",
                "64",
                "--firms",
                "100",
                "--quarters",
                "20",
                "--workers",
                "2",
                "--no-progress",
                "--out",
                f"{tmp}/run.zarr",
                "--engine",
                engine,
            ]
            start = time.perf_counter()
            subprocess.run(
                cmd,
                check=True,
                capture_output=True,
                env={**__import__("os").environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"},
            )
            times.append(time.perf_counter() - start)
    return times


def measure(repeats: int = 3) -> dict:
    direct = time_run("direct", repeats)
    prefect = time_run("prefect", repeats)
    return {
        "direct_s": statistics.median(direct),
        "prefect_s": statistics.median(prefect),
        "prefect_overhead_s": statistics.median(prefect) - statistics.median(direct),
        "runs": {"direct": direct, "prefect": prefect},
    }


if __name__ == "__main__":
    print(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
