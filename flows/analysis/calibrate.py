"""Calibration: score a config's baseline on the stylized facts (MODEL.md §8) and the
calibration target (MODEL.md §4, "Calibration"), and search a few parameters for the best
score.

Calibration looks at the baseline only (MODEL.md §10): how the policy paths rank is what
the service exists to find out, so no path enters the score, and :func:`evaluate` does not
even simulate them. ``evaluate(config)`` simulates the config's sample of the baseline
once (yearly firm snapshots of every scenario) and returns one row of numbers: each fact,
the target, and ``score``, the total distance of the fitted facts and the target from
their ranges (0 when everything is in range, see :func:`measure`). Held-out facts
(``Fact.held_out``: up or out, the return to R&D) are in the row but not in the distance:
they are checked on the result, not fitted (MODEL.md §11).

``search(spec)`` draws candidates of the parameters a calibration file names
(``configs/calibration.yaml``) from a scrambled Sobol design (scipy.stats.qmc), evaluates
each on the same scenarios, and returns them ranked as an xarray Dataset (dim
``candidate``). ``resonance calibrate FILE`` prints the ranking and the best candidate's
values as YAML to paste into the config.

Dim letters: s = scenarios, p = paths, t = quarters, m = metrics.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from ..errors import ConfigError
from ..files import read_yaml_text
from . import facts as stylized

PARADIGM_RANGE = (0.2, 0.6)  # baseline median new_paradigm_share after the horizon
BASELINE = "baseline"  # the one path calibration sees
# Weight of the distance from the middle of each fact's range inside it: a small pull to
# the centre, so that of two in-range candidates the one with margins ranks first.
CENTRE_WEIGHT = 0.05


def outside(values: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """How far each value lies outside [low, high], in the value's units (0 inside, NaN
    where the value is NaN): float64, the broadcast shape."""
    with np.errstate(invalid="ignore"):
        out = np.where(values < low, low - values, np.where(values > high, values - high, 0.0))
    return np.where(np.isnan(values), np.nan, out)


def _outside(value: float, low: float, high: float) -> float:
    """Distance of value outside [low, high], in widths of the range (0 inside); a fact
    that cannot be measured (NaN) counts as one width."""
    if not math.isfinite(value):
        return 1.0
    width = (high - low) if math.isfinite(high - low) else max(abs(high), 1.0)
    return float(outside(np.float64(value), low, high)) / width


def _off_centre(value: float, low: float, high: float) -> float:
    if not (math.isfinite(value) and math.isfinite(low) and math.isfinite(high)):
        return 0.0
    return abs(value - 0.5 * (low + high)) / (high - low)


def _median(values: np.ndarray) -> float:
    """The median over scenarios of one fact, NaN where no scenario measures it (as
    ``facts.summarise``)."""
    finite = values[~np.isnan(values)]
    return float(np.median(finite)) if finite.size else float("nan")


def measure(
    outcomes: np.ndarray, snapshots: xr.Dataset, paths: list[str], held_out: bool = True
) -> dict[str, float]:
    """Facts and target of one sample's baseline: outcomes float64 (s, p, t, m) and its
    snapshots (scenario, path, year, firm) -> a flat dict of numbers (see the module
    docstring). Only the baseline's slices are read: any other path's values cannot
    change a number of the row. ``held_out=False`` leaves the held-out facts NaN, not
    estimated (the inference, which never fits them)."""
    from ...kernels.registry import METRICS

    if BASELINE not in paths:
        raise ConfigError("paths", f"{paths}", "calibration needs the baseline path")
    b = paths.index(BASELINE)
    outcomes = outcomes[:, b : b + 1]
    snapshots = snapshots.sel(path=[BASELINE])
    per_scenario = stylized.scenario_facts(snapshots, held_out).sel(path=BASELINE)
    row: dict[str, float] = {}
    distance = 0.0
    centre = 0.0
    for fact in stylized.FACTS:
        value = _median(per_scenario[fact.name].values)  # summarise's median, without xarray
        row[fact.name] = value
        if fact.held_out:  # reported, not fitted: checked afterwards (MODEL.md §11)
            continue
        distance += _outside(value, fact.low, fact.high)
        centre += _off_centre(value, fact.low, fact.high)
    # A real industry's growth-rate shape is steady: every year's median kurtosis in range
    # (each year out of it counts a fraction of one miss).
    kurt = stylized.FACTS[stylized.FACT_NAMES.index("growth_kurtosis")]
    by_year = per_scenario["growth_kurtosis_by_year"].median("scenario").values
    row["growth_kurtosis_first"] = float(by_year[0])
    row["growth_kurtosis_last"] = float(by_year[-1])
    distance += float(np.mean([_outside(v, kurt.low, kurt.high) > 0 for v in by_year]))
    final = outcomes[:, 0, -1, :]  # (s, m): the baseline at the horizon
    paradigm = float(np.median(final[:, METRICS.index("new_paradigm_share")]))
    row["new_paradigm_share"] = paradigm
    for metric in ("new_quality_share", "tech_efficiency", "innovation_efficiency"):
        row[metric] = float(np.median(final[:, METRICS.index(metric)]))  # reported only
    distance += _outside(paradigm, *PARADIGM_RANGE)
    row["misses"] = distance
    row["score"] = distance + CENTRE_WEIGHT * centre
    return row


def evaluate(config) -> dict[str, float]:
    """Simulate ``config``'s scenarios once on the baseline alone (every firm kept
    yearly) in this process and :func:`measure` them. The config's other paths are not
    run: the score cannot depend on them."""
    from ..engine.plan import make_plan
    from .facts import snapshots_dataset

    if BASELINE not in config.path_names:
        raise ConfigError("paths", f"{config.path_names}", "calibration needs the baseline path")
    alone = config.with_overrides({"paths": [BASELINE]})
    job = dataclasses.replace(make_plan(alone).job, snapshots=alone.n_scenarios)
    outcomes, snap = job.simulate(0, alone.n_scenarios)
    return measure(outcomes, snapshots_dataset(snap, [BASELINE]), [BASELINE])


@dataclass(frozen=True)
class Spec:
    """A calibration file: the config to start from, the sample each candidate is scored
    on, and the parameters to search with their ranges (dotted config keys)."""

    config: Path
    scenarios: int
    firms: int
    candidates: int
    seed: int
    search: dict[str, tuple[float, float]]
    fixed: dict[str, float]
    confirm_top: int = 0  # the best candidates scored again on other scenarios
    confirm_seed: int = 0
    confirm_scenarios: int = 0
    abc: Inference | None = None  # the inference's settings (analysis/infer.py)


@dataclass(frozen=True)
class Inference:
    """The ``abc:`` section of a calibration file: ABC-SMC's sizes (analysis/infer.py).

    Each simulation is ``scenarios`` x ``firms`` of the baseline; ``scale_runs``
    simulations at the prior's centre estimate each fact's sampling sd; the sequential
    Monte Carlo keeps ``particles`` per generation and lowers its temperature to 1 (the
    exact posterior) in generation ``generations`` - 1. It stops there, or earlier, still
    tempered, once ``simulations`` have been run (checked between generations): the
    defaults here suit a test, ``configs/calibration.yaml`` sets the full run's.

    The checks on the posterior (``analysis.posterior_checks``) take ``check_draws`` of its
    draws by weight: the held-out facts on each one's own simulation, and the ranking of
    the config's paths on ``rank_scenarios`` x ``rank_firms`` of its world design."""

    particles: int = 200
    generations: int = 8
    scenarios: int = 8
    firms: int = 500
    scale_runs: int = 24
    simulations: int = 3000
    check_draws: int = 24
    rank_scenarios: int = 64
    rank_firms: int = 200


