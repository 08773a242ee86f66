"""``python -m benchmarks [--quick] [--json PATH]``: the benchmark suite.

Prints a table and writes ``benchmarks/results/<machine>-<date>.json`` (and ``--json PATH``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import socket
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from benchmarks import main_job, profile, system, targets, throughput

RESULTS = Path(__file__).resolve().parent / "results"

QUICK = {
    # The full run's firms and reference scenarios, so each implementation is timed in the
    # regime it runs in there (the NumPy reference is vectorised over scenarios x firms);
    # fewer quarters keep it short: the per-quarter cost does not depend on their number.
    "throughput": dict(
        scenarios=16, firms=1000, quarters=10, ref_scenarios=8, repeats=3, jax=False
    ),
    "profile": dict(scenarios=4, firms=1000, quarters=10, repeats=3),
    "main_job": dict(repeats=1, extra=("--scenarios", "256")),
    # the main job's firm-steps as ten times the scenarios of a tenth of the firms
    "scenario_heavy": dict(repeats=1, extra=("--scenarios", "2560", "--firms", "100")),
    "scaling": dict(scenarios=32, firms=500, quarters=40, chunk=8),
    "memory": dict(scenarios=32, firms=100, quarters=20, workers=1),
    "bands": dict(scenarios=256, firms=30, quarters=40, chunk=32),
    "compile": None,  # six cold compiles of about 10 s each: measured by the full suite
}
FULL = {
    "throughput": dict(scenarios=32, firms=1000, quarters=40, ref_scenarios=8, repeats=5),
    "profile": dict(scenarios=8, firms=1000, quarters=40, repeats=5),
    "main_job": dict(repeats=3),
    "scenario_heavy": dict(repeats=3, extra=("--scenarios", "20480", "--firms", "100")),
    "scaling": dict(scenarios=192, firms=1000, quarters=40, chunk=16),
    "memory": dict(scenarios=512, firms=300, quarters=40),
    "bands": dict(scenarios=2048, firms=50, quarters=40, chunk=32),
    "compile": dict(warm_repeats=3),
}


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"machine": socket.gethostname(), "cpu": cpu, "cores": os.cpu_count()}


def table(result: dict) -> Table:
    t = Table(
        title=f"resonance benchmarks on {result['machine']} ({result['cpu']}, "
        f"{result['cores']} cores){' [quick]' if result['quick'] else ''}"
    )
    t.add_column("measure")
    t.add_column("value", justify="right")
    for key in (
        "kernel_firm_steps_per_s_1thread",
        "kernel_firm_steps_per_s_all_threads",
        "kernel_float64_firm_steps_per_s_1thread",
        "numpy_firm_steps_per_s",
        "numpy_generator_firm_steps_per_s",
        "jax_firm_steps_per_s",
        "python_firm_steps_per_s",
        "ratio_kernel_numpy",
        "ratio_kernel_float64_numpy",
        "ratio_kernel_numpy_generator",
        "ratio_kernel_jax",
        "ratio_kernel_python",
        "parallel_efficiency_all_threads",
        "compile_s_cold",
        "compile_s_cold_with_driver_imports",
        "startup_s_warm",
    ):
        value = result.get(key)
        t.add_row(key, "n/a" if value is None else f"{value:,.3g}")
    for row in result["dask_scaling"]:
        t.add_row(
            f"dask {row['workers']} workers: speed-up / efficiency",
            f"{row['speedup']:.2f} / {row['efficiency']:.0%}",
        )
    for k, v in result["peak_rss_mb"].items():
        t.add_row(f"peak RSS at {k} scenarios (MB)", f"{v:,.0f}")
    b = result["bands_and_store"]
    t.add_row(
        "store writes / bands / simulation (s)",
        f"{b['store_write_s']:.2f} / {b['bands_s']:.2f} / {b['simulate_s']:.2f}",
    )
    t.add_row("bands streamed, past the memory cap (s)", f"{b['bands_streaming_s']:.2f}")
    spread = result.get("parallel_efficiency_range")
    if spread:
        t.add_row("two-thread efficiency, min-max of the runs", f"{spread[0]:.0%}-{spread[1]:.0%}")
    for engine, p in result.get("main_job", {}).items():
        t.add_row(
            f"main job ({engine}): wall / first chunk / simulation / bands (s)",
            f"{p['wall_s']:.1f} / {p['startup_s']:.1f} / {p['simulation_s']:.1f} / "
            f"{p['bands_s']:.2f}",
        )
        share = p.get("simulation_share", p["simulation_share_in_run"])
        t.add_row(f"main job ({engine}): simulation share", f"{share:.2f}")
    heavy = result.get("scenario_heavy")
    if heavy:
        t.add_row(
            "scenario-heavy job (prefect): wall / simulation / store writes / bands (s)",
            f"{heavy['wall_s']:.1f} / {heavy['simulation_s']:.1f} / "
            f"{heavy['store_writes_s']:.1f} / {heavy['bands_s']:.2f}",
        )
    for t_ in result.get("targets", []):
        t.add_row(
            f"target: {t_['target']} {t_['goal']}",
            ("met" if t_["met"] else "[bold red]missed[/]") + f" ({t_['measured']:,})",
        )
    for key in ("jax_note", "compile_note"):
        if result.get(key):
            t.add_row("note", escape(result[key]))
    return t


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    parser.add_argument("--json", help="also write the results as JSON to this path")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    console = Console()
    result = {**machine(), "date": datetime.date.today().isoformat(), "quick": args.quick}
    with console.status("throughput of every implementation"):
        result.update(throughput.measure(**sizes["throughput"]))
    with console.status("profile of the kernel's sections"):
        result["profile"] = profile.measure(**sizes["profile"])
    with console.status("Dask scaling"):
        result["dask_scaling"] = system.dask_scaling(os.cpu_count() or 1, **sizes["scaling"])
    with console.status("peak memory at 1x, 2x, 4x scenarios"):
        result["peak_rss_mb"] = system.peak_memory(**sizes["memory"])
    if sizes["compile"] is None:
        result.update(
            compile_s_cold=None,
            startup_s_warm=None,
            compile_note="cold compile skipped in --quick (six of about 10 s each on 2 cores)",
        )
    else:
        with console.status("JIT compile and start-up"):
            result.update(system.compile_times(**sizes["compile"]))
    with console.status("band reduction and store writes"):
        result["bands_and_store"] = system.bands_and_store(**sizes["bands"])
    with console.status("the main job, through Prefect and direct, alternating"):
        result["main_job"] = main_job.measure(
            **sizes["main_job"], thread_rate=result["kernel_firm_steps_per_s_1thread"]
        )
    with console.status("the scenario-heavy job (the main job's firm-steps, 10x scenarios)"):
        result["scenario_heavy"] = main_job.measure(
            **sizes["scenario_heavy"],
            thread_rate=result["kernel_firm_steps_per_s_1thread"],
            engines=("prefect",),
        )["prefect"]
    result["simulation_share"] = result["main_job"]["prefect"].get("simulation_share")
    result["targets"] = targets.check(result)
    console.print(table(result))
    console.print(f"main job (Prefect): {main_job.closing_line(result['main_job'])}")
    RESULTS.mkdir(exist_ok=True)
    name = f"{result['machine']}-{result['date']}{'-quick' if args.quick else ''}.json"
    for path in [RESULTS / name, *([Path(args.json)] if args.json else [])]:
        path.write_text(json.dumps(result, indent=2) + "\n")
        console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
