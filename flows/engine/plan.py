"""The plan of a run: the scenario design θ_s, the chunks, and each chunk's parameter array.

Dim letters: s = scenarios, p = paths, k = parameters, d = uncertain parameters.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import qmc

from ...kernels import load
from ...kernels.registry import PARAMETERS
from ..costs import CostTable
from ..paths import LeverArrays
from .layout import time_coordinate

if TYPE_CHECKING:  # a type only: the config solves budgets through this module
    from ..config import RunConfig


@dataclass(frozen=True)
class Design:
    """The unit-cube design of the uncertain parameters, made a chunk at a time: small,
    picklable, and the same points whichever chunks ask for them.

    ``mc`` draws from the run's Philox streams (one RNG, counter-based: a scenario's point
    is a function of the seed and its index); ``sobol`` (scrambled) is scipy.stats.qmc's
    sequence, started at a range's first point (``sobol_points``), so a chunk deep in a
    long run costs what the first chunk costs; ``lhs``
    (scipy.stats.qmc) and ``saltelli`` (SALib's Sobol' design for first-order and total
    indices, N x (d + 2) scenarios in SALib's order, which
    ``resonance.flows.analysis.sensitivity`` relies on) are fixed-size designs that do not
    grow: they are made whole, once per process that needs them (8 bytes x d per scenario).

    With ``replications`` R > 1 the design's points are worlds: scenario s is replication
    s % R of world s // R and takes that world's point, so ``n`` counts worlds and the
    ranges of ``unit`` and ``theta`` count scenarios (their bounds need not fall on worlds).
    """

    sampler: str
    seed: int
    n: int  # points of the whole design: worlds (scenarios when R = 1)
    names: tuple[str, ...]  # the uncertain parameters, in registry order
    distributions: tuple  # flows.uncertain distributions, one per name
    # The design column each name reads (None: its own, in order). A posterior's
    # parameters share one column, so a scenario takes one whole draw of it.
    columns: tuple[int, ...] | None = None
    replications: int = 1  # R: scenarios per world (sizes.replications)

    @classmethod
    def of(cls, config: RunConfig) -> Design:
        return cls(
            config.sampler,
            int(config.seed),
            config.n_worlds,
            tuple(config.uncertain_names),
            tuple(config.distributions),
            tuple(config.design_columns),
            config.replications,
        )

    @property
    def d(self) -> int:
        """Columns of the unit-cube design (the uncertain parameters, a posterior's
        counting once)."""
        return len(self.names) if self.columns is None else len(set(self.columns))

    def unit(self, start: int, stop: int) -> np.ndarray:
        """Design points of scenarios [start, stop) in the unit cube: float64 (s, d), a new
        array the caller may overwrite; the R scenarios of a world share its point."""
        r = self.replications
        if r == 1:
            return self.world_unit(start, stop)
        first, last = start // r, -(-stop // r)  # the worlds the scenarios belong to
        return np.repeat(self.world_unit(first, last), r, axis=0)[
            start - first * r : stop - first * r
        ]

    def world_unit(self, start: int, stop: int) -> np.ndarray:
        """Design points of worlds [start, stop) in the unit cube: float64 (w, d), new."""
        if self.sampler == "mc":
            ids = np.arange(start, stop, dtype=np.int64)
            from ...kernels import reference  # the run's Philox, in its NumPy form

            return reference.design_uniforms(self.seed, ids, self.d)
        if self.sampler == "sobol":
            return sobol_points(self.seed, self.d, start, stop)
        names = self.names if self.d == len(self.names) else tuple(f"u{k}" for k in range(self.d))
        return _whole_design(self.sampler, self.seed, self.n, names)[start:stop].copy()

    def theta(self, start: int, stop: int) -> np.ndarray:
        """Uncertain parameter values of scenarios [start, stop), in the parameters' own
        units: float64 (s, d), each column through its distribution's inverse CDF."""
        unit = self.unit(start, stop)
        if self.columns is None or self.columns == tuple(range(len(self.names))):
            for d, dist in enumerate(self.distributions):  # in place: one column's memory more
                unit[:, d] = dist.ppf(unit[:, d])
            return unit
        theta = np.empty((unit.shape[0], len(self.names)))
        for d, (dist, column) in enumerate(zip(self.distributions, self.columns, strict=True)):
            theta[:, d] = dist.ppf(unit[:, column])
        return theta


