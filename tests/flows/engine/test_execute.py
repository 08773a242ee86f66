"""The engine end to end: real LocalCluster, real Zarr, resume after SIGKILL, the contract."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import xarray as xr
import zarr

from resonance.flows.cli import main
from resonance.flows.config import load_config
from resonance.flows.engine.cluster import ClusterSpec, connect
from resonance.flows.engine.execute import DaskExecutor, SequentialExecutor, run_plan
from resonance.flows.engine.layout import by_metric
from resonance.flows.engine.plan import make_plan
from resonance.flows.engine.store_io import done_chunks
from resonance.kernels.registry import METRICS, SNAPSHOT
from tests.helpers import DEFAULT_CONFIG, ROOT, tiny_run

SMALL = {
    "sizes.scenarios": 24,
    "sizes.firms": 40,
    "sizes.quarters": 12,
    "paths": ["baseline", "factor_reset", "all_paths"],
    "chunk_scenarios": 8,
}


def _config(store, **extra):
    return load_config(DEFAULT_CONFIG, {**SMALL, "store": str(store), **extra})


def _run_sequential(store, **extra):
    config = _config(store, **extra)
    run_plan(make_plan(config), SequentialExecutor())
    return config


def _assert_same_store(a, b):
    da, db = by_metric(xr.open_zarr(a, group="draws")), by_metric(xr.open_zarr(b, group="draws"))
    for m in METRICS:
        np.testing.assert_array_equal(da[m].values, db[m].values)
    ra, rb = xr.open_zarr(a), xr.open_zarr(b)
    for name in ra.data_vars:
        np.testing.assert_array_equal(ra[name].values, rb[name].values)
    fa, fb = xr.open_zarr(a, group="firms"), xr.open_zarr(b, group="firms")
    for name in SNAPSHOT:
        np.testing.assert_array_equal(fa[name].values, fb[name].values)


@pytest.fixture(scope="module")
def reference_store(tmp_path_factory):
    store = tmp_path_factory.mktemp("ref") / "ref.zarr"
    _run_sequential(store)
    return store


def test_store_follows_the_contract(reference_store):
    bands = xr.open_zarr(reference_store)
    assert dict(bands.sizes) == {"path": 3, "time": 12, "quantile": 5}
    np.testing.assert_allclose(bands.time.values, np.arange(1, 13) / 4)
    assert list(bands["quantile"].values) == [0.05, 0.25, 0.5, 0.75, 0.95]
    for m in METRICS:
        assert bands[m].dims == ("path", "time", "quantile")
        for suffix in ("_mean", "_std", "_quantile_error"):
            assert bands[m + suffix].dims == ("path", "time")
    for var in bands.data_vars.values():
        assert {"long_name", "units", "description"} <= set(var.attrs)
    for key in (
        "config",
        "config_sha256",
        "seed",
        "n_scenarios",
        "n_firms",
        "n_firm_scenario_draws",
        "sampler",
        "created",
        "versions",
    ):
        assert key in bands.attrs
    assert bands.attrs["n_firm_scenario_draws"] == 24 * 40
    stacked = xr.open_zarr(reference_store, group="draws")
    assert stacked.outcome.dims == ("scenario", "path", "time", "metric")
    assert stacked.outcome.encoding["shards"] == (8, 3, 12, len(METRICS))
    assert list(stacked.metric.values) == list(METRICS)
    draws = by_metric(stacked)
    for m in METRICS:
        assert draws[m].dims == ("scenario", "path", "time")
        assert draws[m].chunks[0] == (8, 8, 8)
        assert np.isfinite(draws[m].values).all()
        assert {"long_name", "units", "description"} <= set(draws[m].attrs)
    for name in _config(reference_store).uncertain_names:
        assert draws[name].dims == ("scenario",)
    assert (done_chunks(reference_store) == 1).all()
    firms = xr.open_zarr(reference_store, group="firms")
    assert dict(firms.sizes) == {"scenario": 16, "path": 3, "year": 3, "firm": 40}
    for name in SNAPSHOT:
        assert firms[name].dims == ("scenario", "path", "year", "firm")
        assert {"long_name", "units", "description"} <= set(firms[name].attrs)
    assert firms.new_paradigm.dtype == np.uint8 and firms.log_tfp.dtype == np.float32
    shares = firms.market_share.values.sum(axis=-1)
    np.testing.assert_allclose(shares, 1.0, rtol=1e-5)  # every snapshot is a whole market


@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_the_draws_are_the_kernels_outcomes_kept_at_its_precision(
    tmp_path, reference_store, precision
):
    """The store keeps each metric at the kernel's precision (layout.outcome_dtype): the
    float32 kernel's outcomes rounded to float32, the float64 build's bit for bit; the
    public opener gives float64 either way, and resonance verify agrees."""
    from resonance.flows.engine.verify import verify

    store = reference_store if precision == "float32" else tmp_path / "f64.zarr"
    config = _config(store, precision=precision)
    if precision == "float64":
        run_plan(make_plan(config), SequentialExecutor())
    stored = xr.open_zarr(store, group="draws").outcome
    assert stored.dtype == np.dtype(precision)
    fresh = make_plan(config).simulate()  # float64 (s, p, t, m), the kernel's own
    np.testing.assert_array_equal(stored.values, fresh.astype(precision))
    draws = by_metric(xr.open_zarr(store, group="draws"))
    assert all(draws[m].dtype == np.float64 for m in METRICS)
    np.testing.assert_array_equal(
        draws["tfp"].values, fresh[..., METRICS.index("tfp")].astype(precision)
    )
    assert verify(str(store), None).ok


def test_bands_in_the_store_match_exact_quantiles_of_the_draws(reference_store):
    bands = xr.open_zarr(reference_store)
    draws = by_metric(xr.open_zarr(reference_store, group="draws"))
    for m in ("innovation_efficiency", "tfp", "new_paradigm_share"):
        exact = (
            draws[m]
            .quantile(bands["quantile"], dim="scenario")
            .transpose("path", "time", "quantile")
            .values
        )
        err = np.abs(bands[m].values - exact)
        assert (err <= bands[f"{m}_quantile_error"].values[..., None] * (1 + 1e-9) + 1e-15).all()
        np.testing.assert_allclose(
            bands[f"{m}_mean"].values, draws[m].mean("scenario").values, rtol=1e-12, atol=1e-13
        )


@pytest.mark.parametrize("workers", [1, 2])
def test_local_cluster_gives_the_sequential_result(tmp_path, reference_store, workers):
    config = _config(tmp_path / "dask.zarr")
    spec = ClusterSpec(kind="local", dashboard_address=None)
    with connect(spec, workers=workers) as client:
        run_plan(make_plan(config), DaskExecutor(client))
    _assert_same_store(config.store, reference_store)


def test_a_threaded_local_cluster_gives_the_sequential_result_in_this_process(
    tmp_path, reference_store
):
    """``processes: false`` (configs/clusters/local.yaml): one worker of two threads in the
    run's own process, listening on loopback only, the same bits."""
    import os

    config = _config(tmp_path / "threads.zarr")
    spec = ClusterSpec(kind="local", processes=False, dashboard_address=None)
    with connect(spec, workers=2) as client:
        executor = DaskExecutor(client)
        assert (executor.n_workers, executor.slots) == (1, 2)
        assert set(client.run(os.getpid).values()) == {os.getpid()}
        workers = client.scheduler_info()["workers"]
        assert all(a.startswith("tcp://127.0.0.1:") for a in [client.scheduler.address, *workers])
        run_plan(make_plan(config), executor)
    _assert_same_store(config.store, reference_store)


