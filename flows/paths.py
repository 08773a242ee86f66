"""Policy paths as data (MODEL.md §5): load ``configs/paths/*.yaml`` and apply their levers.

A path is a set of lever changes over the baseline, applied in the order ``set``, ``scale``,
``add``, ``at_least``, ``at_most``; each maps a model parameter name (any name of
``kernels.registry.PARAMETERS``) to a number. ``combine`` merges other paths into one:
scales multiply, adds sum, floors take the highest, ceilings the lowest, and two different
``set`` values for one parameter are an error.

A lever may also be a range ``[low, high]``; the file then says ``policies: N`` and stands
for N policies, ``name/000`` ... ``name/N-1``, whose ranged levers are drawn uniformly from
their ranges by the run's sampler and seed, from a stream of their own
(:func:`expand`). Each policy is a path like any other; its lever values are kept as
coordinates on the store's ``path`` dimension (``lever_coordinates``).
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..kernels.registry import FIRM_PARAMETERS, N_PARAMETERS, PARAMETERS, WORLD_EVENT
from .errors import ConfigError, config_error_from
from .files import read_yaml_mapping

LEVERS = ("set", "scale", "add", "at_least", "at_most")
_INDEX = {name: k for k, name in enumerate(PARAMETERS)}


class PathFile(BaseModel):
    """The schema of one ``configs/paths/NAME.yaml``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str
    description: str = ""
    combine: list[str] = []
    policies: int | None = Field(default=None, ge=1, le=100_000)
    budget: float | None = Field(default=None, gt=0.0)  # mean policy_cost (flows/budget.py)
    set: dict[str, float | tuple[float, float]] = {}
    scale: dict[str, float | tuple[float, float]] = {}
    add: dict[str, float | tuple[float, float]] = {}
    at_least: dict[str, float | tuple[float, float]] = {}
    at_most: dict[str, float | tuple[float, float]] = {}


@dataclass
class PolicyPath:
    """One path's levers, merged over ``combine``; lever -> {parameter: value}."""

    name: str
    description: str = ""
    levers: dict[str, dict[str, float]] = field(default_factory=lambda: {k: {} for k in LEVERS})
    # (lever, parameter) -> (low, high): levers still to be drawn (see :func:`expand`)
    ranges: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    policies: int = 0  # how many policies the ranges stand for
    family: str = ""  # for a drawn policy, the path file's name
    # Mean cost per year (share of R&D spending) the lever changes are scaled to: every
    # change x one intensity t, found by flows/budget.py. None: the levers as written.
    budget: float | None = None

    def merge(self, other: PolicyPath, where: str) -> None:
        """Add ``other``'s levers to this path's (see the module docstring for the rules)."""
        for name, value in other.levers["set"].items():
            seen = self.levers["set"].get(name)
            if seen is not None and seen != value:
                raise ConfigError(
                    f"{where}.set.{name}",
                    f"combined paths set it to both {seen} and {value}",
                    "keep one value",
                )
            self.levers["set"][name] = value
        for name, value in other.levers["scale"].items():
            self.levers["scale"][name] = self.levers["scale"].get(name, 1.0) * value
        for name, value in other.levers["add"].items():
            self.levers["add"][name] = self.levers["add"].get(name, 0.0) + value
        for name, value in other.levers["at_least"].items():
            self.levers["at_least"][name] = max(self.levers["at_least"].get(name, -math.inf), value)
        for name, value in other.levers["at_most"].items():
            self.levers["at_most"][name] = min(self.levers["at_most"].get(name, math.inf), value)


def resolve_path_file(ref: str, paths_dir: Path) -> Path:
    """The YAML file of a path reference: a name in ``paths_dir`` or a file path."""
    candidate = Path(ref)
    if candidate.suffix in (".yaml", ".yml"):
        if not candidate.is_absolute():
            candidate = (paths_dir.parent / candidate) if not candidate.exists() else candidate
        if candidate.is_file():
            return candidate
        raise ConfigError(f"paths.{ref}", "no such path file", f"looked for {candidate}")
    found = paths_dir / f"{ref}.yaml"
    if found.is_file():
        return found
    known = sorted(p.stem for p in paths_dir.glob("*.yaml")) if paths_dir.is_dir() else []
    raise ConfigError(
        f"paths.{ref}", "unknown path", f"known paths in {paths_dir}: {', '.join(known) or 'none'}"
    )


