"""The Prefect flow on a real (test-harness) Prefect API: results, artifact, resume."""

from __future__ import annotations

import gc
import os

import numpy as np
import pytest
import xarray as xr
import zarr

from resonance.flows.config import ConfigError
from resonance.flows.engine.store_io import done_chunks
from resonance.flows.flow import scenario_run, validate
from resonance.flows.request import RunOptions
from tests.helpers import DEFAULT_CONFIG, tiny_run

SMALL = {
    "sizes.scenarios": 12,
    "sizes.firms": 30,
    "sizes.quarters": 8,
    "paths": ["baseline", "factor_reset"],
    "chunk_scenarios": 4,
}


def _chunk_files(store):
    files = {}
    for root, _, names in os.walk(os.path.join(store, "draws", "outcome")):
        for name in names:
            path = os.path.join(root, name)
            files[path] = os.stat(path).st_mtime_ns
    return files


def test_flow_writes_the_store_and_a_summary_artifact(prefect_api, tmp_path):
    from prefect.client.orchestration import get_client

    store = str(tmp_path / "flow.zarr")
    state = scenario_run(
        str(DEFAULT_CONFIG), out=store, overrides=SMALL, workers=1, return_state=True
    )
    assert state.is_completed()
    bands = xr.open_zarr(store)
    assert list(bands.path.values) == ["baseline", "factor_reset"]
    assert np.isfinite(bands.innovation_efficiency.values).all()

    async def artifacts():
        async with get_client() as client:
            return await client.read_artifacts()

    import asyncio

    found = [a for a in asyncio.run(artifacts()) if a.key == "resonance-bands"]
    assert found and "innovation_efficiency" in found[0].data and store in found[0].data


def test_rerun_resumes_and_recomputes_only_unfinished_chunks(prefect_api, tmp_path):
    store = str(tmp_path / "resume.zarr")
    scenario_run(str(DEFAULT_CONFIG), out=store, overrides=SMALL, workers=1)
    first = xr.open_zarr(store).load()
    # Forget chunk 1 as a killed run would have: its shard (data and mark) gone.
    shard = os.path.join(store, "draws", "outcome", "c.1.0.0.0")
    os.remove(shard)
    before = _chunk_files(store)
    scenario_run(str(DEFAULT_CONFIG), out=store, overrides=SMALL, workers=1)
    after = _chunk_files(store)
    changed = [p for p in before if after.get(p) != before[p]]
    assert changed == [] and set(after) - set(before) == {shard}  # only chunk 1's shard
    again = xr.open_zarr(store).load()
    # The store names the flow run that wrote its chunks last: the second one wrote chunk 1.
    ids = again.attrs.pop("prefect_flow_run_id"), first.attrs.pop("prefect_flow_run_id")
    assert ids[0] != ids[1] and all(len(i) == 36 for i in ids)
    for key in ("prefect_flow_run", "prefect_flow_run_url"):
        assert again.attrs.pop(key) != first.attrs.pop(key)
    xr.testing.assert_identical(again, first)
    assert (done_chunks(store) == 1).all()


def test_validate_task_names_the_bad_key():
    options = RunOptions.of({"config_path": str(DEFAULT_CONFIG), "overrides": {"sizes.firms": 0}})
    with pytest.raises(ConfigError, match="sizes.firms"):
        validate.fn(options)


def test_resonance_run_goes_through_the_flow(prefect_api, tmp_path, capsys):
    import asyncio

    from prefect.client.orchestration import get_client

    from resonance.flows.cli import main

    async def count_runs():
        async with get_client() as client:
            return len(await client.read_flow_runs())

    before = asyncio.run(count_runs())
    store = str(tmp_path / "cli.zarr")
    assert main(tiny_run(store, engine=None)) == 0  # through Prefect, the default
    assert asyncio.run(count_runs()) == before + 1
    assert "Headline outcomes after 1 years" in capsys.readouterr().out
    # the run held the garbage collector off during its start-up; it is as it was
    assert gc.isenabled() and gc.get_freeze_count() == 0


def _prefect_servers() -> set[int]:
    """Process ids of Prefect API servers running on this machine."""
    import psutil

    return {
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if "prefect.server.api.server:create_app" in " ".join(p.info["cmdline"] or [])
    }


