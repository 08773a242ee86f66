"""Calibration as inference (MODEL.md §11): approximate Bayesian computation with
sequential Monte Carlo (pyabc's ABC-SMC) of the model parameters a calibration file's
``search:`` names, on the baseline alone.

- **Prior**: uniform on each ``search:`` range of a ``parameters.*`` key. Firm parameters
  (``firm_parameters.*``) are one vector per run in the kernel and cannot vary per
  scenario, so a posterior that carries them could not be a world distribution: they are
  held at the config's values (and reported as held).
- **Summary statistics**: the fitted facts (``facts.FITTED``: not the held-out ones) and
  the target (``calibrate.PARADIGM_RANGE``) of one simulation of ``abc.scenarios`` x
  ``abc.firms`` of the baseline, as :func:`calibrate.measure` computes them.
- **Observation model**: a fact's published range is read as what is known of the real
  industry's value: its centre is the source's own figure (``Fact.centre``: incumbents'
  TFP growth 2.85 %/yr after Brandt et al., Axtell's 1.06, ...; the range's midpoint
  where the sources give a span), and the range's edges lie ``RANGE_SDS`` sds below and
  above it (a split normal: incumbents' 1.5-4.5 %/yr around 2.85 is an sd of 0.675 below
  and 0.825 above). A fact that is a bound alone (entrants are small: below 1) is flat
  inside its range and normal outside it, with an sd of its width / (2 ``RANGE_SDS``).
  These sds come from the ranges, not from the simulation's sampling spread (MODEL.md
  §11 asks for the latter): the ranges state how uncertain the real value is, and a
  simulation's own noise enters by simulating. A simulation's misfit is ``z_f``, the
  distance of each fact from its centre in those sds (``MISSING_SDS`` for a fact it
  cannot measure), and the ABC kernel is ``K = exp(-sum_f z_f^2 / 2)``. pyabc's
  stochastic acceptor (Wilkinson 2013, Statistical Applications in Genetics and Molecular
  Biology 12; Schaelte & Hasenauer 2020, Bioinformatics 36) accepts a simulation with
  probability min(1, (K / c)^(1/T)), c the largest kernel found so far, and weighs an
  accepted one by max(1, (K / c)^(1/T)) (rejection control), under a temperature T that
  falls to 1 in the last generation: there the weighted sample is exactly the prior
  times E[K], the posterior of this observation model, not an approximation that depends
  on a tolerance. Each fact's *sampling sd* (its spread over ``abc.scale_runs``
  simulations at the prior's centre that differ only in their seed) is stored beside the
  observation sds: it is a quarter of them for aggregate TFP growth and about half for
  incumbents' (0.33 against 0.675), so the simulation's noise widens what the inference
  sees of a fact by up to about 11 %. Known limits: the mid-horizon and horizon copies of
  a level fact are two factors of one range, and aggregate and incumbents' TFP growth
  rest on one source; both weigh that evidence more than once. The earlier model (0
  anywhere in range) let the posterior fill each range up to its edge: aggregate TFP
  growth piled at 5-6 %/yr.
- **Randomness**: each simulation's seed is a hash of the calibration seed and its
  parameter values, so a simulation's result does not depend on which worker ran it or
  when; pyabc's own proposals use NumPy's global generator, which is seeded from the
  calibration seed for the run and restored afterwards. With a Dask client (pyabc's
  ``DaskDistributedSampler``) the proposals are drawn on the workers, so that posterior
  is a valid sample but not reproducible bit for bit; in-process it is.

``infer(spec)`` runs the inference and returns the posterior Dataset that
``resonance.flows.posterior.write_posterior`` stores.

Dim letters: n = draws, k = parameters, f = facts, g = generations, r = scale runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import math
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import xarray as xr

from ...kernels.registry import PARAMETERS
from ..errors import ConfigError
from . import calibrate
from . import facts as stylized

MISSING_SDS = 10.0  # a fact a simulation cannot measure counts as this many sds off
SD_FLOOR = 1e-3  # of the range's width: a fact that never moves still has a finite unit
RANGE_SDS = 2.0  # a published range's edges lie this many observation sds from its centre
PARADIGM_CENTRE = 0.4  # the target's midpoint (MODEL.md §4 gives the range alone)
MODEL_PREFIX = "parameters."


def targets() -> list[tuple[str, float, float]]:
    """The fitted facts and the target: (name, low, high) each, in the posterior's order."""
    rows = [(f.name, f.low, f.high) for f in stylized.FITTED]
    return [*rows, ("new_paradigm_share", *calibrate.PARADIGM_RANGE)]