def sobol_points(seed: int, d: int, start: int, stop: int) -> np.ndarray:
    """Points [start, stop) of the scrambled Sobol' sequence that
    ``qmc.Sobol(d, scramble=True, rng=np.random.default_rng(seed))`` draws: float64 (s, d),
    bit for bit (tests/flows/engine/test_design.py).

    scipy's ``fast_forward`` steps through every skipped point (0.07 s per 10 M here), so
    the point before ``start`` is computed directly: the engine's scrambled start XOR the
    direction numbers of the bits set in its Gray code (i ^ i >> 1), which is the order
    scipy draws them in. The engine is then set at that point and draws the rest itself.
    This reads and sets the engine's private state (``_shift``, ``_sv``, ``_quasi``,
    ``num_generated``); the bit-for-bit tests fail if a scipy release changes it.
    """
    if d == 0:
        return np.empty((stop - start, 0))
    engine = qmc.Sobol(d=d, scramble=True, rng=np.random.default_rng(seed))
    if stop > engine.maxn:
        raise ValueError(f"a Sobol design has at most {engine.maxn} points, not {stop}")
    if stop <= start:
        return np.empty((0, d))
    if start == 0:
        with warnings.catch_warnings():  # a chunk's share of a balanced design
            warnings.simplefilter("ignore")
            return engine.random(stop)
    gray = (start - 1) ^ ((start - 1) >> 1)
    quasi = engine._shift.astype(np.uint64)
    for bit in range(engine.bits):
        if gray >> bit & 1:
            quasi ^= engine._sv[:, bit].astype(np.uint64)
    engine._quasi = quasi.astype(engine._quasi.dtype)
    engine.num_generated = start  # the engine now stands after point start - 1
    return engine.random(stop - start)


