"""Results on an S3 endpoint for real: a local S3-compatible server (moto's, ``tests/s3.py``)
takes a run through the LocalCluster, ``xr.open_zarr`` reads it back, a run killed
mid-way resumes to the bits of an uninterrupted one and ``resonance verify`` passes; and
the writers' lease (``store_lease.py``): taken, refused, renewed, taken over once expired,
released, and a second writer refused in one line."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
import xarray as xr

from resonance.flows.cli import main
from resonance.flows.config import load_config
from resonance.flows.engine.execute import SequentialExecutor, run_plan
from resonance.flows.engine.plan import make_plan
from resonance.flows.engine.store_io import done_chunks
from resonance.flows.engine.store_lease import LEASE_SUFFIX, Lease, LeaseHeld, LeaseLost, leased
from resonance.flows.engine.store_lock import current_writer
from resonance.flows.errors import StoreError
from tests.flows.engine.test_digest import store_digests
from tests.helpers import DEFAULT_CONFIG, ROOT
from tests.s3 import MotoServer

BUCKET = "bucket"
SIZES = {  # a run of some seconds in chunks of a fraction of one, to be killed mid-way
    "sizes.scenarios": 32,
    "sizes.firms": 10000,
    "sizes.quarters": 40,
    "paths": ["baseline", "all_paths"],
    "chunk_scenarios": 2,
}


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """moto's server, this process's environment pointed at it, and a bucket on it."""
    pytest.importorskip("s3fs")
    pytest.importorskip("moto.server")
    with MotoServer(tmp_path_factory.mktemp("moto")) as server, pytest.MonkeyPatch.context() as mp:
        for name, value in server.env.items():
            mp.setenv(name, value)
        import fsspec

        fs = fsspec.filesystem("s3", skip_instance_cache=True)
        fs.mkdir(BUCKET)
        yield server


def _fs():
    import fsspec

    return fsspec.filesystem("s3", skip_instance_cache=True)


def _wait(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except (FileNotFoundError, KeyError, ValueError):  # nothing there yet
            pass
        time.sleep(0.05)
    return False


def test_the_lease_is_taken_refused_renewed_taken_over_and_released(s3):
    store = f"s3://{BUCKET}/leased.zarr"
    first, second = Lease(store, seconds=2), Lease(store, seconds=2)
    first.take()
    holder = first.read()
    assert holder.owner == first.owner and not holder.expired
    assert 1 <= (holder.expires - holder.now).total_seconds() <= 2
    assert _fs().exists(f"{BUCKET}/leased.zarr{LEASE_SUFFIX}")  # beside the store, not in it
    with pytest.raises(LeaseHeld, match=re.escape(f"{first.owner}; its lease expires at ")):
        second.take()
    etag = first.etag
    first.renew()
    assert first.etag != etag  # each renewal is a new ETag: a stale reader cannot take over
    with pytest.raises(LeaseHeld):
        second.take()
    assert _wait(lambda: first.read().expired, timeout=10)  # no renewal: it lapses
    second.take()  # the takeover: a conditional replace of the expired lease
    assert first.read().token == second.token
    with pytest.raises(LeaseLost):
        first.renew()
    first.release()  # no longer its lease: leaves the holder's alone
    assert first.read().token == second.token
    second.release()
    assert first.read() is None


def test_a_held_lease_is_renewed_while_its_writer_lives(s3, monkeypatch):
    store = f"s3://{BUCKET}/renewed.zarr"
    monkeypatch.setenv("RESONANCE_LEASE_SECONDS", "1.5")
    with leased(store):
        time.sleep(3.5)  # more than twice the lease's length
        assert current_writer(store) is None  # this process's own lease
        holder = Lease(store).read()
        assert not holder.expired
        with pytest.raises(LeaseHeld):
            Lease(store).take()
    assert Lease(store).read() is None  # released at the end


def test_a_lease_of_a_whole_bucket_or_over_a_foreign_object_is_one_line(s3):
    with pytest.raises(StoreError, match="names a whole bucket"):
        Lease(f"s3://{BUCKET}")
    _fs().pipe(f"{BUCKET}/foreign.zarr{LEASE_SUFFIX}", b"someone else's object")
    with pytest.raises(StoreError, match="beside it that is not a resonance lease"):
        Lease(f"s3://{BUCKET}/foreign.zarr").take()


def _cli(*args, env=None, **popen):
    command = [sys.executable, "-m", "resonance", *map(str, args)]
    if popen:
        return subprocess.Popen(command, cwd=ROOT, env=env, **popen)
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def _run_args(out):
    return [
        "run",
        DEFAULT_CONFIG,
        "--scenarios",
        SIZES["sizes.scenarios"],
        "--firms",
        SIZES["sizes.firms"],
        "--quarters",
        SIZES["sizes.quarters"],
        "--paths",
        ",".join(SIZES["paths"]),
        "--chunk",
        SIZES["chunk_scenarios"],
        "--workers",
        1,
        "--out",
        out,
        "--engine",
        "direct",
        "--no-progress",
    ]


@pytest.mark.slow
def test_a_run_on_s3_is_read_back_refuses_a_second_writer_resumes_and_verifies(
    s3, tmp_path, monkeypatch, capsys
):
    reference = tmp_path / "reference.zarr"
    run_plan(make_plan(load_config(DEFAULT_CONFIG, {**SIZES, "store": str(reference)})),
             SequentialExecutor())  # fmt: skip
    store = f"s3://{BUCKET}/run.zarr"
    env = {**os.environ, "RESONANCE_LEASE_SECONDS": "4"}  # a killed run's lease lapses soon
    first = _cli(
        *_run_args(store),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert _wait(lambda: done_chunks(store).sum() >= 1, timeout=300)
        began = time.perf_counter()
        assert main([str(a) for a in _run_args(store)]) == 2
        assert time.perf_counter() - began < 5  # before any cluster starts
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        assert err.startswith(f"resonance: error: {store}: is being written by another run (pid ")
        assert "its lease expires at" in err and "lease lapses when it expires" in err
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    killed_at = int(done_chunks(store).sum())
    assert 1 <= killed_at < 16
    assert current_writer(store)  # the killed run's lease is still there...
    assert _wait(lambda: current_writer(store) is None, timeout=10)  # ...until it lapses
    resumed = _cli(*_run_args(store), env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert Lease(store).read() is None  # released at the end
    bands, draws = xr.open_zarr(store), xr.open_zarr(store, group="draws")
    assert bands.attrs["bands_scenarios"] == 32 and draws.sizes["scenario"] == 32
    assert store_digests(store) == store_digests(str(reference))
    verified = _cli("verify", store, env=env)
    assert verified.returncode == 0, verified.stderr
    assert "equals the store bit for bit" in verified.stdout