def test_two_chunk_sizes_give_identical_draws_and_bands(tmp_path, reference_store):
    other = tmp_path / "chunk5.zarr"
    _run_sequential(other, chunk_scenarios=5)
    _assert_same_store(other, reference_store)


def test_store_of_another_config_is_refused_and_left_intact(tmp_path, capsys):
    store = tmp_path / "mine.zarr"
    # (--overwrite replacing only resonance stores, never other things: test_store.py)
    args = tiny_run(store, scenarios=8, firms=20, chunk=4)
    assert main(args) == 0
    before = xr.open_zarr(store).load()
    assert main([*args, "--seed", "99"]) == 2
    assert "was written by another config" in capsys.readouterr().err
    xr.testing.assert_identical(xr.open_zarr(store).load(), before)
    assert main([*args, "--seed", "99", "--overwrite"]) == 0
    assert xr.open_zarr(store).attrs["seed"] == "99"


def test_resume_after_sigkill_gives_the_uninterrupted_result(tmp_path):
    store = tmp_path / "killed.zarr"
    args = [
        sys.executable,
        "-m",
        "resonance",
        "run",
        str(DEFAULT_CONFIG),
        "--scenarios",
        "64",
        "--firms",
        "300",
        "--quarters",
        "24",
        "--paths",
        "baseline,all_paths",
        "--chunk",
        "2",
        "--workers",
        "1",
        "--out",
        str(store),
        "--no-progress",
        "--engine",
        "direct",
    ]
    proc = subprocess.Popen(
        args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.time() + 120
    done = 0
    try:
        while time.time() < deadline and proc.poll() is None:
            try:
                done = int(done_chunks(str(store)).sum())
            except Exception:  # the template is not there yet
                done = 0
            if done >= 1:  # killed as soon as the first chunk is marked done
                break
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    marks = done_chunks(str(store))
    assert 0 < marks.sum() < marks.size, "the run must be killed mid-way"
    assert zarr.open_group(str(store)).attrs.get("versions") is not None
    sizes = {
        "sizes.scenarios": 64,
        "sizes.firms": 300,
        "sizes.quarters": 24,
        "paths": ["baseline", "all_paths"],
        "chunk_scenarios": 2,
    }
    config = load_config(DEFAULT_CONFIG, {**sizes, "store": str(store)})
    report = run_plan(make_plan(config), SequentialExecutor())
    assert report.skipped == marks.sum() and report.computed == marks.size - marks.sum()
    fresh = tmp_path / "fresh.zarr"
    run_plan(
        make_plan(load_config(DEFAULT_CONFIG, {**sizes, "store": str(fresh)})), SequentialExecutor()
    )
    _assert_same_store(store, fresh)


def test_a_store_whose_draws_pass_the_memory_cap_streams_its_bands(
    tmp_path, reference_store, monkeypatch
):
    from resonance.flows.engine import bands as B

    monkeypatch.setattr(B, "MEMORY_CAP", 1024)  # a metric's draws here are 18 kB
    streamed = _run_sequential(tmp_path / "streamed.zarr").store
    config = _config(tmp_path / "dask.zarr")
    with connect(ClusterSpec(kind="local", dashboard_address=None), workers=2) as client:
        run_plan(make_plan(config), DaskExecutor(client))  # the passes run on the workers
    exact, got = xr.open_zarr(reference_store), xr.open_zarr(streamed)
    for m in METRICS:
        assert (exact[f"{m}_quantile_error"] == 0).all()  # in memory: numpy's own quantiles
        bound = got[f"{m}_quantile_error"].values[..., None] * (1 + 1e-9) + 1e-15
        assert (np.abs(got[m].values - exact[m].values) <= bound).all()
        np.testing.assert_allclose(got[f"{m}_mean"], exact[f"{m}_mean"], rtol=1e-9, atol=1e-12)
    assert (got["tfp_quantile_error"] > 0).any()
    on_workers = xr.open_zarr(config.store)
    for name in got.data_vars:  # the passes' merges are exact, wherever they run
        np.testing.assert_array_equal(on_workers[name].values, got[name].values)


def _request(tmp_path, store: str):
    """The checked request of the SMALL run into ``store``, on one local worker without a
    dashboard (a cluster file of its own)."""
    from resonance.flows.request import RunOptions, RunRequest

    cluster = tmp_path / "quiet.yaml"
    cluster.write_text("kind: local\ndashboard_address: null\n")
    options = RunOptions.of(
        {
            "config_path": str(DEFAULT_CONFIG),
            "overrides": SMALL,
            "out": str(tmp_path / store),
            "workers": 1,
            "cluster": str(cluster),
        }
    )
    return RunRequest.of(options)


def test_a_run_started_ahead_is_joined_by_its_request_and_not_repeated(tmp_path, reference_store):
    from resonance.flows.engine.startup import launch

    request = _request(tmp_path, "ahead.zarr")
    with launch(request) as launched:
        launched.start()
        report = launched.join(request)  # as the flow's simulate task joins it
        assert (report.computed, report.skipped) == (3, 0)
        assert launched.join(request) is None  # joined once: a retry runs anew
        again = launched.run()
        assert (again.computed, again.skipped) == (0, 3)
    _assert_same_store(request.config.store, reference_store)


def test_an_equal_request_joins_the_run_and_another_waits_for_it(tmp_path):
    from resonance.flows.engine.startup import launch
    from resonance.flows.request import RunRequest

    request = _request(tmp_path, "equal.zarr")
    same = RunRequest.of(request.options)  # checked again, before the run: the same ask
    assert same == request and same.config is not request.config
    with launch(request) as launched:
        launched.start()
        assert launched.join(same).computed == 3
        launched.start()
        other = _request(tmp_path, "other.zarr")
        assert other != request
        assert launched.join(other) is None  # waited for: the store is as the run left it
        assert (done_chunks(request.config.store) == 1).all()


def test_a_run_prints_the_headline_metric_and_where_its_time_went(tmp_path, capsys):
    assert main(tiny_run(str(tmp_path / "out.zarr"))) == 0
    out = capsys.readouterr().out
    assert "innovation_efficiency" in out and "new_paradigm_share" not in out
    assert "all metrics: resonance summary" in out
    closing = out.strip().splitlines()[-1]
    assert closing.startswith("wall ") and "first chunk at" in closing and "bands" in closing
