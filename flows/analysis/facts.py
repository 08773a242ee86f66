"""Stylized facts of real firms, measured on the yearly firm snapshots (MODEL.md §8 and
the facts no single parameter sets, §11; their estimators are in ``panel_facts.py``).

Input: the ``firms`` group of a store (or the same from a fresh simulation), dims
(scenario, path, year, firm). Each fact is computed per scenario and path, then summarised
over scenarios (median, p5, p95) and set against its published range. Level facts are
measured at mid-horizon and at the horizon; change facts pool every pair of consecutive
years of continuing firms (the slot was not taken by an entrant in the later year).

A held-out fact (``Fact.held_out``) is measured and set against its range like the others,
but calibration does not fit it (``calibrate.measure`` leaves it out of the distance) and
``resonance facts --check`` does not fail on it: it is checked afterwards, on the fitted
parameters (MODEL.md §11).

Dim letters: s = scenarios, p = paths, y = years, i = firms.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np
import xarray as xr

from . import panel_facts


@dataclass(frozen=True)
class Fact:
    """One stylized fact: how it is measured, its published range and where it comes from."""

    name: str
    label: str
    definition: str
    low: float
    high: float
    units: str
    source: str
    held_out: bool = False  # measured and reported, not fitted (MODEL.md §11)
    # The real industry's value the inference centres on (analysis/infer.py): the source's
    # own figure where it gives one, else the range's midpoint; None for a bound alone
    # (a fact whose range says only "below 1").
    centre: float | None = None


def _level(name, label, definition, low, high, units, source, centre) -> tuple[Fact, Fact]:
    """A level fact, measured at mid-horizon (``<name>_mid``) and at the horizon
    (``<name>_end``) with one definition, range, centre and source."""
    return tuple(
        Fact(
            f"{name}_{key}",
            f"{label}, {when}",
            definition,
            low,
            high,
            units,
            source,
            centre=centre,
        )
        for key, when in (("mid", "mid-horizon"), ("end", "horizon"))
    )


FACTS = (
    Fact(
        "tfp_growth",
        "aggregate TFP growth",
        "compound annual rate of share-weighted TFP (sum of share x exp(log TFP)) from the "
        "first to the last snapshot",
        1.0,
        6.0,
        "%/yr",
        "Brandt, Van Biesebroeck & Zhang 2012, J. Dev. Econ. 97 (about 2.9 %/yr for "
        "incumbents; the industry's is higher, net entry two thirds of it)",
        centre=3.5,  # the range's midpoint: the source's 2.9 is the incumbents' growth
    ),
    Fact(
        "incumbent_growth",
        "incumbents' TFP growth",
        "share-weighted mean annual change in log TFP of continuing firms (weights: market "
        "share at the start of the year), mean over years",
        1.5,
        4.5,
        "%/yr",
        "Brandt, Van Biesebroeck & Zhang 2012, J. Dev. Econ. 97 (2.85 %/yr, gross output, "
        "1998-2007; the range, about half to one and a half times it, is an assumption)",
        centre=2.85,
    ),
    *_level(
        "size_tail",
        "firm-size tail",
        "Hill estimate of the Pareto exponent of market shares over the top 10 % of firms",
        0.8,
        1.3,
        "1",
        "Axtell 2001, Science 293 (1.06)",
        1.06,
    ),
    Fact(
        "growth_kurtosis",
        "growth-rate shape",
        "excess kurtosis of annual log-share growth of continuing firms, demeaned per year, "
        "pooled over years",
        1.5,
        8.0,
        "1",
        "Stanley et al. 1996, Nature 379; Bottazzi & Secchi 2006 (Laplace: 3)",
        centre=3.0,
    ),
    *_level(
        "dispersion",
        "productivity dispersion",
        "90:10 ratio of firm TFP (exp of log TFP)",
        1.5,
        5.0,
        "1",
        "Syverson 2004 (1.92, US); Hsieh & Klenow 2009, QJE (wider in China)",
        3.25,
    ),
    Fact(
        "persistence",
        "productivity persistence",
        "correlation of firm log TFP one year apart, continuing firms, demeaned per year, "
        "pooled over years",
        0.6,
        0.95,
        "1",
        "Foster, Haltiwanger & Syverson 2008, AER (about 0.8)",
        centre=0.8,
    ),
    Fact(
        "innovation_skew",
        "skew of innovation value",
        "share of all breakthrough value in the top 10 % of breakthroughs (firm-years with "
        "one), pooled over years",
        0.48,
        0.93,
        "1",
        "Scherer & Harhoff 2000, Research Policy 29",
        centre=0.705,
    ),
    Fact(
        "exit_rate",
        "exit (replacement) rate",
        "share of firm slots taken by an entrant per year, mean over years 2 to the horizon",
        2.0,
        15.0,
        "%/yr",
        "Dunne, Roberts & Samuelson 1988, RAND J.; Brandt et al. 2012",
        centre=8.5,
    ),
    *_level(
        "rd",
        "R&D intensity",
        "median R&D / revenue of firms",
        2.0,
        12.0,
        "%",
        "high-tech enterprise criteria and surveys",
        7.0,
    ),
    Fact(
        "size_variance",
        "size-variance scaling",
        "beta of sd(annual log-share growth) ~ size^-beta: continuing firms' growth, demeaned "
        "per year, pooled over years and cut into deciles of log share at the start of the "
        "year; minus the OLS slope of log sd on the deciles' mean log share",
        0.1,
        0.3,
        "1",
        "Amaral et al. 1997, Physica A 244 (0.18-0.20); Riccaboni et al. 2008, PNAS 105 (0.14-0.2)",
        centre=0.18,
    ),
    Fact(
        "up_or_out",
        "up or out",
        f"exit rate of firms aged <= {panel_facts.YOUNG_AGE:g} years (age at the end of the "
        "year before the exit) over the exit rate of older firms, pooled over years",
        1.5,
        5.0,
        "1",
        "Dunne, Roberts & Samuelson 1989, QJE 104; Haltiwanger, Jarmin & Miranda 2013, REStat 95",
        held_out=True,
    ),
    Fact(
        "rd_return",
        "return to R&D",
        "OLS coefficient of a continuing firm's change in log TFP on its R&D intensity of the "
        "year before, with year effects (rate-of-return form), pooled over years",
        0.05,
        0.5,
        "1",
        "Hall, Mairesse & Mohnen 2010, Handbook of the Economics of Innovation 2, ch. 24",
        held_out=True,
    ),
    Fact(
        "net_entry",
        "net entry's share of growth",
        "share of the growth of share-weighted mean log TFP from the first to the last "
        "snapshot that entry and exit contribute (Foster-Haltiwanger-Krizan decomposition "
        "over the window: entrants and exiters against the initial aggregate)",
        0.2,
        0.75,
        "1",
        "Foster, Haltiwanger & Krizan 2001, in New Developments in Productivity Analysis "
        "(about a quarter of ten-year growth, US manufacturing); Brandt, Van Biesebroeck & "
        "Zhang 2012 (over two thirds, China 1998-2007); the range spans the two",
        held_out=True,
    ),
    Fact(
        "entrant_size",
        "entrants are small",
        "median market share of the year's entrants over that of the other firms, in the "
        "entry year, pooled over years (range: below 1)",
        0.0,
        1.0,
        "1",
        "Dunne, Roberts & Samuelson 1988, RAND J. Econ. 19",
    ),
)
FACT_NAMES = tuple(f.name for f in FACTS)
FITTED = tuple(f for f in FACTS if not f.held_out)
HELD_OUT = tuple(f for f in FACTS if f.held_out)
MAX_PATH_TFP_GROWTH = 10.0  # %/yr: no path's median may exceed it (MODEL.md §8)
TOP = 0.10  # the top share of firms (Hill) and of breakthroughs (skew)


def hill_exponent(shares: np.ndarray) -> np.ndarray:
    """Hill estimate of the Pareto tail exponent over the top 10 % of each row: shares
    (..., i) -> (...). alpha = k / sum_{j<k} ln(x_(j) / x_(k)), x sorted descending."""
    x = -np.sort(-shares, axis=-1)
    k = max(2, int(round(TOP * x.shape[-1])))
    if k + 1 > x.shape[-1]:  # too few firms for a tail
        return np.full(x.shape[:-1], np.nan)
    logs = np.log(np.maximum(x[..., :k], 1e-300)) - np.log(np.maximum(x[..., k : k + 1], 1e-300))
    total = logs.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, k / total, np.nan)


def _pooled_pairs(values: np.ndarray, entered: np.ndarray):
    """Consecutive-year pairs (a, b) of continuing firms, each year-pair demeaned: values,
    entered (s, p, y, i) -> a, b, mask (s, p, y - 1, i)."""
    a, b = values[:, :, :-1], values[:, :, 1:]
    mask = entered[:, :, 1:] == 0
    count = np.maximum(mask.sum(axis=-1, keepdims=True), 1)
    a = np.where(mask, a - (np.where(mask, a, 0).sum(axis=-1, keepdims=True) / count), 0.0)
    b = np.where(mask, b - (np.where(mask, b, 0).sum(axis=-1, keepdims=True) / count), 0.0)
    return a, b, mask


def growth_kurtosis(log_share: np.ndarray, entered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Excess kurtosis of annual log-share growth of continuing firms: pooled over years
    (s, p) and year by year (s, p, y - 1)."""
    prev, nxt, mask = _pooled_pairs(log_share, entered)
    g = np.where(mask, nxt - prev, 0.0)
    # growth demeaned per year pair (the pair means were removed from each side)
    m2 = (g**2).sum(axis=-1)
    m4 = (g**4).sum(axis=-1)
    n = mask.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        by_year = np.where(n > 3, (m4 / n) / (m2 / n) ** 2 - 3.0, np.nan)
        pooled = (m4.sum(-1) / n.sum(-1)) / (m2.sum(-1) / n.sum(-1)) ** 2 - 3.0
    return pooled, by_year


