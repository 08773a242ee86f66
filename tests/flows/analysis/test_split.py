"""World or luck (analysis/split.py): the split against a direct NumPy computation on a real
store, the summary's table, and Sobol indices on the worlds' expected outcomes."""

from __future__ import annotations

import numpy as np
import pytest

from resonance.flows.analysis.sensitivity import sensitivity, sobol_indices
from resonance.flows.analysis.split import split, world_means, world_split
from resonance.flows.analysis.worlds import whole_worlds
from resonance.flows.cli import main
from resonance.flows.config import load_config
from resonance.flows.engine.execute import SequentialExecutor, run_plan
from resonance.flows.engine.plan import make_plan
from resonance.flows.engine.store_read import open_draws
from resonance.flows.errors import ResonanceError
from tests.helpers import DEFAULT_CONFIG

W, R = 16, 4


def _store(path, worlds, replications, **extra):
    config = load_config(
        DEFAULT_CONFIG,
        {
            "sizes.scenarios": worlds,
            "sizes.replications": replications,
            "sizes.firms": 40,
            "sizes.quarters": 8,
            "paths": ["baseline", "all_paths"],
            "chunk_scenarios": 24,  # cuts worlds of 4 in the middle of none, 24 = 6 x 4
            "store": str(path),
            **extra,
        },
    )
    run_plan(make_plan(config), SequentialExecutor())
    return str(path)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """16 worlds x 4 replications x 40 firms x 8 quarters, two paths."""
    return _store(tmp_path_factory.mktemp("split") / "split.zarr", W, R)


def _direct(y: np.ndarray) -> tuple[float, float]:
    """(between-world variance of E[Y|w], within-world variance) of y (W R,), written out
    as sums of squares."""
    grid = y.reshape(W, R)
    means = grid.sum(axis=1) / R
    grand = means.sum() / W
    within = sum((grid[w, r] - means[w]) ** 2 for w in range(W) for r in range(R)) / (W * (R - 1))
    between = sum((means[w] - grand) ** 2 for w in range(W)) / (W - 1) - within / R
    return max(between, 0.0), within


def test_split_of_a_real_store_matches_a_direct_numpy_computation(store):
    draws = open_draws(store)
    got = world_split(draws, ["tfp", "innovation_efficiency", "coordination"], quarter=-1)
    assert got.attrs["worlds"] == W and got.attrs["replications"] == R
    for metric in ("tfp", "innovation_efficiency", "coordination"):
        for path in ("baseline", "all_paths"):
            y = draws[metric].sel(path=path).isel(time=-1).values
            world, luck = _direct(y)
            row = got.sel(outcome=metric, path=path)
            np.testing.assert_allclose(float(row.world_variance), world, rtol=1e-10, atol=1e-15)
            np.testing.assert_allclose(float(row.luck_variance), luck, rtol=1e-10)
            assert luck > 0  # the replications of a world drew other firms
            share = world / (world + luck)
            np.testing.assert_allclose(float(row.world_share), share, rtol=1e-10, atol=1e-15)
            np.testing.assert_allclose(float(row.world_share + row.luck_share), 1.0)
            means = y.reshape(W, R).mean(axis=1)
            q = got["quantile"].values
            np.testing.assert_allclose(row.world_band.values, np.quantile(means, q))
            np.testing.assert_allclose(row.total_band.values, np.quantile(y, q))


def test_split_recovers_known_world_and_luck_variances():
    gen = np.random.default_rng(5)
    worlds, r = 4000, 5
    m = gen.normal(0.0, 2.0, worlds)  # world variance 4
    y = np.repeat(m, r) + gen.normal(0.0, 1.0, worlds * r)  # luck variance 1
    s = split(y, r)
    assert abs(s.world - 4.0) < 0.25 and abs(s.luck - 1.0) < 0.03
    assert abs(s.world_share - 0.8) < 0.02
    # no world effect: the estimate is floored at 0, not negative
    none = split(gen.normal(0.0, 1.0, 40 * r), r)
    assert none.world >= 0.0 and none.world_share < 0.2
    with pytest.raises(ValueError, match="R = 1"):
        split(y, 1)


def test_a_stopped_store_is_split_over_its_whole_worlds(store):
    draws = open_draws(store)
    cut = draws.isel(scenario=slice(0, 4 * 9 + 2))  # nine whole worlds and half of one
    kept = whole_worlds(cut)
    assert kept.sizes["scenario"] == 36
    means = world_means(cut)
    np.testing.assert_array_equal(means.scenario.values, np.arange(9))
    tfp = draws["tfp"].sel(path="baseline").isel(time=-1).values[:36].reshape(9, R)
    np.testing.assert_allclose(
        means["tfp"].sel(path="baseline").isel(time=-1).values, tfp.mean(axis=1)
    )
    np.testing.assert_array_equal(means["opportunity"].values, draws["opportunity"].values[:36:R])
    assert means.attrs["replications"] == 1 and "chokepoint" not in means


