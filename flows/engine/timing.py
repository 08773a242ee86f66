"""Where a run's wall time goes: moments marked as the run passes them, and the split of
the wall time between start-up, simulation, bands and report that the closing line prints
and the benchmark suite records (``benchmarks`` ``main_job``).

One :class:`Clock` records a run. ``resonance run`` starts it (:meth:`Clock.started`) and
hands it to the run with its request (``startup.launch``); the engine marks its moments on
the clock it is given, wherever it runs in this process (the Prefect flow's tasks
included), and adds what the workers measured inside their tasks. A library call of the
engine given no clock records into one of its own that nobody reads.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field


def process_started() -> float:
    """``time.time()`` at which this process started (imports included), or now."""
    try:
        import psutil

        return psutil.Process().create_time()
    except Exception:  # no psutil or no /proc: the run's own start is the best we have
        return time.time()


@dataclass
class Clock:
    """Moments of one run (``time.time()`` seconds) and sums measured inside its tasks.

    Moments, each the first time it is marked: ``process`` (the command started),
    ``cluster`` (workers ready), ``prefect`` (the flow began: Prefect's server answered),
    ``store`` (the store checked and prepared), ``first_chunk`` (submitted),
    ``simulated`` (the last chunk finished), ``bands`` (written), ``report_begin`` and
    ``report`` (the headline table shown).
    Sums: ``kernel`` and ``write`` (seconds inside the tasks, all workers together) and
    ``firm_steps`` (of the chunks computed).
    """

    moments: dict[str, float] = field(default_factory=dict)
    sums: dict[str, float] = field(default_factory=dict)
    threads: int = 1  # tasks running at once (the workers' Dask threads together)
    # the run's thread and the flow's (which marks "prefect") record at once
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def started(cls, at: float | None = None) -> Clock:
        """A clock whose ``process`` moment is ``at`` (default: this process's start)."""
        clock = cls()
        clock.mark("process", process_started() if at is None else at)
        return clock

    def mark(self, name: str, at: float | None = None) -> None:
        with self._lock:
            self.moments.setdefault(name, time.time() if at is None else at)

    def add(self, name: str, seconds: float) -> None:
        with self._lock:
            self.sums[name] = self.sums.get(name, 0.0) + seconds

    def set_threads(self, threads: int) -> None:
        """How many tasks run at once (``kernel_s`` is per task slot)."""
        self.threads = max(1, threads)

    def split(self, end: float | None = None) -> dict[str, float]:
        """The wall time (process start to ``end``, default now) and its parts, seconds.

        ``startup``: to the first chunk (imports, the cluster, the kernel, the store);
        ``cluster_s`` and ``prefect_s``: when the cluster was up and Prefect's flow began,
        from the start (the run does not wait for Prefect: ``startup.Launched.start``).
        ``simulation``: first chunk to last; ``kernel``: the kernel's own seconds per
        task slot inside it and ``store_writes`` the writes'. ``bands``, ``report``;
        ``other`` the rest (Prefect's task records, shutting down).
        ``simulation_share`` = kernel / wall.
        """
        m = self.moments
        end = time.time() if end is None else end
        start = m.get("process", end)

        def between(a: str, b: str) -> float:
            return max(0.0, m[b] - m[a]) if a in m and b in m else 0.0

        wall = end - start
        parts = {
            "wall_s": wall,
            "startup_s": between("process", "first_chunk"),
            "prefect_s": between("process", "prefect"),
            "cluster_s": between("process", "cluster"),
            "simulation_s": between("first_chunk", "simulated"),
            "kernel_s": self.sums.get("kernel", 0.0) / max(1, self.threads),
            "store_writes_s": self.sums.get("write", 0.0) / max(1, self.threads),
            "bands_s": between("simulated", "bands"),
            "report_s": between("report_begin", "report"),
        }
        named = ("startup_s", "simulation_s", "bands_s", "report_s")
        parts["other_s"] = max(0.0, wall - sum(parts[k] for k in named))
        parts["simulation_share"] = parts["kernel_s"] / wall if wall > 0 else 0.0
        parts["firm_steps"] = self.sums.get("firm_steps", 0.0)
        parts["threads"] = self.threads
        return parts


def line(parts: dict[str, float]) -> str:
    """The closing line: the wall time and where it went."""
    p = parts
    up = [f"Dask up at {p['cluster_s']:.1f} s"] if p["cluster_s"] else []
    up += [f"Prefect's flow began at {p['prefect_s']:.1f} s"] if p["prefect_s"] else []
    return (
        f"wall {p['wall_s']:.1f} s: first chunk at {p['startup_s']:.1f} s"
        + (f" ({', '.join(up)})" if up else "")
        + f", simulation {p['simulation_s']:.1f} s (kernel {p['kernel_s']:.1f} s = "
        f"{p['simulation_share']:.0%} of the wall, store writes {p['store_writes_s']:.1f} s), "
        f"bands {p['bands_s']:.1f} s, report {p['report_s']:.1f} s, other {p['other_s']:.1f} s"
    )


TIMING_FILE = "RESONANCE_TIMING_FILE"  # set: resonance run writes its split there, as JSON


def save(parts: dict[str, float]) -> None:
    """Write ``parts`` to the file named by ``$RESONANCE_TIMING_FILE``, if set (the
    benchmark suite reads the main job's split from it)."""
    path = os.environ.get(TIMING_FILE)
    if path:
        with open(path, "w") as out:
            json.dump(parts, out, indent=1)
