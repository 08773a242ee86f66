"""Robustness across paths: regret, satisficing and the worst case against a direct NumPy
computation over the stored draws, read chunk by chunk; the CLI's table, figure and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import resonance.flows.analysis  # noqa: F401  (registers ds.resonance)
from resonance.flows.analysis.robust import CRITERIA, robustness
from resonance.flows.cli import main
from resonance.flows.engine.layout import by_metric
from tests.helpers import tiny_run

PATHS = "baseline,technological_transition,ecological_coordination,policy_coordination,all_paths"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    out = tmp_path_factory.mktemp("robust") / "s.zarr"
    # 48 scenarios in chunks of 8: the analysis must merge six chunks to get it right.
    args = tiny_run(out, scenarios=48, firms=30, quarters=12, chunk=8, paths=PATHS)
    assert main(args) == 0
    return out


@pytest.mark.parametrize("maximize", [True, False])
def test_regret_satisficing_and_worst_case_match_numpy(store, maximize):
    ds = by_metric(xr.open_zarr(store, group="draws"))
    v = ds.innovation_efficiency.isel(time=-2).transpose("scenario", "path").values
    goal = float(np.median(v))
    r = ds.resonance.robustness("innovation_efficiency", -2, satisfice=goal, maximize=maximize)
    t = r.table
    assert r.n == 48 and [str(p) for p in t.path.values] == PATHS.split(",")
    regret = v.max(axis=1, keepdims=True) - v if maximize else v - v.min(axis=1, keepdims=True)
    np.testing.assert_allclose(t.regret_mean.values, regret.mean(axis=0), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(t.regret_max.values, regret.max(axis=0))
    np.testing.assert_array_equal(t.worst.values, v.min(axis=0) if maximize else v.max(axis=0))
    share = (v >= goal).mean(axis=0) if maximize else (v <= goal).mean(axis=0)
    np.testing.assert_array_equal(t.satisficing.values, share)
    np.testing.assert_allclose(t.satisficing_se.values, np.sqrt(share * (1 - share) / 48))
    np.testing.assert_allclose(t["mean"].values, v.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(t["std"].values, v.std(axis=0, ddof=1), rtol=1e-6, atol=1e-12)
    # percentiles from the streaming histograms: within their stated bound of numpy's
    tol = r.quantile_error + 1e-12
    np.testing.assert_allclose(t.regret_p90.values, np.quantile(regret, 0.9, axis=0), atol=tol)
    tail = np.quantile(v, 0.1 if maximize else 0.9, axis=0)
    np.testing.assert_allclose(t.tail_p10.values, tail, atol=tol)
    # the best path in a world has no regret there, so some path has regret 0 in each world
    assert np.all(regret.min(axis=1) == 0)


def test_ranks_follow_each_criterion(store):
    ds = by_metric(xr.open_zarr(store, group="draws"))
    t = robustness(ds, "innovation_efficiency", satisfice=0.0).table
    assert list(t.criterion.values) == list(CRITERIA)
    for criterion, (_, higher_is_better) in CRITERIA.items():
        value = t[criterion].values
        rank = t["rank"].sel(criterion=criterion).values
        best_first = np.argsort(rank, kind="stable")
        ordered = value[best_first]
        assert np.all(np.diff(ordered) <= 0) if higher_is_better else np.all(np.diff(ordered) >= 0)


def test_a_lower_is_better_metric_is_minimised_by_default(store):
    ds = by_metric(xr.open_zarr(store, group="draws"))
    r = robustness(ds, "institutional_gap")
    v = ds.institutional_gap.isel(time=-1).transpose("scenario", "path").values
    assert not r.maximize
    np.testing.assert_array_equal(r.table.worst.values, v.max(axis=0))
    assert "satisficing" not in r.table  # no goal given


def test_robust_command_prints_the_table_and_draws_the_ranks(store, tmp_path, capsys):
    fig = tmp_path / "ranks.png"
    args = ["robust", str(store), "--metric", "innovation_efficiency", "--satisfice", "0.05"]
    assert main([*args, "--out", str(fig)]) == 0
    out = capsys.readouterr().out
    assert "Robustness of innovation_efficiency" in out and "all_paths" in out
    assert "regret mean" in out and "satisficing" in out
    assert fig.stat().st_size > 10_000


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        (["--metric", "happiness"], "--metric happiness"),
        (["--satisfice", "nan"], "--satisfice"),
        (["--quarter", "99"], "--quarter"),
    ],
)
def test_bad_robust_input_is_one_line(store, capsys, extra, where):
    assert main(["robust", str(store), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and where in err
