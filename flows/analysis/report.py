"""``resonance report STORE``: every table of numbers the docs show, as markdown, from one
store, so no table in the README or docs/ is typed by hand or outlives its store.

Sections: the final-quarter bands of the headline metrics by path; the baseline's bands at
one year, mid-horizon and the horizon; every path against the baseline, paired (median and
mean difference, P(beats baseline)); what decides the metric on the baseline (tree
ranking). Each table says which command and store size made it.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..metrics import HEADLINE, check_metric
from .compare import compare
from .sensitivity import sensitivity
from .tables import summary_markdown


def _provenance(bands: xr.Dataset, store: str) -> str:
    return (
        f"_Made by `resonance report {store}` on a store of "
        f"{bands.attrs.get('n_scenarios'):,} scenarios × {bands.attrs.get('n_firms'):,} "
        f"firms (seed {bands.attrs.get('seed')}, sampler {bands.attrs.get('sampler')})._"
    )


def _table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def bands_over_time(bands: xr.Dataset, path: str, metrics=HEADLINE) -> str:
    """Quantiles of ``metrics`` on ``path`` at one year, mid-horizon and the horizon."""
    years = bands.time.values
    picks = sorted({int(np.argmin(np.abs(years - y))) for y in (1.0, years[-1] / 2, years[-1])})
    qs = [float(q) for q in bands["quantile"].values]
    head = ["metric", "year", *("median" if q == 0.5 else f"p{100 * q:g}" for q in qs)]
    rows = []
    for metric in metrics:
        for t in picks:
            values = bands[metric].sel(path=path).isel(time=t).values
            rows.append([metric, f"{years[t]:g}", *(f"{v:.3f}" for v in values)])
    return _table(head, rows)


def paired_against(draws: xr.Dataset, baseline: str, metric: str, quarter: int = -1) -> str:
    """Every other path against ``baseline`` on ``metric``, paired over the scenarios."""
    rows = []
    for path in (str(p) for p in draws.path.values):
        if path == baseline:
            continue
        c = compare(draws, baseline, path, metric, quarter)
        rows.append(
            [
                path,
                f"{c.quantiles[0.5]:+.3f}",
                f"{c.mean:+.3f} ± {c.mean_se:.3f}",
                f"{c.p_better:.3f} ± {c.p_better_se:.3f}",
            ]
        )
    return _table(["path", "median Δ", "mean Δ ± s.e.", f"P(beats {baseline})"], rows)


def ranking(draws: xr.Dataset, baseline: str, metric: str, quarter: int = -1) -> str:
    """The tree ranking of the uncertain parameters for ``metric`` on ``baseline``."""
    s = sensitivity(draws, metric, quarter, baseline)
    rows = [
        [name, f"{r.importance:.3f}", f"[{r.low:.3f}, {r.high:.3f}]"]
        for name, r in s.ranking.iterrows()
    ]
    return _table(["parameter", "tree importance", "95 % interval"], rows)


def report_markdown(
    store: str, metric: str = "innovation_efficiency", baseline: str = "baseline"
) -> str:
    """The whole report of ``store`` as markdown (see the module docstring)."""
    from ..engine.store_read import open_bands, open_draws
    from .select import check

    bands = open_bands(store)
    draws = open_draws(store)
    check(draws, check_metric(metric), (baseline,))
    horizon = f"{float(bands.time[-1]):g}"
    made = _provenance(bands, store)
    sections = [
        f"### Bands after {horizon} years\n\n{made}\n\n"
        + summary_markdown(bands, HEADLINE).split("\n", 2)[2],
        f"### {baseline} over time\n\n{made}\n\n" + bands_over_time(bands, baseline),
    ]
    if bands.sizes["path"] > 1:
        sections.append(
            f"### {metric} after {horizon} years against {baseline}, paired\n\n"
            f"{made}\n\n" + paired_against(draws, baseline, metric)
        )
    sections.append(
        f"### What decides {metric} on {baseline} after {horizon} years\n\n"
        f"{made}\n\n" + ranking(draws, baseline, metric)
    )
    return "\n".join(sections)