@functools.lru_cache(maxsize=4)
def _whole_design(sampler: str, seed: int, n: int, names: tuple[str, ...]) -> np.ndarray:
    """A fixed-size design, float64 (n, d), made once per process."""
    d = len(names)
    if sampler == "saltelli":
        from SALib.sample import sobol as saltelli

        problem = {"num_vars": d, "names": list(names), "bounds": [[0.0, 1.0]] * d}
        with warnings.catch_warnings():  # SALib prefers N a power of two; others are valid
            warnings.simplefilter("ignore")
            points = saltelli.sample(problem, n // (d + 2), calc_second_order=False, seed=seed)
    else:
        points = qmc.LatinHypercube(d=d, rng=np.random.default_rng(seed)).random(n)
    points.setflags(write=False)  # shared by every chunk of this process
    return points


def scenario_params(
    nominal: np.ndarray,
    levers: LeverArrays,
    uncertain_index: np.ndarray,
    theta: np.ndarray,
    costs: CostTable,
    seed: int,
    ids: np.ndarray,
) -> np.ndarray:
    """The kernel's parameter vectors of scenarios with world parameters theta (s, d)
    under every path: the model's parameters, then the path's cost coefficients.

    nominal: (k,) fixed values; uncertain_index: int64 (d,), the columns theta fills;
    costs, seed, ids: the costs table, the run seed and the scenarios' RNG counters (int64
    (s,), for uncertain costs). Returns float64 (s, p, N_INPUTS). Cheap, so tasks compute
    it where they run instead of shipping (s, p, k) arrays around.
    """
    base = np.repeat(nominal[None, :], theta.shape[0], axis=0)
    base[:, uncertain_index] = theta
    levered = levers.apply(base)
    return np.concatenate([levered, costs.coefficients(base, levered, seed, ids)], axis=2)


def world_events(config: RunConfig, theta: np.ndarray, start: int, stop: int) -> dict:
    """The key-technology chokepoint of scenarios [start, stop) with world parameters theta
    (s, d), as the kernel simulates it (``kernels.reference.chokepoint_quarters``, the NumPy
    form of the kernel's own draw of each scenario): ``chokepoint`` int8 (s,), 1 where it
    strikes;
    ``chokepoint_time`` float64 (s,), the strike quarter's ``time`` coordinate (years), NaN
    where it does not strike; ``chokepoint_severity`` float64 (s,), its severity s_c, 0
    where it does not strike."""

    def column(name: str) -> np.ndarray:
        if name in config.uncertain_names:
            return np.ascontiguousarray(theta[:, config.uncertain_names.index(name)])
        return np.full(stop - start, config.nominal[PARAMETERS.index(name)])

    from ...kernels import reference  # the run's Philox, in its NumPy form

    ids = draw_ids(config.sampler, start, stop, config.saltelli_multiple, config.replications)
    strike = reference.chokepoint_quarters(
        config.seed, ids, column("choke_prob"), config.n_quarters
    )
    struck = strike >= 0
    return {
        "chokepoint": struck.astype(np.int8),
        "chokepoint_time": np.where(struck, time_coordinate(config.n_quarters)[strike], np.nan),
        "chokepoint_severity": np.where(struck, column("choke_severity"), 0.0),
    }


def draw_ids(
    sampler: str, start: int, stop: int, saltelli_multiple: int, replications: int = 1
) -> np.ndarray:
    """The RNG scenario counters of scenarios [start, stop): int64 (s,).

    Normally a scenario's own index. In a Saltelli design the rows of one base sample
    (A, the d mixed rows AB_i, and B: d + 2 = ``saltelli_multiple`` consecutive rows in
    SALib's order) share one counter, so they see the same firms and shocks: the
    firm-level Monte Carlo noise is then common to the differences the Sobol estimators
    take, instead of posing as an interaction of every parameter (common random numbers,
    as between paths).

    With R = ``replications`` > 1, scenario s is replication r = s % R of world
    w = s // R, and its counter is c(w) R + r, where c(w) is the world's counter as above
    (w, or w // saltelli_multiple): the replications of a world draw independent firms,
    shocks and events, and replication r of the rows of one base sample share theirs.
    Without a Saltelli design that is s itself; with R = 1 it is the counter above.
    """
    world, replication = np.divmod(np.arange(start, stop, dtype=np.int64), replications)
    return world_ids(sampler, world, saltelli_multiple) * replications + replication


def world_ids(sampler: str, worlds: np.ndarray, saltelli_multiple: int) -> np.ndarray:
    """The counters of worlds ``worlds`` (int64 (s,)): their own index, or in a Saltelli
    design that of their base sample (``draw_ids`` with R = 1)."""
    return worlds // saltelli_multiple if sampler == "saltelli" else worlds


def cost_ids(
    sampler: str, start: int, stop: int, saltelli_multiple: int, replications: int = 1
) -> np.ndarray:
    """The counters the uncertain unit costs of scenarios [start, stop) are drawn by
    (flows/costs.py): int64 (s,), their world's (``world_ids``), so the R replications of a
    world pay the same prices, which belong to the world like its parameters. With R = 1
    they are ``draw_ids``."""
    ids = np.arange(start, stop, dtype=np.int64) // replications
    return world_ids(sampler, ids, saltelli_multiple)


@dataclass(frozen=True)
class ChunkJob:
    """Everything simulating a chunk needs besides its scenario range: small, and sent to
    the Dask workers once. ``simulate`` is the one chunk function; it makes the chunk's
    own design points, so nothing of size ``n_scenarios`` is made or shipped."""

    nominal: np.ndarray  # float64 (k,)
    uncertain_index: np.ndarray  # int64 (d,)
    levers: LeverArrays
    costs: CostTable
    firm_params: np.ndarray  # float64 (N_FIRM_PARAMETERS,)
    seed: int
    n_firms: int
    n_quarters: int
    saltelli_multiple: int
    precision: str  # "float32" | "float64", the kernel build (kernels/simulate.py)
    design: Design  # the sampler's points of any range of scenarios
    snapshots: int = 0  # K: the first K scenarios of the run keep yearly firm snapshots

    @classmethod
    def of(cls, config: RunConfig) -> ChunkJob:
        return cls(
            config.nominal,
            config.uncertain_index,
            config.levers,
            config.costs,
            config.firm_vector,
            config.seed,
            config.n_firms,
            config.n_quarters,
            config.saltelli_multiple,
            config.precision,
            Design.of(config),
            config.n_snapshots,
        )

    def params(self, theta: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """float64 (s, p, N_INPUTS) kernel parameters of scenarios with world parameters
        theta (s, d) whose unit costs are drawn by counters ids (int64 (s,), ``cost_ids``)."""
        return scenario_params(
            self.nominal, self.levers, self.uncertain_index, theta, self.costs, self.seed, ids
        )

    def simulate(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Scenarios [start, stop) from the Numba kernel: outcomes float64 (s, p, t, m), and
        the firm snapshots float32 (k, p, y, v, i) of those among the run's first K
        scenarios (None when there are none)."""
        k = max(0, min(stop, self.snapshots) - start)
        counters = (self.design.sampler, start, stop, self.saltelli_multiple)
        ids = draw_ids(*counters, self.design.replications)
        result = load().simulate(
            self.params(
                self.design.theta(start, stop), cost_ids(*counters, self.design.replications)
            ),
            self.firm_params,
            ids,
            np.uint64(self.seed),
            self.n_firms,
            self.n_quarters,
            self.precision,
            snapshots=k,
        )
        return result if k else (result, None)

    def warm(self) -> None:
        """Load (or, with a cold cache, compile) the kernel of this job's precision in this
        process: one scenario of two firms for one quarter, at the nominal parameters."""
        theta = self.nominal[self.uncertain_index][None, :]
        ids = np.zeros(1, dtype=np.int64)
        load().simulate(
            self.params(theta, ids),
            self.firm_params,
            ids,
            np.uint64(self.seed),
            2,
            1,
            self.precision,
        )


class Chunks(Sequence):
    """The chunks of a run, [start, stop) scenario ranges of ``size`` scenarios (the last
    may be shorter), computed on demand: a run of 10^8 scenarios holds no list of them."""

    def __init__(self, n: int, size: int):
        self.n, self.size = n, size

    def __len__(self) -> int:
        return -(-self.n // self.size)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        if k < 0:
            k += len(self)
        if not 0 <= k < len(self):
            raise IndexError(k)
        return k * self.size, min((k + 1) * self.size, self.n)

    def __eq__(self, other) -> bool:
        return list(self) == list(other) if isinstance(other, Sequence) else NotImplemented

    def __repr__(self) -> str:
        return f"Chunks(n={self.n}, size={self.size})"


@dataclass
class Plan:
    """What a run computes: its chunks of scenario ids, each with its own design points."""

    config: RunConfig
    chunks: Chunks

    @property
    def job(self) -> ChunkJob:
        return ChunkJob.of(self.config)

    @property
    def design(self) -> Design:
        return Design.of(self.config)

    def params(self, start: int, stop: int) -> np.ndarray:
        """Kernel parameters of scenarios [start, stop) under every path: float64
        (s, p, N_INPUTS), the model's parameters then the cost coefficients."""
        config = self.config
        ids = cost_ids(config.sampler, start, stop, config.saltelli_multiple, config.replications)
        return self.job.params(self.design.theta(start, stop), ids)

    def simulate_chunk(self, start: int, stop: int) -> np.ndarray:
        """Outcomes of scenarios [start, stop): float64 (s, p, t, m)."""
        return self.job.simulate(start, stop)[0]

    def simulate(self) -> np.ndarray:
        """Outcomes of every scenario in one call: float64 (scenario, path, quarter, metric).

        For small runs from Python; large runs go through the Dask engine chunk by chunk.
        """
        return self.simulate_chunk(0, self.config.n_scenarios)


def make_plan(config: RunConfig, chunk_scenarios: int | None = None) -> Plan:
    """Cut the run's scenarios into chunks of ``chunk_scenarios`` (the config's by default)."""
    return Plan(config, Chunks(config.n_scenarios, chunk_scenarios or config.chunk_scenarios))
