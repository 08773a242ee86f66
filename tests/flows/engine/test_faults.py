"""Real faults: a second writer, a failed write, an interrupt in the bands, a store read
while its run is going or stopped, a worker killed with SIGKILL, an external cluster."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import xarray as xr
import zarr

from resonance.flows.cli import main
from resonance.flows.config import load_config
from resonance.flows.engine import execute
from resonance.flows.engine.cluster import ClusterSpec, connect
from resonance.flows.engine.execute import DaskExecutor, SequentialExecutor, run_plan
from resonance.flows.engine.plan import make_plan
from resonance.flows.engine.store_io import clear_done, done_chunks
from resonance.flows.engine.store_read import bands_current, open_bands, open_draws
from resonance.flows.engine.store_write import invalidate_bands
from tests.flows.engine.test_execute import SMALL, _assert_same_store
from tests.helpers import DEFAULT_CONFIG, ROOT, free_port, tiny_run

SIZES = SMALL  # the sizes of test_execute's reference store
SLOW = {  # a run of some seconds in chunks of a fraction of one, to be hit mid-way
    "sizes.scenarios": 64,
    "sizes.firms": 20000,
    "sizes.quarters": 40,
    "paths": ["baseline", "all_paths"],
    "chunk_scenarios": 2,
}


def _config(store, sizes=SIZES):
    return load_config(DEFAULT_CONFIG, {**sizes, "store": str(store)})


def _sequential(store, sizes=SIZES):
    run_plan(make_plan(_config(store, sizes)), SequentialExecutor())


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    store = tmp_path_factory.mktemp("ref") / "ref.zarr"
    _sequential(store)
    return store


@pytest.fixture(scope="module")
def slow_reference(tmp_path_factory):
    store = tmp_path_factory.mktemp("slowref") / "ref.zarr"
    _sequential(store, SLOW)
    return store


def _cli_args(sizes, store):
    return [
        "run",
        str(DEFAULT_CONFIG),
        "--scenarios",
        str(sizes["sizes.scenarios"]),
        "--firms",
        str(sizes["sizes.firms"]),
        "--quarters",
        str(sizes["sizes.quarters"]),
        "--paths",
        ",".join(sizes["paths"]),
        "--chunk",
        str(sizes["chunk_scenarios"]),
        "--out",
        str(store),
        "--no-progress",
        "--engine",
        "direct",
    ]


def _wait_for(condition, timeout=120.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if condition():
                return True
        except Exception:  # the store is not there yet
            pass
        time.sleep(0.02)
    return False


@pytest.mark.slow
def test_a_second_writer_is_refused_at_once_and_a_killed_one_leaves_no_lock(tmp_path, capsys):
    store = tmp_path / "busy.zarr"
    args = _cli_args(SLOW, store)
    first = subprocess.Popen(
        [sys.executable, "-m", "resonance", *args, "--workers", "1"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert _wait_for(lambda: done_chunks(str(store)).sum() >= 1)
        began = time.perf_counter()
        assert main(args) == 2
        assert time.perf_counter() - began < 5  # before any cluster starts
        err = capsys.readouterr().err.strip()
        assert "is being written by another run (pid" in err and len(err.splitlines()) == 1
        # read while running: the finished chunks, and how many they are
        assert main(["summary", str(store)]) == 0
        note = capsys.readouterr().err
        assert "is being written" in note and "chunks are finished" in note
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert main(["compare", str(store), "baseline", "all_paths"]) == 0
    out = capsys.readouterr()
    assert "was stopped" in out.err
    finished = int(done_chunks(str(store)).sum()) * 2
    assert f"{finished} scenarios" in out.out
    assert main([*args, "--workers", "1"]) == 0  # the killed run's lock died with it
    assert xr.open_zarr(store).attrs["bands_scenarios"] == 64


def test_a_stopped_store_is_read_from_its_finished_chunks(tmp_path, reference, capsys):
    store = tmp_path / "stopped.zarr"
    shutil.copytree(reference, store)
    invalidate_bands(str(store))
    clear_done(str(store), [1])  # as if stopped before chunk 1 was marked
    bands = open_bands(str(store))
    assert bands.attrs["n_scenarios"] == 16 and "2 of 3 chunks" in bands.attrs["progress"]
    draws = open_draws(str(store))
    ids = [*range(8), *range(16, 24)]
    np.testing.assert_array_equal(draws.scenario.values, ids)
    exact = draws.tfp.quantile(bands["quantile"], dim="scenario").transpose(*bands.tfp.dims)
    bound = bands.tfp_quantile_error.values[..., None] * (1 + 1e-9) + 1e-15
    assert (np.abs(bands.tfp.values - exact.values) <= bound).all()
    assert main(["robust", str(store)]) == 0
    out = capsys.readouterr()
    assert "was stopped: 2 of 3 chunks are finished, 16 of 24 scenarios" in out.err
    assert "16 worlds" in out.out


def test_an_interrupt_in_the_band_reduction_recomputes_only_the_bands(
    tmp_path, reference, monkeypatch
):
    store = tmp_path / "cut.zarr"
    real = execute.store_bands

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(execute, "store_bands", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _sequential(store)
    assert done_chunks(str(store)).all() and not bands_current(str(store))
    monkeypatch.setattr(execute, "store_bands", real)
    report = run_plan(make_plan(_config(store)), SequentialExecutor())
    assert (report.computed, report.skipped) == (0, 3)
    _assert_same_store(store, reference)


def test_a_failed_write_is_one_line_and_the_store_resumes(tmp_path, capsys):
    store, fresh = tmp_path / "full.zarr", tmp_path / "fresh.zarr"
    args = tiny_run(store, scenarios=8, firms=20, chunk=4, workers=2)
    assert main(args) == 0
    # A directory where chunk 3's shard must go: the write fails as on a broken file
    # system, in the worker (a thread of this process), for root as for anyone.
    blocker = store / "draws" / "outcome" / "c.3.0.0.0"
    (blocker / "in the way").mkdir(parents=True)
    grow = tiny_run(store, scenarios=16, firms=20, chunk=4, workers=2)
    assert main(grow) == 2
    err = capsys.readouterr().err.strip()
    assert "a write failed" in err and "finished chunks are kept" in err, err
    assert len(err.splitlines()) == 1
    assert done_chunks(str(store))[:2].all() and not done_chunks(str(store))[3]
    shutil.rmtree(blocker)
    assert main(grow) == 0
    assert main(tiny_run(fresh, scenarios=16, firms=20, chunk=4, workers=2)) == 0
    _assert_same_store(store, fresh)


@pytest.mark.slow
def test_a_worker_killed_with_sigkill_changes_no_bit(tmp_path, slow_reference):
    config = _config(tmp_path / "killed.zarr", SLOW)
    spec = ClusterSpec(kind="local", dashboard_address=None)
    with connect(spec, workers=2) as client:
        errors = []

        def body():
            try:
                run_plan(make_plan(config), DaskExecutor(client))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        runner = threading.Thread(target=body)
        runner.start()
        assert _wait_for(lambda: done_chunks(config.store).sum() >= 2)
        pids = client.run(os.getpid)
        victim = sorted(pids.values())[0]
        os.kill(victim, signal.SIGKILL)
        runner.join(timeout=300)
        assert not runner.is_alive() and not errors, errors
        assert victim not in client.run(os.getpid).values()  # the nanny started another
    _assert_same_store(config.store, slow_reference)


@pytest.mark.slow
def test_an_external_cluster_over_tcp_gives_the_local_bits(tmp_path, reference):
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "NUMBA_NUM_THREADS": "1"}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    procs = [
        subprocess.Popen(
            ["dask", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            **quiet,
        )
    ]
    try:
        procs += [
            subprocess.Popen(
                ["dask", "worker", address, "--nthreads", "1", "--no-dashboard"], **quiet
            )
            for _ in range(2)
        ]
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        store = tmp_path / "tcp.zarr"
        args = _cli_args(SIZES, store)
        assert main([*args, "--scheduler", address]) == 0
        _assert_same_store(store, reference)
        assert zarr.open_group(str(store)).attrs["bands_scenarios"] == 24
    finally:
        for proc in procs[::-1]:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
