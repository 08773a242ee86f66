"""The plan of a run: the scenario design θ_s, the chunks, and each chunk's parameter array.

Dim letters: s = scenarios, p = paths, k = parameters, d = uncertain parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import qmc

from resonance.flows.config import RunConfig
from resonance.flows.paths import LeverArrays
from resonance.kernels import load


def design(config: RunConfig) -> np.ndarray:
    """Unit-cube design of the uncertain parameters, float64 (scenario, d).

    ``mc`` draws from the run's Philox streams (one RNG); ``lhs`` and ``sobol`` (scrambled)
    come from scipy.stats.qmc, seeded by the run seed; ``saltelli`` is SALib's Sobol'
    sequence design for first-order and total indices (N x (d + 2) scenarios, in SALib's
    order, which ``resonance.flows.analysis.sensitivity`` relies on).
    """
    n, d = config.n_scenarios, len(config.uncertain_names)
    if config.sampler == "mc":
        return load().design_uniforms(np.uint64(config.seed), np.arange(n, dtype=np.int64), d)
    if config.sampler == "saltelli":
        import warnings

        from SALib.sample import sobol as saltelli

        problem = {"num_vars": d, "names": list(config.uncertain_names), "bounds": [[0.0, 1.0]] * d}
        with warnings.catch_warnings():  # SALib prefers N a power of two; others are valid
            warnings.simplefilter("ignore")
            return saltelli.sample(problem, n // (d + 2), calc_second_order=False, seed=config.seed)
    generator = np.random.default_rng(config.seed)
    if config.sampler == "lhs":
        return qmc.LatinHypercube(d=d, rng=generator).random(n)
    sobol = qmc.Sobol(d=d, scramble=True, rng=generator)
    # Sobol points are balanced in powers of two; other sizes still cover the cube well.
    m = int(np.ceil(np.log2(max(n, 1))))
    return sobol.random_base2(m)[:n]


def scenario_params(
    nominal: np.ndarray, levers: LeverArrays, uncertain_index: np.ndarray, theta: np.ndarray
) -> np.ndarray:
    """Parameters of scenarios with world parameters theta (s, d) under every path.

    nominal: (k,) fixed values; uncertain_index: int64 (d,), the columns theta fills;
    returns float64 (s, p, k). Cheap, so tasks compute it where they run instead of
    shipping (s, p, k) arrays around.
    """
    base = np.repeat(nominal[None, :], theta.shape[0], axis=0)
    base[:, uncertain_index] = theta
    return levers.apply(base)


def draw_ids(sampler: str, start: int, stop: int, saltelli_multiple: int) -> np.ndarray:
    """The RNG scenario counters of scenarios [start, stop): int64 (s,).

    Normally a scenario's own index. In a Saltelli design the rows of one base sample
    (A, the d mixed rows AB_i, and B: d + 2 = ``saltelli_multiple`` consecutive rows in
    SALib's order) share one counter, so they see the same firms and shocks: the
    firm-level Monte Carlo noise is then common to the differences the Sobol estimators
    take, instead of posing as an interaction of every parameter (common random numbers,
    as between paths).
    """
    ids = np.arange(start, stop, dtype=np.int64)
    return ids // saltelli_multiple if sampler == "saltelli" else ids


@dataclass(frozen=True)
class ChunkJob:
    """Everything simulating a chunk needs besides its scenario range and θ: small, and
    sent to the Dask workers once. ``simulate`` is the one chunk function."""

    nominal: np.ndarray  # float64 (k,)
    uncertain_index: np.ndarray  # int64 (d,)
    levers: LeverArrays
    firm_params: np.ndarray  # float64 (N_FIRM_PARAMETERS,)
    seed: int
    n_firms: int
    n_quarters: int
    sampler: str
    saltelli_multiple: int
    precision: str  # "float32" | "float64", the kernel build (kernels/simulate.py)
    snapshots: int = 0  # K: the first K scenarios of the run keep yearly firm snapshots

    @classmethod
    def of(cls, config: RunConfig) -> ChunkJob:
        return cls(
            config.nominal,
            config.uncertain_index,
            config.levers,
            config.firm_vector,
            config.seed,
            config.n_firms,
            config.n_quarters,
            config.sampler,
            config.saltelli_multiple,
            config.precision,
            config.n_snapshots,
        )

    def params(self, theta: np.ndarray) -> np.ndarray:
        """float64 (s, p, k) parameters of scenarios with world parameters theta (s, d)."""
        return scenario_params(self.nominal, self.levers, self.uncertain_index, theta)

    def simulate(
        self, start: int, stop: int, theta: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Scenarios [start, stop) with world parameters theta (s, d), from the Numba kernel:
        outcomes float64 (s, p, t, m), and the firm snapshots float32 (k, p, y, v, i) of
        those among the run's first K scenarios (None when there are none)."""
        k = max(0, min(stop, self.snapshots) - start)
        result = load().simulate(
            self.params(theta),
            self.firm_params,
            draw_ids(self.sampler, start, stop, self.saltelli_multiple),
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
        load().simulate(
            self.params(theta),
            self.firm_params,
            np.zeros(1, dtype=np.int64),
            np.uint64(self.seed),
            2,
            1,
            self.precision,
        )


@dataclass
class Plan:
    """What a run computes: θ (scenario, d) and the chunks of scenario ids."""

    config: RunConfig
    theta: np.ndarray  # float64 (scenario, d), in the parameters' own units
    chunks: list[tuple[int, int]]  # [start, stop) scenario ranges

    @property
    def job(self) -> ChunkJob:
        return ChunkJob.of(self.config)

    def params(self, start: int, stop: int) -> np.ndarray:
        """Parameters of scenarios [start, stop) under every path: float64 (s, p, k)."""
        return self.job.params(self.theta[start:stop])

    def simulate_chunk(self, start: int, stop: int) -> np.ndarray:
        """Outcomes of scenarios [start, stop): float64 (s, p, t, m)."""
        return self.job.simulate(start, stop, self.theta[start:stop])[0]

    def simulate(self) -> np.ndarray:
        """Outcomes of every scenario in one call: float64 (scenario, path, quarter, metric).

        For small runs from Python; large runs go through the Dask engine chunk by chunk.
        """
        return self.simulate_chunk(0, self.config.n_scenarios)


def make_plan(config: RunConfig, chunk_scenarios: int | None = None) -> Plan:
    """Design the scenarios and cut them into chunks of ``chunk_scenarios``."""
    size = chunk_scenarios or config.chunk_scenarios
    theta = config.theta(design(config))
    n = config.n_scenarios
    chunks = [(a, min(a + size, n)) for a in range(0, n, size)]
    return Plan(config, theta, chunks)