def test_summary_reports_world_and_luck_only_with_replications(store, tmp_path, capsys):
    assert main(["summary", store, "--metric", "tfp"]) == 0
    out = capsys.readouterr().out
    assert f"World or luck after 2 years ({W} worlds x {R} replications)" in out
    assert "world %" in out and "luck %" in out
    single = _store(tmp_path / "one.zarr", 4, 1)
    with pytest.raises(ResonanceError, match="one replication per world"):
        world_split(open_draws(single))
    assert main(["summary", single, "--metric", "tfp"]) == 0
    assert "World or luck" not in capsys.readouterr().out


@pytest.mark.slow
def test_sensitivity_of_a_replicated_saltelli_store_is_on_the_worlds_means(tmp_path):
    config = load_config(DEFAULT_CONFIG)
    m = config.saltelli_multiple
    store = _store(
        tmp_path / "saltelli.zarr",
        4 * m,
        2,
        sampler="saltelli",
        paths=["baseline"],
        **{"sizes.firms": 20, "sizes.quarters": 4, "chunk_scenarios": 2 * m},
    )
    draws = open_draws(store)
    result = sensitivity(draws, "tfp", path="baseline", bootstrap=2)
    assert result.replications == 2 and result.sobol is not None
    means = world_means(draws)
    y = means["tfp"].sel(path="baseline").isel(time=-1).values
    assert y.size == 4 * m
    expected = sobol_indices(means, y, 0)
    for column in ("S1", "ST"):  # (their intervals are SALib's resampling)
        np.testing.assert_allclose(result.sobol[column].values, expected[column].values)
    from resonance.flows.analysis.tables import sensitivity_table

    assert "world's expected tfp" in str(sensitivity_table(result).title)


def test_effects_on_replicated_worlds_cluster_their_intervals_by_world(store):
    """With R > 1 the R scenarios of a world are not independent: the effect's standard
    errors are those of the W worlds' mean differences (t with W - 1 df), recomputed
    here directly, while the point estimates stay the scenarios' means."""
    from scipy import stats

    from resonance.flows.analysis.effects import effects, series

    draws = open_draws(store)
    got = effects(draws, "tfp", reference="baseline", paths=["all_paths"]).isel(path=0)
    v = series(draws, "tfp").isel(time=-1)
    d = (v.sel(path="all_paths") - v.sel(path="baseline")).values.astype(np.float64)
    world_d = d.reshape(W, R).mean(axis=1)
    se = world_d.std(ddof=1) / np.sqrt(W)
    t = stats.t.ppf(0.975, W - 1)
    assert float(got["mean"]) == pytest.approx(d.mean(), rel=1e-12)
    assert float(got["mean_se"]) == pytest.approx(se, rel=1e-9)
    assert float(got["mean_low"]) == pytest.approx(d.mean() - t * se, rel=1e-9)
    win = (d > 0) + 0.5 * (d == 0)
    assert float(got["p_better"]) == pytest.approx(win.mean(), rel=1e-12)
    assert float(got["p_better_se"]) == pytest.approx(
        win.reshape(W, R).mean(axis=1).std(ddof=1) / np.sqrt(W), rel=1e-9, abs=1e-15
    )
    # the scenario-level formula would claim W R independent draws
    assert float(got["mean_se"]) != pytest.approx(d.std(ddof=1) / np.sqrt(W * R), rel=1e-6)
    assert got.attrs["worlds"] == W and got.attrs["replications"] == R
    assert np.isfinite(float(got["median_low"])) and float(got["median_low"]) <= float(
        got["median"]
    ) <= float(got["median_high"])


def test_diff_and_convergence_widen_their_errors_by_the_replications_bound(store):
    """diff and --until-se treat a world's R scenarios as correlated: their s.e.s are
    sqrt(R) times those of R W independent draws (the design effect's bound)."""
    from resonance.flows.analysis.diff import diff
    from resonance.flows.engine.converge import measure

    draws = open_draws(store)
    plain = draws.assign_attrs(replications=1)
    got, independent = diff(draws, draws), diff(plain, plain)
    assert np.allclose(got.table["se"], independent.table["se"] * np.sqrt(R), equal_nan=True)
    x = np.random.default_rng(1).normal(size=(64, 2))
    _, se1 = measure(x, ["baseline", "all_paths"])
    _, se4 = measure(x, ["baseline", "all_paths"], replications=4)
    assert np.allclose(se4, 2 * se1, equal_nan=True)


def test_robustness_s_satisficing_error_is_widened_by_the_replications_bound(store):
    from resonance.flows.analysis.robust import robustness

    draws = open_draws(store)
    y = draws["tfp"].isel(time=-1).sel(path="baseline").values
    threshold = float(np.median(y))
    got = robustness(draws, "tfp", satisfice=threshold).table
    plain = robustness(draws.assign_attrs(replications=1), "tfp", satisfice=threshold).table
    np.testing.assert_allclose(got["satisficing"], plain["satisficing"])
    np.testing.assert_allclose(got["satisficing_se"], plain["satisficing_se"] * np.sqrt(R))
    assert float(got["satisficing_se"].sel(path="baseline")) > 0
