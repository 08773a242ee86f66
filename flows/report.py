"""What a person reads or looks at: the summary table and the fan chart of the bands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr
from rich.table import Table

from flows.errors import ResonanceError
from kernels.registry import METRIC_INFO, METRICS

HEADLINE = ("innovation_efficiency", "new_paradigm_share", "new_quality_share", "coordination",
            "tfp")


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ResonanceError(f"--metric {metric}", "unknown metric",
                             f"expected one of: {', '.join(METRICS)}")
    return metric


def summary_table(bands: xr.Dataset, metrics=None, quarter: int = -1) -> Table:
    """A rich table of one quarter's bands (default: the last) per metric and path."""
    metrics = [check_metric(m) for m in (metrics or METRICS)]
    years = float(bands.time[quarter])
    table = Table(title=f"Uncertainty bands after {years:g} years "
                        f"({bands.attrs.get('n_scenarios')} scenarios x "
                        f"{bands.attrs.get('n_firms')} firms)")
    table.add_column("metric")
    table.add_column("path")
    for q in bands["quantile"].values:
        table.add_column("median" if q == 0.5 else f"p{100 * q:g}", justify="right")
    table.add_column("mean", justify="right")
    table.add_column("std", justify="right")
    for metric in metrics:
        values = bands[metric].isel(time=quarter).values  # (path, quantile)
        mean = bands[f"{metric}_mean"].isel(time=quarter).values
        std = bands[f"{metric}_std"].isel(time=quarter).values
        for p, path in enumerate(bands.path.values):
            table.add_row(metric if p == 0 else "", str(path),
                          *(f"{v:.4g}" for v in values[p]), f"{mean[p]:.4g}", f"{std[p]:.3g}",
                          end_section=p == len(bands.path) - 1)
    return table


def summary_markdown(bands: xr.Dataset, metrics=None, store: str = "") -> str:
    """The final-quarter bands as a markdown table (for Prefect artifacts and docs)."""
    metrics = [check_metric(m) for m in (metrics or METRICS)]
    qs = [float(q) for q in bands["quantile"].values]
    head = ["metric", "path", *("median" if q == 0.5 else f"p{100 * q:g}" for q in qs), "mean"]
    lines = [f"Bands after {float(bands.time[-1]):g} years, {bands.attrs.get('n_scenarios')} "
             f"scenarios x {bands.attrs.get('n_firms')} firms" + (f", store `{store}`" if store
                                                                   else "") + ".", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for metric in metrics:
        values = bands[metric].isel(time=-1).values
        mean = bands[f"{metric}_mean"].isel(time=-1).values
        for p, path in enumerate(bands.path.values):
            cells = [metric, str(path), *(f"{v:.4g}" for v in values[p]), f"{mean[p]:.4g}"]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def fan_chart(bands: xr.Dataset, metric: str, out: str | Path) -> Path:
    """Fan chart of ``metric``: one panel per path, median with 25-75 and 5-95 % bands."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    check_metric(metric)
    da = bands[metric].load()
    paths = list(da.path.values)
    cols = min(4, len(paths))
    rows = int(np.ceil(len(paths) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.8 * rows), sharex=True,
                             sharey=True, squeeze=False)
    qs = list(da["quantile"].values)
    years = da.time.values
    for ax, path in zip(axes.flat, paths, strict=False):
        band = da.sel(path=path)
        lo, hi = qs[0], qs[-1]
        ax.fill_between(years, band.sel(quantile=lo), band.sel(quantile=hi), alpha=0.25,
                        color="tab:blue", lw=0, label=f"p{100 * lo:g}–p{100 * hi:g}")
        if len(qs) >= 4:
            ax.fill_between(years, band.sel(quantile=qs[1]), band.sel(quantile=qs[-2]),
                            alpha=0.45, color="tab:blue", lw=0,
                            label=f"p{100 * qs[1]:g}–p{100 * qs[-2]:g}")
        mid = min(qs, key=lambda q: abs(q - 0.5))
        ax.plot(years, band.sel(quantile=mid), color="tab:blue", lw=1.5, label="median")
        if path != paths[0]:
            ax.plot(years, da.sel(path=paths[0], quantile=mid), color="0.4", lw=1, ls="--",
                    label=f"{paths[0]} median")
        ax.set_title(str(path).replace("_", " "), fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(paths):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("years")
    info = METRIC_INFO[metric]
    for ax in axes[:, 0]:
        ax.set_ylabel(f"{metric} [{info.units}]", fontsize=8)
    axes.flat[min(1, len(paths) - 1)].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"{info.long_name}: uncertainty bands by policy path "
                 f"({bands.attrs.get('n_scenarios')} scenarios x {bands.attrs.get('n_firms')} "
                 "firms)", fontsize=10)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
