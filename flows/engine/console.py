"""What a run prints: its header, the cluster line, the progress bar, the closing line and
the closing table of headline outcomes."""

from __future__ import annotations

import contextlib
import sys
import threading
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..config import RunConfig
from ..metrics import HEADLINE
from .timing import Clock

console = Console(width=None if sys.stdout.isatty() else 140)
PATIENCE = 2.0  # seconds a run may be silent: longer waits say what they wait for


@contextlib.contextmanager
def progress_bar(enabled: bool, label: str, unit: str = "chunks"):
    """A rich progress bar over chunks (or other ``unit``s); yields a progress(done, total)
    callback."""
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@contextlib.contextmanager
def waiting(label: str, after: float = PATIENCE):
    """Say ``label`` if the block takes longer than ``after`` seconds, and then how long it
    took: a run never sits silent for longer than that."""
    said = threading.Event()
    began = time.perf_counter()

    def say() -> None:
        said.set()
        console.print(f"{label} ...", highlight=False)

    timer = threading.Timer(after, say)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        if said.is_set():
            console.print(f"{label}: {time.perf_counter() - began:.1f} s", highlight=False)


def announce(config: RunConfig) -> None:
    """The run's one-line header: sizes, paths, chunks, store. Printed as soon as the
    run's input is checked (``startup.launch``), and for each size a growing run reaches."""
    draws = config.n_scenarios * config.n_firms
    n_chunks = -(-config.n_scenarios // config.chunk_scenarios)  # plan.Chunks' count
    worlds = (
        f" ({config.n_worlds:,} worlds x {config.replications} replications)"
        if config.replications > 1
        else ""
    )
    line = (
        f"resonance: {config.n_scenarios:,} scenarios{worlds} x {config.n_firms:,} firms = "
        f"{draws:,} firm-scenario draws, {len(config.path_names)} paths, "
        f"{config.n_quarters} quarters, {n_chunks} chunk{'s' if n_chunks != 1 else ''} "
        f"-> {config.store}"
    )
    console.print(line)


def announce_cluster(n_workers: int, slots: int, dashboard_link: str | None) -> None:
    """The cluster's line: its workers and the tasks they run at once (a threaded local
    cluster is one worker of several threads), and the dashboard's address."""
    if n_workers == 1:
        workers = f"1 worker of {slots} threads" if slots > 1 else "1 worker"
    else:
        workers = f"{n_workers} workers" + (f", {slots} threads" if slots > n_workers else "")
    console.print(f"Dask: {workers}, dashboard {dashboard_link}")


def done(config: RunConfig, report) -> None:
    """The closing line: chunks computed and skipped, time, the rate of what was computed.
    ``report``: the run's ``execute.RunReport`` (not imported: execute prints through here)."""
    steps = report.scenarios_computed * config.n_firms * config.n_quarters * len(config.path_names)
    rate = f"; {steps / report.seconds:,.0f} firm-steps/s overall" if steps else ""
    console.print(
        f"done in {report.seconds:.1f} s: {report.computed} chunks computed, "
        f"{report.skipped} already in the store{rate}"
    )


def convergence(step, grow_to: int | None, cap: int) -> None:
    """One line per size of ``resonance run --until-se``: the worst standard error, and
    whether the store grows."""
    se, statistic, path = step.worst
    head = f"n = {step.n:,}: largest standard error {se:.3g} ({statistic}, {path})"
    if step.converged:
        console.print(f"{head} <= {step.target:g}: converged")
    elif grow_to is None:
        console.print(f"{head} > {step.target:g}: stopped at --max-scenarios {cap:,}")
    else:
        console.print(f"{head} > {step.target:g}: growing to {grow_to:,} scenarios")


def show_bands(store: str, clock: Clock | None = None) -> None:
    """The closing table of a finished store (``tables.headline_table``): per path, the
    headline outcomes side by side (TFP growth %/yr, coordination, innovation efficiency)
    and the path against the baseline (the first path when there is none) on TFP growth,
    paired on the same worlds; then where to see the rest. ``clock``: the run's, which
    gets the table's moments."""
    from ..analysis.effects import TFP_GROWTH, effects
    from ..analysis.tables import headline_table
    from .store_read import open_bands, open_draws

    clock = clock or Clock()
    clock.mark("report_begin")
    bands = open_bands(store)
    draws = open_draws(store)
    paths = [str(p) for p in draws.path.values]
    reference = "baseline" if "baseline" in paths else paths[0]
    console.print(headline_table(effects(draws, TFP_GROWTH, reference=reference), bands))
    console.print(
        f"all metrics: resonance summary {store}; fan chart: "
        f"resonance plot {store} --metric {HEADLINE[0]}"
    )
    if len(paths) > 1:
        console.print(
            f"paired effects: resonance compare {store} {reference} PATH --metric "
            f"{TFP_GROWTH}; resonance robust {store}"
        )
    clock.mark("report")