def persistence(log_tfp: np.ndarray, entered: np.ndarray) -> np.ndarray:
    """Correlation of firm log TFP one year apart, continuing firms, demeaned per year pair,
    pooled: (s, p, y, i) -> (s, p)."""
    a, b, _ = _pooled_pairs(log_tfp, entered)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (a * b).sum(axis=(-1, -2)) / np.sqrt(
            (a**2).sum(axis=(-1, -2)) * (b**2).sum(axis=(-1, -2))
        )


def annual_growth(first: np.ndarray, last: np.ndarray, years: int) -> np.ndarray:
    """%/yr: the compound annual rate from ``first`` to ``last``, ``years`` apart (the
    aggregate TFP growth of the facts, and of the paths on a posterior's check draws)."""
    return 100.0 * ((last / first) ** (1.0 / years) - 1.0)


def incumbent_growth(log_tfp: np.ndarray, share: np.ndarray, entered: np.ndarray) -> np.ndarray:
    """Incumbents' TFP growth, %/yr: the share-weighted mean of the annual change in log
    TFP of continuing firms (weights: the start-of-year share), averaged over the year
    pairs: (s, p, y, i) -> (s, p). Brandt et al.'s "weighted average annual productivity
    growth for incumbents"; entry and exit are left out, so the aggregate's growth is this
    plus what reallocation and net entry add."""
    weight = np.where(entered[:, :, 1:] == 0, share[:, :, :-1], 0.0)
    change = log_tfp[:, :, 1:] - log_tfp[:, :, :-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        by_year = (weight * change).sum(axis=-1) / weight.sum(axis=-1)
    with warnings.catch_warnings():  # a scenario with no continuing firm in any year: NaN
        warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)
        return 100.0 * np.nanmean(by_year, axis=-1)


