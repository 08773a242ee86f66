"""Every subcommand of ``resonance``, declared once, in the order ``--help`` lists them.

An analysis command names the steps (``steps.py``) that open, compute, print and draw it;
run, validate, verify and serve declare only their arguments (``cli.py`` runs them).
"""

from __future__ import annotations

from . import steps
from .base import (
    Command,
    Group,
    OneOf,
    arg,
    bands,
    positive,
    positive_float,
    positive_or_auto,
    seed,
)

# Arguments several commands share.
STORE = arg("store")
METRIC = arg("--metric", default="innovation_efficiency")
QUARTER = arg("--quarter", type=int, default=-1, help="quarter index (default: last)")
PATH = arg("--path", default="baseline")

OVERRIDES = Group(
    "overrides of the config",
    (
        arg("--scenarios", type=positive, help="number of scenarios (worlds)"),
        arg(
            "--replications",
            type=positive,
            metavar="R",
            help="independent firm draws of each world (sizes.replications)",
        ),
        arg("--firms", type=positive, help="firms per scenario"),
        arg("--quarters", type=positive, help="quarters to simulate"),
        arg("--paths", help="comma-separated path names (or YAML files)"),
        arg("--seed", type=seed, help="64-bit run seed"),
        arg("--sampler", choices=("mc", "lhs", "sobol", "saltelli"), help="scenario design"),
        arg("--chunk", type=positive_or_auto, help="scenarios per task, or auto"),
        arg("--out", help="store location (directory or fsspec URL)"),
        arg(
            "--budget",
            type=positive_float,
            metavar="X",
            help="scale every path with levers to a mean policy cost of X a year (share of R&D "
            "spending)",
        ),
    ),
)


