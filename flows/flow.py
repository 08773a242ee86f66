"""The Prefect flow of a run: validate -> simulate (the one run recipe) -> report.

Design: the chunks run as Dask futures *inside* one Prefect task (``simulate``), not as
one Prefect task per chunk. Thousands of Monte Carlo chunks would make thousands of task
runs in Prefect's database, and prefect-dask recomputes finished tasks when a worker dies
(prefect#15442); here Dask retries a lost chunk itself, and a retried task or a re-run
flow resumes from the store (a chunk's outcome shard, written last, marks it finished), so
finished chunks are never computed twice. Prefect owns what it is good at: retries, run
history, schedules, artifacts.

The flow's parameters are a run's options (``resonance.flows.request.RunOptions``, whose
fields this signature writes out because Prefect reads a deployment's parameter schema off
it) and ``show_summary``. Task ``validate`` makes them one checked ``RunRequest``, which
the other tasks take whole; ``simulate`` runs it through the same start-up and recipe as
``resonance run --engine direct`` (``resonance.flows.engine.startup.launch``). Called from
Python without ``PREFECT_API_URL``, the flow runs in Prefect's ephemeral local mode; with
it set, the run appears on that server. ``resonance run`` checks its request, starts the
run before the flow begins, and hands the flow that run (``started``): ``validate`` then
takes its request instead of checking the options again, and ``simulate`` joins the run.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE
from prefect.states import Failed

# Absolute imports, unlike the rest of the package: Prefect's worker loads this file by its
# path (prefect.yaml's entrypoint flows/flow.py:scenario_run), outside its package, where a
# relative import has no parent to resolve against.
from resonance.flows.confine import confine, from_deployment, roots
from resonance.flows.engine.console import show_bands
from resonance.flows.engine.execute import RunReport
from resonance.flows.engine.startup import Launched, launch
from resonance.flows.engine.timing import Clock
from resonance.flows.errors import ResonanceError
from resonance.flows.request import RunOptions, RunRequest


@task(name="validate", cache_policy=NONE)
def validate(
    options: RunOptions, started: Launched | None = None, catalog: str | None = None
) -> RunRequest:
    """The run's checked request (ResonanceError names the first problem): the one
    ``started`` was launched with, when its options are these (``resonance run`` checked
    it before starting the run), else checked here (``RunRequest.of``, with the results
    root ``catalog`` of a deployment's run without ``out``) and recording this flow run on
    the chunks it writes (:func:`flow_run_record`)."""
    if started is not None and started.request.options == options:
        return started.request
    request = RunRequest.of(options, catalog)
    return dataclasses.replace(request, record=flow_run_record())


def flow_run_record() -> dict[str, str]:
    """The current Prefect flow run as a store records it (``store_write.record_flow_run``):
    its name, id and page in Prefect's UI ("" where Prefect knows no UI); {} outside one."""
    from prefect.runtime import flow_run
    from prefect.utilities.urls import url_for

    if flow_run.id is None:
        return {}
    return {
        "prefect_flow_run": str(flow_run.name),
        "prefect_flow_run_id": str(flow_run.id),
        "prefect_flow_run_url": url_for("flow-run", obj_id=flow_run.id) or "",
    }


def store_use(request: RunRequest) -> str:
    """One line on what the run does with its store: a new one, or one it reuses (the
    catalog: "reusing S (complete: nothing to compute)", "(resuming: 5 of 16 chunks
    done)", "(growing from 256 to 512 scenarios)")."""
    from resonance.flows.engine.store_io import done_chunks
    from resonance.flows.engine.store_state import state_of

    config = request.config
    store, n = config.store, config.n_scenarios
    total = -(-n // config.chunk_scenarios)
    if request.store == "new":
        return f"writing {store} (new: {total} chunks to compute)"
    if request.store == "extend":
        held = int(state_of(store)[1]["n_scenarios"])
        return f"reusing {store} (growing from {held} to {n} scenarios)"
    done = int(done_chunks(store)[:total].sum())
    if done == total:
        return f"reusing {store} (complete: nothing to compute)"
    return f"reusing {store} (resuming: {done} of {total} chunks done)"


def label_flow_run(request: RunRequest) -> None:
    """Label the current flow run (called inside the flow) with what ``resonance runs``
    lists: the config's name and identity digest, the store (relative to the results root
    where it lies under it) and what the run did with it (``new``, ``resume``, ``extend``)."""
    from prefect.context import FlowRunContext

    from resonance.flows.confine import roots

    store, results = request.config.store, roots()[0]
    if store.startswith(results.rstrip("/") + "/"):
        store = store[len(results.rstrip("/")) + 1 :]
    labels = {
        "resonance.config": Path(str(request.config.source)).stem,
        "resonance.identity": request.config.identity[:12],
        "resonance.store": store,
        "resonance.store_use": request.store,
    }
    # the flow engine's own client (the flow is synchronous: a SyncPrefectClient)
    context = FlowRunContext.get()
    context.client.update_flow_run_labels(context.flow_run.id, labels)


def _retry_unless_bad_input(task, task_run, state) -> bool:
    """Retry a failed try unless the user's input caused it (retrying cannot mend that)."""
    return not isinstance(state.result(raise_on_failure=False), ResonanceError)


@task(
    name="simulate",
    cache_policy=NONE,
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=_retry_unless_bad_input,
)
def simulate(request: RunRequest, started: Launched | None = None) -> RunReport:
    """Simulate every unfinished chunk and reduce the bands (with ``until_se``, grow the
    store until converged: flows/engine/converge.py): join the run ``started`` ahead for
    this request, else launch and run it here. A retry resumes from the store."""
    from prefect.runtime import task_run

    from resonance.flows.engine.store_state import belongs_to

    report = started.join(request) if started is not None else None
    if report is None:
        if (task_run.run_count or 1) > 1:
            # A retry resumes what an earlier try wrote: it replaces the store only if no
            # try has made it this config's yet.
            config = request.config
            replace = request.options.overwrite and not belongs_to(config, config.store)
            request = request.again(overwrite=replace)
        if started is not None:  # its cluster is up still
            report = started.run(request)
        else:
            with launch(request) as launched:
                report = launched.run()
    get_run_logger().info(
        "simulated %d chunks (%d already in the store) in %.1f s",
        report.computed,
        report.skipped,
        report.seconds,
    )
    return report


@task(name="report", cache_policy=NONE)
def report(request: RunRequest) -> str:
    """A markdown artifact with the final-quarter bands and a link to the store."""
    from resonance.flows.analysis.tables import summary_markdown
    from resonance.flows.engine.store_read import open_bands
    from resonance.flows.metrics import HEADLINE

    store = request.config.store
    bands = open_bands(store)
    store = store if "://" in store else str(Path(store).resolve())
    markdown = summary_markdown(bands, HEADLINE, store)
    create_markdown_artifact(
        key="resonance-bands", markdown=markdown, description=f"Final-quarter bands of {store}"
    )
    return markdown


@flow(name="scenario-run", log_prints=True)
def scenario_run(
    config_path: str = "configs/default.yaml",
    config_text: str | None = None,
    out: str | None = None,
    overrides: dict | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    cluster: str | None = None,
    overwrite: bool = False,
    progress: bool = False,
    until_se: float | None = None,
    max_scenarios: int | None = None,
    show_summary: bool = False,
    started: Launched | None = None,
) -> str:
    """Run a config into its store; returns the store location.

    config_path: run config YAML; config_text: its text instead (``resonance submit``),
    read as if it were the file ``config_path`` (whose folder resolves the path files,
    costs, clusters and posterior it names; in a deployment's run, the file of that name in
    the worker's config folder, which need not exist); out: store location (over the
    config's; a deployment's run without it writes the catalog's store of its config's
    identity under the results root, ``confine.catalog_store``);
    overrides: dotted config keys to values (as ``resonance run`` passes them);
    workers / scheduler / cluster: where the chunks run (default: the config's cluster);
    until_se / max_scenarios: grow the store until converged (``resonance run --until-se``);
    show_summary: print the closing table; started: the run ``resonance run`` launched and
    started ahead for these options (no JSON value is one: a deployment cannot pass it).
    A run created through a deployment reads and writes only under the roots of
    ``resonance.flows.confine`` and fails in one line otherwise.
    """
    parameters = dict(locals())  # the options among them: RunOptions.of picks them by name
    clock = started.clock if started is not None else Clock()
    clock.mark("prefect")  # Prefect's server answered: the flow run began
    deployment = from_deployment()  # its parameters came through the Prefect API
    catalog = None
    try:
        options = RunOptions.of(parameters)
        if deployment:
            results, configs = roots()
            if options.config_text is not None:  # read as that file of the config folder
                path = str(configs / Path(options.config_path).name)
                options = options.model_copy(update={"config_path": path})
            catalog = None if options.out else results
            confine(
                options.config_path,
                options.config_overrides,
                options.cluster,
                options.config_text,
                catalog is not None,
            )
        request = validate(options, started, catalog)
    except ResonanceError as exc:
        if not deployment:
            raise
        get_run_logger().error("resonance: error: %s", exc)
        return Failed(message=f"resonance: error: {exc}")
    label_flow_run(request)
    if catalog is not None:
        get_run_logger().info(store_use(request))
    simulate(request, started)
    report(request)
    if show_summary:
        show_bands(request.config.store, clock)
    return request.config.store


if __name__ == "__main__":
    scenario_run(*sys.argv[1:2])