def innovation_skew(value: np.ndarray) -> np.ndarray:
    """Share of breakthrough value in the top 10 % of breakthroughs: (s, p, y, i) -> (s, p);
    NaN with fewer than ten breakthroughs."""
    s, p = value.shape[:2]
    flat = value.reshape(s, p, -1)
    out = np.full((s, p), np.nan)
    for j in range(s):
        for q in range(p):
            v = np.sort(flat[j, q][flat[j, q] > 0])[::-1]
            if v.size >= 10:
                out[j, q] = v[: max(1, int(round(TOP * v.size)))].sum() / v.sum()
    return out


def scenario_facts(snapshots: xr.Dataset, held_out: bool = True) -> xr.Dataset:
    """Every fact per scenario and path: snapshots (scenario, path, year, firm) -> a Dataset
    of (scenario, path) variables named as ``FACT_NAMES``, plus ``growth_kurtosis_by_year``
    (scenario, path, year) for the years 2..Y and ``rd_return_se`` (scenario, path), the
    firm-clustered standard error of ``rd_return``.

    ``held_out=False`` leaves the held-out facts NaN without estimating them (the return
    to R&D's clustered OLS is most of the cost of the facts; a fit never reads them).

    ``up_or_out`` reads the snapshots' ``age``; a Dataset without it (a store written
    before the snapshots carried age) leaves that fact NaN: not measured."""
    years = snapshots.sizes["year"]
    if years < 2:
        from ..errors import ResonanceError

        raise ResonanceError(
            "facts",
            f"{years} yearly snapshot(s) are too few",
            "the facts need at least two years (8 quarters)",
        )
    log_tfp = snapshots.log_tfp.values.astype(np.float64)
    share = snapshots.market_share.values.astype(np.float64)
    rd = snapshots.rd_intensity.values.astype(np.float64)
    entered = snapshots.entered.values.astype(np.float64)
    value = snapshots.breakthrough_value.values.astype(np.float64)
    age = snapshots.age.values.astype(np.float64) if "age" in snapshots else None
    mid, end = years // 2 - 1, years - 1  # indices of the mid-horizon and horizon years

    aggregate = (share * np.exp(log_tfp)).sum(axis=-1)  # (s, p, y)
    growth = annual_growth(aggregate[..., 0], aggregate[..., -1], years - 1)
    q90, q10 = np.quantile(log_tfp, [0.9, 0.1], axis=-1)
    kurt, kurt_by_year = growth_kurtosis(np.log(np.maximum(share, 1e-300)), entered)
    if held_out:
        rd_rho, rd_se = panel_facts.rd_return(log_tfp, rd, entered)
    else:
        rd_rho = rd_se = np.full(log_tfp.shape[:2], np.nan)
    values = {
        "tfp_growth": growth,
        "incumbent_growth": incumbent_growth(log_tfp, share, entered),
        "size_tail_mid": hill_exponent(share[:, :, mid]),
        "size_tail_end": hill_exponent(share[:, :, end]),
        "growth_kurtosis": kurt,
        "dispersion_mid": np.exp(q90[:, :, mid] - q10[:, :, mid]),
        "dispersion_end": np.exp(q90[:, :, end] - q10[:, :, end]),
        "persistence": persistence(log_tfp, entered),
        "innovation_skew": innovation_skew(value),
        "exit_rate": 100.0 * entered[:, :, 1:].mean(axis=(-1, -2)),
        "rd_mid": 100.0 * np.median(rd[:, :, mid], axis=-1),
        "rd_end": 100.0 * np.median(rd[:, :, end], axis=-1),
        "size_variance": panel_facts.size_variance(share, entered),
        "up_or_out": panel_facts.up_or_out(entered, age if held_out else None),
        "rd_return": rd_rho,
        "entrant_size": panel_facts.entrant_size(share, entered),
        "net_entry": (
            panel_facts.net_entry(log_tfp, share, entered)
            if held_out
            else np.full(log_tfp.shape[:2], np.nan)
        ),
    }
    dims = ("scenario", "path")
    data = {name: (dims, values[name]) for name in FACT_NAMES}
    data["growth_kurtosis_by_year"] = (("scenario", "path", "year"), kurt_by_year)
    data["rd_return_se"] = (dims, rd_se)
    coords = {
        "scenario": snapshots.scenario.values,
        "path": snapshots.path.values,
        "year": snapshots.year.values[1:],
    }
    return xr.Dataset(data, coords)