def spec_config(spec: Spec, overrides: dict):
    """The spec's config with ``overrides``, read without the posterior it may draw from
    (``uncertain: {from: FILE}``): a calibration infers from its priors, and the config it
    calibrates may well draw from that calibration's last posterior."""
    from ..config import load_config

    return load_config(spec.config, overrides, without_posterior=True)


def load_spec(file: str | Path) -> Spec:
    """Read and check a calibration file (see configs/calibration.yaml)."""
    raw, _ = read_yaml_text(Path(file), str(file), "calibration file")
    known = {
        "config",
        "scenarios",
        "firms",
        "candidates",
        "seed",
        "search",
        "fixed",
        "confirm",
        "abc",
    }
    for key in raw:
        if key not in known:
            raise ConfigError(key, "unknown key", f"one of {sorted(known)}")
    if "config" not in raw or "search" not in raw:
        raise ConfigError("config/search", "missing", "a calibration file names both")
    config = (Path(file).parent / str(raw["config"])).resolve()
    search = {}
    for key, bounds in (raw["search"] or {}).items():
        if (
            not isinstance(bounds, list)
            or len(bounds) != 2
            or not all(isinstance(b, int | float) and math.isfinite(b) for b in bounds)
            or not bounds[0] < bounds[1]
        ):
            raise ConfigError(f"search.{key}", f"{bounds!r}", "[low, high] with low < high")
        search[str(key)] = (float(bounds[0]), float(bounds[1]))
    fixed = {str(k): v for k, v in (raw.get("fixed") or {}).items()}

    def count(key, default, node=raw, where=""):
        value = node.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(where + key, f"{value!r}", "a positive integer")
        return value

    confirm = raw.get("confirm") or {}
    if not isinstance(confirm, dict) or set(confirm) - {"top", "seed", "scenarios"}:
        raise ConfigError("confirm", f"{confirm!r}", "a mapping of top, seed and scenarios")

    abc = raw.get("abc")
    inference = None
    if abc is not None:
        fields = [f.name for f in dataclasses.fields(Inference)]
        if not isinstance(abc, dict) or set(abc) - set(fields):
            raise ConfigError("abc", f"{abc!r}", f"a mapping of {', '.join(fields)}")
        defaults = Inference()
        inference = Inference(**{f: count(f, getattr(defaults, f), abc, "abc.") for f in fields})

    spec = Spec(
        config,
        count("scenarios", 16),
        count("firms", 1000),
        count("candidates", 64),
        count("seed", 1),
        search,
        fixed,
        count("top", 1, confirm, "confirm.") if confirm else 0,
        count("seed", 1, confirm, "confirm.") if confirm else 0,
        count("scenarios", 16, confirm, "confirm.") if confirm else 0,
        inference,
    )
    # Every key must name something the config has: check with the middle of each range,
    # then with each end (a prior's support must lie in the parameter's valid range).
    for where in (0.5, 0.0, 1.0):
        values = {k: a + where * (b - a) for k, (a, b) in search.items()}
        spec_config(spec, _overrides(spec, values))
    return spec