def test_bad_input_stops_the_prefect_server_started_ahead(tmp_path, capsys, monkeypatch):
    """resonance run starts Prefect's temporary server before it checks the request (it
    boots while the run starts up); a request that fails its checks stops it at once, not
    only at exit, since main() may be called again in the same process."""
    from resonance.flows.cli import main

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    before = _prefect_servers()
    store = tmp_path / "never.zarr"
    assert main(tiny_run(store, engine=None, paths="baseline,no_such_path")) == 2
    assert "no_such_path" in capsys.readouterr().err
    assert _prefect_servers() <= before and not store.exists()
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_flow_heartbeats_go_to_a_lasting_server_only(prefect_api):
    """A flow run's heartbeats let a lasting server mark a run whose process died; the
    temporary server dies with the process, so it gets none (and the flow's end does not
    wait out Prefect's heartbeat thread). A configured server keeps Prefect's default."""
    from prefect import settings
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from resonance.flows.prefect_server import PrefectServer
    from resonance.flows.prefect_server import prefect_api as api

    heartbeat = getattr(settings, "PREFECT_FLOWS_HEARTBEAT_FREQUENCY", None)
    if heartbeat is None:
        pytest.skip("this Prefect (before 3.6) sends no flow-run heartbeats")
    lasting = PREFECT_API_URL.value()  # the session's test server, as a profile names one
    before = heartbeat.value()
    with api(60):
        assert PREFECT_API_URL.value() == lasting
        assert heartbeat.value() == before
    server = PrefectServer(180)
    try:
        with temporary_settings(restore_defaults={PREFECT_API_URL}), api(180, server=server):
            assert PREFECT_API_URL.value() == server.url != lasting
            assert heartbeat.value() is None
        assert heartbeat.value() == before  # only inside the block
    finally:
        server.stop()
    assert server.process.poll() is not None


def test_a_server_named_anywhere_in_prefects_settings_is_not_started_ahead(tmp_path, monkeypatch):
    """The temporary server is started before Prefect is imported, so its settings are
    read by hand: the environment, the active profile, .env, prefect.toml, pyproject.toml."""
    from resonance.flows.prefect_server import may_name_server

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("PREFECT_PROFILE", raising=False)
    profiles = tmp_path / "profiles.toml"
    monkeypatch.setenv("PREFECT_PROFILES_PATH", str(profiles))
    assert not may_name_server()  # no file names one
    url = '"http://127.0.0.1:4200/api"'
    profiles.write_text(f'active = "local"\n[profiles.local]\nPREFECT_API_URL = {url}\n')
    assert may_name_server()
    monkeypatch.setenv("PREFECT_PROFILE", "other")  # another profile is active
    assert not may_name_server()
    (tmp_path / "pyproject.toml").write_text('[project]\ndependencies = ["fastapi", "urllib3"]\n')
    assert not may_name_server()
    (tmp_path / "pyproject.toml").write_text(f"[tool.prefect.api]\nurl = {url}\n")
    assert may_name_server()
    (tmp_path / "pyproject.toml").unlink()
    (tmp_path / "prefect.toml").write_text(f"[api]\nurl = {url}\n")
    assert may_name_server()
    (tmp_path / "prefect.toml").unlink()
    (tmp_path / ".env").write_text(f"PREFECT_API_URL={url}\n")
    assert may_name_server()
    (tmp_path / ".env").unlink()
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    assert may_name_server()


def test_resonance_run_starts_its_own_prefect_server_and_prints_only_its_own_lines(tmp_path):
    """The command as a user runs it, with no Prefect server configured: resonance starts
    Prefect's temporary server beside the run, the flow joins the run, Prefect's console
    log stays quiet, and the server is gone when the command ends."""
    import subprocess
    import sys

    from tests.helpers import ROOT

    before = _prefect_servers()
    store = tmp_path / "own.zarr"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    done = subprocess.run(
        [sys.executable, "-m", "resonance", *tiny_run(str(store), engine=None)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert "Prefect's flow began at" in lines[-1] and lines[-1].startswith("wall ")
    assert "| INFO" not in done.stdout + done.stderr  # Prefect's console log: --verbose
    assert zarr.open_group(str(store), mode="r").attrs["bands_scenarios"] == 4
    assert _prefect_servers() <= before  # stopped at exit
