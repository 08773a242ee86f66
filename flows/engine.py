"""The engine called directly: a cluster, a plan, a progress bar, the run, the summary."""

from __future__ import annotations

import contextlib
import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from flows.cluster import ClusterSpec, connect
from flows.config import RunConfig
from flows.execute import DaskExecutor, RunReport, run_plan
from flows.plan import make_plan
from flows.report import HEADLINE, summary_table
from flows.store import open_bands

console = Console(width=None if sys.stdout.isatty() else 140)


@contextlib.contextmanager
def progress_bar(enabled: bool, label: str):
    """A rich progress bar over chunks; yields a progress(done, total) callback."""
    if not enabled:
        yield None
        return
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("chunks"), TimeElapsedColumn(), console=console,
                  transient=False) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def announce(config: RunConfig, n_chunks: int) -> None:
    """The run's one-line header: sizes, paths, chunks, store."""
    draws = config.n_scenarios * config.n_firms
    console.print(f"resonance: {config.n_scenarios:,} scenarios x {config.n_firms:,} firms = "
                  f"{draws:,} firm-scenario draws, {len(config.path_names)} paths, "
                  f"{config.n_quarters} quarters, {n_chunks} chunks -> {config.store}")


def announce_cluster(executor: DaskExecutor) -> None:
    n_workers = len(executor.client.scheduler_info().get("workers", {}))
    console.print(f"Dask: {n_workers} workers, dashboard {executor.dashboard_link}")


def show_bands(store: str) -> None:
    """The headline bands of a finished store, and where to see the rest."""
    console.print(summary_table(open_bands(store), HEADLINE))
    console.print(f"all metrics: resonance summary {store}; fan chart: "
                  f"resonance plot {store} --metric innovation_efficiency")


def run_with_cluster(config: RunConfig, spec: ClusterSpec, workers=None, scheduler=None,
                     overwrite=False, progress=True, show_summary=True) -> RunReport:
    """Run ``config`` on the cluster of ``spec``; print the dashboard, progress and bands."""
    plan = make_plan(config)
    announce(config, len(plan.chunks))
    with connect(spec, workers, scheduler) as client:
        executor = DaskExecutor(client, spec.threads_per_worker)
        announce_cluster(executor)
        with progress_bar(progress, "simulating") as update:
            report = run_plan(plan, config.store, executor, overwrite=overwrite,
                              progress=update)
    steps = config.n_scenarios * config.n_firms * config.n_quarters * len(config.path_names)
    console.print(f"done in {report.seconds:.1f} s: {report.computed} chunks computed, "
                  f"{report.skipped} already in the store; "
                  f"{steps / report.seconds:,.0f} firm-steps/s overall")
    if show_summary:
        show_bands(config.store)
    return report
