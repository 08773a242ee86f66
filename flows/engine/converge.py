"""``resonance run CONFIG --until-se X``: grow a store until its headline numbers are sure.

After each size n the headline metric at the last quarter is measured on every path: its
median and P(the path beats the baseline), each with its Monte Carlo standard error. When
every standard error is at most X (in the metric's units for the medians, in probability
for P), or the next size would pass ``max_scenarios``, the run stops; else the store grows
(``mc``: 2n; ``sobol``: the next power of two, so its points stay balanced) and only the new
chunks are simulated. Each size's statistics are kept in the store's ``convergence`` group.

Standard errors are those of independent draws: for P, that of the mean of the scores (1
for a win, 1/2 for a tie), the binomial s.e. when there are no ties; and for the median the
distribution-free order-statistic estimate
(Q(1/2 + 1/(2 sqrt n)) - Q(1/2 - 1/(2 sqrt n))) / 2, the spread of the sample median's rank
(sd sqrt(n) / 2) read through the empirical quantile function. A Sobol design's errors are
usually smaller, so for it these are conservative. With R > 1 replications per world the
R scenarios of a world are correlated, and both are multiplied by sqrt(R), the largest
design effect they can have (conservative).

Dim letters: s = scenarios, p = paths, k = steps (sizes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from ..config import RunConfig
from ..errors import ConfigError
from ..metrics import HEADLINE, LOWER_IS_BETTER
from .store_read import open_convergence, open_draws
from .store_state import held_scenarios

METRIC = HEADLINE[0]
STATISTICS = ("median", "p_beats_baseline")
GROWS = ("mc", "sobol")


def check(config: RunConfig, max_scenarios: int | None) -> int:
    """The largest size the run may reach (``max_scenarios``, default 16 x the config's);
    ConfigError when the config's design cannot grow."""
    if config.sampler not in GROWS:
        raise ConfigError(
            "--until-se",
            f"needs a store that grows, and a {config.sampler} design does not",
            "use sampler sobol or mc",
        )
    # in worlds, as --scenarios counts them (each is simulated sizes.replications times)
    cap = max_scenarios or 16 * config.n_worlds
    if cap < config.n_worlds:
        raise ConfigError(
            f"--max-scenarios {cap}", f"is below the config's {config.n_worlds} scenarios"
        )
    return cap


def resume_size(config: RunConfig) -> RunConfig:
    """``config`` at the size its store has already grown to, when that is larger: a run of
    ``--until-se`` that is repeated (or retried by Prefect) goes on from there instead of
    being refused as a store that would shrink."""
    held = held_scenarios(config, config.store)
    held = held and held // config.replications  # in worlds
    return config.with_scenarios(held) if held and held > config.n_worlds else config


def next_size(config: RunConfig, cap: int) -> int | None:
    """The size (worlds) after ``config``'s, or None when it would pass ``cap``."""
    n = config.n_worlds
    nxt = 2 * n if config.sampler == "mc" else 1 << n.bit_length()
    return nxt if nxt <= cap else None


def baseline_of(paths: list[str]) -> str:
    return "baseline" if "baseline" in paths else paths[0]


def measure(x: np.ndarray, paths: list[str], metric: str = METRIC, replications: int = 1) -> tuple:
    """Statistics and standard errors of the final-quarter values x (s, p): two float64
    arrays (p, statistic); P(beats baseline) is NaN on the baseline itself. With
    ``replications`` R > 1 the standard errors are multiplied by sqrt(R)."""
    n = x.shape[0]
    half = 0.5 / np.sqrt(n)
    lo, med, hi = np.quantile(x, [0.5 - half, 0.5, 0.5 + half], axis=0)
    base = x[:, paths.index(baseline_of(paths))][:, None]
    d = x - base if metric not in LOWER_IS_BETTER else base - x
    wins = (d > 0) + 0.5 * (d == 0)  # a tie counts half, so its s.e. is that of the scores
    p = wins.mean(axis=0)
    p_se = wins.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.full(p.shape, np.inf)
    b = paths.index(baseline_of(paths))
    p[b], p_se[b] = np.nan, np.nan
    # imported here: the analysis package would add ~0.7 s to every run's start, and only
    # --until-se runs measure
    from ..analysis.worlds import design_effect_bound

    se = np.stack([(hi - lo) / 2, p_se], axis=1) * design_effect_bound(replications)
    return np.stack([med, p], axis=1), se


@dataclass
class Step:
    """One size of a growing run: its statistics and whether they meet the target."""

    n: int
    value: np.ndarray  # float64 (p, statistic)
    se: np.ndarray  # float64 (p, statistic)
    paths: list[str]
    target: float

    @property
    def worst(self) -> tuple[float, str, str]:
        """The largest standard error, its statistic and its path."""
        se = self.se.copy()
        baseline = np.isnan(self.value[:, 1]) & np.isnan(se[:, 1])
        se[baseline, 1] = -np.inf  # the baseline's own P is no statistic
        se[np.isnan(se)] = np.inf  # NaN draws never pass for converged
        p, k = np.unravel_index(np.argmax(se), se.shape)
        return float(self.se[p, k]), STATISTICS[k], self.paths[p]

    @property
    def converged(self) -> bool:
        return self.worst[0] <= self.target


def step_of(config: RunConfig, target: float) -> Step:
    """Measure ``config``'s finished store."""
    draws = open_draws(config.store)
    x = np.asarray(draws[METRIC].isel(time=-1).transpose("scenario", "path").values)
    paths = [str(p) for p in draws.path.values]
    value, se = measure(x, paths, replications=config.replications)
    return Step(x.shape[0], value, se, paths, target)


def history(step: Step, store: str) -> xr.Dataset:
    """The ``convergence`` group with ``step`` added (replacing an earlier one of its n)."""
    new = xr.Dataset(
        {
            "value": (("step", "path", "statistic"), step.value[None]),
            "standard_error": (("step", "path", "statistic"), step.se[None]),
            "n_scenarios": ("step", [step.n]),
        },
        # object dtype: zarr stores variable-length strings without a warning
        coords={
            "path": np.array(step.paths, dtype=object),
            "statistic": np.array(STATISTICS, dtype=object),
        },
    )
    old = open_convergence(store)
    if old is not None:
        old = old.load()
        keep = old.n_scenarios.values != step.n
        new = xr.concat([old.isel(step=np.flatnonzero(keep)), new], "step")
    new = new.isel(step=np.argsort(new.n_scenarios.values, kind="stable"))
    new["value"].attrs = {
        "long_name": f"{METRIC} at the last quarter: median, and P(beats baseline)",
        "units": "metric units for the median, 1 for P",
        "description": "Each statistic of the finished store at that size (converge.py).",
    }
    new["standard_error"].attrs = {
        "long_name": "Monte Carlo standard error of value",
        "units": "as value",
        "description": "Order-statistic s.e. of the median; binomial s.e. of P.",
    }
    new["n_scenarios"].attrs = {
        "long_name": "scenarios",
        "units": "1",
        "description": "Size of the store when measured.",
    }
    new.attrs = {"metric": METRIC, "target_se": step.target, "baseline": baseline_of(step.paths)}
    return new