def _overrides(spec: Spec, values: dict[str, float], confirm: bool = False) -> dict:
    scenarios = spec.confirm_scenarios if confirm else spec.scenarios
    extra = {"seed": spec.confirm_seed} if confirm else {}
    return {
        "sizes.scenarios": scenarios,
        "sizes.firms": spec.firms,
        "sizes.firm_snapshots": scenarios,
        **extra,
        **spec.fixed,
        **values,
    }


def candidates(spec: Spec) -> np.ndarray:
    """float64 (candidate, parameter): a scrambled Sobol design over the search ranges."""
    from scipy.stats import qmc

    lows = np.array([a for a, _ in spec.search.values()])
    highs = np.array([b for _, b in spec.search.values()])
    unit = qmc.Sobol(len(spec.search), scramble=True, seed=spec.seed).random(spec.candidates)
    return qmc.scale(unit, lows, highs)


def search(spec: Spec, progress=None) -> xr.Dataset:
    """Evaluate every candidate of ``spec`` on the same scenarios; the Dataset holds the
    candidates' parameter values and every measured number, sorted by score (best first).

    With ``confirm``, the ``top`` best are scored again on other scenarios (another seed,
    ``scenarios`` of them): their ``misses`` and ``score`` become the sums over both
    samples (``confirmed`` marks them), so a candidate that was only lucky drops back.

    progress: an optional callable(done, total) after each evaluation.
    """
    names = list(spec.search)
    design = candidates(spec)
    total = len(design) + spec.confirm_top
    rows = []
    for k, values in enumerate(design):
        config = spec_config(spec, _overrides(spec, dict(zip(names, values, strict=True))))
        rows.append(evaluate(config))
        rows[-1]["confirmed"] = 0.0
        if progress is not None:
            progress(k + 1, total)
    first = np.argsort([r["score"] for r in rows], kind="stable")
    for j, k in enumerate(first[: spec.confirm_top]):
        values = dict(zip(names, design[k], strict=True))
        again = evaluate(spec_config(spec, _overrides(spec, values, confirm=True)))
        rows[k]["misses"] += again["misses"]
        rows[k]["score"] += again["score"]
        rows[k]["confirmed"] = 1.0
        if progress is not None:
            progress(len(design) + j + 1, total)
    # Confirmed candidates first (their scores sum two samples), then the rest.
    order = np.lexsort(([r["score"] for r in rows], [-r["confirmed"] for r in rows]))
    data = {name: ("candidate", design[order, j]) for j, name in enumerate(names)}
    for key in rows[0]:
        data[key] = ("candidate", np.array([rows[i][key] for i in order]))
    return xr.Dataset(
        data,
        coords={"candidate": np.arange(len(rows))},
        attrs={
            "config": str(spec.config),
            "scenarios": spec.scenarios,
            "firms": spec.firms,
            "searched": names,
        },
    )
