"""``python -m benchmarks [--quick]``: throughput of the kernel against the NumPy reference."""

from __future__ import annotations

import argparse
import json
import platform

from rich.console import Console
from rich.table import Table

from benchmarks.throughput import measure


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="small sizes (under a minute)")
    parser.add_argument("--json", help="also write the results as JSON to this path")
    args = parser.parse_args()
    sizes = dict(scenarios=16, firms=300, ref_scenarios=4) if args.quick else {}
    result = {"machine": platform.node(), "processor": platform.processor(), **measure(**sizes)}
    table = Table(title=f"resonance throughput on {result['machine']}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(key, f"{value:,.3g}" if isinstance(value, float) else str(value))
    Console().print(table)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
