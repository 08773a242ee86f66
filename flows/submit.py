"""``resonance submit`` and ``resonance runs``: flow runs of the deployment through
Prefect's API (the server ``PREFECT_API_URL`` names; README, "The service").

:func:`submit` checks a config here, then creates a flow run of the deployment (default
``scenario-run/submit`` of prefect.yaml) whose parameters carry the config's *text* and
its overrides, never a path on this machine: the worker reads the text as the file of
its name in its own config folder, so the path files, costs and clusters the config
names are the worker's checkout's. :func:`recent` reads the latest flow runs of the flow
``scenario-run`` (submitted, nightly, or ``resonance run`` against that server), with
the labels the flow gives each run (``flow.label_flow_run``), for :func:`runs_table`.

A server that does not answer, or a deployment it does not know, is one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import ResonanceError
from .prefect_server import PrefectUnavailable, check_prefect_url

DEPLOYMENT = "scenario-run/submit"
FLOW = "scenario-run"


def api_url() -> str:
    """The Prefect API of this user's settings, checked to answer; one line if none."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise PrefectUnavailable(
            "PREFECT_API_URL",
            "is not set: submit and runs talk to the deployment's Prefect server",
            "export PREFECT_API_URL=http://127.0.0.1:4200/api (README, The service)",
        )
    check_prefect_url(url, hint="start the deployment's server (README, The service)")
    return url


def _deployment(client, name: str):
    from prefect.exceptions import ObjectNotFound

    try:
        return client.read_deployment_by_name(name)
    except ObjectNotFound:
        raise ResonanceError(
            f"--deployment {name}",
            "is not a deployment of this Prefect server",
            "register them with `prefect --no-prompt deploy --all` from the repository root",
        ) from None
    except ValueError as exc:  # not "flow/deployment"
        raise ResonanceError(f"--deployment {name}", str(exc), "FLOW/DEPLOYMENT") from None


def flow_run_url(flow_run_id) -> str | None:
    """The flow run's page in Prefect's UI, or None where Prefect knows no UI."""
    from prefect.utilities.urls import url_for

    return url_for("flow-run", obj_id=flow_run_id)


def submit(
    config_file: str,
    overrides: Mapping[str, Any],
    out: str | None = None,
    cluster: str | None = None,
    workers: int | None = None,
    deployment: str = DEPLOYMENT,
):
    """Create a flow run of ``deployment`` for the config in ``config_file`` with
    ``overrides`` (dotted keys), checked here first (``load_config``: a bad key is one
    line before anything is sent). Returns (the flow run, the config): the run carries
    the config's name and identity digest as labels."""
    from prefect import get_client

    from .config import load_config
    from .files import read_yaml_text

    given = {key: value for key, value in overrides.items() if value is not None}
    config = load_config(config_file, {**given, **({"store": out} if out else {})})
    _, text = read_yaml_text(Path(config_file), str(config_file), "config file")
    api_url()
    parameters = {
        # the text, and only the file's name: the worker reads it as that file of its own
        # config folder (flow.scenario_run)
        "config_path": Path(config_file).name,
        "config_text": text,
        "overrides": given,
        "out": out,
        "cluster": cluster,
        "workers": workers,
    }
    labels = {
        "resonance.config": Path(config_file).stem,
        "resonance.identity": config.identity[:12],
    }
    with get_client(sync_client=True) as client:
        found = _deployment(client, deployment)
        run = client.create_flow_run_from_deployment(found.id, parameters=parameters, labels=labels)
    return run, config


def recent(limit: int, deployment: str | None = None) -> list:
    """The latest ``limit`` flow runs of the flow ``scenario-run`` (of ``deployment``
    only, when given), newest first, as Prefect's client reads them."""
    from prefect import get_client
    from prefect.client.schemas.filters import DeploymentFilter, FlowFilter
    from prefect.client.schemas.sorting import FlowRunSort

    api_url()
    with get_client(sync_client=True) as client:
        only = None
        if deployment is not None:
            only = DeploymentFilter(id={"any_": [_deployment(client, deployment).id]})
        return client.read_flow_runs(
            flow_filter=FlowFilter(name={"any_": [FLOW]}),
            deployment_filter=only,
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
            limit=limit,
        )


def _duration(run) -> str:
    if run.start_time is None:
        return "—"
    end = run.end_time or datetime.now(timezone.utc)
    seconds = (end - run.start_time).total_seconds()
    text = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
    return text if run.end_time else f"{text} so far"


def runs_table(runs: list):
    """A rich table of flow runs: name, state, config, identity, store (and what the run
    did with it), start (UTC) and duration."""
    from rich.table import Table

    table = Table(title=f"Latest {len(runs)} flow runs of {FLOW}", title_justify="left")
    for column in ("flow run", "state", "config", "identity", "store", "started (UTC)"):
        table.add_column(column)
    table.add_column("duration", justify="right")
    for run in runs:
        labels = run.labels or {}
        config = (
            labels.get("resonance.config") or Path(str(run.parameters.get("config_path", ""))).stem
        )
        store = str(labels.get("resonance.store", "—"))
        use = labels.get("resonance.store_use")
        if use in ("resume", "extend"):
            store += " (reused)"
        started = (
            run.start_time.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
            if (run.start_time)
            else "—"
        )
        table.add_row(
            run.name,
            run.state_name or "—",
            config or "—",
            str(labels.get("resonance.identity", "—")),
            store,
            started,
            _duration(run),
        )
    return table