@dataclasses.dataclass(frozen=True, eq=False)
class Observation:
    """What is known of the real value of each fact of ``targets()``: float64 (f,) each.
    ``centre`` is NaN for a bound alone; ``below``/``above`` are the sds on either side."""

    low: np.ndarray
    high: np.ndarray
    centre: np.ndarray
    below: np.ndarray
    above: np.ndarray

    def misfit(self, values: np.ndarray) -> np.ndarray:
        """z (f,): each fact's distance from its centre in observation sds (for a bound
        alone, from its range; MISSING_SDS where the value is NaN)."""
        with np.errstate(invalid="ignore"):
            off = values - self.centre
            z = np.where(off < 0, off / self.below, off / self.above)
            bound = calibrate.outside(values, self.low, self.high) / self.above
        z = np.where(np.isnan(self.centre), bound, z)
        return np.where(np.isnan(values), MISSING_SDS, z)

    def log_kernel(self, values: np.ndarray) -> float:
        """The ABC kernel's log, -sum_f z_f^2 / 2 (0 at every centre)."""
        z = self.misfit(values)
        return float(-0.5 * np.sum(z * z))


def observation() -> Observation:
    """The observation model of ``targets()`` (module docstring)."""
    fitted = {f.name: f for f in stylized.FITTED}
    low, high, centre = [], [], []
    for name, lo, hi in targets():
        c = fitted[name].centre if name in fitted else PARADIGM_CENTRE
        low.append(lo)
        high.append(hi)
        centre.append(np.nan if c is None else c)
    low, high, centre = (np.array(v, dtype=np.float64) for v in (low, high, centre))
    bound = np.isnan(centre)
    inside = bound | ((low < centre) & (centre < high))
    if not inside.all():  # a centre on an edge would give that side an sd of 0
        name = targets()[int(np.argmin(inside))][0]
        raise ValueError(f"the centre of {name} is not inside its range")
    below = np.where(bound, (high - low) / (2 * RANGE_SDS), (centre - low) / RANGE_SDS)
    above = np.where(bound, (high - low) / (2 * RANGE_SDS), (high - centre) / RANGE_SDS)
    return Observation(low, high, centre, below, above)


def distance(values: np.ndarray, obs: Observation) -> float:
    """A simulation's misfit as one number: sqrt(sum_f z_f^2), in observation sds."""
    z = obs.misfit(values)
    return float(np.sqrt(np.sum(z * z)))


@dataclasses.dataclass(frozen=True)
class Simulator:
    """One baseline simulation per parameter set: small and picklable (pyabc's Dask
    sampler ships it to the workers). ``names`` are registry names of model parameters."""

    job: object  # engine.plan.ChunkJob of the baseline alone, every scenario snapshotted
    names: tuple[str, ...]
    seed: int
    n_scenarios: int

    def measure(self, values: dict[str, float], held_out: bool = False) -> dict[str, float]:
        """``calibrate.measure``'s row of one parameter set's simulation (its seed a hash
        of the parameters, so the same set is the same simulation). ``held_out=False``:
        the held-out facts NaN, not estimated (the inference never fits them, and the
        return to R&D's OLS is most of the cost); True: measured, for the checks on the
        posterior (``analysis.posterior_checks``)."""
        from .facts import snapshots_dataset

        nominal = self.job.nominal.copy()
        theta = np.array([float(values[n]) for n in self.names])
        for name, v in zip(self.names, theta, strict=True):
            nominal[PARAMETERS.index(name)] = v
        job = dataclasses.replace(self.job, nominal=nominal, seed=simulation_seed(self.seed, theta))
        outcomes, snap = job.simulate(0, self.n_scenarios)
        return calibrate.measure(
            outcomes,
            snapshots_dataset(snap, [calibrate.BASELINE]),
            [calibrate.BASELINE],
            held_out=held_out,
        )

    def facts(self, values: dict[str, float]) -> np.ndarray:
        """float64 (f,): the facts of ``targets()`` for one parameter set."""
        row = self.measure(values)
        return np.array([row[name] for name, _, _ in targets()])

    def __call__(self, parameter) -> dict:
        """pyabc's model: a parameter set -> its summary statistics."""
        return {"facts": self.facts(dict(parameter))}


def simulation_seed(seed: int, theta: np.ndarray) -> int:
    """The run seed of the simulation of parameter set theta: a hash of the calibration
    seed and theta's bytes (same parameters, same firms; other parameters, other firms)."""
    h = hashlib.sha256(np.uint64(seed).tobytes() + np.asarray(theta, np.float64).tobytes())
    return int.from_bytes(h.digest()[:8], "little") >> 1


