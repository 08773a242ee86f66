"""The steps of the analysis commands declared in ``declared.py``: what each opens,
computes, prints and draws.

Every step takes what the step before returned (``opens(args)``, ``compute(data, args)``,
``table(result, args)``, ``figure(result, args)``) and the parsed arguments; it imports the
analysis package when it runs, never at import time.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import NamedTuple

from rich.text import Text

from ..engine.console import console
from ..errors import ResonanceError
from .base import Plain


def tables(name: str):
    """A table hook: ``analysis.tables.<name>(result)``, one renderable."""

    def table(result, args):
        from ..analysis import tables

        return (getattr(tables, name)(result),)

    return table


def chart(name: str):
    """A figure hook: ``analysis.figures.<name>(result, args.out)``, the path written."""

    def figure(result, args):
        from ..analysis import figures

        return getattr(figures, name)(result, args.out)

    return figure


def same(data, args):
    """compute of a command that prints what it opened: the data itself."""
    return data


# summary, plot: the bands
def summary(bands, args):
    """(the bands, and of a store with replications (R > 1) the world/luck split of the
    ``--metric``s, the headline outcomes when none (``analysis.split``); else None)."""
    if int(bands.attrs.get("replications", 1)) == 1:
        return bands, None
    from ..analysis.split import SPLIT_OUTCOMES, world_split
    from ..engine.store_read import open_draws

    outcomes = args.metric or SPLIT_OUTCOMES
    return bands, world_split(open_draws(args.store), outcomes, args.quarter)


def summary_table(computed, args):
    """The bands' table at ``--quarter`` of the ``--metric``s (all when none), then the
    world/luck split where there is one."""
    from ..analysis.tables import summary_table, world_split_table

    bands, split = computed
    yield summary_table(bands, args.metric, args.quarter)
    if split is not None:
        yield world_split_table(split)


def check_metric(args) -> None:
    """``--metric`` is a metric of the registry, or one line (before the store is opened)."""
    from ..metrics import check_metric

    check_metric(args.metric)


def fan_chart(ds, args):
    """A fan chart of the bands of ``--metric``, written to ``args.out``; its path."""
    from ..analysis.figures import fan_chart

    return fan_chart(ds, args.metric, args.out)


# compare, recovery, robust, frontier, sensitivity, discover: the draws
def compare(ds, args):
    """The paired comparison of path b against a (``analysis.compare``), on the scenarios
    ``--where`` selects (their count printed first)."""
    from ..analysis import compare

    if args.where:
        from ..analysis.select import where

        ds = where(ds, args.where)
        console.print(f"{ds.sizes['scenario']} scenarios where {args.where}")
    return compare(ds, args.a, args.b, args.metric, args.quarter)


def recovery(ds, args):
    """Each path's loss after a chokepoint against ``--reference`` (``analysis.recovery``)."""
    from ..analysis.recovery import recovery

    return recovery(ds, args.reference, args.window)


def robustness(ds, args):
    """Regret, satisficing and worst case of every path (``analysis.robust``)."""
    from ..analysis.robust import robustness

    maximize = False if args.minimize else (True if args.maximize else None)
    return robustness(ds, args.metric, args.quarter, args.satisfice, maximize)


def robustness_tables(result, args):
    """The criteria's table, then the effect sizes beside the odds (when there are some)."""
    from ..analysis import tables

    yield tables.robustness_table(result)
    if result.effects is not None:
        yield tables.effects_table(result.effects)


def frontier(ds, args):
    """The Pareto table of cost against effect and regret (``analysis.frontier``)."""
    from ..analysis.frontier import frontier

    return frontier(ds, args.metric, args.quarter, args.reference)


def frontier_table(table, args):
    """The frontier's table (``analysis.frontier.frontier_table``), one renderable."""
    from ..analysis.frontier import frontier_table

    return (frontier_table(table),)


def frontier_chart(table, args):
    """The two frontier panels, written to ``args.out``; its path."""
    from ..analysis.frontier import frontier_chart

    return frontier_chart(table, args.out)


