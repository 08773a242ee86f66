"""The ``resonance`` command line: run, validate, summary, plot, compare, recovery, robust,
frontier, sensitivity, discover, facts, convergence, diff, verify, serve, submit, runs,
calibrate, report.

Every command is declared once in ``commands`` (name, help, arguments, and for an analysis
command the functions that compute, print and draw it); the parser is built from the
declarations, and every analysis command runs through ``commands.analyse``. Run, validate,
verify, serve, submit and runs are written out here.

Every command validates its input before any work starts; a mistake the user can fix is
printed as one line (``resonance: error: <where>: <what> (<hint>)``) with exit status 2.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys

from .commands import COMMANDS, analyse
from .commands.base import add_arguments, draws, err_console, positive
from .engine.console import console
from .errors import ResonanceError


def _overrides(args) -> dict:
    return {
        "sizes.scenarios": args.scenarios,
        "sizes.replications": args.replications,
        "sizes.firms": args.firms,
        "sizes.quarters": args.quarters,
        "seed": args.seed,
        "sampler": args.sampler,
        "chunk_scenarios": args.chunk,
        "store": args.out,
        "budget": args.budget,
        "paths": [p.strip() for p in args.paths.split(",") if p.strip()] if args.paths else None,
    }


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line and exit 2 like every other bad input."""

    def error(self, message):
        err_console.print(
            f"{self.prog}: error: {message} (see {self.prog} --help)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(2)


def _parser() -> argparse.ArgumentParser:
    """The parser of every declared command, in the order of ``commands.COMMANDS``."""
    parser = _Parser(
        prog="resonance",
        description="Monte Carlo scenarios of high-tech firms' innovation efficiency.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command in COMMANDS:
        add_arguments(sub.add_parser(command.name, help=command.help), command.arguments)
    return parser


def cmd_validate(args) -> int:
    from .config import load_config

    config = load_config(args.config, _overrides(args))
    worlds = (
        f" ({config.n_worlds} worlds x {config.replications} replications)"
        if config.replications > 1
        else ""
    )
    console.print(
        f"[green]ok[/green] {args.config}: {config.n_scenarios} scenarios{worlds} x "
        f"{config.n_firms} firms x {config.n_quarters} quarters, "
        f"{len(config.path_names)} paths, sampler {config.sampler}, "
        f"store {config.store}"
    )
    return 0


PREFECT_STARTUP_SECONDS = 120
FIRST_CHUNK_WAIT = 30.0  # seconds Prefect's client waits for the run's first chunk at most


def cmd_run(args) -> int:
    # No cyclic garbage collection during the start-up: its imports make few cycles but
    # hundreds of thousands of objects, which every full collection walks again (0.3 s
    # before the first chunk on the machine of docs/results.md). ``_collect_from_here``
    # turns it back on, with what the start-up made set aside; the end of the command
    # leaves the collector as it found it (main() may be called again in one process).
    collecting, frozen = gc.isenabled(), gc.get_freeze_count()
    gc.disable()
    try:
        return _checked_run(args)
    finally:
        if not frozen:  # what the caller froze stays frozen
            gc.unfreeze()
        if collecting:
            gc.enable()


def _checked_run(args) -> int:
    from .engine.timing import Clock, line, save
    from .request import RunOptions, RunRequest

    clock = Clock.started()
    server = _prefect_ahead(args) if args.engine == "prefect" else None
    try:
        # Everything the user can get wrong is checked here, once, before anything starts.
        request = RunRequest.of(RunOptions.from_args(args, _overrides(args)))
        if args.engine == "prefect" and os.environ.get("PREFECT_API_URL"):
            from .prefect_server import check_prefect_url

            check_prefect_url(os.environ["PREFECT_API_URL"])
    except BaseException:
        if server is not None:  # not left to the exit: main() may be called again
            server.stop()
        raise
    _run(args, request, clock, server)
    if not request.options.grows:  # a growing run's sizes each have their own line
        parts = clock.split()
        console.print(line(parts), highlight=False, soft_wrap=True)
        save(parts)
    return 0


def _collect_from_here() -> None:
    """Collect cyclic garbage again, once the start-up's modules are loaded, but never
    walk what the start-up made (``gc.freeze``): modules, classes and functions that
    live as long as the process. A cold compile of the kernel leaves much garbage
    behind (twice the objects of a warm start), collected first, not kept frozen."""
    from ..kernels.simulate import simulate_into

    if sum(simulate_into.stats.cache_misses.values()):
        gc.collect()
    gc.freeze()
    gc.enable()


def _prefect_ahead(args):
    """Prefect's settings for a run through it, and its temporary server started now
    (``prefect_server.start_server``; None where the environment names a server): it
    boots on the core that the run's start-up, its imports, its checks, leaves idle."""
    from .prefect_server import start_server

    # No telemetry from the temporary server: it has no network to send it over anyway.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    if not args.verbose:  # the run's own lines say what a user needs; the run's record in
        # Prefect keeps every log line (only the console handler is quieter)
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    return start_server(_prefect_timeout())


def _prefect_timeout() -> float:
    """Seconds to wait for Prefect's temporary server: a first start on a small machine
    (its database migrations) is slow."""
    return float(
        os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", PREFECT_STARTUP_SECONDS)
    )


def _run(args, request, clock, server=None) -> None:
    """The run of a checked request, through Prefect (on ``server``, Prefect's temporary
    server started ahead, if any) or (``--engine direct``) not."""
    from .engine.console import show_bands
    from .engine.startup import launch

    if args.engine == "direct":
        with launch(request, clock) as launched:
            _collect_from_here()
            launched.run()
            show_bands(request.config.store, clock)
        return
    from .prefect_server import PrefectUnavailable, prefect_api

    # The run starts on its cluster; Prefect's client is imported once the first chunk is
    # on its way (its import would hold the GIL the store's preparation needs); the flow's
    # simulate task then joins the run (startup.Launched.join).
    reached = False  # Prefect's client in use: its workers send to the server until the exit
    try:
        with launch(request, clock) as launched:
            _collect_from_here()
            launched.start()
            launched.wait_until("first_chunk", FIRST_CHUNK_WAIT)
            try:
                from .flow import scenario_run

                gc.freeze()  # and Prefect's modules, imported since _collect_from_here
                reached = True
                with prefect_api(_prefect_timeout(), launched.raise_if_failed, server):
                    scenario_run(
                        **request.options.parameters(), show_summary=True, started=launched
                    )
            except PrefectUnavailable as exc:  # the run goes on without Prefect: finish it
                launched.join(request)
                show_bands(request.config.store, clock)
                problem = f"{exc.problem}; the run finished without a Prefect record"
                raise PrefectUnavailable(exc.where, problem, exc.hint) from None
    except BaseException:
        if server is not None and not reached:  # not left to the exit: main() may run again
            server.stop()
        raise


def cmd_verify(args) -> int:
    from .engine import verify as check

    draws(args)  # a finished store, or one line saying it is not
    if args.chunks == "all":
        chunks = None
    else:
        try:
            chunks = positive(args.chunks)
        except argparse.ArgumentTypeError as exc:
            raise ResonanceError(f"--chunks {args.chunks}", str(exc), "a count or 'all'") from None
    result = check.verify(args.store, chunks, args.seed)
    for line in result.warnings:
        err_console.print(f"resonance: warning: {line}", markup=False, highlight=False)
    console.print(f"re-simulated {len(result.checked)} chunks: {result.checked}")
    if result.ok:
        console.print("every re-simulated chunk and every band equals the store bit for bit")
        return 0
    for difference in result.differences:
        console.print(f"differs: {difference}", markup=False, highlight=False)
    if result.bands is not None:
        console.print(f"bands differ from the stored draws: {result.bands}", markup=False)
    if args.repair and result.differences:
        fixed = check.repair(args.store, result.differences)
        console.print(f"cleared the done marks of chunks {fixed}: run the config again")
    return 1


def cmd_serve(args) -> int:
    from .serve.app import serve

    console.print(
        f"resonance serve: the stores under {args.results} on http://{args.host}:{args.port}/ "
        "(Ctrl-C stops it)"
    )
    serve(args.results, args.host, args.port)
    return 0


def cmd_submit(args) -> int:
    from .submit import flow_run_url, submit

    given = _overrides(args)
    given.pop("store")  # --out is the flow's out
    run, config = submit(args.config, given, args.out, args.cluster, args.workers, args.deployment)
    console.print(
        f"submitted flow run {run.name} of {args.deployment}: config "
        f"{run.labels['resonance.config']}, identity {config.identity[:12]}, "
        f"{config.n_scenarios:,} scenarios",
        highlight=False,
    )
    console.print(f"id  {run.id}", highlight=False)
    url = flow_run_url(run.id)
    console.print(f"url {url or '(Prefect knows no UI for this server: set PREFECT_UI_URL)'}")
    return 0


def cmd_runs(args) -> int:
    from .submit import recent, runs_table

    console.print(runs_table(recent(args.limit, args.deployment)))
    return 0


EXPLICIT = {
    "run": cmd_run,
    "validate": cmd_validate,
    "verify": cmd_verify,
    "serve": cmd_serve,
    "submit": cmd_submit,
    "runs": cmd_runs,
}
"""The commands written out here; every other declared command is an analysis."""


def _dispatch(args) -> int:
    """The exit status of the parsed command: its own function, or ``analyse``."""
    command = next(c for c in COMMANDS if c.name == args.command)
    if command.compute is None:
        return EXPLICIT[command.name](args)
    return analyse(command, args)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except ResonanceError as exc:
        err_console.print(f"resonance: error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except MemoryError:
        err_console.print(
            "resonance: error: out of memory (a smaller run, fewer --workers, or a machine "
            "with more memory); finished chunks are kept",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return 3
    except KeyboardInterrupt:
        err_console.print("resonance: interrupted; finished chunks are kept, run again to resume")
        return 130


if __name__ == "__main__":
    sys.exit(main())
