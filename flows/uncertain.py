"""Uncertain parameters as data: the distributions a config's ``uncertain:`` may give.

Each uncertain model parameter is drawn per scenario by the inverse of its CDF applied to
one coordinate of the run's unit-cube design (``resonance.flows.engine.plan``), so every
sampler (mc, lhs, sobol, saltelli) works with every distribution. In the YAML::

    uncertain:
      opportunity: [0.5, 2.0]                                   # uniform, low and high
      inst_lag: {dist: triangular, low: 8, mode: 12, high: 28}
      spillover: {dist: loguniform, low: 0.02, high: 0.15}
      shock_vol: {dist: truncnormal, mean: 0.05, sd: 0.02, low: 0.01, high: 0.12}
      return_q: {dist: integer, low: 24, high: 40}              # each whole number equally

Every distribution has a finite support ``[low, high]``: it is checked against the
parameter's valid range, and policy paths are checked at its corners.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Distribution(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self):
        if not self.low < self.high:
            raise ValueError(f"low {self.low:g} must be below high {self.high:g}")
        return self

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Values at unit-cube coordinates u (float64, any shape), in the parameter's units."""
        raise NotImplementedError

    @property
    def support(self) -> tuple[float, float]:
        return self.low, self.high

    @property
    def nominal(self) -> float:
        """The value a single run without uncertainty would use (the median)."""
        return float(self.ppf(np.array(0.5)))

    def attrs(self) -> dict:
        """The distribution as store attributes: ``distribution`` and its parameters."""
        return {"distribution": self.dist, **self.model_dump(exclude={"dist"})}


class Uniform(_Distribution):
    dist: Literal["uniform"] = "uniform"

    def ppf(self, u):
        return self.low + u * (self.high - self.low)

    @property
    def nominal(self) -> float:
        return (self.low + self.high) / 2


class LogUniform(_Distribution):
    dist: Literal["loguniform"]

    @model_validator(mode="after")
    def _positive(self):
        if not self.low > 0:
            raise ValueError(f"low {self.low:g} must be above 0 for a log-uniform")
        return self

    def ppf(self, u):
        return np.exp(np.log(self.low) + u * (np.log(self.high) - np.log(self.low)))


class Triangular(_Distribution):
    dist: Literal["triangular"]
    mode: float

    @model_validator(mode="after")
    def _mode_inside(self):
        if not self.low <= self.mode <= self.high:
            raise ValueError(
                f"mode {self.mode:g} must lie in [low, high] = [{self.low:g}, {self.high:g}]"
            )
        return self

    def ppf(self, u):
        from scipy.stats import triang

        width = self.high - self.low
        return triang.ppf(u, (self.mode - self.low) / width, loc=self.low, scale=width)


class TruncNormal(_Distribution):
    dist: Literal["truncnormal"]
    mean: float
    sd: float = Field(gt=0)

    def ppf(self, u):
        from scipy.stats import truncnorm

        a, b = (self.low - self.mean) / self.sd, (self.high - self.mean) / self.sd
        return truncnorm.ppf(u, a, b, loc=self.mean, scale=self.sd)


class IntUniform(_Distribution):
    dist: Literal["integer"]

    @model_validator(mode="after")
    def _whole(self):
        if self.low != int(self.low) or self.high != int(self.high):
            raise ValueError(f"low {self.low:g} and high {self.high:g} must be whole numbers")
        return self

    def ppf(self, u):
        # low..high each with probability 1 / (high - low + 1); u = 1 still gives high.
        return np.minimum(np.floor(self.low + u * (self.high - self.low + 1)), self.high)


Distribution = Annotated[
    Uniform | LogUniform | Triangular | TruncNormal | IntUniform, Field(discriminator="dist")
]
DISTRIBUTIONS = ("uniform", "loguniform", "triangular", "truncnormal", "integer")


def parse(raw) -> dict:
    """A YAML value of ``uncertain:`` in its full form: ``[low, high]`` is a uniform."""
    if isinstance(raw, (list, tuple)):
        if len(raw) != 2:
            raise ValueError(f"a [low, high] range has two numbers, got {len(raw)}")
        return {"dist": "uniform", "low": raw[0], "high": raw[1]}
    if isinstance(raw, dict):
        return {"dist": "uniform", **raw} if "dist" not in raw else raw
    raise ValueError(
        f"expected [low, high] or a mapping with dist: one of {', '.join(DISTRIBUTIONS)}"
    )


class PosteriorDraw:
    """One parameter of a stored posterior (``uncertain: {from: posterior.zarr}``,
    flows/posterior.py): not a distribution of its own but a column of the posterior's
    draws. Every parameter of one posterior reads the same design coordinate u, so a
    scenario takes one whole draw: draw i when u falls in its share of the cumulative
    weights, i.e. with probability weight_i.

    ``values`` (n,) and ``cumulative`` (n,) (the weights' running sum over the draws, the
    last exactly 1) are tuples, so the object is small, hashable and picklable.
    """

    dist = "posterior"

    def __init__(self, file: str, digest: str, values, cumulative):
        self.file, self.digest = str(file), str(digest)
        self.values = tuple(float(v) for v in values)
        self.cumulative = tuple(float(c) for c in cumulative)
        self.low, self.high = min(self.values), max(self.values)

    def index(self, u: np.ndarray) -> np.ndarray:
        """The draw each unit coordinate u (float64, any shape) takes: int64, same shape."""
        cum = np.asarray(self.cumulative)
        return np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """This parameter's value in the draw each u takes (float64, u's shape)."""
        return np.asarray(self.values)[self.index(np.asarray(u, dtype=np.float64))]

    @property
    def support(self) -> tuple[float, float]:
        return self.low, self.high

    @property
    def nominal(self) -> float:
        """The value of the draw at u = 0.5 (the same draw for every parameter of the
        posterior, so the nominal world is one of its parameter sets)."""
        return float(self.ppf(np.array(0.5)))

    def attrs(self) -> dict:
        return {
            "distribution": self.dist,
            "low": self.low,
            "high": self.high,
            "file": self.file,
            "posterior_sha256": self.digest,
        }

    def __eq__(self, other) -> bool:
        return isinstance(other, PosteriorDraw) and (self.digest, self.values) == (
            other.digest,
            other.values,
        )

    def __hash__(self) -> int:
        return hash((self.digest, self.values))


def posterior_draws(ds, file) -> dict[str, PosteriorDraw]:
    """One :class:`PosteriorDraw` per parameter of the posterior Dataset ``ds`` read from
    ``file`` (flows/posterior.py), by registry name."""
    from .posterior import digest

    weight = np.asarray(ds.weight.values, dtype=np.float64)
    cumulative = np.cumsum(weight / weight.sum())
    cumulative[-1] = 1.0
    sha = digest(ds)
    return {
        str(name): PosteriorDraw(file, sha, ds.value.values[:, k], cumulative)
        for k, name in enumerate(ds.parameter.values)
    }