def load_path(ref: str, paths_dir: Path, _seen: tuple[str, ...] = ()) -> PolicyPath:
    """Load and check one path (and, recursively, the paths it combines)."""
    file = resolve_path_file(ref, paths_dir)
    where = f"paths.{ref}"
    if str(file) in _seen:
        raise ConfigError(where, "combine forms a cycle", " -> ".join([*_seen, str(file)]))
    raw = read_yaml_mapping(file, where, "path file")
    try:
        spec = PathFile.model_validate(raw)
    except ValidationError as exc:
        raise config_error_from(exc, where) from exc
    path = PolicyPath(spec.name, spec.description.strip())
    for lever in LEVERS:
        for name, value in getattr(spec, lever).items():
            if name not in _INDEX:
                hint = (
                    "firm distributions are shared by every path and cannot be levered"
                    if name in FIRM_PARAMETERS
                    else "see kernels/registry.py PARAMETERS"
                )
                raise ConfigError(f"{where}.{lever}.{name}", "unknown parameter", hint)
            if name in WORLD_EVENT:
                raise ConfigError(
                    f"{where}.{lever}.{name}",
                    "is a world event, the same on every path",
                    "set it under parameters: or uncertain: of the config",
                )
            key = f"{where}.{lever}.{name}"
            if isinstance(value, tuple):
                low, high = value
                if not (math.isfinite(low) and math.isfinite(high)) or not low < high:
                    raise ConfigError(key, f"[{low}, {high}]", "a range [low, high], low < high")
                path.ranges[(lever, name)] = (low, high)
            elif not math.isfinite(value):
                raise ConfigError(key, f"must be finite, got {value}")
            else:
                path.levers[lever][name] = value
    if path.ranges and spec.policies is None:
        raise ConfigError(f"{where}.policies", "missing", "a path with lever ranges says how many")
    if spec.policies is not None and not path.ranges:
        raise ConfigError(f"{where}.policies", "without a lever range", "give a lever [low, high]")
    if path.ranges and spec.combine:
        raise ConfigError(f"{where}.combine", "with lever ranges", "combine fixed paths only")
    if "/" in spec.name:
        raise ConfigError(f"{where}.name", f"{spec.name!r}", "a name without '/'")
    path.policies = spec.policies or 0
    if spec.budget is not None and path.ranges:
        raise ConfigError(
            f"{where}.budget",
            "with lever ranges",
            "a budget scales fixed levers; the frontier of ranged policies is `resonance frontier`",
        )
    path.budget = spec.budget
    for sub in spec.combine:
        part = load_path(sub, paths_dir, (*_seen, str(file)))
        if part.ranges:
            raise ConfigError(
                f"{where}.combine.{sub}", "has lever ranges", "combine fixed paths only"
            )
        path.merge(part, where)
    return path


def lever_name(lever: str, parameter: str) -> str:
    """The store coordinate of a drawn lever: ``lever_<lever>_<parameter>``."""
    return f"lever_{lever}_{parameter}"


def _policy_design(path: PolicyPath, sampler: str, seed: int) -> np.ndarray:
    """Unit-cube design (policy, ranged lever) of one path file, from a stream of its own:
    the run's sampler, seeded by the run seed and the file's name."""
    n, d = path.policies, len(path.ranges)
    name_word = zlib.crc32(path.name.encode())
    if sampler == "mc":  # the run's Philox, in its NumPy form (no compiled code at load)
        from ..kernels import reference, rng

        ids = np.arange(n, dtype=np.uint64)
        return reference.stream_uniforms(seed, ids, rng.POLICY_FIRM, name_word, rng.POLICY, d)
    import warnings

    from scipy.stats import qmc

    generator = np.random.default_rng([seed, 65, name_word])
    if sampler == "lhs":
        return qmc.LatinHypercube(d=d, rng=generator).random(n)
    with warnings.catch_warnings():  # Sobol points balance in powers of two; others still cover
        warnings.simplefilter("ignore")
        return qmc.Sobol(d=d, scramble=True, rng=generator).random(n)


