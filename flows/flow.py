"""The Prefect flow of a run: validate -> plan -> simulate chunks -> reduce bands -> report.

Design: the chunks run as Dask futures *inside* one Prefect task (``simulate``), not as
one Prefect task per chunk. Thousands of Monte Carlo chunks would make thousands of task
runs in Prefect's database, and prefect-dask recomputes finished tasks when a worker dies
(prefect#15442); here Dask retries a lost chunk itself, and a retried task or a re-run
flow resumes from the store's ``chunk_done`` marks, so finished chunks are never
computed twice. Prefect owns what it is good at: retries, run history, schedules,
artifacts.

Without ``PREFECT_API_URL`` the flow runs in Prefect's ephemeral local mode (no server to
start); with it set, the same run appears on that server.
"""

from __future__ import annotations

import sys
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE

from flows.cluster import connect, load_cluster
from flows.config import RunConfig, load_config
from flows.engine import announce, announce_cluster, progress_bar, show_bands
from flows.execute import DaskExecutor, finalise_bands, prepare_store, simulate_chunks
from flows.plan import Plan, make_plan
from flows.report import HEADLINE, summary_markdown
from flows.store import has_bands, open_bands


@task(name="validate", cache_policy=NONE)
def validate(config_path: str, overrides: dict | None) -> RunConfig:
    """Load and check the config (raises ConfigError naming the bad key)."""
    return load_config(config_path, overrides)


@task(name="plan", cache_policy=NONE)
def plan_run(config: RunConfig) -> Plan:
    """Design the scenarios and cut them into chunks."""
    return make_plan(config)


@task(name="prepare-store", cache_policy=NONE)
def prepare(plan: Plan, overwrite: bool) -> list[int]:
    """Create or check the store; the chunks still to compute."""
    return prepare_store(plan, plan.config.store, overwrite)


@task(name="simulate-chunks", cache_policy=NONE, retries=2, retry_delay_seconds=2)
def simulate(plan: Plan, executor, progress: bool) -> int:
    """Simulate every unfinished chunk on Dask; resumes from the store when retried."""
    todo = prepare_store(plan, plan.config.store)  # a retry sees what the last try finished
    with progress_bar(progress, "simulating") as update:
        seconds = simulate_chunks(plan, plan.config.store, executor, todo, update)
    get_run_logger().info("simulated %d chunks (%d already in the store)", len(seconds),
                          len(plan.chunks) - len(seconds))
    return len(seconds)


@task(name="reduce-bands", cache_policy=NONE, retries=1)
def reduce_bands(plan: Plan, executor) -> None:
    """Reduce the stored draws to uncertainty bands and finalise the store."""
    finalise_bands(plan, plan.config.store, executor)


@task(name="report", cache_policy=NONE)
def report(config: RunConfig) -> str:
    """A markdown artifact with the final-quarter bands and a link to the store."""
    bands = open_bands(config.store)
    store = config.store if "://" in config.store else str(Path(config.store).resolve())
    markdown = summary_markdown(bands, HEADLINE, store)
    create_markdown_artifact(key="resonance-bands", markdown=markdown,
                             description=f"Final-quarter bands of {store}")
    return markdown


@flow(name="scenario-run", log_prints=True)
def scenario_run(config_path: str = "configs/default.yaml", out: str | None = None,
                 overrides: dict | None = None, workers: int | None = None,
                 scheduler: str | None = None, cluster: str | None = None,
                 overwrite: bool = False, progress: bool = False,
                 show_summary: bool = False) -> str:
    """Run a config into its store; returns the store location.

    config_path: run config YAML; out: store location (overrides the config's);
    overrides: dotted config keys to values (as ``resonance run`` passes them);
    workers / scheduler / cluster: where the chunks run (default: the config's cluster).
    """
    overrides = {**(overrides or {}), **({"store": out} if out else {})}
    config = validate(config_path, overrides)
    spec = load_cluster(cluster or config.cluster, Path(config_path).parent / "clusters")
    plan = plan_run(config)
    announce(config, len(plan.chunks))
    todo = prepare(plan, overwrite)
    with connect(spec, workers, scheduler) as client:
        executor = DaskExecutor(client, spec.threads_per_worker)
        announce_cluster(executor)
        if todo:
            simulate(plan, executor, progress)
        if todo or not has_bands(config.store):
            reduce_bands(plan, executor)
    report(config)
    if show_summary:
        show_bands(config.store)
    return config.store


if __name__ == "__main__":
    scenario_run(*sys.argv[1:2])