COMMANDS: tuple[Command, ...] = (
    Command(
        "run",
        "simulate a config into a Zarr store and print its bands",
        (
            arg("config", help="run config (YAML), e.g. configs/default.yaml"),
            OVERRIDES,
            Group(
                "execution",
                (
                    arg("--workers", type=positive, help="Dask workers (default: one per core)"),
                    arg("--scheduler", help="address of an existing Dask scheduler"),
                    arg(
                        "--cluster",
                        help="configs/clusters/NAME.yaml or a file (default: config's)",
                    ),
                    arg(
                        "--overwrite",
                        action="store_true",
                        help="replace an existing store, even one of another config",
                    ),
                    arg("--no-progress", action="store_true", help="no progress bar"),
                    arg(
                        "--verbose",
                        action="store_true",
                        help="also print Prefect's log (its server, each task)",
                    ),
                ),
            ),
            Group(
                "until converged",
                (
                    arg(
                        "--until-se",
                        type=positive_float,
                        metavar="X",
                        help="grow the store until every path's final median and P(beats "
                        "baseline) of the headline metric have a Monte Carlo standard error <= X",
                    ),
                    arg(
                        "--max-scenarios",
                        type=positive,
                        metavar="N",
                        help="stop growing at N scenarios (default: 16 x the config's)",
                    ),
                    arg(
                        "--engine",
                        choices=("prefect", "direct"),
                        default="prefect",
                        help="run as a Prefect flow (default) or call the engine directly",
                    ),
                ),
            ),
        ),
    ),
    Command(
        "validate",
        "check a config and exit 0, or name the problem",
        (arg("config"), OVERRIDES),
    ),
    Command(
        "summary",
        "table of the final-quarter bands of a store",
        (
            STORE,
            arg("--metric", action="append", help="only this metric (repeatable)"),
            QUARTER,
        ),
        compute=steps.summary,
        opens=bands,
        table=steps.summary_table,
    ),
    Command(
        "plot",
        "fan chart of a metric's bands over time",
        (STORE, METRIC, arg("--out", default="fan.png", help="image file to write")),
        compute=steps.same,
        opens=bands,
        check=steps.check_metric,
        figure=steps.fan_chart,
    ),
    Command(
        "compare",
        "paired comparison of path B against path A",
        (
            STORE,
            arg("a", help="path to compare against (e.g. baseline)"),
            arg("b", help="path to compare"),
            METRIC,
            QUARTER,
            arg("--out", help="write a fan chart of the difference to this image"),
            arg(
                "--where",
                help="only the scenarios it selects: chokepoint, 'not chokepoint', "
                "choke_severity>0.3",
            ),
        ),
        compute=steps.compare,
        table=steps.tables("comparison_table"),
        figure=steps.chart("comparison_chart"),
    ),
    Command(
        "recovery",
        "after a chokepoint: each path's efficiency loss and how fast it halves",
        (
            STORE,
            arg("--reference", default="baseline", help="path to pair the others with"),
            arg("--window", type=int, default=12, help="quarters after the strike (default 12)"),
            arg("--out", help="write the loss by quarters since the strike to this image"),
        ),
        compute=steps.recovery,
        table=steps.tables("recovery_table"),
        figure=steps.chart("recovery_chart"),
    ),
    Command(
        "robust",
        "regret, satisficing and worst case of every path across the worlds",
        (
            STORE,
            METRIC,
            QUARTER,
            arg("--satisfice", type=float, help="the goal X of the satisficing share"),
            OneOf(
                (
                    arg("--minimize", action="store_true", help="less of the metric is better"),
                    arg("--maximize", action="store_true", help="more of the metric is better"),
                )
            ),
            arg("--out", help="write the rank chart of the criteria to this image"),
        ),
        compute=steps.robustness,
        table=steps.robustness_tables,
        figure=steps.chart("robustness_chart"),
    ),
    Command(
        "frontier",
        "the Pareto set of policy cost against paired effect and regret",
        (
            STORE,
            arg("--metric", default="tfp_growth"),
            QUARTER,
            arg("--reference", default="baseline", help="path the effects are against"),
            arg("--out", help="write the two frontier panels to this image"),
        ),
        compute=steps.frontier,
        table=steps.frontier_table,
        figure=steps.frontier_chart,
    ),
    Command(
        "sensitivity",
        "which uncertain parameters decide a metric",
        (
            STORE,
            METRIC,
            PATH,
            arg("--quarter", type=int, default=-1),
            arg(
                "--bootstrap",
                type=positive,
                default=20,
                help="bootstrap resamples of the tree ranking",
            ),
            arg("--out", help="write a bar chart of the indices to this image"),
        ),
        compute=steps.sensitivity,
        table=steps.sensitivity_table,
        figure=steps.sensitivity_chart,
    ),
    Command(
        "discover",
        "PRIM boxes where a metric is below a threshold",
        (
            STORE,
            METRIC,
            OneOf(
                (
                    arg("--below", type=float, help="cases of interest: metric below this"),
                    arg("--above", type=float, help="cases of interest: metric above this"),
                ),
                required=True,
            ),
            PATH,
            arg("--quarter", type=int, default=-1),
            arg(
                "--density",
                type=float,
                default=0.8,
                help="choose the first box at least this dense",
            ),
            arg("--box", type=int, help="choose this step of the first box's trajectory"),
            arg(
                "--boxes",
                type=positive,
                default=1,
                help="boxes in sequence, each on the cases left",
            ),
            arg(
                "--resample",
                type=int,
                default=0,
                help="PRIM runs on random halves for the stability",
            ),
            arg("--out", help="write the scatter with the box to this image"),
        ),
        compute=steps.discover,
        table=steps.discovery_tables,
        figure=steps.chart("discovery_chart"),
    ),
    Command(
        "facts",
        "stylized facts of real firms, measured on the model",
        (
            arg(
                "target",
                help="a run config (simulates a sample) or a store (reads its firm snapshots)",
            ),
            arg("--paths", help="comma-separated path names (default: the config's)"),
            arg(
                "--scenarios",
                type=positive,
                default=16,
                help="scenarios to simulate from a config (default 16)",
            ),
            arg("--firms", type=positive, help="firms per scenario (default: the config's)"),
            arg("--baseline", default="baseline", help="the path the ranges are for"),
            arg(
                "--check",
                action="store_true",
                help="exit 1 when a fitted fact of the baseline is out of its range or a "
                "path's median TFP growth passes 10 %%/yr (MODEL.md §8)",
            ),
            arg(
                "--posterior",
                help="show this posterior's held-out checks (default: the posterior a config "
                "draws from, if any)",
            ),
        ),
        compute=steps.facts,
        opens=steps.snapshots,
        table=steps.facts_tables,
        status=steps.facts_status,
    ),
    Command(
        "convergence",
        "statistic +- standard error by size of a store grown --until-se",
        (STORE, arg("--out", help="write the convergence chart to this image")),
        compute=steps.same,
        opens=steps.history,
        table=steps.convergence_table,
        figure=steps.chart("convergence_chart"),
    ),
    Command(
        "diff",
        "which bands of two stores moved beyond their Monte Carlo error (exit 1 if any)",
        (
            arg("a", help="a store (e.g. last night's)"),
            arg("b", help="a store of the same paths, quarters and metrics (e.g. tonight's)"),
            arg(
                "--metric",
                action="append",
                help="only this metric (repeatable; 'all': every one; default: tfp_growth, "
                "coordination, innovation_efficiency)",
            ),
            # dest: an index or 'all', checked by check_diff (not base.check_quarter)
            arg(
                "--quarter",
                dest="quarters",
                default="-1",
                help="quarter index, or 'all' (default: last)",
            ),
            arg(
                "--z",
                type=positive_float,
                default=4.0,
                help="moved beyond at least this many standard errors (default 4)",
            ),
            arg(
                "--fwer",
                type=positive_float,
                default=0.01,
                help="familywise error rate the threshold keeps over all statistics "
                "(Bonferroni; default 0.01)",
            ),
        ),
        compute=steps.diff,
        opens=steps.two_stores,
        check=steps.check_diff,
        table=steps.diff_tables,
        status=steps.diff_status,
    ),
    Command(
        "verify",
        "re-simulate chunks of a store and compare them bit for bit",
        (
            STORE,
            arg(
                "--chunks",
                default="4",
                help="how many random finished chunks, or 'all' (default 4)",
            ),
            arg("--seed", type=int, default=0, help="which random chunks"),
            arg(
                "--repair",
                action="store_true",
                help="clear the done marks of chunks that differ, so the next run recomputes them",
            ),
        ),
    ),
    Command(
        "serve",
        "a read-only web page over the stores under a results root",
        (
            arg("--results", default="runs", help="the folder of stores to serve (default runs/)"),
            arg("--port", type=positive, default=8000, help="port to listen on (default 8000)"),
            arg(
                "--host",
                default="127.0.0.1",
                help="address to listen on (default 127.0.0.1: this machine only)",
            ),
        ),
    ),
    Command(
        "submit",
        "create a flow run of the Prefect deployment with a config's text and overrides",
        (
            arg("config", help="run config (YAML), e.g. configs/default.yaml"),
            OVERRIDES,
            Group(
                "deployment",
                (
                    arg(
                        "--deployment",
                        default="scenario-run/submit",
                        help="FLOW/DEPLOYMENT to run (default scenario-run/submit)",
                    ),
                    arg("--cluster", help="configs/clusters/NAME.yaml on the worker"),
                    arg("--workers", type=positive, help="Dask workers"),
                ),
            ),
        ),
    ),
    Command(
        "runs",
        "the latest flow runs of scenario-run from the Prefect API",
        (
            arg("--limit", type=positive, default=20, help="how many (default 20)"),
            arg("--deployment", help="only this FLOW/DEPLOYMENT's runs"),
        ),
    ),
    Command(
        "calibrate",
        "infer the parameters from the stylized facts and calibration targets (ABC-SMC)",
        (
            arg(
                "spec",
                help="a calibration file (see configs/calibration.yaml), or a posterior it "
                "wrote: its report again, nothing computed",
            ),
            arg(
                "--method",
                choices=("abc", "search"),
                default="abc",
                help="abc: the posterior by ABC-SMC (default); search: rank a Sobol design",
            ),
            arg("--scheduler", help="abc on an existing Dask scheduler (default: this process)"),
            arg(
                "--no-checks",
                action="store_true",
                help="abc: skip the held-out facts and the paths' ranking on posterior draws",
            ),
            arg("--top", type=positive, default=10, help="search: candidates to show (default 10)"),
            arg(
                "--out",
                help="abc: write the posterior to this Zarr store (a config's uncertain: "
                "{from: ...}); search: every candidate's numbers to this CSV file",
            ),
        ),
        compute=steps.calibrate,
        opens=steps.calibration_spec,
        table=steps.calibration_tables,
        figure=steps.calibration_csv,
    ),
    Command(
        "report",
        "every table the docs show, as markdown, from a store",
        (
            STORE,
            arg(
                "--metric",
                default="innovation_efficiency",
                help="metric of the paired comparison and the ranking",
            ),
            arg("--baseline", default="baseline", help="path the others are paired with"),
            arg("--out", help="write the markdown to this file instead of printing it"),
        ),
        compute=steps.report,
        table=steps.report_text,
        figure=steps.report_file,
    ),
    Command(
        "cluster",
        "show what a cluster file starts: for kind slurm, the job script sbatch is given",
        (
            arg("action", choices=("show",), help="show: print the job script"),
            arg(
                "cluster",
                help="a cluster file (configs/clusters/slurm.yaml) or a name in ./configs/clusters",
            ),
        ),
        compute=steps.job_script,
        opens=steps.cluster_spec,
        table=steps.job_script_text,
    ),
)
