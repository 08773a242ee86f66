"""End to end: a real `prefect server`, a process work pool, the repository's prefect.yaml
deployment, a real worker, and the flow run's final state read through Prefect's client."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import time
import urllib.request

import pytest
import xarray as xr

from tests.helpers import ROOT

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prefect(args, env, timeout=180):
    done = subprocess.run(
        ["prefect", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


@pytest.fixture
def server(tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
    }
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen(
        ["prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{env['PREFECT_API_URL']}/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError((tmp_path / "server.log").read_text()[-2000:]) from None
                time.sleep(0.5)
        yield env
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
        log.close()


def test_scheduled_deployment_runs_on_a_real_server_and_worker(server, tmp_path):
    env = server
    store = str(tmp_path / "nightly.zarr")
    _prefect(["work-pool", "create", "resonance", "--type", "process"], env)
    _prefect(["--no-prompt", "deploy", "--name", "nightly"], env)
    params = {
        "out": store,
        "overrides": {
            "sizes.scenarios": 8,
            "sizes.firms": 20,
            "sizes.quarters": 4,
            "chunk_scenarios": 4,
        },
        "workers": 1,
    }
    out = _prefect(
        ["deployment", "run", "scenario-run/nightly", "--params", json.dumps(params)], env
    )
    flow_run_id = out.split("UUID:")[1].split()[0]
    _prefect(["worker", "start", "--pool", "resonance", "--run-once"], env, timeout=300)

    from prefect.client.orchestration import PrefectClient

    async def read():
        async with PrefectClient(env["PREFECT_API_URL"]) as client:
            run = await client.read_flow_run(flow_run_id)
            deployment = await client.read_deployment_by_name("scenario-run/nightly")
            return run, deployment

    run, deployment = asyncio.run(read())
    assert run.state.is_completed(), run.state
    assert deployment.schedules and deployment.schedules[0].schedule.cron == "0 2 * * *"
    bands = xr.open_zarr(store)
    assert bands.attrs["n_scenarios"] == 8 and len(bands.path) == 8