def model_keys(spec) -> tuple[list[str], list[str]]:
    """The ``search:`` keys the inference fits (``parameters.*``) and those it holds at the
    config's values (any other: firm parameters)."""
    fitted = [k for k in spec.search if k.startswith(MODEL_PREFIX)]
    held = [k for k in spec.search if not k.startswith(MODEL_PREFIX)]
    if not fitted:
        raise ConfigError(
            "search", "names no parameters.* key", "infer at least one model parameter"
        )
    return fitted, held


def simulator(spec) -> Simulator:
    """The spec's baseline at the inference's size, parameters at the prior's centre."""
    from ..engine.plan import make_plan

    fitted, _ = model_keys(spec)
    abc = spec.abc or calibrate.Inference()
    centre = {k: 0.5 * sum(spec.search[k]) for k in fitted}
    config = calibrate.spec_config(
        spec,
        {
            **spec.fixed,
            **centre,
            "sizes.scenarios": abc.scenarios,
            "sizes.firms": abc.firms,
            "sizes.firm_snapshots": abc.scenarios,
            "paths": [calibrate.BASELINE],
        },
    )
    uncertain = set(config.uncertain_names) & {k[len(MODEL_PREFIX) :] for k in fitted}
    if uncertain:
        raise ConfigError(
            f"search.{MODEL_PREFIX}{sorted(uncertain)[0]}",
            "is uncertain in the config",
            "infer a fixed parameter, or remove it from uncertain",
        )
    job = dataclasses.replace(make_plan(config).job, snapshots=config.n_scenarios)
    names = tuple(k[len(MODEL_PREFIX) :] for k in fitted)
    return Simulator(job, names, spec.seed, config.n_scenarios)


def sampling_sd(sim: Simulator, centre: np.ndarray, runs: int) -> tuple[np.ndarray, np.ndarray]:
    """Each fact's sampling sd at parameters ``centre`` (k,): ``runs`` simulations that
    differ only in their seed. Returns (sd (f,), facts (r, f)); an sd that is 0 or cannot
    be estimated is floored at SD_FLOOR of the fact's range width."""
    values = dict(zip(sim.names, centre, strict=True))
    facts = np.stack(
        [
            dataclasses.replace(sim, seed=simulation_seed(sim.seed, np.array([r, -1.0]))).facts(
                values
            )
            for r in range(runs)
        ]
    )
    width = np.array(
        [high - low if math.isfinite(high - low) else 1.0 for _, low, high in targets()]
    )
    with np.errstate(invalid="ignore"):
        sd = np.nanstd(facts, axis=0, ddof=1) if runs > 1 else np.full(len(width), np.nan)
    sd = np.where(np.isfinite(sd) & (sd > SD_FLOOR * width), sd, SD_FLOOR * width)
    return sd, facts


@contextlib.contextmanager
def _numpy_global_seed(seed: int):
    """pyabc draws its proposals from NumPy's global generator: seed it for the run and
    put the caller's state back afterwards (nothing process-wide changes)."""
    state = np.random.get_state()
    np.random.seed(seed % 2**32)
    try:
        yield
    finally:
        np.random.set_state(state)


class _Forward(logging.Handler):
    """pyabc's generation lines (logger ``ABC``, "t: 1, eps: ..." and "Accepted: ...")
    to the caller's progress callable."""

    def __init__(self, say):
        super().__init__(logging.INFO)
        self.say = say

    def emit(self, record):
        message = record.getMessage()
        if message.startswith(("t:", "Accepted", "Stop")):
            self.say(f"ABC-SMC {message}")


@contextlib.contextmanager
def _generations_to(say):
    """For the run: pyabc's generation lines go to ``say`` only (pyabc's own handler and
    the root logger are set aside, then put back)."""
    logger = logging.getLogger("ABC")
    saved = logger.level, logger.propagate, logger.handlers[:]
    logger.handlers = [_Forward(say)]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        logger.handlers = saved[2]