def summarise(per_scenario: xr.Dataset, baseline: str = "baseline") -> xr.Dataset:
    """Median and p5-p95 over scenarios of every fact and path, with the published range
    and whether the median lies in it: dims (fact, path). ``measured`` counts the scenarios
    with a value (innovation skew needs ten breakthroughs); a fact no scenario measures has a
    NaN median and is not in range.

    The ranges hold for ``baseline``; for the other paths only aggregate TFP growth is
    checked (at most MAX_PATH_TFP_GROWTH %/yr), the rest is reported. Held-out facts (coord
    ``held_out``) are set against their ranges like the others: whether they count is the
    caller's choice (``facts --check`` and calibration leave them out).
    """
    stacked = xr.concat([per_scenario[name] for name in FACT_NAMES], dim="fact")
    stacked = stacked.assign_coords(fact=list(FACT_NAMES))
    with warnings.catch_warnings():  # a fact no scenario measures is NaN, said below
        warnings.filterwarnings("ignore", "All-NaN slice encountered", RuntimeWarning)
        q = stacked.quantile([0.05, 0.5, 0.95], dim="scenario", skipna=True)
    paths = [str(p) for p in per_scenario.path.values]
    low = np.full((len(FACTS), len(paths)), np.nan)
    high = np.full((len(FACTS), len(paths)), np.nan)
    for f, fact in enumerate(FACTS):
        for k, path in enumerate(paths):
            if path == baseline:
                low[f, k], high[f, k] = fact.low, fact.high
            elif fact.name == "tfp_growth":
                high[f, k] = MAX_PATH_TFP_GROWTH
    median = q.sel(quantile=0.5, drop=True).values
    measured = stacked.notnull().sum("scenario").values  # scenarios with a value
    checked = ~np.isnan(high)
    with np.errstate(invalid="ignore"):
        inside = (np.isnan(low) | (median >= low)) & (median <= high)
    dims = ("fact", "path")
    by_year = per_scenario["growth_kurtosis_by_year"].median("scenario", skipna=True)
    return xr.Dataset(
        {
            "growth_kurtosis_by_year": by_year.transpose("path", "year"),
            "median": (dims, median),
            "p5": (dims, q.sel(quantile=0.05, drop=True).values),
            "p95": (dims, q.sel(quantile=0.95, drop=True).values),
            "low": (dims, low),
            "high": (dims, high),
            "checked": (dims, checked),
            "measured": (dims, measured),
            "in_range": (dims, np.where(checked, inside, True)),
        },
        coords={
            "fact": list(FACT_NAMES),
            "path": paths,
            "label": ("fact", [f.label for f in FACTS]),
            "definition": ("fact", [f.definition for f in FACTS]),
            "units": ("fact", [f.units for f in FACTS]),
            "source": ("fact", [f.source for f in FACTS]),
            "held_out": ("fact", [f.held_out for f in FACTS]),
        },
        attrs={"n_scenarios": per_scenario.sizes["scenario"], "baseline": baseline},
    )


