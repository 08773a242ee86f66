"""Policy paths as data (MODEL.md §5): load ``configs/paths/*.yaml`` and apply their levers.

A path is a set of lever changes over the baseline, applied in the order ``set``, ``scale``,
``add``, ``at_least``, ``at_most``; each maps a model parameter name (any name of
``kernels.registry.PARAMETERS``) to a number. ``combine`` merges other paths into one:
scales multiply, adds sum, floors take the highest, ceilings the lowest, and two different
``set`` values for one parameter are an error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from resonance.flows.errors import ConfigError, config_error_from
from resonance.flows.files import read_yaml_mapping
from resonance.kernels.registry import FIRM_PARAMETERS, N_PARAMETERS, PARAMETERS

LEVERS = ("set", "scale", "add", "at_least", "at_most")
_INDEX = {name: k for k, name in enumerate(PARAMETERS)}


class PathFile(BaseModel):
    """The schema of one ``configs/paths/NAME.yaml``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str
    description: str = ""
    combine: list[str] = []
    set: dict[str, float] = {}
    scale: dict[str, float] = {}
    add: dict[str, float] = {}
    at_least: dict[str, float] = {}
    at_most: dict[str, float] = {}


@dataclass
class PolicyPath:
    """One path's levers, merged over ``combine``; lever -> {parameter: value}."""

    name: str
    description: str = ""
    levers: dict[str, dict[str, float]] = field(default_factory=lambda: {k: {} for k in LEVERS})

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
            if not math.isfinite(value):
                raise ConfigError(f"{where}.{lever}.{name}", f"must be finite, got {value}")
            path.levers[lever][name] = value
    for sub in spec.combine:
        path.merge(load_path(sub, paths_dir, (*_seen, str(file))), where)
    return path


@dataclass(frozen=True)
class LeverArrays:
    """The levers of P paths as arrays of shape (path, parameter), ready to broadcast."""

    set_mask: np.ndarray  # bool
    set_value: np.ndarray
    scale: np.ndarray
    add: np.ndarray
    at_least: np.ndarray
    at_most: np.ndarray

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
        return np.minimum(np.maximum(values, self.at_least), self.at_most)
