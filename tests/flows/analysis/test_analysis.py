"""Analysis on stored draws: Sobol indices of a known model, PRIM on a planted box, paired
comparison, all lazily through Zarr stores of several chunks."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import resonance.flows.analysis  # noqa: F401  registers ds.resonance
from resonance.flows.cli import main
from resonance.flows.config import load_config
from resonance.flows.engine.execute import SequentialExecutor, run_plan
from resonance.flows.engine.layout import by_metric
from resonance.flows.engine.plan import Design, make_plan
from tests.helpers import DEFAULT_CONFIG

# The Saltelli designs below cannot draw from the default's posterior (config.py): its
# config is read without it, the parameters it carries at their nominal values.
UNCERTAIN = load_config(DEFAULT_CONFIG, without_posterior=True).uncertain_names


def _draws_store(tmp_path, unit, metric_values, sampler):
    """A draws-like store: inputs on scenario, one metric (scenario, path, time)."""
    n = unit.shape[0]
    data = {name: ("scenario", unit[:, d]) for d, name in enumerate(UNCERTAIN)}
    data["innovation_efficiency"] = (
        ("scenario", "path", "time"),
        np.repeat(metric_values[:, None, None], 2, axis=1),
    )
    paths = np.array(["baseline", "other"], dtype=object)
    ds = xr.Dataset(
        data,
        coords={"path": paths, "time": [10.0], "scenario": np.arange(n)},
        attrs={"sampler": sampler},
    )
    store = str(tmp_path / "draws.zarr")
    ds.chunk({"scenario": max(1, n // 7)}).to_zarr(store, mode="w", consolidated=False)
    opened = xr.open_zarr(store, consolidated=False)
    assert len(opened.innovation_efficiency.chunks[0]) > 1  # really several chunks
    return opened


def test_sobol_indices_of_ishigami_are_recovered(tmp_path):
    scenarios = (len(UNCERTAIN) + 2) * 2048  # N (d + 2) rows of a Saltelli design
    config = load_config(
        DEFAULT_CONFIG,
        {"sampler": "saltelli", "sizes.scenarios": scenarios},
        without_posterior=True,
    )
    unit = Design.of(config).unit(0, config.n_scenarios)  # the run's Saltelli design
    x = -np.pi + 2 * np.pi * unit[:, :3]
    y = np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])
    ds = _draws_store(tmp_path, unit, y, "saltelli")
    result = ds.resonance.sensitivity("innovation_efficiency", bootstrap=4)
    s = result.sobol
    # Analytic values for a = 7, b = 0.1 (Ishigami & Homma 1990; Sobol' & Levitan 1999).
    np.testing.assert_allclose(s.S1.values[:3], [0.3139, 0.4424, 0.0], atol=0.04)
    np.testing.assert_allclose(s.ST.values[:3], [0.5576, 0.4424, 0.2437], atol=0.04)
    assert (np.abs(s.ST.values[3:]) < 0.02).all()  # the other inputs are dummies
    top = list(result.ranking.index[:3])
    assert set(top) == set(UNCERTAIN[:3])


def test_prim_finds_a_planted_box(tmp_path):
    gen = np.random.default_rng(3)
    unit = gen.random((3000, len(UNCERTAIN)))
    inside = (unit[:, 0] > 0.7) & (unit[:, 3] < 0.3)
    noise = gen.random(3000) < 0.03
    y = np.where(inside ^ noise, 0.0, 1.0)
    ds = _draws_store(tmp_path, unit, y, "mc")
    found = ds.resonance.discover("innovation_efficiency", 0.5, below=True, density=0.9)
    box = found.box
    restricted = box.restricted(found.bounds)
    assert set(restricted) == {UNCERTAIN[0], UNCERTAIN[3]}
    assert restricted[UNCERTAIN[0]][0] == pytest.approx(0.7, abs=0.05)
    assert restricted[UNCERTAIN[3]][1] == pytest.approx(0.3, abs=0.05)
    # With 3 % of labels flipped the true box has density ~0.97 and coverage ~0.76.
    assert box.density > 0.9 and box.coverage > 0.65


@pytest.fixture(scope="module")
def engine_store(tmp_path_factory):
    store = str(tmp_path_factory.mktemp("an") / "run.zarr")
    config = load_config(
        DEFAULT_CONFIG,
        {
            "sizes.scenarios": 48,
            "sizes.firms": 40,
            "sizes.quarters": 12,
            "chunk_scenarios": 8,
            "paths": ["baseline", "factor_reset", "all_paths"],
            "store": store,
        },
    )
    run_plan(make_plan(config), SequentialExecutor())
    return store


def test_a_path_against_itself_differs_by_exactly_zero(engine_store):
    ds = by_metric(xr.open_zarr(engine_store, group="draws"))
    c = ds.resonance.compare("factor_reset", "factor_reset", "tfp")
    assert all(v == 0.0 for v in c.quantiles.values())
    assert c.mean == 0.0 and c.std == 0.0 and c.p_better == 0.5
    assert (c.over_time["quantile_of_difference"].values == 0.0).all()


def test_comparison_is_paired_and_matches_numpy(engine_store):
    ds = by_metric(xr.open_zarr(engine_store, group="draws"))
    c = ds.resonance.compare("baseline", "all_paths", "innovation_efficiency")
    d = (
        (
            ds.innovation_efficiency.sel(path="all_paths")
            - ds.innovation_efficiency.sel(path="baseline")
        )
        .isel(time=-1)
        .values
    )
    assert c.n == 48
    assert c.mean == pytest.approx(d.mean())
    assert c.p_better == pytest.approx((d > 0).mean() + 0.5 * (d == 0).mean())
    assert c.mean_se == pytest.approx(d.std(ddof=1) / np.sqrt(48))


def test_analysis_commands_run_on_an_engine_store(engine_store, tmp_path, capsys):
    assert (
        main(["compare", engine_store, "baseline", "all_paths", "--out", str(tmp_path / "c.png")])
        == 0
    )
    assert (
        main(
            [
                "sensitivity",
                engine_store,
                "--metric",
                "tfp",
                "--bootstrap",
                "3",
                "--out",
                str(tmp_path / "s.png"),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "discover",
                engine_store,
                "--metric",
                "innovation_efficiency",
                "--below",
                "0.2",
                "--out",
                str(tmp_path / "d.png"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "P(all_paths beats baseline)" in out and "tree importance" in out
    assert "PRIM" in out
    for name in ("c.png", "s.png", "d.png"):
        assert (tmp_path / name).stat().st_size > 10_000


@pytest.mark.parametrize(
    "args, key",
    [
        (["compare", "STORE", "baseline", "moonshot"], "path moonshot"),
        (["sensitivity", "STORE", "--metric", "happiness"], "--metric happiness"),
        (["discover", "STORE", "--below", "-100"], "--below -100"),
        (["compare", "STORE", "baseline", "all_paths", "--quarter", "99"], "--quarter 99"),
    ],
)
def test_bad_analysis_input_is_one_line(engine_store, capsys, args, key):
    args = [engine_store if a == "STORE" else a for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and key in err[0]


def test_saltelli_rows_of_one_base_sample_share_their_draws():
    from resonance.flows.engine.plan import draw_ids

    d2 = len(UNCERTAIN) + 2
    np.testing.assert_array_equal(draw_ids("saltelli", 0, 3 * d2, d2), np.repeat(np.arange(3), d2))
    np.testing.assert_array_equal(draw_ids("sobol", 5, 9, d2), np.arange(5, 9))
    config = load_config(
        DEFAULT_CONFIG,
        {
            "sampler": "saltelli",
            "sizes.scenarios": 2 * d2,
            "sizes.firms": 20,
            "sizes.quarters": 6,
            "paths": ["baseline"],
        },
        without_posterior=True,
    )
    plan = make_plan(config)
    from resonance.kernels import load

    simulate = load().simulate

    def kernel(row, counter):
        return simulate(
            plan.params(row, row + 1), config.firm_vector, np.array([counter]), config.seed, 20, 6
        )

    # Row 1 (AB_1 of base sample 0) runs on base sample 0's firms and shocks ...
    np.testing.assert_array_equal(plan.simulate_chunk(1, 2), kernel(1, 0))
    assert not np.array_equal(plan.simulate_chunk(1, 2), kernel(1, 1))
    # ... and the next base sample on its own.
    np.testing.assert_array_equal(plan.simulate_chunk(d2, d2 + 1), kernel(d2, 1))