def expand(path: PolicyPath, sampler: str, seed: int) -> list[PolicyPath]:
    """The policies a path stands for: itself when it has no lever ranges; else
    ``path.policies`` paths ``name/000`` ..., each with every ranged lever drawn."""
    if not path.ranges:
        return [path]
    unit = _policy_design(path, sampler, seed)
    width = max(3, len(str(path.policies - 1)))
    out = []
    for k in range(path.policies):
        policy = PolicyPath(
            f"{path.name}/{k:0{width}d}",
            path.description,
            {lever: dict(values) for lever, values in path.levers.items()},
            family=path.name,
        )
        for j, ((lever, name), (low, high)) in enumerate(path.ranges.items()):
            policy.levers[lever][name] = float(low + unit[k, j] * (high - low))
        out.append(policy)
    return out


def lever_coordinates(
    families: list[PolicyPath], policies: list[PolicyPath]
) -> dict[str, np.ndarray]:
    """Coordinate name -> float64 (path,) of every drawn lever: the policy's value, NaN on
    paths of other files."""
    coords: dict[str, np.ndarray] = {}
    for family in families:
        for lever, name in family.ranges:
            values = np.full(len(policies), np.nan)
            for p, policy in enumerate(policies):
                if policy.family == family.name:
                    values[p] = policy.levers[lever][name]
            key = lever_name(lever, name)
            coords[key] = np.where(np.isnan(values), coords.get(key, values), values)
    return coords


@dataclass(frozen=True)
class LeverArrays:
    """The levers of P paths as arrays of shape (path, parameter), ready to broadcast."""

    set_mask: np.ndarray  # bool
    set_value: np.ndarray
    scale: np.ndarray
    add: np.ndarray
    at_least: np.ndarray
    at_most: np.ndarray
    intensity: np.ndarray  # float64 (path,): every change x t (1: the levers as written)

    @classmethod
    def from_paths(cls, paths: list[PolicyPath]) -> LeverArrays:
        shape = (len(paths), N_PARAMETERS)
        arrays = dict(
            set_mask=np.zeros(shape, bool),
            set_value=np.zeros(shape),
            scale=np.ones(shape),
            add=np.zeros(shape),
            at_least=np.full(shape, -np.inf),
            at_most=np.full(shape, np.inf),
            intensity=np.ones(len(paths)),
        )
        for p, path in enumerate(paths):
            for name, value in path.levers["set"].items():
                arrays["set_mask"][p, _INDEX[name]] = True
                arrays["set_value"][p, _INDEX[name]] = value
            for lever in ("scale", "add", "at_least", "at_most"):
                for name, value in path.levers[lever].items():
                    arrays[lever][p, _INDEX[name]] = value
        return cls(**arrays)

    def apply(self, base: np.ndarray) -> np.ndarray:
        """Parameters under every path: base (scenario, parameter) -> (scenario, path, parameter).

        Neutral levers (scale 1, add 0, no floor or ceiling) leave values bit-identical.
        """
        values = np.where(self.set_mask, self.set_value, base[:, None, :])
        values = values * self.scale + self.add
        values = np.minimum(np.maximum(values, self.at_least), self.at_most)
        if (self.intensity == 1.0).all():
            return values
        # A path at intensity t: every parameter's change from the baseline scaled by t.
        t = self.intensity[None, :, None]
        scaled = base[:, None, :] + t * (values - base[:, None, :])
        return np.where(t == 1.0, values, scaled)

    def with_intensity(self, intensity: np.ndarray) -> LeverArrays:
        """These levers with every path's changes scaled by ``intensity`` (path,)."""
        return dataclasses.replace(self, intensity=np.asarray(intensity, dtype=np.float64))

    def only(self, p: int) -> LeverArrays:
        """The levers of path ``p`` alone (a path dimension of one)."""
        return LeverArrays(
            **{f.name: getattr(self, f.name)[p : p + 1] for f in dataclasses.fields(self)}
        )
