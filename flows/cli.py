"""The ``resonance`` command line: run, validate, summary, plot, compare, recovery, robust,
sensitivity, discover, report, facts, calibrate.

Every command validates its input before any work starts; a mistake the user can fix is
printed as one line (``resonance: error: <where>: <what> (<hint>)``) with exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console

from .engine.console import console
from .errors import ResonanceError

err_console = Console(stderr=True)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value < 2**64:
        raise argparse.ArgumentTypeError(f"expected 0 <= seed < 2**64, got {value}")
    return value


def _add_overrides(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("overrides of the config")
    g.add_argument("--scenarios", type=_positive, help="number of scenarios")
    g.add_argument("--firms", type=_positive, help="firms per scenario")
    g.add_argument("--quarters", type=_positive, help="quarters to simulate")
    g.add_argument("--paths", help="comma-separated path names (or YAML files)")
    g.add_argument("--seed", type=_seed, help="64-bit run seed")
    g.add_argument("--sampler", choices=("mc", "lhs", "sobol", "saltelli"), help="scenario design")
    g.add_argument("--chunk", type=_positive, help="scenarios per task")
    g.add_argument("--out", help="store location (directory or fsspec URL)")
    g.add_argument(
        "--budget",
        type=_positive_float,
        metavar="X",
        help="scale every path with levers to a mean policy cost of X a year (share of R&D "
        "spending)",
    )


def _overrides(args) -> dict:
    return {
        "sizes.scenarios": args.scenarios,
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
    parser = _Parser(
        prog="resonance",
        description="Monte Carlo scenarios of high-tech firms' innovation efficiency.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="simulate a config into a Zarr store and print its bands")
    run.add_argument("config", help="run config (YAML), e.g. configs/default.yaml")
    _add_overrides(run)
    g = run.add_argument_group("execution")
    g.add_argument("--workers", type=_positive, help="Dask workers (default: one per core)")
    g.add_argument("--scheduler", help="address of an existing Dask scheduler")
    g.add_argument("--cluster", help="configs/clusters/NAME.yaml or a file (default: config's)")
    g.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing store, even one of another config",
    )
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.add_argument(
        "--verbose", action="store_true", help="also print Prefect's log (its server, each task)"
    )
    g = run.add_argument_group("until converged")
    g.add_argument(
        "--until-se",
        type=_positive_float,
        metavar="X",
        help="grow the store until every path's final median and P(beats baseline) of the "
        "headline metric have a Monte Carlo standard error <= X",
    )
    g.add_argument(
        "--max-scenarios",
        type=_positive,
        metavar="N",
        help="stop growing at N scenarios (default: 16 x the config's)",
    )
    g.add_argument(
        "--engine",
        choices=("prefect", "direct"),
        default="prefect",
        help="run as a Prefect flow (default) or call the engine directly",
    )

    val = sub.add_parser("validate", help="check a config and exit 0, or name the problem")
    val.add_argument("config")
    _add_overrides(val)

    summ = sub.add_parser("summary", help="table of the final-quarter bands of a store")
    summ.add_argument("store")
    summ.add_argument("--metric", action="append", help="only this metric (repeatable)")
    summ.add_argument("--quarter", type=int, default=-1, help="quarter index (default: last)")

    plot = sub.add_parser("plot", help="fan chart of a metric's bands over time")
    plot.add_argument("store")
    plot.add_argument("--metric", default="innovation_efficiency")
    plot.add_argument("--out", default="fan.png", help="image file to write")

    comp = sub.add_parser("compare", help="paired comparison of path B against path A")
    comp.add_argument("store")
    comp.add_argument("a", help="path to compare against (e.g. baseline)")
    comp.add_argument("b", help="path to compare")
    comp.add_argument("--metric", default="innovation_efficiency")
    comp.add_argument("--quarter", type=int, default=-1, help="quarter index (default: last)")
    comp.add_argument("--out", help="write a fan chart of the difference to this image")
    comp.add_argument(
        "--where",
        help="only the scenarios it selects: chokepoint, 'not chokepoint', choke_severity>0.3",
    )

    rec = sub.add_parser(
        "recovery",
        help="after a chokepoint: each path's efficiency loss and how fast it halves",
    )
    rec.add_argument("store")
    rec.add_argument("--reference", default="baseline", help="path to pair the others with")
    rec.add_argument(
        "--window", type=int, default=12, help="quarters after the strike (default 12)"
    )
    rec.add_argument("--out", help="write the loss by quarters since the strike to this image")

    rob = sub.add_parser(
        "robust", help="regret, satisficing and worst case of every path across the worlds"
    )
    rob.add_argument("store")
    rob.add_argument("--metric", default="innovation_efficiency")
    rob.add_argument("--quarter", type=int, default=-1, help="quarter index (default: last)")
    rob.add_argument("--satisfice", type=float, help="the goal X of the satisficing share")
    side = rob.add_mutually_exclusive_group()
    side.add_argument("--minimize", action="store_true", help="less of the metric is better")
    side.add_argument("--maximize", action="store_true", help="more of the metric is better")
    rob.add_argument("--out", help="write the rank chart of the criteria to this image")

    front = sub.add_parser(
        "frontier", help="the Pareto set of policy cost against paired effect and regret"
    )
    front.add_argument("store")
    front.add_argument("--metric", default="tfp_growth")
    front.add_argument("--quarter", type=int, default=-1, help="quarter index (default: last)")
    front.add_argument("--reference", default="baseline", help="path the effects are against")
    front.add_argument("--out", help="write the two frontier panels to this image")

    sens = sub.add_parser("sensitivity", help="which uncertain parameters decide a metric")
    sens.add_argument("store")
    sens.add_argument("--metric", default="innovation_efficiency")
    sens.add_argument("--path", default="baseline")
    sens.add_argument("--quarter", type=int, default=-1)
    sens.add_argument(
        "--bootstrap", type=_positive, default=20, help="bootstrap resamples of the tree ranking"
    )
    sens.add_argument("--out", help="write a bar chart of the indices to this image")

    disc = sub.add_parser("discover", help="PRIM boxes where a metric is below a threshold")
    disc.add_argument("store")
    disc.add_argument("--metric", default="innovation_efficiency")
    side = disc.add_mutually_exclusive_group(required=True)
    side.add_argument("--below", type=float, help="cases of interest: metric below this")
    side.add_argument("--above", type=float, help="cases of interest: metric above this")
    disc.add_argument("--path", default="baseline")
    disc.add_argument("--quarter", type=int, default=-1)
    disc.add_argument(
        "--density", type=float, default=0.8, help="choose the first box at least this dense"
    )
    disc.add_argument("--box", type=int, help="choose this step of the first box's trajectory")
    disc.add_argument(
        "--boxes", type=_positive, default=1, help="boxes in sequence, each on the cases left"
    )
    disc.add_argument(
        "--resample", type=int, default=0, help="PRIM runs on random halves for the stability"
    )
    disc.add_argument("--out", help="write the scatter with the box to this image")
    fac = sub.add_parser("facts", help="stylized facts of real firms, measured on the model")
    fac.add_argument(
        "target", help="a run config (simulates a sample) or a store (reads its firm snapshots)"
    )
    fac.add_argument("--paths", help="comma-separated path names (default: the config's)")
    fac.add_argument(
        "--scenarios",
        type=_positive,
        default=16,
        help="scenarios to simulate from a config (default 16)",
    )
    fac.add_argument("--firms", type=_positive, help="firms per scenario (default: the config's)")
    fac.add_argument("--baseline", default="baseline", help="the path the ranges are for")
    fac.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when a fact of the baseline is out of its range",
    )

    conv = sub.add_parser(
        "convergence", help="statistic +- standard error by size of a store grown --until-se"
    )
    conv.add_argument("store")
    conv.add_argument("--out", help="write the convergence chart to this image")

    ver = sub.add_parser(
        "verify", help="re-simulate chunks of a store and compare them bit for bit"
    )
    ver.add_argument("store")
    ver.add_argument(
        "--chunks", default="4", help="how many random finished chunks, or 'all' (default 4)"
    )
    ver.add_argument("--seed", type=int, default=0, help="which random chunks")
    ver.add_argument(
        "--repair",
        action="store_true",
        help="clear the done marks of chunks that differ, so the next run recomputes them",
    )

    cal = sub.add_parser(
        "calibrate", help="search parameters for the stylized facts and calibration targets"
    )
    cal.add_argument("spec", help="a calibration file (see configs/calibration.yaml)")
    cal.add_argument("--top", type=_positive, default=10, help="candidates to show (default 10)")
    cal.add_argument("--out", help="write every candidate's numbers to this CSV file")

    rep = sub.add_parser("report", help="every table the docs show, as markdown, from a store")
    rep.add_argument("store")
    rep.add_argument(
        "--metric",
        default="innovation_efficiency",
        help="metric of the paired comparison and the ranking",
    )
    rep.add_argument("--baseline", default="baseline", help="path the others are paired with")
    rep.add_argument("--out", help="write the markdown to this file instead of printing it")
    return parser


def _open_draws(store: str):
    from .engine.store_read import open_draws

    return _noted(open_draws(store), store)


def _open_bands(store: str):
    from .engine.store_read import open_bands

    return _noted(open_bands(store), store)


def _noted(ds, store: str):
    """A store whose run is going or was stopped: say how much of it the figures are of."""
    if "progress" in ds.attrs:
        err_console.print(
            f"resonance: note: {store}: {ds.attrs['progress']}", markup=False, highlight=False
        )
    return ds


def _check_quarter(ds, quarter: int) -> None:
    n = ds.sizes["time"]
    if not -n <= quarter < n:
        raise ResonanceError(
            f"--quarter {quarter}", f"out of range for {n} quarters", f"use -{n}..{n - 1}"
        )


def cmd_compare(args) -> int:
    from .analysis import compare, figures, tables

    ds = _open_draws(args.store)
    _check_quarter(ds, args.quarter)
    if args.where:
        from .analysis.select import where

        ds = where(ds, args.where)
        console.print(f"{ds.sizes['scenario']} scenarios where {args.where}")
    result = compare(ds, args.a, args.b, args.metric, args.quarter)
    console.print(tables.comparison_table(result))
    if args.out:
        console.print(f"wrote {figures.comparison_chart(result, args.out)}")
    return 0


def cmd_recovery(args) -> int:
    from .analysis import figures, tables
    from .analysis.recovery import recovery

    result = recovery(_open_draws(args.store), args.reference, args.window)
    console.print(tables.recovery_table(result))
    if args.out:
        console.print(f"wrote {figures.recovery_chart(result, args.out)}")
    return 0


def cmd_robust(args) -> int:
    from .analysis import figures, tables
    from .analysis.robust import robustness

    ds = _open_draws(args.store)
    _check_quarter(ds, args.quarter)
    maximize = False if args.minimize else (True if args.maximize else None)
    result = robustness(ds, args.metric, args.quarter, args.satisfice, maximize)
    console.print(tables.robustness_table(result))
    if result.effects is not None:  # the size of each path's effect beside its odds
        console.print(tables.effects_table(result.effects))
    if args.out:
        console.print(f"wrote {figures.robustness_chart(result, args.out)}")
    return 0


def cmd_frontier(args) -> int:
    from .analysis.frontier import frontier, frontier_chart, frontier_table

    ds = _open_draws(args.store)
    _check_quarter(ds, args.quarter)
    table = frontier(ds, args.metric, args.quarter, args.reference)
    console.print(frontier_table(table))
    if args.out:
        console.print(f"wrote {frontier_chart(table, args.out)}")
    return 0


def cmd_sensitivity(args) -> int:
    from .analysis import figures, sensitivity, tables

    ds = _open_draws(args.store)
    _check_quarter(ds, args.quarter)
    result = sensitivity(ds, args.metric, args.quarter, args.path, bootstrap=args.bootstrap)
    console.print(tables.sensitivity_table(result))
    if result.sobol is None and ds.attrs.get("sampler") == "saltelli":
        console.print("Sobol indices are for one path of a Saltelli store, not a family.")
    elif result.sobol is None:
        n = len([p for p in result.ranking.index if not str(p).startswith("lever_")])
        console.print(
            f"Sobol indices need a Saltelli design: run with --sampler saltelli "
            f"(scenarios a multiple of {n + 2}, e.g. {128 * (n + 2)})."
        )
    if args.out:
        console.print(f"wrote {figures.sensitivity_chart(result, args.out)}")
    return 0


def cmd_discover(args) -> int:
    from .analysis import discover, figures, tables

    ds = _open_draws(args.store)
    _check_quarter(ds, args.quarter)
    below = args.below is not None
    result = discover(
        ds,
        args.metric,
        args.below if below else args.above,
        below,
        args.quarter,
        args.path,
        density=args.density,
        box=args.box,
        boxes=args.boxes,
        resamples=max(0, args.resample),
    )
    for renderable in tables.discovery_tables(result):
        console.print(renderable)
    if args.out:
        console.print(f"wrote {figures.discovery_chart(result, args.out)}")
    return 0


def cmd_validate(args) -> int:
    from .config import load_config

    config = load_config(args.config, _overrides(args))
    console.print(
        f"[green]ok[/green] {args.config}: {config.n_scenarios} scenarios x "
        f"{config.n_firms} firms x {config.n_quarters} quarters, "
        f"{len(config.path_names)} paths, sampler {config.sampler}, "
        f"store {config.store}"
    )
    return 0


PREFECT_STARTUP_SECONDS = 120


def cmd_run(args) -> int:
    from .engine import timing
    from .engine.startup import check_prefect_url, early_cluster, resolve

    with timing.recording() as clock:
        # Everything the user can get wrong is checked here, before anything starts.
        grows = args.until_se is not None
        config, spec = resolve(
            args.config, _overrides(args), args.cluster, args.overwrite, args.scheduler, grows
        )
        if args.engine == "prefect" and os.environ.get("PREFECT_API_URL"):
            check_prefect_url(os.environ["PREFECT_API_URL"])
        if args.max_scenarios and args.until_se is None:
            raise ResonanceError("--max-scenarios", "only applies with --until-se")
        if args.until_se is not None:
            from .engine.converge import check

            check(config, args.max_scenarios)
        from .engine.console import announce

        announce(config)  # at once: the cluster and the kernels take some seconds
        with early_cluster(spec, args.workers, args.scheduler):
            _run(args, config, spec)
    if args.until_se is None:  # a growing run's sizes each have their own line
        from .engine.console import console

        parts = clock.split()
        console.print(timing.line(parts), highlight=False, soft_wrap=True)
        timing.save(parts)
    return 0


def _run(args, config, spec) -> None:
    """The run of checked inputs, through Prefect or (``--engine direct``) not."""
    from .engine.startup import ahead

    if args.engine == "direct":
        from .engine.console import show_bands
        from .engine.execute import run

        with ahead(config, spec, args.workers, args.scheduler):
            run(
                config,
                spec,
                workers=args.workers,
                scheduler=args.scheduler,
                overwrite=args.overwrite,
                progress=not args.no_progress,
                until_se=args.until_se,
                max_scenarios=args.max_scenarios,
            )
        show_bands(config.store)
        return
    # No telemetry from the temporary server: it has no network to send it over anyway.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    if not args.verbose:  # the run's own lines say what a user needs; the run's record in
        # Prefect keeps every log line (only the console handler is quieter)
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    # A first start of Prefect's server on a small machine (database migrations) is slow.
    timeout = float(
        os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", PREFECT_STARTUP_SECONDS)
    )
    run = dict(
        overwrite=args.overwrite,
        progress=not args.no_progress,
        until_se=args.until_se,
        max_scenarios=args.max_scenarios,
    )
    # The run starts on its cluster at once; Prefect (its import, its server) starts
    # meanwhile, and the flow's simulate task joins the run (startup.run_ahead).
    with ahead(config, spec, args.workers, args.scheduler, run=run):
        from .engine.startup import PrefectUnavailable, join_ahead, prefect_api

        try:
            from .flow import scenario_run

            with prefect_api(timeout, config.store):
                scenario_run(
                    config_path=str(args.config),
                    overrides={k: v for k, v in _overrides(args).items() if v is not None},
                    workers=args.workers,
                    scheduler=args.scheduler,
                    cluster=args.cluster,
                    show_summary=True,
                    **run,
                )
        except PrefectUnavailable as exc:  # the run goes on without Prefect: finish it
            join_ahead(config, spec, args.workers, args.scheduler, *run.values())
            from .engine.console import show_bands

            show_bands(config.store)
            problem = f"{exc.problem}; the run finished without a Prefect record"
            raise PrefectUnavailable(exc.where, problem, exc.hint) from None


def cmd_summary(args) -> int:
    from .analysis.tables import summary_table

    bands = _open_bands(args.store)
    _check_quarter(bands, args.quarter)
    console.print(summary_table(bands, args.metric, args.quarter))
    return 0


def cmd_plot(args) -> int:
    from .analysis.figures import fan_chart
    from .metrics import check_metric

    check_metric(args.metric)
    out = fan_chart(_open_bands(args.store), args.metric, args.out)
    console.print(f"wrote {out}")
    return 0


def cmd_facts(args) -> int:

    from .analysis import facts as stylized
    from .analysis.tables import facts_tables

    target = Path(args.target)
    if target.is_dir():
        from .engine.store_read import open_firms

        snapshots = open_firms(args.target)
        if args.paths:
            names = [p.strip() for p in args.paths.split(",")]
            known = [str(p) for p in snapshots.path.values]
            for name in names:
                if name not in known:
                    raise ResonanceError(
                        f"--paths {name}", "not in this store", f"the store has: {', '.join(known)}"
                    )
            snapshots = snapshots.sel(path=names)
        where = f"{args.target} ({snapshots.sizes['scenario']} scenarios x "
    else:
        from .config import load_config

        overrides = {
            "sizes.scenarios": args.scenarios,
            "sizes.firms": args.firms,
            "paths": [p.strip() for p in args.paths.split(",")] if args.paths else None,
        }
        config = load_config(args.target, overrides)
        snapshots = stylized.simulate_snapshots(config)
        where = f"{args.target}, simulated ({config.n_scenarios} scenarios x "
    where += f"{snapshots.sizes['firm']} firms, {snapshots.sizes['year']} years)"
    if args.baseline not in snapshots.path.values:
        raise ResonanceError(
            f"--baseline {args.baseline}",
            "not among the paths",
            "the ranges are for the baseline: include it in --paths",
        )
    table = stylized.facts(snapshots, args.baseline)
    for renderable in facts_tables(table, where):
        console.print(renderable)
    base = table.sel(path=args.baseline)
    unmeasured = [str(f) for f in base.fact.values if int(base.measured.sel(fact=f)) == 0]
    missed = [
        str(f)
        for f in base.fact.values
        if not bool(base.in_range.sel(fact=f)) and str(f) not in unmeasured
    ]
    if unmeasured:
        console.print(f"{args.baseline}: not measurable in this sample: {', '.join(unmeasured)}")
    if missed:
        console.print(
            f"{args.baseline}: {len(missed)} of {table.sizes['fact']} facts out of "
            f"range: {', '.join(missed)}"
        )
    elif not unmeasured:
        console.print(f"{args.baseline}: every fact in range")
    return 1 if args.check and missed else 0


def cmd_verify(args) -> int:
    from .engine import verify as check

    _open_draws(args.store)  # a finished store, or one line saying it is not
    if args.chunks == "all":
        chunks = None
    else:
        try:
            chunks = _positive(args.chunks)
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


def cmd_convergence(args) -> int:
    from .analysis import figures, tables
    from .engine.store_read import open_convergence

    history = open_convergence(args.store)
    if history is None:
        raise ResonanceError(
            args.store, "has no convergence history", "grow it with resonance run --until-se X"
        )
    console.print(tables.convergence_table(history.load()))
    if args.out:
        console.print(f"wrote {figures.convergence_chart(history, args.out)}")
    return 0


def cmd_calibrate(args) -> int:
    from .analysis import calibrate
    from .analysis.tables import calibration_table
    from .engine.console import progress_bar

    spec = calibrate.load_spec(args.spec)
    if args.out:
        _check_writable(args.out)
    console.print(
        f"calibrate: {spec.candidates} candidates over {len(spec.search)} parameters "
        f"({', '.join(spec.search)}), each {spec.scenarios} scenarios x {spec.firms} firms of "
        f"{spec.config.name}"
        + (
            f"; the best {spec.confirm_top} again on {spec.confirm_scenarios}"
            if spec.confirm_top
            else ""
        )
    )
    with progress_bar(True, "calibrate", "candidates") as progress:
        ranking = calibrate.search(spec, progress)
    console.print(calibration_table(ranking, args.top))
    best = ranking.isel(candidate=0)
    verdict = (
        "every fact and target in range"
        if float(best.misses) == 0
        else (f"{float(best.misses):.3g} misses left: widen the ranges or change a mechanism")
    )
    console.print(f"best candidate ({verdict}), as config lines:")
    sections: dict[str, list[str]] = {}
    for name in spec.search:
        section, key = name.rsplit(".", 1)
        sections.setdefault(section, []).append(f"  {key}: {float(best[name]):.4g}")
    for section, lines in sections.items():
        console.print(f"{section}:\n" + "\n".join(lines), highlight=False)
    if args.out:
        ranking.to_dataframe().to_csv(args.out)
        console.print(f"wrote {args.out}")
    return 0


def _check_writable(out: str) -> None:
    parent = Path(out).resolve().parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise ResonanceError(f"--out {out}", "cannot be written", "choose a writable folder")


def cmd_report(args) -> int:
    from .analysis.report import report_markdown

    _open_draws(args.store)  # a finished store, or one line saying it is not
    text = report_markdown(args.store, args.metric, args.baseline)
    if args.out:
        Path(args.out).write_text(text)
        console.print(f"wrote {args.out}")
    else:
        print(text)
    return 0


COMMANDS = {
    "run": cmd_run,
    "validate": cmd_validate,
    "summary": cmd_summary,
    "plot": cmd_plot,
    "compare": cmd_compare,
    "recovery": cmd_recovery,
    "robust": cmd_robust,
    "frontier": cmd_frontier,
    "sensitivity": cmd_sensitivity,
    "discover": cmd_discover,
    "report": cmd_report,
    "facts": cmd_facts,
    "calibrate": cmd_calibrate,
    "verify": cmd_verify,
    "convergence": cmd_convergence,
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
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
