"""The worlds of a store run with ``sizes.replications`` R > 1: scenario s is replication
s % R of world s // R (``flows/engine/layout.py``, ``WORLD_COORDS``). What every analysis
that pairs or clusters scenarios needs to know of them, apart from the world/luck split
itself (``split.py``)."""

from __future__ import annotations

import math

import numpy as np
import xarray as xr


def replications_of(draws: xr.Dataset) -> int:
    """R of a store's draws (its ``replications`` attribute; 1 for a store before it)."""
    return int(draws.attrs.get("replications", 1))


def whole_worlds(draws: xr.Dataset) -> xr.Dataset:
    """The scenarios of the worlds whose R replications are all in ``draws`` (a store whose
    run was stopped may end in a part of one), in world-major order."""
    r = replications_of(draws)
    if r == 1 or "world" not in draws.coords:
        return draws
    world = np.asarray(draws["world"].values)
    found, counts = np.unique(world, return_counts=True)
    keep = np.isin(world, found[counts == r])
    return draws if keep.all() else draws.isel(scenario=np.flatnonzero(keep))


def design_effect_bound(replications: int) -> float:
    """sqrt(R): what an independent-draws standard error is multiplied by when the
    scenarios come in worlds of R correlated replications. It is the largest design effect
    R replications can have, so the s.e.s stay honest without estimating each
    statistic's own (conservative)."""
    return math.sqrt(replications)
