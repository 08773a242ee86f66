"""The Prefect flow of a run: validate -> simulate (the one run recipe) -> report.

Design: the chunks run as Dask futures *inside* one Prefect task (``simulate``), not as
one Prefect task per chunk. Thousands of Monte Carlo chunks would make thousands of task
runs in Prefect's database, and prefect-dask recomputes finished tasks when a worker dies
(prefect#15442); here Dask retries a lost chunk itself, and a retried task or a re-run
flow resumes from the store (a chunk's outcome shard, written last, marks it finished), so
finished chunks are never computed twice. Prefect owns what it is good at: retries, run
history, schedules, artifacts.

The task calls the same recipe as ``resonance run --engine direct``
(``resonance.flows.engine.execute.run``); the flow resolves its own parameters once (a
deployment calls it without the CLI). Called from Python without ``PREFECT_API_URL``, it
runs in Prefect's ephemeral local mode; with it set, the run appears on that server.
``resonance run`` starts Prefect's temporary server itself and starts the run before the
flow begins (``flows/engine/startup.py``); the ``simulate`` task then joins that run.
"""

from __future__ import annotations

import sys
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE
from prefect.states import Failed

# Absolute imports, unlike the rest of the package: Prefect's worker loads this file by its
# path (prefect.yaml's entrypoint flows/flow.py:scenario_run), outside its package, where a
# relative import has no parent to resolve against.
from resonance.flows.config import RunConfig
from resonance.flows.confine import confine, from_deployment
from resonance.flows.engine import timing
from resonance.flows.engine.cluster import ClusterSpec
from resonance.flows.engine.console import show_bands
from resonance.flows.engine.execute import RunReport, run
from resonance.flows.engine.startup import resolve
from resonance.flows.errors import ResonanceError


@task(name="validate", cache_policy=NONE)
def validate(
    config_path: str,
    overrides: dict,
    cluster: str | None,
    overwrite: bool,
    scheduler: str | None = None,
    grows: bool = False,
) -> tuple[RunConfig, ClusterSpec]:
    """Load and check the config, the cluster and the store (ResonanceError names the
    problem); ``grows``: a run of ``--until-se``, taken at its store's size."""
    return resolve(config_path, overrides, cluster, overwrite, scheduler, grows)


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
def simulate(
    config: RunConfig,
    spec: ClusterSpec,
    workers: int | None,
    scheduler: str | None,
    overwrite: bool,
    progress: bool,
    until_se: float | None = None,
    max_scenarios: int | None = None,
) -> RunReport:
    """Simulate every unfinished chunk and reduce the bands; a retry resumes from the store.
    With ``until_se``, grow the store until converged (flows/engine/converge.py)."""
    from prefect.runtime import task_run

    from resonance.flows.engine.store_state import belongs_to

    # A retry resumes what an earlier try wrote: it replaces the store only if no try has
    # made it this config's yet.
    retry = (task_run.run_count or 1) > 1
    replace = overwrite and not (retry and belongs_to(config, config.store))
    report = run(config, spec, workers, scheduler, replace, progress, until_se, max_scenarios)
    get_run_logger().info(
        "simulated %d chunks (%d already in the store) in %.1f s",
        report.computed,
        report.skipped,
        report.seconds,
    )
    return report


@task(name="report", cache_policy=NONE)
def report(config: RunConfig) -> str:
    """A markdown artifact with the final-quarter bands and a link to the store."""
    from resonance.flows.analysis.tables import summary_markdown
    from resonance.flows.engine.store_read import open_bands
    from resonance.flows.metrics import HEADLINE

    bands = open_bands(config.store)
    store = config.store if "://" in config.store else str(Path(config.store).resolve())
    markdown = summary_markdown(bands, HEADLINE, store)
    create_markdown_artifact(
        key="resonance-bands", markdown=markdown, description=f"Final-quarter bands of {store}"
    )
    return markdown


@flow(name="scenario-run", log_prints=True)
def scenario_run(
    config_path: str = "configs/default.yaml",
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
) -> str:
    """Run a config into its store; returns the store location.

    config_path: run config YAML; out: store location (overrides the config's);
    overrides: dotted config keys to values (as ``resonance run`` passes them);
    workers / scheduler / cluster: where the chunks run (default: the config's cluster);
    until_se / max_scenarios: grow the store until converged (``resonance run --until-se``).
    A run created through a deployment reads and writes only under the roots of
    ``resonance.flows.confine`` and fails in one line otherwise.
    """
    timing.mark("prefect")  # Prefect's server answered: the flow run began
    overrides = {**(overrides or {}), **({"store": out} if out else {})}
    if from_deployment():  # its parameters came through the Prefect API: confine them
        try:
            confine(config_path, overrides, cluster)
        except ResonanceError as exc:
            get_run_logger().error("resonance: error: %s", exc)
            return Failed(message=f"resonance: error: {exc}")
    grows = until_se is not None
    config, spec = validate(config_path, overrides, cluster, overwrite, scheduler, grows)
    simulate(config, spec, workers, scheduler, overwrite, progress, until_se, max_scenarios)
    report(config)
    if show_summary:
        show_bands(config.store)
    return config.store


if __name__ == "__main__":
    scenario_run(*sys.argv[1:2])
