"""Policy costs as data (MODEL.md §10): the costs file, and each path's cost coefficients.

A costs file (``configs/costs.yaml``, named by a config's ``costs:``) has an entry for every
parameter a path may lever. An entry says what one unit of change costs per year, as a
share of the industry's R&D spending (0.10 = a tenth of what the firms spend on R&D), and
how the change is measured:

- ``per: relative``: the change is |new / old - 1| (a lever that doubles a rate changes it
  by 1); ``per: absolute``: |new - old| in the parameter's own units;
- ``base:`` (optional) an activity the kernel tracks that the cost is paid on, so the cost
  moves with what the policy does: ``rd_spending`` (the industry's R&D spending against its
  level before the first quarter: a subsidy of R&D), ``failures`` (the revenue share of firms
  whose breakthrough waits in the valley of death without converting in the quarter: a
  risk-compensation fund), ``conversions`` (the revenue share of firms that convert in the
  quarter: a proof-of-concept fund). With ``failures`` or ``conversions`` the entry gives
  ``reference``, the activity's level at which ``cost`` is quoted; the cost paid is then
  ``cost x change x activity / reference``;
- ``source``: the seed section or study the figure comes from, or the word "assumption";
- ``range: [low, high]`` (optional): the cost is uncertain, drawn per scenario uniformly
  from the range (a stream of its own: the same on every path and chunking).

A path's cost per scenario and quarter is the sum over its levers; the kernel computes it
from four coefficients per (scenario, path), :func:`CostTable.coefficients`, and stores it
as the metric ``policy_cost``. A path without levers has coefficients of exactly 0.

Dim letters: s = scenarios, p = paths, k = parameters, c = cost coefficients.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..kernels.registry import (
    ACTIVITIES,
    COST_COEFFICIENTS,
    N_PARAMETERS,
    PARAMETERS,
)
from .errors import ConfigError, config_error_from
from .files import read_yaml_mapping

COST_STREAM = 67  # Philox variate of a scenario's uncertain costs (kernels/rng.py: 64-66 taken)
COST_FIRM = 0xFFFFFFFC  # its firm word, beside THETA_FIRM, POLICY_FIRM and CHOKE_FIRM


class CostEntry(BaseModel):
    """One parameter's entry of a costs file (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    cost: float = Field(ge=0.0)
    per: Literal["relative", "absolute"]
    base: Literal["rd_spending", "failures", "conversions"] | None = None
    reference: float | None = Field(default=None, gt=0.0)
    range: tuple[float, float] | None = None
    source: str = Field(min_length=1)
    measure: str = ""