def facts(snapshots: xr.Dataset, baseline: str = "baseline") -> xr.Dataset:
    """The facts table of snapshots (scenario, path, year, firm): see :func:`summarise`."""
    return summarise(scenario_facts(snapshots), baseline)


def snapshots_dataset(snap: np.ndarray, paths, first_scenario: int = 0) -> xr.Dataset:
    """Kernel snapshots float32 (k, p, y, v, i) as a Dataset laid out, typed and described
    as the store's ``firms`` group."""
    from ...kernels.registry import SNAPSHOT
    from ..engine.layout import SNAPSHOT_DTYPES, firms_dataset

    arrays = {
        name: snap[:, :, :, v, :].astype(SNAPSHOT_DTYPES[name]) for v, name in enumerate(SNAPSHOT)
    }
    return firms_dataset(arrays, paths, first_scenario)


def simulate_snapshots(config) -> xr.Dataset:
    """Simulate every scenario of ``config`` in this process, keeping every firm's yearly
    snapshots (for samples: 16 scenarios x 1,000 firms x 8 paths take about a second)."""
    from ..engine.plan import make_plan

    plan = make_plan(config)
    job = dataclasses.replace(plan.job, snapshots=config.n_scenarios)
    _, snap = job.simulate(0, config.n_scenarios)
    return snapshots_dataset(snap, config.path_names)
