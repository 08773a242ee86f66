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
from pathlib import Path

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


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("prefect")
    port = _free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        # the worker's results root: deployment runs write only below it
        "RESONANCE_RESULTS_ROOT": str(tmp_path / "results"),
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
        _prefect(["work-pool", "create", "resonance", "--type", "process"], env)
        _prefect(["--no-prompt", "deploy", "--name", "nightly"], env)
        yield env
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
        log.close()


def _run_deployment(env, params):
    """Create a flow run of the deployment with ``params``, let one worker run it, and
    return (the flow run, the deployment) as the server reads them."""
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

    return asyncio.run(read())


SMALL = {"sizes.scenarios": 8, "sizes.firms": 20, "sizes.quarters": 4, "chunk_scenarios": 4}


def test_scheduled_deployment_runs_on_a_real_server_and_worker(server):
    env = server
    store = str(Path(env["RESONANCE_RESULTS_ROOT"]) / "nightly.zarr")
    params = {
        "out": store,
        "overrides": SMALL,
        "workers": 1,
    }
    run, deployment = _run_deployment(env, params)
    assert run.state.is_completed(), run.state
    assert deployment.schedules and deployment.schedules[0].schedule.cron == "0 2 * * *"
    bands = xr.open_zarr(store)
    assert bands.attrs["n_scenarios"] == 8 and len(bands.path) == 10  # every default path


def test_deployment_parameters_that_point_elsewhere_fail_before_anything_is_touched(
    server, tmp_path
):
    env = server
    victim = tmp_path / "user-data"
    victim.mkdir()
    (victim / "thesis.txt").write_text("years of work")
    for params, problem in (
        ({"out": str(victim), "overwrite": True}, "outside the results root"),
        ({"config_path": str(tmp_path / "x.yaml")}, "outside the config folder"),
    ):
        run, _ = _run_deployment(env, {**params, "overrides": SMALL, "workers": 1})
        assert run.state.is_failed(), run.state
        assert problem in run.state.message and "resonance: error:" in run.state.message
    assert [p.name for p in victim.iterdir()] == ["thesis.txt"]
    assert (victim / "thesis.txt").read_text() == "years of work"