def sensitivity(ds, args):
    """(the sensitivity result of ``analysis.sensitivity``, the store's sampler)."""
    from ..analysis import sensitivity

    result = sensitivity(ds, args.metric, args.quarter, args.path, bootstrap=args.bootstrap)
    return result, ds.attrs.get("sampler")


def sensitivity_table(computed, args):
    """The indices' table, and why there are no Sobol indices when there are none."""
    from ..analysis.tables import sensitivity_table

    result, sampler = computed
    yield sensitivity_table(result)
    if result.sobol is None and sampler == "saltelli":
        yield "Sobol indices are for one path of a Saltelli store, not a family."
    elif result.sobol is None:
        n = len([p for p in result.ranking.index if not str(p).startswith("lever_")])
        yield (
            f"Sobol indices need a Saltelli design: run with --sampler saltelli "
            f"(scenarios a multiple of {n + 2}, e.g. {128 * (n + 2)})."
        )


def sensitivity_chart(computed, args):
    """A bar chart of the indices, written to ``args.out``; its path."""
    from ..analysis import figures

    return figures.sensitivity_chart(computed[0], args.out)


def discover(ds, args):
    """PRIM boxes of the cases ``--below`` or ``--above`` the threshold (``analysis.discover``)."""
    from ..analysis import discover

    below = args.below is not None
    return discover(
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


def discovery_tables(result, args):
    """The boxes' tables (``analysis.tables.discovery_tables``), in order."""
    from ..analysis import tables

    return tables.discovery_tables(result)


# facts: firm snapshots of a store, or simulated from a config
class _Sample(NamedTuple):
    """What ``facts`` reads: firm snapshots (scenario, path, year, firm), where they come
    from, and the posterior whose held-out checks to show (None: none)."""

    snapshots: object
    where: str
    posterior: object = None


def snapshots(args) -> _Sample:
    """The sample of ``args.target`` (``_Sample``); its posterior is ``--posterior``'s, else
    the one a config target draws from (``uncertain: {from: FILE}``)."""
    posterior = None
    if Path(args.target).is_dir():
        from ..engine.store_read import open_firms

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
        from ..analysis import facts as stylized
        from ..config import load_config

        overrides = {
            "sizes.scenarios": args.scenarios,
            "sizes.firms": args.firms,
            "paths": [p.strip() for p in args.paths.split(",")] if args.paths else None,
        }
        config = load_config(args.target, overrides)
        snapshots = stylized.simulate_snapshots(config)
        where = f"{args.target}, simulated ({config.n_scenarios} scenarios x "
        if config.posterior and not args.posterior:
            posterior = next(iter(config.posterior.values())).file
    where += f"{snapshots.sizes['firm']} firms, {snapshots.sizes['year']} years)"
    if args.posterior:
        posterior = args.posterior
    if posterior is not None:
        from ..posterior import open_posterior

        posterior = open_posterior(posterior, "--posterior" if args.posterior else None)
    return _Sample(snapshots, where, posterior)


class _Facts(NamedTuple):
    """What ``facts`` computes: the table, where the firms come from, the baseline's misses."""

    table: object  # analysis.facts.facts: dims (path, fact)
    where: str
    unmeasured: list[str]  # facts of the baseline the sample cannot measure
    missed: list[str]  # fitted facts of the baseline out of their range
    held_out_missed: list[str]  # held-out facts of the baseline out of their range
    posterior: object = None  # the posterior whose held-out checks are shown (or None)
    too_fast: tuple = ()  # (path, median TFP growth %/yr) past MODEL.md §8's cap on every path


def facts(data, args) -> _Facts:
    """The stylized facts of every path (``analysis.facts``), and the baseline's misses,
    the fitted facts' apart from the held-out ones'."""
    from ..analysis import facts as stylized

    snapshots, where, posterior = _Sample(*data)
    if args.baseline not in snapshots.path.values:
        raise ResonanceError(
            f"--baseline {args.baseline}",
            "not among the paths",
            "the ranges are for the baseline: include it in --paths",
        )
    table = stylized.facts(snapshots, args.baseline)
    base = table.sel(path=args.baseline)
    unmeasured = [str(f) for f in base.fact.values if int(base.measured.sel(fact=f)) == 0]
    out = [
        str(f)
        for f in base.fact.values
        if not bool(base.in_range.sel(fact=f)) and str(f) not in unmeasured
    ]
    held_out = {str(f) for f in base.fact.values if bool(base.held_out.sel(fact=f))}
    missed = [f for f in out if f not in held_out]
    held_missed = [f for f in out if f in held_out]
    growth = table.sel(fact="tfp_growth")
    medians = {str(p): float(growth["median"].sel(path=p)) for p in table.path.values}
    too_fast = tuple(  # a path with no median (not measured) is not past the cap
        (p, median)
        for p, median in medians.items()
        if p != args.baseline and not bool(growth.in_range.sel(path=p)) and math.isfinite(median)
    )
    return _Facts(table, where, unmeasured, missed, held_missed, posterior, too_fast)


def facts_tables(result: _Facts, args):
    """The facts' tables, then the baseline's fitted facts (unmeasured, out of range, or
    fine) and its held-out facts, which ``--check`` does not fail on."""
    from ..analysis.tables import facts_tables

    yield from facts_tables(result.table, result.where)
    table = result.table
    held_out = [str(f) for f in table.fact[table.held_out.values].values]
    fitted = table.sizes["fact"] - len(held_out)
    if result.unmeasured:
        yield f"{args.baseline}: not measurable in this sample: {', '.join(result.unmeasured)}"
    if result.held_out_missed:
        landed = "out of range: " + ", ".join(result.held_out_missed)
    else:
        measured = [f for f in held_out if f not in result.unmeasured]
        landed = "every one measured in range" if measured else "none measured"
    yield (
        f"{args.baseline}: held-out facts (*, not fitted, so --check does not fail on them): "
        f"{', '.join(held_out)}; {landed}"
    )
    if result.missed:
        yield (
            f"{args.baseline}: {len(result.missed)} of {fitted} fitted facts out of "
            f"range: {', '.join(result.missed)}"
        )
    elif not set(result.unmeasured) - set(held_out):
        yield f"{args.baseline}: every fitted fact in range"
    from ..analysis.facts import MAX_PATH_TFP_GROWTH

    for path, growth in result.too_fast:
        yield (
            f"{path}: median aggregate TFP growth {growth:.3g} %/yr, past the "
            f"{MAX_PATH_TFP_GROWTH:g} %/yr MODEL.md §8 allows every path"
        )
    if result.posterior is not None:
        from ..analysis import posterior_checks

        if posterior_checks.has_checks(result.posterior):
            yield posterior_checks.heldout_table(result.posterior)
        else:
            yield "the posterior has no held-out check (calibrated with --no-checks)"


def facts_status(result: _Facts, args) -> int:
    """1 when ``--check`` and a fitted fact of the baseline is out of its range or a path's
    median TFP growth passes MODEL.md §8's cap, else 0 (held-out facts are reported, never
    fitted: they do not fail the check)."""
    return 1 if args.check and (result.missed or result.too_fast) else 0


# convergence: the history of a store grown --until-se
def history(args):
    """The convergence history of ``args.store`` (``engine.store_read.open_convergence``)."""
    from ..engine.store_read import open_convergence

    history = open_convergence(args.store)
    if history is None:
        raise ResonanceError(
            args.store, "has no convergence history", "grow it with resonance run --until-se X"
        )
    return history


def convergence_table(history, args):
    """The statistic +- standard error at each size of the history, one renderable."""
    from ..analysis import tables

    return (tables.convergence_table(history.load()),)


# diff: two stores of the same shape
def check_diff(args) -> None:
    """``--quarter`` is an index or ``all``, ``--fwer`` a probability, ``--metric`` names
    known outcomes (before anything is opened)."""
    if args.quarters != "all":
        try:
            int(args.quarters)
        except ValueError:
            raise ResonanceError(
                f"--quarter {args.quarters}", "is not a quarter index", "an index or 'all'"
            ) from None
    if not 0 < args.fwer < 1:
        raise ResonanceError(f"--fwer {args.fwer}", "is not a probability", "e.g. 0.01")
    from ..analysis.effects import DERIVED
    from ..metrics import check_metric

    for metric in args.metric or ():
        if metric != "all" and metric not in DERIVED:
            check_metric(metric)


def two_stores(args):
    """The ``draws`` groups of stores a and b (``base.draws`` of each)."""
    from argparse import Namespace

    from .base import draws

    return draws(Namespace(store=args.a)), draws(Namespace(store=args.b))


def diff(data, args):
    """B against A (``analysis.diff``) on ``--metric`` (default: the headline outcomes;
    ``all``: every stored metric and tfp_growth) at ``--quarter`` (or every quarter)."""
    from ..analysis.diff import diff
    from ..analysis.effects import DERIVED

    da, db = data
    metrics = args.metric
    if metrics and "all" in metrics:
        stored = [str(n) for n, v in da.data_vars.items() if v.dims == ("scenario", "path", "time")]
        metrics = [*stored, *(m for m, (source, *_) in DERIVED.items() if source in stored)]
    quarter = None if args.quarters == "all" else int(args.quarters)
    return diff(da, db, args.a, args.b, metrics, quarter, args.z, args.fwer)


def diff_tables(result, args):
    """The table of every statistic compared, then what moved."""
    from ..analysis.diff import diff_table, summary

    yield diff_table(result)
    yield Plain(summary(result))  # unwrapped: a line per sentence, for logs and greps


def diff_status(result, args) -> int:
    """1 when a statistic moved beyond its Monte Carlo error, else 0."""
    return 1 if result.moved else 0


# calibrate: a calibration file, or a posterior it wrote (its report again)
def calibration_spec(args):
    """The checked calibration file (``analysis.calibrate.load_spec``), ``--out``
    writable; or, where ``args.spec`` is a folder, the posterior there (its report is
    printed again, nothing is computed)."""
    from ..analysis import calibrate

    if Path(args.spec).is_dir():
        from ..posterior import open_posterior

        if args.out or args.method != "abc" or args.no_checks or args.scheduler:
            raise ResonanceError(
                args.spec,
                "is a posterior: its report is shown as it was computed",
                "give only the posterior, or a calibration file to compute",
            )
        return open_posterior(args.spec)
    spec = calibrate.load_spec(args.spec)
    if args.out:
        parent = Path(args.out).resolve().parent
        if not parent.is_dir() or not os.access(parent, os.W_OK):
            raise ResonanceError(
                f"--out {args.out}", "cannot be written", "choose a writable folder"
            )
        if args.method == "abc" and Path(args.out).exists():
            from ..posterior import open_posterior

            open_posterior(args.out, f"--out {args.out}")  # only a posterior is replaced
    if args.method == "abc":
        from ..analysis.infer import model_keys

        model_keys(spec)
    return spec


def calibrate(spec, args):
    """--method abc: (the spec, the posterior of ``analysis.infer.infer`` with the checks
    of ``analysis.posterior_checks`` unless ``--no-checks``); search: (the spec, the
    candidates ranked by ``analysis.calibrate.search``), with its progress. A posterior
    (``calibration_spec``): (None, the posterior), nothing computed."""
    from ..analysis import calibrate
    from ..engine.console import progress_bar

    if not isinstance(spec, calibrate.Spec):
        return None, spec
    if args.method == "abc":
        from ..analysis import infer

        fitted, held = infer.model_keys(spec)
        abc = spec.abc or calibrate.Inference()
        console.print(
            f"calibrate: ABC-SMC of {len(fitted)} parameters ({', '.join(fitted)}), "
            f"{abc.particles} particles, at most {abc.generations} generations and "
            f"{abc.simulations} simulations of {abc.scenarios} scenarios x {abc.firms} firms "
            f"of {spec.config.name}'s baseline"
            + (f"; held at the config's values: {', '.join(held)}" if held else "")
        )
        if args.scheduler:
            from distributed import Client

            with Client(args.scheduler) as client:
                post = infer.infer(spec, client, console.print)
        else:
            post = infer.infer(spec, progress=console.print)
        if args.no_checks:
            return spec, post
        from ..analysis.posterior_checks import run_checks

        console.print(
            f"calibrate: held-out facts and the paths' ranking on {abc.check_draws} posterior draws"
        )
        return spec, run_checks(spec, post, console.print)

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
        return spec, calibrate.search(spec, progress)


def calibration_tables(computed, args):
    """abc: the posterior's tables and the bounds it piles against; search: the best
    ``--top`` candidates, a verdict, and the best one as config lines."""
    from ..analysis.tables import calibration_table, posterior_tables

    spec, ranking = computed
    if args.method == "abc":
        from ..analysis import posterior_checks
        from ..posterior import by_temperature, piled_against

        yield from posterior_tables(ranking)
        final = float(ranking.epsilon[-1])
        if by_temperature(ranking) and final > 1.0:
            yield (
                f"the inference stopped at temperature {final:.3g}, not 1: its simulation "
                "budget ran out, so this posterior is tempered (wider than the exact one); "
                "raise abc.simulations (the last generation is the one at temperature 1)"
            )
        for name, side, share in piled_against(ranking):
            yield (
                f"the posterior piles against the {side} bound of {name} ({share:.0%} of its "
                "weight within 5 % of the prior's width): widen the prior if the bound is not "
                "a hard one"
            )
        if not posterior_checks.has_checks(ranking):
            yield "no held-out check or ranking on this posterior (calibrated with --no-checks)"
            return
        yield posterior_checks.heldout_table(ranking)
        yield from posterior_checks.ranking_tables(ranking)
        if posterior_checks.has_growth(ranking):
            from ..analysis.facts import MAX_PATH_TFP_GROWTH

            yield posterior_checks.growth_table(ranking)
            n = ranking.sizes["check"]
            for path, over in posterior_checks.past_cap(ranking):
                yield (
                    f"{path}: median TFP growth past {MAX_PATH_TFP_GROWTH:g} %/yr (the most "
                    f"MODEL.md §8 allows any path) on {over} of {n} posterior draws"
                    + (
                        ": a config drawing from this posterior is expected to fail "
                        "`resonance facts --check`"
                        if 2 * over > n
                        else ""
                    )
                )
        return
    yield calibration_table(ranking, args.top)
    best = ranking.isel(candidate=0)
    verdict = (
        "every fact and target in range"
        if float(best.misses) == 0
        else (f"{float(best.misses):.3g} misses left: widen the ranges or change a mechanism")
    )
    yield f"best candidate ({verdict}), as config lines:"
    sections: dict[str, list[str]] = {}
    for name in spec.search:
        section, key = name.rsplit(".", 1)
        sections.setdefault(section, []).append(f"  {key}: {float(best[name]):.4g}")
    for section, lines in sections.items():
        yield Text(f"{section}:\n" + "\n".join(lines))


def calibration_csv(computed, args):
    """abc: the posterior, written to ``args.out`` as a Zarr store (flows/posterior.py);
    search: every candidate's numbers, written to ``args.out`` as CSV; its path."""
    if args.method == "abc":
        from ..posterior import write_posterior

        return write_posterior(computed[1], args.out)
    computed[1].to_dataframe().to_csv(args.out)
    return args.out


# report: markdown of every table the docs show
def report(ds, args):
    """The markdown report of the store (``analysis.report``)."""
    from ..analysis.report import report_markdown

    return report_markdown(args.store, args.metric, args.baseline)


def report_text(text, args):
    """The markdown as it is, unless ``--out`` writes it to a file."""
    return () if args.out else (Plain(text),)


def report_file(text, args):
    """The markdown, written to ``args.out``; its path."""
    Path(args.out).write_text(text)
    return args.out


# cluster show: the job script of a slurm cluster file
def cluster_spec(args):
    """The cluster spec ``args.cluster`` names (a file, or a name in ./configs/clusters)."""
    from ..engine.cluster import load_cluster

    return load_cluster(args.cluster, Path("configs") / "clusters")


def job_script(spec, args) -> str:
    """The batch script dask-jobqueue submits for each of the spec's SLURM jobs."""
    from ..engine.cluster import job_script as script

    return script(spec)


def job_script_text(script: str, args):
    """The script as it is (to read, or to submit by hand with ``sbatch``)."""
    return (Plain(script.rstrip("\n")),)
