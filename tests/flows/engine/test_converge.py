"""``resonance run --until-se``: the store grows until the headline standard errors are
small enough, and keeps each size's statistics."""

from __future__ import annotations

import numpy as np
import xarray as xr

from resonance.flows.cli import main
from resonance.flows.engine.converge import measure
from resonance.flows.engine.layout import by_metric
from resonance.flows.engine.store_read import open_convergence
from tests.helpers import tiny_run


def test_until_se_grows_until_the_errors_are_small_and_keeps_the_history(tmp_path, capsys):
    store = tmp_path / "grow.zarr"
    args = tiny_run(
        store, scenarios=8, firms=20, quarters=8, chunk=8, workers=2, paths="baseline,all_paths"
    )
    assert main([*args, "--until-se", "0.05", "--max-scenarios", "512"]) == 0
    out = capsys.readouterr().out
    history = open_convergence(str(store)).load()
    sizes = list(history.n_scenarios.values)
    assert sizes[:2] == [8, 16] and sizes == sorted(sizes) and len(sizes) >= 3
    assert all(b == 2 * a for a, b in zip(sizes[:-1], sizes[1:], strict=True))  # sobol
    worst = np.nanmax(history.standard_error.values.reshape(len(sizes), -1), axis=1)
    assert worst[-1] <= 0.05 or sizes[-1] == 512
    assert (worst[:-1] > 0.05).all()  # it grew only while some s.e. was above the target
    assert "converged" in out or "stopped at --max-scenarios" in out
    # every size's statistics are those of the first n scenarios (the store grew in place)
    draws = by_metric(xr.open_zarr(store, group="draws"))
    x = draws.innovation_efficiency.isel(time=-1).transpose("scenario", "path").values
    for k, n in enumerate(sizes):
        value, se = measure(x[:n], ["baseline", "all_paths"])
        np.testing.assert_array_equal(history.value.values[k], value)
        np.testing.assert_array_equal(history.standard_error.values[k], se)
    assert xr.open_zarr(store).attrs["n_scenarios"] == sizes[-1]
    assert main(["convergence", str(store), "--out", str(tmp_path / "c.png")]) == 0
    assert (tmp_path / "c.png").stat().st_size > 10_000
    # the same command again goes on from the grown store, not refused as shrinking it
    capsys.readouterr()
    assert main([*args, "--until-se", "0.05", "--max-scenarios", "512"]) == 0
    again = capsys.readouterr().out
    assert "0 chunks computed" in again and f"{sizes[-1]:,} scenarios" in again
    assert list(open_convergence(str(store)).load().n_scenarios.values)[-1] == sizes[-1]


def test_until_se_refuses_a_design_that_cannot_grow(tmp_path, capsys):
    args = tiny_run(tmp_path / "lhs.zarr", scenarios=8, chunk=4)
    assert main([*args, "--sampler", "lhs", "--until-se", "0.01"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--until-se" in err and "lhs design does not" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "lhs.zarr").exists()


def test_the_median_standard_error_matches_its_spread_over_repeats():
    rng = np.random.default_rng(3)
    n = 400
    medians, errors = [], []
    for _ in range(400):
        x = rng.lognormal(0.0, 0.5, size=(n, 2))
        value, se = measure(x, ["baseline", "b"])
        medians.append(value[0, 0])
        errors.append(se[0, 0])
    ratio = np.mean(errors) / np.std(medians)
    assert 0.85 < ratio < 1.2, ratio
