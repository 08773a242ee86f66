"""The split of a run's wall time: its parts add up, and the line says them."""

from __future__ import annotations

import pytest

from resonance.flows.engine import timing


def test_the_parts_of_the_wall_time_add_up_to_it():
    clock = timing.Clock(threads=2)
    for name, at in {
        "process": 100.0,
        "cluster": 102.0,
        "first_chunk": 103.0,
        "prefect": 106.0,
        "simulated": 113.0,
        "bands": 113.5,
        "report_begin": 113.6,
        "report": 113.8,
    }.items():
        clock.mark(name, at)
    clock.mark("process", 0.0)  # a moment is the first time it is marked
    clock.add("kernel", 8.0)
    clock.add("kernel", 8.0)
    clock.add("write", 1.0)
    parts = clock.split(end=114.0)
    assert parts["wall_s"] == 14.0 and parts["startup_s"] == 3.0
    assert parts["simulation_s"] == 10.0 and parts["kernel_s"] == 8.0
    assert parts["store_writes_s"] == 0.5 and parts["bands_s"] == 0.5
    assert abs(parts["report_s"] - 0.2) < 1e-9 and abs(parts["other_s"] - 0.3) < 1e-9
    assert parts["simulation_share"] == 8.0 / 14.0
    line = timing.line(parts)
    assert line.startswith("wall 14.0 s: first chunk at 3.0 s (Dask up at 2.0 s, ")
    assert "kernel 8.0 s = 57% of the wall" in line


def test_a_run_records_on_the_clock_it_is_given(tmp_path):
    from resonance.flows.engine.execute import SequentialExecutor, run_plan
    from resonance.flows.engine.plan import make_plan
    from tests.helpers import small_config

    config = small_config(
        4, 10, 4, chunk_scenarios=2, paths=["baseline"], store=str(tmp_path / "s.zarr")
    )
    clock = timing.Clock()
    run_plan(make_plan(config), SequentialExecutor(), clock=clock)
    assert {"first_chunk", "simulated", "bands"} <= set(clock.moments)
    assert clock.sums["kernel"] > 0 and clock.sums["firm_steps"] == 4 * 10 * 4


@pytest.mark.parametrize(
    "workers, slots, said",
    [
        (1, 2, "Dask: 1 worker of 2 threads,"),  # the default threaded local cluster
        (2, 2, "Dask: 2 workers,"),  # one thread per worker process
        (3, 5, "Dask: 3 workers, 5 threads,"),  # external workers of mixed sizes
        (1, 1, "Dask: 1 worker,"),
    ],
)
def test_the_cluster_line_counts_workers_and_threads(workers, slots, said):
    from resonance.flows.engine.console import announce_cluster, console

    with console.capture() as captured:
        announce_cluster(workers, slots, "http://127.0.0.1:8787/status")
    assert captured.get().startswith(said)
