"""The posterior file: a calibration's posterior sample of parameter sets (MODEL.md §11,
"Calibration as inference"), written by ``resonance calibrate --out posterior.zarr`` and
read by a config's ``uncertain: {from: posterior.zarr}``.

One writer (:func:`write_posterior`), one reader (:func:`open_posterior`). The file is a
Zarr store written through xarray:

- ``value`` (draw, parameter) float64: the accepted parameter sets, in the parameters'
  own units; coordinate ``parameter`` holds registry names (``inc_scale``), ``key`` the
  calibration file's dotted key (``parameters.inc_scale``);
- ``weight`` (draw) float64, summing to 1: the importance weights of the last generation;
- ``facts`` (draw, fact) float64: the fitted facts of each accepted draw's simulation,
  ``distance`` (draw): its misfit, sqrt(sum_f z_f^2) in observation sds (``analysis.infer``);
- ``prior_low``, ``prior_high`` (parameter): the uniform prior's bounds;
- ``fact_low``, ``fact_high`` (fact): each fact's published range; ``fact_centre``,
  ``fact_below``, ``fact_above``: the observation model, the real value's centre (NaN for
  a bound alone) and its sds below and above; ``fact_sd``: one simulation's sampling sd;
- ``epsilon``, ``acceptance_rate``, ``simulations``, ``particles`` (generation): the
  acceptance history of the sequential Monte Carlo (``epsilon`` is the temperature of the
  stochastic acceptor, 1 the exact posterior);
- attributes: ``resonance_posterior`` (the format's version), ``config`` (the calibrated
  config's path), ``config_sha256``, ``seed``, ``scenarios``, ``firms``, ``library`` and
  ``library_version``, ``created``;
- the checks on the posterior (``analysis.posterior_checks``; absent from a posterior
  calibrated with ``--no-checks``): ``check_draw`` (check) int64, the draws they ran on;
  ``heldout`` (check, held_out) float64, the held-out facts of each, against
  ``heldout_low``/``heldout_high`` (held_out); ``rank_mean`` (check, outcome, path) float64,
  each path's mean of each headline outcome at the horizon, and ``ranking`` (check,
  outcome, path) int64, its rank (1 the best); ``path_growth`` (check, path) float64, each
  path's median TFP growth to the horizon, %/yr (posteriors of December 5 2026 and later);
  attributes ``check_seconds``,
  ``rank_scenarios``, ``rank_firms``.

Dim letters: n = draws, k = parameters, f = facts, g = generations, c = checks,
h = held-out facts, o = outcomes, p = paths.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import xarray as xr

from .errors import ConfigError

FORMAT = 1  # attribute resonance_posterior: the version of this layout
REQUIRED = ("value", "weight", "facts", "prior_low", "prior_high", "epsilon")


def write_posterior(ds: xr.Dataset, path: str | Path) -> Path:
    """Write a posterior Dataset (the layout of the module docstring) to a new Zarr store at
    ``path``, replacing a posterior already there; its path."""
    import shutil

    path = Path(path)
    missing = [name for name in REQUIRED if name not in ds]
    if missing:
        raise ValueError(f"a posterior needs {missing}")
    if path.exists():
        try:
            open_posterior(path)
        except ConfigError:
            raise ConfigError(
                str(path), "exists and is not a posterior", "choose another --out"
            ) from None
        shutil.rmtree(path)
    ds = ds.assign_attrs(resonance_posterior=FORMAT)
    # Names as variable-length strings (Zarr v3 has no fixed-length UTF-32 type).
    ds = ds.assign_coords(
        {name: ds[name].astype(object) for name in ds.coords if ds[name].dtype.kind == "U"}
    )
    ds.to_zarr(path, mode="w-", consolidated=False)
    return path


def open_posterior(path: str | Path, where: str | None = None) -> xr.Dataset:
    """The posterior at ``path``, loaded; a missing file or one that is not a posterior is
    a one-line :class:`ConfigError` naming ``where`` (default: the path)."""
    path = Path(path)
    where = where or str(path)
    if not path.exists():
        raise ConfigError(
            where, f"{path} no such posterior", "make one with resonance calibrate --out"
        )
    try:
        ds = xr.open_zarr(path, consolidated=False).load()
    except Exception as exc:  # noqa: BLE001 - any unreadable store is the user's to fix
        raise ConfigError(
            where,
            f"{path} is not a posterior ({type(exc).__name__})",
            "make one with resonance calibrate --out",
        ) from None
    if ds.attrs.get("resonance_posterior") != FORMAT or any(n not in ds for n in REQUIRED):
        raise ConfigError(
            where, f"{path} is not a posterior", "make one with resonance calibrate --out"
        )
    weight = ds.weight.values
    if (
        ds.sizes["draw"] < 1
        or not np.all(np.isfinite(weight))
        or np.any(weight < 0)
        or weight.sum() <= 0
    ):
        raise ConfigError(
            where, f"{path} has no usable weights", "make it again with resonance calibrate --out"
        )
    return ds


def by_temperature(ds: xr.Dataset) -> bool:
    """Whether the posterior was inferred with a temperature (``epsilon``, down to 1 at the
    exact posterior) around each fact's centre (``fact_centre``), not with the older
    tolerance in sampling sds outside each range."""
    return "fact_centre" in ds


def digest(ds: xr.Dataset) -> str:
    """sha256 of a posterior's draws (parameter names, values and weights): what a config
    that draws from it depends on."""
    h = hashlib.sha256()
    h.update(repr([str(p) for p in ds.parameter.values]).encode())
    h.update(np.ascontiguousarray(ds.value.values, dtype=np.float64).tobytes())
    h.update(np.ascontiguousarray(ds.weight.values, dtype=np.float64).tobytes())
    return h.hexdigest()


def piled_against(
    ds: xr.Dataset, mass: float = 0.25, edge: float = 0.05
) -> list[tuple[str, str, float]]:
    """The prior bounds the posterior piles against: (parameter, "low" | "high", weight)
    for each bound with more than ``mass`` of the posterior's weight within ``edge`` of the
    prior's width from it."""
    out = []
    weight = ds.weight.values / ds.weight.values.sum()
    for k, name in enumerate(ds.parameter.values):
        low, high = float(ds.prior_low[k]), float(ds.prior_high[k])
        value = ds.value.values[:, k]
        band = edge * (high - low)
        for side, near in (("low", value <= low + band), ("high", value >= high - band)):
            share = float(weight[near].sum())
            if share > mass:
                out.append((str(name), side, share))
    return out


def weighted_quantiles(ds: xr.Dataset, q=(0.05, 0.5, 0.95)) -> xr.DataArray:
    """Weighted quantiles of each parameter: (quantile, parameter), the inverse of the
    weighted empirical CDF (the smallest draw whose cumulative weight reaches q)."""
    weight = ds.weight.values / ds.weight.values.sum()
    out = np.empty((len(q), ds.sizes["parameter"]))
    for k in range(ds.sizes["parameter"]):
        value = ds.value.values[:, k]
        order = np.argsort(value, kind="stable")
        cum = np.cumsum(weight[order])
        idx = np.minimum(np.searchsorted(cum, np.asarray(q) - 1e-12), len(cum) - 1)
        out[:, k] = value[order][idx]
    return xr.DataArray(
        out,
        dims=("quantile", "parameter"),
        coords={"quantile": list(q), "parameter": ds.parameter.values},
    )
