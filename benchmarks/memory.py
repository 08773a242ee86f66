"""Peak resident memory of a whole process tree (a run and its Dask workers)."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil


def tree_rss(proc: psutil.Process) -> int:
    """Resident bytes of ``proc`` and all its descendants now."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def run_and_measure(cmd: list[str], interval: float = 0.05, **popen) -> dict:
    """Run ``cmd``; return its exit code, wall seconds and peak tree RSS in MB."""
    start = time.perf_counter()
    child = subprocess.Popen(cmd, **popen)
    proc = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        try:
            peak = max(peak, tree_rss(proc))
        except psutil.NoSuchProcess:
            break
        time.sleep(interval)
    return {
        "returncode": child.returncode,
        "wall_s": time.perf_counter() - start,
        "peak_rss_mb": peak / 2**20,
    }


if __name__ == "__main__":
    print(run_and_measure(sys.argv[1:]))
