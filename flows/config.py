"""The run configuration: schema, loading and validation (the one config loader).

``load_config(file, **overrides)`` reads a YAML config, applies command-line overrides,
checks everything (unknown keys, types, ranges, path and parameter names, the paths'
effect on every parameter's range) and returns a :class:`RunConfig`, or raises
:class:`resonance.flows.errors.ConfigError` naming the first bad key. Nothing else reads configs.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ..kernels.registry import (
    FIRM_INFO,
    FIRM_PARAMETERS,
    PARAMETER_INFO,
    PARAMETERS,
)
from .budget import budgets, solve_intensities
from .costs import check_priced, load_costs
from .errors import ConfigError, config_error_from
from .files import read_yaml_text
from .paths import LeverArrays, PolicyPath, expand, lever_coordinates, load_path
from .uncertain import Distribution, parse, posterior_draws

MAX_SEED = 2**64 - 1
# Most simulated scenarios (worlds x replications): a scenario's RNG counter is one 32-bit
# word of Philox's counter (kernels/rng.py), so counters stay below 2^31.
MAX_SCENARIOS = 2**31
# Most scenarios a design of each sampler holds: Sobol' by scipy's 30-bit engine, the
# whole designs (lhs, saltelli) by the memory of one process, about 1.3 GB at 10 inputs.
DESIGN_LIMITS = {"mc": 2**63 - 1, "sobol": 2**30, "lhs": 2**24, "saltelli": 2**24}
IDENTITY_EXCLUDES = ("sizes.scenarios", "store", "cluster")  # see RunConfig.identity
# ``chunk_scenarios: auto``: a task's share of the run (auto_chunk). Its firm-steps: 1-2 s
# of the kernel on one core (docs/results.md); its firms, which the kernel's state holds;
# its outcome rows (path x quarter per scenario: 17 metrics each, float32 or float64).
TASK_FIRM_STEPS = 51_200_000  # 128 scenarios x 1,000 firms x 40 quarters x 10 paths
TASK_FIRMS = 128_000
TASK_OUTCOME_ROWS = 512_000


def auto_chunk(firms: int, quarters: int, paths: int) -> int:
    """Scenarios per task for ``chunk_scenarios: auto``: as many as keep a task within
    TASK_FIRM_STEPS, TASK_FIRMS and TASK_OUTCOME_ROWS, at least one, rounded down to a
    multiple of 16 above 16 (so that the default 16 firm snapshots fill chunks of 16:
    ``layout.snapshot_chunk``). The default run's 128 (1,000 firms, 40 quarters, 10
    paths); 1,280 at 100 firms, where 128 scenarios would be a tenth of the work and ten
    times the tasks, shards and store writes. With fewer paths or quarters the firms bound
    it (a task of one path at 1,000 firms is a tenth of the default's work); with very
    few firms the outcome rows do (at most 512,000 rows of 17 metrics: 35 MB of float32
    per task, ten times the default's). Not a function of the scenario count, so a store
    keeps its chunks as it grows; a small run of few firms may then be a single task
    (``--chunk`` spreads it)."""
    fit = min(
        TASK_FIRM_STEPS // (firms * quarters * paths),
        TASK_FIRMS // firms,
        TASK_OUTCOME_ROWS // (quarters * paths),
    )
    return max(1, fit - fit % 16 if fit > 16 else fit)


def _chunk_scenarios(value):
    """``chunk_scenarios``: a whole number >= 1 (as YAML or a string writes it) or "auto";
    ValueError naming both otherwise."""
    if value == "auto":
        return value
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("expected a whole number of scenarios >= 1, or auto")
    return value


class Sizes(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    scenarios: int = Field(ge=1, le=2**31)  # worlds: the design's points
    firms: int = Field(ge=2, le=2**31)
    quarters: int = Field(ge=1, le=100_000)
    firm_snapshots: int = Field(default=16, ge=0, le=100_000)
    # R: independent firm draws (firms, shocks, events) of each world; the run simulates
    # scenarios x R, world-major (docs/analysis.md, "World or luck")
    replications: int = Field(default=1, ge=1, le=MAX_SCENARIOS)


class Schema(BaseModel):
    """The YAML layout of a run config (see configs/default.yaml)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    seed: int = Field(ge=0, le=MAX_SEED)
    sizes: Sizes
    sampler: Literal["mc", "lhs", "sobol", "saltelli"] = "sobol"
    precision: Literal["float32", "float64"] = "float32"
    # scenarios per Dask task, or "auto": sized by the work (auto_chunk)
    chunk_scenarios: Annotated[int | str, BeforeValidator(_chunk_scenarios)] = 32
    quantiles: list[float] = [0.05, 0.25, 0.5, 0.75, 0.95]
    store: str = "runs/resonance.zarr"
    cluster: str = "local"
    costs: str = "costs.yaml"  # the costs file, beside the config (flows/costs.py)
    # Mean policy cost per year (share of R&D spending) every path with levers is scaled
    # to, unless its file gives its own budget (flows/budget.py); None: levers as written.
    budget: float | None = Field(default=None, gt=0.0)
    paths: list[str] = Field(min_length=1)
    uncertain: dict[str, Annotated[Distribution, BeforeValidator(parse)]]
    # A calibration's posterior (flows/posterior.py) the world parameters it carries are
    # drawn from, one whole draw per scenario: ``uncertain: {from: FILE}`` in the YAML.
    posterior: str | None = None
    parameters: dict[str, float]
    firm_parameters: dict[str, float]

    @model_validator(mode="before")
    @classmethod
    def _posterior_under_uncertain(cls, raw):
        """``uncertain: {from: FILE}`` is the ``posterior`` field (one source of it)."""
        uncertain = raw.get("uncertain") if isinstance(raw, dict) else None
        if isinstance(uncertain, dict) and "from" in uncertain:
            if raw.get("posterior") is not None:
                raise ValueError("give the posterior once, as uncertain: {from: FILE}")
            raw = {**raw, "uncertain": {k: v for k, v in uncertain.items() if k != "from"}}
            raw["posterior"] = uncertain["from"]
        return raw

    @field_validator("quantiles")
    @classmethod
    def _quantiles(cls, q: list[float]) -> list[float]:
        if not q or any(not 0.0 < x < 1.0 for x in q) or sorted(set(q)) != q:
            raise ValueError("must be increasing, distinct and strictly between 0 and 1")
        return q

    @field_validator("paths")
    @classmethod
    def _paths(cls, paths: list[str]) -> list[str]:
        if len(set(paths)) != len(paths):
            raise ValueError("each path may appear once")
        return paths


def _check_names(
    section: str, given: dict, expected: tuple[str, ...], complete: bool = True
) -> None:
    for name in given:
        if name not in expected:
            raise ConfigError(
                f"{section}.{name}", "unknown parameter", f"expected one of: {', '.join(expected)}"
            )
    for name in expected if complete else ():
        if name not in given:
            raise ConfigError(
                f"{section}.{name}",
                "missing",
                "give it a value here, or a distribution under uncertain",
            )


def _check_bounds(key: str, value: float, bounds: tuple[float, float]) -> None:
    lo, hi = bounds
    if not math.isfinite(value) or not lo <= value <= hi:
        raise ConfigError(key, f"{value} is out of range", f"expected a value in [{lo}, {hi}]")


class RunConfig:
    """A validated run: the schema's values plus the resolved paths and provenance.

    Attributes of note: ``text`` (the YAML text as read), ``sha256`` (of the validated
    content, so overrides count), ``identity`` (the same without the scenario count, store
    and cluster: which stores this config may resume or grow), ``paths`` (list of
    :class:`PolicyPath`), ``nominal`` (float64 (N_PARAMETERS,): uncertain ones at their
    distribution's nominal value), ``firm_vector``
    (float64 (N_FIRM_PARAMETERS,)), ``uncertain_names`` (the uncertain parameters in
    registry order), ``uncertain_index`` (int64 (d,): their columns in the parameter array),
    ``distributions`` (one per uncertain parameter, flows/uncertain.py), ``bounds``
    (float64 (d, 2): their supports).
    """

    def __init__(self, schema: Schema, source: Path, text: str):
        self.schema = schema
        self.source = source
        self.text = text
        for name in schema.uncertain:
            if name in schema.parameters:
                raise ConfigError(
                    f"uncertain.{name}",
                    "is also fixed under parameters",
                    "keep it in one of the two sections",
                )
        _check_names("uncertain", schema.uncertain, PARAMETERS, complete=False)
        # A posterior's parameters are drawn from it; a value under parameters is then the
        # fallback of a config without it, and is not used.
        self.posterior = self._read_posterior(schema, source)
        self.uncertain = {**schema.uncertain, **self.posterior}
        fixed = tuple(n for n in PARAMETERS if n not in self.uncertain)
        _check_names(
            "parameters",
            {n: v for n, v in schema.parameters.items() if n not in self.posterior},
            fixed,
        )
        _check_names("firm_parameters", schema.firm_parameters, FIRM_PARAMETERS)
        for name, dist in self.uncertain.items():
            where = "uncertain.from" if name in self.posterior else f"uncertain.{name}"
            for v in dist.support:
                _check_bounds(where, v, PARAMETER_INFO[name].bounds)
        for name, v in schema.parameters.items():
            _check_bounds(f"parameters.{name}", v, PARAMETER_INFO[name].bounds)
        for name, v in schema.firm_parameters.items():
            _check_bounds(f"firm_parameters.{name}", v, FIRM_INFO[name].bounds)
        # The uncertain parameters in the registry's order, whatever the YAML's: column d of
        # the design is uncertain_names[d], except that a posterior's parameters share one
        # column, the last (design_columns), so a scenario takes one whole draw.
        self.uncertain_names = tuple(n for n in PARAMETERS if n in self.uncertain)
        self.uncertain_index = np.array(
            [PARAMETERS.index(n) for n in self.uncertain_names], dtype=np.int64
        )
        self.distributions = [self.uncertain[n] for n in self.uncertain_names]
        own = [n for n in self.uncertain_names if n not in self.posterior]
        self.design_columns = tuple(
            own.index(n) if n in own else len(own) for n in self.uncertain_names
        )
        multiple = self.saltelli_multiple
        if schema.sampler == "saltelli" and schema.sizes.scenarios % multiple:
            raise ConfigError(
                "sizes.scenarios",
                f"{schema.sizes.scenarios} is not a multiple of {multiple}",
                f"a Saltelli design of {multiple - 2} uncertain inputs (a posterior counts "
                f"once) has N x {multiple} scenarios, e.g. {128 * multiple}",
            )
        # A scrambled Sobol' sequence of scipy's 30-bit engine has 2^30 points; a Latin
        # hypercube or Saltelli design is made whole in each process that reads it, so its
        # size is bounded by memory (plan.Design). Past either, mc is made per chunk.
        n, limit = schema.sizes.scenarios, DESIGN_LIMITS[schema.sampler]
        if n > limit:
            raise ConfigError(
                "sizes.scenarios",
                f"{n} is more than a {schema.sampler} design holds ({limit})",
                "use sampler: mc, whose draws are made a chunk at a time at any size",
            )
        replications = schema.sizes.replications
        if n * replications > MAX_SCENARIOS:
            raise ConfigError(
                "sizes.replications",
                f"{n} worlds x {replications} replications is more than {MAX_SCENARIOS} scenarios",
                "fewer worlds or replications",
            )
        fp = schema.firm_parameters
        if fp["layers_min"] > fp["layers_max"]:
            raise ConfigError("firm_parameters.layers_min", "is above layers_max")

        # Either bound may be fixed or uncertain: the highest floor must stay below the
        # lowest ceiling in every world.
        def support(name):
            if name in self.uncertain:
                return self.uncertain[name].support
            return schema.parameters[name], schema.parameters[name]

        if support("rd_min")[1] > support("rd_max")[0]:
            where = "uncertain" if "rd_min" in self.uncertain else "parameters"
            raise ConfigError(
                f"{where}.rd_min",
                "can be above rd_max",
                "keep every value of rd_min below every value of rd_max",
            )

        self.paths_dir = source.parent / "paths"
        files = [load_path(ref, self.paths_dir) for ref in schema.paths]
        # A file with lever ranges stands for its policies (flows/paths.py, expand).
        self.paths: list[PolicyPath] = [
            policy for file in files for policy in expand(file, schema.sampler, schema.seed)
        ]
        self.lever_coords = lever_coordinates([f for f in files if f.ranges], self.paths)
        self.path_names = [p.name for p in self.paths]
        if len(set(self.path_names)) != len(self.path_names):
            raise ConfigError("paths", f"two path files share a name: {self.path_names}")
        if schema.chunk_scenarios == "auto":  # resolved here, where the paths are known:
            # the store, the digests and a grown config all see the number
            schema.chunk_scenarios = auto_chunk(
                schema.sizes.firms, schema.sizes.quarters, len(self.paths)
            )
        self.levers = LeverArrays.from_paths(self.paths)
        self.bounds = np.array([d.support for d in self.distributions], dtype=np.float64).reshape(
            -1, 2
        )
        self.nominal = np.array(
            [
                self.uncertain[n].nominal if n in self.uncertain else schema.parameters[n]
                for n in PARAMETERS
            ],
            dtype=np.float64,
        )
        self.firm_vector = np.array([fp[n] for n in FIRM_PARAMETERS], dtype=np.float64)
        self._check_paths_keep_ranges()
        costs_file = Path(schema.costs)
        self.costs = load_costs(
            costs_file if costs_file.is_absolute() else source.parent / costs_file
        )
        corners = self.corners()
        check_priced(self.costs, self.levers.apply(corners), corners, self.paths)
        # Equal budgets: each budgeted path's changes scaled by the intensity that makes
        # its mean cost its budget (a pilot simulation where costs follow activity).
        self.budget_intensity = None  # float64 (path,) where budgets scaled the paths
        if any(b is not None for b in budgets(self)):
            self.budget_intensity = solve_intensities(self)
            self.levers = self.levers.with_intensity(self.budget_intensity)
            self._check_paths_keep_ranges()
        content = schema.model_dump(mode="json")
        if content["sizes"]["replications"] == 1:
            # the default, left out so a config hashes as it did before replications were
            del content["sizes"]["replications"]
        canonical = yaml.safe_dump(content, sort_keys=True)
        self.canonical = canonical  # the validated config, overrides applied, as YAML
        # The draws depend on the costs file's content and the paths' levers too, which
        # live in files of their own: both join what the digests hash.
        content["costs"] = self.costs.entries
        content["paths"] = [[p.name, p.levers, p.budget] for p in self.paths]
        if self.posterior:  # and on the posterior's draws, which live in a file too
            content["posterior"] = next(iter(self.posterior.values())).digest
        self.sha256 = hashlib.sha256(yaml.safe_dump(content, sort_keys=True).encode()).hexdigest()
        # What a store's draws depend on: everything but how many scenarios there are (a
        # store grows), where the store lies and which cluster computes it (neither
        # changes a bit). A store belongs to every config of its identity.
        for key in IDENTITY_EXCLUDES:
            section, _, name = key.rpartition(".")
            (content[section] if section else content).pop(name)
        self.identity = hashlib.sha256(yaml.safe_dump(content, sort_keys=True).encode()).hexdigest()

    @staticmethod
    def _read_posterior(schema: Schema, source: Path) -> dict:
        """The posterior's parameters as ``uncertain.PosteriorDraw`` by name ({} without
        one); a missing file, a store that is not a posterior, or a parameter the model
        does not have is a one-line ConfigError at ``uncertain.from``."""
        if schema.posterior is None:
            return {}
        from .posterior import open_posterior

        file = Path(schema.posterior)
        file = file if file.is_absolute() else source.parent / file
        ds = open_posterior(file, "uncertain.from")
        for name in ds.parameter.values:
            if str(name) not in PARAMETERS:
                raise ConfigError(
                    "uncertain.from",
                    f"{file} carries {name}, which is not a model parameter",
                    "a posterior of resonance calibrate carries parameters.* keys",
                )
            if str(name) in schema.uncertain:
                raise ConfigError(
                    f"uncertain.{name}",
                    "is also drawn from the posterior",
                    "keep it in one of the two",
                )
        return posterior_draws(ds, str(file))

    def corners(self) -> np.ndarray:
        """float64 (2, N_PARAMETERS): the parameters before any lever at the two corners of
        the world, every uncertain one at the low, then the high end of its support (a
        lever's change is monotone in each, so its extremes over θ lie at these)."""
        corners = np.repeat(self.nominal[None, :], 2, axis=0)
        corners[:, self.uncertain_index] = self.bounds.T
        return corners

    def _check_paths_keep_ranges(self) -> None:
        """A path must not push any parameter out of its valid range at the corners of θ."""
        corners = self.corners()
        values = self.levers.apply(corners)  # (2, path, parameter)
        for p, path in enumerate(self.paths):
            for k, name in enumerate(PARAMETERS):
                lo, hi = PARAMETER_INFO[name].bounds
                bad = values[:, p, k][(values[:, p, k] < lo) | (values[:, p, k] > hi)]
                if bad.size:
                    raise ConfigError(
                        f"paths.{path.name}",
                        f"takes {name} to {bad[0]:g}",
                        f"valid range is [{lo}, {hi}]",
                    )

    def __getattr__(self, name):  # the schema's fields read as attributes of the config
        schema = self.__dict__.get("schema")
        if schema is None:  # e.g. while unpickling, before __dict__ is filled
            raise AttributeError(name)
        return getattr(schema, name)

    def with_overrides(self, overrides: dict) -> RunConfig:
        """This config, validated again with dotted-key ``overrides`` on its content."""
        return config_from_mapping(
            yaml.safe_load(self.canonical), self.text, self.source, overrides
        )

    def with_scenarios(self, n: int) -> RunConfig:
        """This config with ``n`` worlds (``sizes.scenarios``; same identity): the next size
        of a growing store (``resonance run --until-se``)."""
        return self.with_overrides({"sizes.scenarios": n})

    @property
    def saltelli_multiple(self) -> int:
        """Scenarios per base sample of a Saltelli design: its inputs + 2, where the
        parameters drawn from a posterior are one input (one design column: they move
        together, so their Sobol indices are those of the group)."""
        return len(set(self.design_columns)) + 2

    @property
    def n_scenarios(self) -> int:
        """Scenarios simulated: worlds x replications, the store's ``scenario`` dim."""
        return self.schema.sizes.scenarios * self.schema.sizes.replications

    @property
    def n_worlds(self) -> int:
        """Worlds: the design's points (``sizes.scenarios``), each simulated R times."""
        return self.schema.sizes.scenarios

    @property
    def replications(self) -> int:
        """R: independent firm draws of each world (``sizes.replications``, default 1);
        scenario s is replication s % R of world s // R."""
        return self.schema.sizes.replications

    @property
    def n_firms(self) -> int:
        return self.schema.sizes.firms

    @property
    def n_quarters(self) -> int:
        return self.schema.sizes.quarters

    @property
    def n_snapshots(self) -> int:
        """K: scenarios whose firms are kept at the end of every year (0 without a whole
        year to snapshot)."""
        if self.n_quarters < 4:
            return 0
        return min(self.schema.sizes.firm_snapshots, self.n_scenarios)


def _set_override(raw: dict, key: str, value) -> None:
    node = raw
    *parents, last = key.split(".")
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(key, f"cannot override inside a {type(node).__name__}")
    node[last] = value


def load_config(
    file: str | Path, overrides: dict | None = None, without_posterior: bool = False
) -> RunConfig:
    """Read, override and validate a run config.

    overrides: dotted keys to values, e.g. ``{"sizes.scenarios": 200, "paths": ["baseline"]}``;
    ``None`` values are ignored (unset command-line options).
    without_posterior: read the config as if it had no ``uncertain: {from: FILE}``, its
    ``parameters:`` values in the posterior's place: how calibration reads the config it
    calibrates (its priors, not an earlier posterior, are the world it infers from).
    """
    source = Path(file)
    raw, text = read_yaml_text(source, str(file), "config file")
    if without_posterior and isinstance(raw.get("uncertain"), dict):
        raw["uncertain"] = {k: v for k, v in raw["uncertain"].items() if k != "from"}
    if without_posterior:
        raw.pop("posterior", None)
    return config_from_mapping(raw, text, source, overrides)


def config_from_text(text: str, source: Path, overrides: dict | None = None) -> RunConfig:
    """A config from its YAML text, as if read from ``source`` (whose folder holds the
    ``paths/`` and ``clusters/`` it names): how ``resonance verify`` rebuilds a store's."""
    raw = yaml.safe_load(text)
    if not isinstance(raw, dict):
        raise ConfigError(str(source), "is not a mapping", "a run config is a YAML mapping")
    return config_from_mapping(raw, text, source, overrides)


def config_from_mapping(raw: dict, text: str, source: Path, overrides: dict | None) -> RunConfig:
    """Override and validate a config's mapping (see :func:`load_config`)."""
    for key, value in (overrides or {}).items():
        if value is not None:
            _set_override(raw, key, value)
    try:
        schema = Schema.model_validate(raw)
    except ValidationError as exc:
        raise config_error_from(exc, "").with_traceback(None) from None
    return RunConfig(schema, source.resolve(), text)