class CostsFile(BaseModel):
    """The schema of a costs file: ``costs: {parameter: entry}``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    description: str = ""
    costs: dict[str, CostEntry]


@dataclass(frozen=True)
class CostTable:
    """A costs file as arrays over the model's parameters, ready for :meth:`coefficients`.

    cost: float64 (k,), per unit of change, share of R&D spending per year (0 without entry);
    relative: bool (k,); column: int64 (k,), the coefficient each entry adds to (0 flat,
    1 + the activity's index in ``ACTIVITIES``); per_reference: float64 (k,), 1 / reference
    (1 without one); low, high: float64 (k,), the range of an uncertain cost (both = cost
    otherwise); priced: bool (k,), whether the file has an entry; entries: the file's
    validated mapping (for the config's identity and the docs).
    """

    cost: np.ndarray
    relative: np.ndarray
    column: np.ndarray
    per_reference: np.ndarray
    low: np.ndarray
    high: np.ndarray
    priced: np.ndarray
    entries: dict

    @property
    def uncertain(self) -> np.ndarray:
        """int64 indices of the parameters whose cost is drawn per scenario."""
        return np.flatnonzero(self.high > self.low)

    def unit_costs(self, seed: int, ids: np.ndarray) -> np.ndarray:
        """float64 (s, k): each scenario's cost per unit of change; uncertain ones drawn
        uniformly from their range by the scenario's counter ``ids`` (int64 (s,))."""
        from ..kernels import reference

        units = np.repeat(self.cost[None, :], len(ids), axis=0)
        if self.uncertain.size:
            key = reference.split_seed(seed)
            scen = np.asarray(ids, dtype=np.uint64)
            for k in self.uncertain:
                u = reference.uniforms(key, scen, COST_FIRM, np.uint64(k), COST_STREAM, 0)[0]
                units[:, k] = self.low[k] + u * (self.high[k] - self.low[k])
        return units

    def coefficients(
        self, base: np.ndarray, levered: np.ndarray, seed: int, ids: np.ndarray
    ) -> np.ndarray:
        """float64 (s, p, c): the cost coefficients of every path in every scenario.

        base: float64 (s, k), the scenarios' parameters before any lever; levered: float64
        (s, p, k), under each path. A parameter a path leaves unchanged adds exactly 0.
        """
        changed = levered != base[:, None, :]
        safe = np.where(base == 0.0, 1.0, base)[:, None, :]
        change = np.where(
            self.relative, np.abs(levered / safe - 1.0), np.abs(levered - base[:, None, :])
        )
        change = np.where(changed, change, 0.0)
        paid = change * (self.unit_costs(seed, ids) * self.per_reference)[:, None, :]
        out = np.zeros((*levered.shape[:2], len(COST_COEFFICIENTS)))
        for c in range(len(COST_COEFFICIENTS)):
            columns = np.flatnonzero(self.column == c)
            if columns.size:
                out[:, :, c] = paid[:, :, columns].sum(axis=2)
        return out


def load_costs(file: Path, where: str = "costs") -> CostTable:
    """Read and check a costs file (see the module docstring); one-line errors name the key."""
    raw = read_yaml_mapping(file, where, "costs file")
    try:
        spec = CostsFile.model_validate(raw)
    except ValidationError as exc:  # its keys start at the file's own: costs.<name>.<field>
        raise config_error_from(exc, "") from exc
    index = {name: k for k, name in enumerate(PARAMETERS)}
    shape = (N_PARAMETERS,)
    cost, low, high = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    relative, priced = np.zeros(shape, bool), np.zeros(shape, bool)
    column, per_reference = np.zeros(shape, np.int64), np.ones(shape)
    for name, entry in spec.costs.items():
        key = f"{where}.{name}"
        if name not in index:
            raise ConfigError(key, "unknown parameter", "see kernels/registry.py PARAMETERS")
        if entry.base in ("failures", "conversions") and entry.reference is None:
            raise ConfigError(
                f"{key}.reference",
                "missing",
                f"a cost paid on {entry.base} gives the activity's level it is quoted at",
            )
        if entry.reference is not None and entry.base in (None, "rd_spending"):
            raise ConfigError(
                f"{key}.reference",
                f"without a base of failures or conversions (base: {entry.base})",
                "drop it: flat costs and R&D spending need no reference",
            )
        k = index[name]
        if entry.range is not None:
            lo, hi = entry.range
            if not 0.0 <= lo <= entry.cost <= hi or not lo < hi:
                raise ConfigError(
                    f"{key}.range", f"[{lo}, {hi}]", f"0 <= low <= cost ({entry.cost}) <= high"
                )
            low[k], high[k] = lo, hi
        else:
            low[k] = high[k] = entry.cost
        cost[k] = entry.cost
        relative[k] = entry.per == "relative"
        column[k] = 0 if entry.base is None else 1 + ACTIVITIES.index(entry.base)
        per_reference[k] = 1.0 / entry.reference if entry.reference else 1.0
        priced[k] = True
    return CostTable(
        cost, relative, column, per_reference, low, high, priced, spec.model_dump(mode="json")
    )


def check_priced(table: CostTable, levered: np.ndarray, nominal: np.ndarray, paths) -> None:
    """Every parameter a path changes has a cost, and a relative cost a non-zero baseline.

    levered: float64 (2, p, k), the paths at the two corners of the world parameters (the
    ends of every uncertain parameter's support); nominal: float64 (2, k), the same corners
    before any lever; paths: the PolicyPath of each p.
    """
    changed = (levered != nominal[:, None, :]).any(axis=0)  # (p, k)
    for p, path in enumerate(paths):
        for k in np.flatnonzero(changed[p]):
            name = PARAMETERS[k]
            if not table.priced[k]:
                raise ConfigError(
                    f"paths.{path.name}",
                    f"levers {name}, which has no cost",
                    f"give {name} an entry in the costs file (every lever has a price)",
                )
            # The corners are the support's ends: a relative change needs a baseline value
            # away from 0 in every world, so the support must not reach or cross 0.
            if table.relative[k] and nominal[:, k].min() <= 0.0 <= nominal[:, k].max():
                raise ConfigError(
                    f"costs.{name}.per",
                    "relative, but its baseline value is 0",
                    "measure the change of a parameter that starts at 0 as absolute",
                )
