"""End to end: a real `prefect server`, a process work pool, the repository's prefect.yaml
deployments, a real worker, and the flow runs' final states, logs, labels and artifacts
read through Prefect's client; `resonance submit` and `resonance runs` against it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import xarray as xr

from tests.helpers import ROOT, free_port, resonance_cli

pytestmark = pytest.mark.slow


def _prefect(args, env, timeout=180):
    done = subprocess.run(
        ["prefect", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("prefect")
    port = free_port()
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
        _prefect(["--no-prompt", "deploy", "--all"], env)
        yield env
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
        log.close()


def _run_deployment(env, params, deployment="scenario-run/submit"):
    """Create a flow run of ``deployment`` with ``params``, let one worker run it, and
    return (the flow run, the deployment) as the server reads them."""
    out = _prefect(["deployment", "run", deployment, "--params", json.dumps(params)], env)
    return _work(env, out.split("UUID:")[1].split()[0], deployment)


def _work(env, flow_run_id, deployment="scenario-run/submit"):
    """Let one worker run what is scheduled; (the flow run, the deployment) as read then."""
    _prefect(["worker", "start", "--pool", "resonance", "--run-once"], env, timeout=300)
    return asyncio.run(_read(env, lambda c: c.read_flow_run(flow_run_id))), asyncio.run(
        _read(env, lambda c: c.read_deployment_by_name(deployment))
    )


async def _read(env, call):
    from prefect.client.orchestration import PrefectClient

    async with PrefectClient(env["PREFECT_API_URL"]) as client:
        return await call(client)


def _logs(env, flow_run_id) -> str:
    from prefect.client.schemas.filters import LogFilter

    flt = LogFilter(flow_run_id={"any_": [flow_run_id]})
    return "\n".join(r.message for r in asyncio.run(_read(env, lambda c: c.read_logs(flt))))


def _cli(env, *args):
    return resonance_cli(*args, env=env, timeout=120)


NIGHTLY = "resonance-nightly/nightly"
SMALL = {"sizes.scenarios": 8, "sizes.firms": 20, "sizes.quarters": 4, "chunk_scenarios": 4}


def test_scheduled_deployment_runs_on_a_real_server_and_worker(server):
    env = server
    store = str(Path(env["RESONANCE_RESULTS_ROOT"]) / "nightly.zarr")
    params = {
        "out": store,
        "overrides": SMALL,
        "workers": 1,
    }
    run, _ = _run_deployment(env, params)
    assert run.state.is_completed(), run.state
    nightly = asyncio.run(_read(env, lambda c: c.read_deployment_by_name(NIGHTLY)))
    assert nightly.schedules and nightly.schedules[0].schedule.cron == "0 2 * * *"
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


FLAGS = ["--scenarios", 8, "--firms", 20, "--quarters", 4, "--chunk", 4, "--workers", 1]


def test_submit_sends_the_config_text_and_a_second_submit_reuses_its_catalog_store(server):
    env = server
    done = _cli(env, "submit", "configs/default.yaml", *FLAGS)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("submitted flow run ") and "config default, identity " in lines[0]
    identity = lines[0].split("identity ")[1].split(",")[0]
    flow_run_id = lines[1].split()[1]
    assert lines[2].startswith("url ")
    first, _ = _work(env, flow_run_id)
    assert first.state.is_completed(), first.state
    # The parameters carry the config's text and its file name, not a path of this disk.
    assert first.parameters["config_path"] == "default.yaml"
    assert first.parameters["config_text"] == (ROOT / "configs" / "default.yaml").read_text()
    store = Path(env["RESONANCE_RESULTS_ROOT"]) / f"default-{identity}.zarr"
    assert f"writing {store} (new: 2 chunks to compute)" in _logs(env, first.id)
    attrs = xr.open_zarr(store).attrs
    assert attrs["identity_sha256"].startswith(identity) and attrs["n_scenarios"] == 8
    assert (attrs["prefect_flow_run_id"], attrs["prefect_flow_run"]) == (flow_run_id, first.name)

    again = _cli(env, "submit", "configs/default.yaml", *FLAGS)
    second, _ = _work(env, again.stdout.splitlines()[1].split()[1])
    assert second.state.is_completed(), second.state
    assert f"reusing {store} (complete: nothing to compute)" in _logs(env, second.id)
    assert xr.open_zarr(store).attrs["prefect_flow_run_id"] == flow_run_id  # wrote nothing

    listed = _cli(env, "runs", "--deployment", "scenario-run/submit")
    assert listed.returncode == 0, listed.stderr
    table = listed.stdout
    assert first.name in table and second.name in table and identity in table
    assert table.count("Completed") >= 2 and table.count("(reused)") == 1


def test_submit_and_runs_refuse_bad_input_in_one_line(server, tmp_path):
    env = server
    for args, says in (
        (["submit", "configs/default.yaml", "--deployment", "nope/x"], "nope/x: is not a deploy"),
        (["submit", "configs/default.yaml", "--firms", "1"], "sizes.firms"),
        (["runs", "--deployment", "scenario-run"], "--deployment scenario-run"),
    ):
        done = _cli(env, *args)
        assert done.returncode == 2 and says in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    gone = {**env, "PREFECT_API_URL": "http://127.0.0.1:9/api"}
    for args in (["runs"], ["submit", "configs/default.yaml"]):
        done = _cli(gone, *args)
        assert done.returncode == 2 and "no Prefect server answered" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


def test_the_nightly_posts_the_diff_with_the_previous_night_as_an_artifact(server):
    env = server
    from prefect.client.schemas.filters import FlowRunFilter

    def night(date, overrides):
        params = {"night": date, "workers": 1, "overrides": {**SMALL, **overrides}}
        run, _ = _run_deployment(env, params, NIGHTLY)
        assert run.state.is_completed(), run.state
        flt = FlowRunFilter(id={"any_": [run.id]})
        (artifact,) = asyncio.run(_read(env, lambda c: c.read_artifacts(flow_run_filter=flt)))
        assert artifact.key == "resonance-nightly-diff"
        return artifact.data

    nightly = Path(env["RESONANCE_RESULTS_ROOT"]) / "nightly"
    first = night("20270101", {})
    assert "First night of this config" in first
    # The same config the next night: the same worlds, paired, and nothing moves.
    same = night("20270102", {})
    tonight, previous = nightly / "default-20270102.zarr", nightly / "default-20270101.zarr"
    assert f"{tonight} against {previous}" in same and "paired: the same 8 worlds" in same
    assert "none of 180 statistics moved" in same  # 3 metrics x 10 paths x 6 statistics
    assert "| tfp_growth | baseline | median |" in same
    # A changed parameter (initial policy trust) the night after: against the night before,
    # the paths it acts through move.
    changed = night("20270103", {"parameters.pi0": 0.9})
    assert "against " + str(nightly / "default-20270102.zarr") in changed
    assert "statistics moved, on " in changed and "| yes |" in changed
    assert sorted(p.name for p in nightly.iterdir()) == [
        f"default-2027010{d}.zarr" for d in (1, 2, 3)
    ]
