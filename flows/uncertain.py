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