def infer(spec, client=None, progress=None) -> xr.Dataset:
    """ABC-SMC of the spec's model parameters (see the module docstring): the posterior as
    a Dataset in the layout of ``resonance.flows.posterior``.

    client: a ``distributed.Client`` to sample on (pyabc's Dask sampler); None samples in
    this process (the kernel still uses every core through Numba).
    progress: an optional callable(message) told of each step.
    """
    import pyabc
    from pyabc.sampler import DaskDistributedSampler, SingleCoreSampler

    say = progress or (lambda message: None)
    abc = spec.abc or calibrate.Inference()
    fitted, held = model_keys(spec)
    sim = simulator(spec)
    low = np.array([spec.search[k][0] for k in fitted])
    high = np.array([spec.search[k][1] for k in fitted])
    names = [name for name, _, _ in targets()]
    obs = observation()
    started = time.perf_counter()
    sd, centre_facts = sampling_sd(sim, 0.5 * (low + high), abc.scale_runs)
    say(
        f"sampling sd of {len(names)} facts from {abc.scale_runs} simulations at the prior's centre"
    )

    def log_kernel(x, x_0, t=None, par=None):  # the centres are in obs, not in x_0
        return obs.log_kernel(x["facts"])

    prior = pyabc.Distribution(
        **{
            n: pyabc.RV("uniform", lo, hi - lo)
            for n, lo, hi in zip(sim.names, low, high, strict=True)
        }
    )
    sampler = DaskDistributedSampler(client) if client is not None else SingleCoreSampler()
    smc = pyabc.ABCSMC(
        sim,
        prior,
        pyabc.distance.FunctionKernel(log_kernel, ret_scale=pyabc.distance.SCALE_LOG),
        population_size=abc.particles,
        acceptor=pyabc.StochasticAcceptor(),
        eps=pyabc.Temperature(),
        sampler=sampler,
    )
    with (
        tempfile.TemporaryDirectory() as tmp,
        _numpy_global_seed(spec.seed),
        _generations_to(say),
    ):
        db = "sqlite:///" + str(Path(tmp) / "abc.db")
        smc.new(db, {"facts": np.where(np.isnan(obs.centre), obs.low, obs.centre)})
        history = smc.run(
            minimum_epsilon=1.0,  # the temperature: 1 is the exact posterior
            max_nr_populations=abc.generations,
            max_total_nr_simulations=abc.simulations,
        )
        populations = history.get_all_populations()
        populations = populations[populations.t >= 0]
        population = history.get_population(t=history.max_t)
        particles = population.particles
        value = np.array([[p.parameter[n] for n in sim.names] for p in particles])
        weight = np.array([p.weight for p in particles], dtype=np.float64)
        facts = np.array([np.asarray(p.sum_stat["facts"], dtype=np.float64) for p in particles])
        total = int(history.total_nr_simulations)
    dist = np.array([distance(row, obs) for row in facts])
    wall = time.perf_counter() - started
    say(f"{total} ABC-SMC simulations (and {abc.scale_runs} for the sds) in {wall:.0f} s")
    weight = weight / weight.sum()
    samples = populations.samples.to_numpy(dtype=np.int64)
    counts = populations.particles.to_numpy(dtype=np.int64)
    return xr.Dataset(
        {
            "value": (("draw", "parameter"), value),
            "weight": ("draw", weight),
            "facts": (("draw", "fact"), facts),
            "distance": ("draw", dist),
            "prior_low": ("parameter", low),
            "prior_high": ("parameter", high),
            "fact_low": ("fact", obs.low),
            "fact_high": ("fact", obs.high),
            "fact_centre": ("fact", obs.centre),
            "fact_below": ("fact", obs.below),
            "fact_above": ("fact", obs.above),
            "fact_sd": ("fact", sd),
            "centre_facts": (("scale_run", "fact"), centre_facts),
            "epsilon": ("generation", populations.epsilon.to_numpy(dtype=np.float64)),
            "simulations": ("generation", samples),
            "particles": ("generation", counts),
            "acceptance_rate": ("generation", counts / np.maximum(samples, 1)),
        },
        coords={
            "draw": np.arange(len(weight)),
            "parameter": list(sim.names),
            "key": ("parameter", fitted),
            "fact": names,
            "generation": populations.t.to_numpy(dtype=np.int64),
        },
        attrs={
            "config": str(spec.config),
            "config_sha256": _config_sha(spec),
            "seed": int(spec.seed),
            "scenarios": int(sim.n_scenarios),
            "firms": int(sim.job.n_firms),
            "scale_runs": int(abc.scale_runs),
            "total_simulations": total + int(abc.scale_runs),
            "wall_seconds": float(wall),
            "held_at_config": list(held),
            "method": "ABC-SMC with a stochastic acceptor and a temperature schedule, "
            "uniform priors; each fact observed as a split normal around its source's value "
            f"with its range's edges {RANGE_SDS:g} sds away (epsilon is the temperature; "
            "1 is the exact posterior)",
            "library": "pyabc",
            "library_version": str(pyabc.__version__),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
    )


def _config_sha(spec) -> str:
    return calibrate.spec_config(spec, dict(spec.fixed)).sha256
