"""The stylized facts: each estimator on data of known answer, and the command end to end."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from resonance.flows.analysis import facts as stylized
from resonance.flows.cli import main
from tests.helpers import DEFAULT_CONFIG, tiny_run, write_config


def test_hill_exponent_recovers_a_pareto_tail():
    gen = np.random.default_rng(1)
    for alpha in (0.9, 1.06, 1.5):
        sizes = gen.pareto(alpha, size=(20, 20_000)) + 1.0
        got = stylized.hill_exponent(sizes / sizes.sum(axis=-1, keepdims=True))
        assert np.median(got) == pytest.approx(alpha, rel=0.05)


def test_growth_kurtosis_of_laplace_and_normal_growth():
    gen = np.random.default_rng(2)
    shape = (4, 1, 11, 4000)
    for draw, expected in ((gen.laplace, 3.0), (gen.normal, 0.0)):
        log_share = np.cumsum(draw(size=shape) * 0.1, axis=2)
        pooled, by_year = stylized.growth_kurtosis(log_share, np.zeros(shape))
        assert np.median(pooled) == pytest.approx(expected, abs=0.3)
        assert by_year.shape == (4, 1, 10)


def test_persistence_of_a_level_with_transitory_noise():
    # corr(A + e_t, A + e_t+1) = var A / (var A + var e) = 0.8 for var e = var A / 4
    gen = np.random.default_rng(3)
    level = gen.normal(size=(3, 1, 1, 20_000))
    noisy = level + 0.5 * gen.normal(size=(3, 1, 6, 20_000))
    got = stylized.persistence(noisy, np.zeros(noisy.shape))
    np.testing.assert_allclose(got, 0.8, atol=0.01)
    # an entrant (a new owner of the slot from year 3 on) is left out of the pair it starts
    entered = np.zeros(noisy.shape)
    entered[..., 3, :10_000] = 1
    swapped = noisy.copy()
    new_level = 3.0 * gen.normal(size=(3, 1, 1, 10_000))
    swapped[..., 3:, :10_000] = new_level + 1.5 * gen.normal(size=(3, 1, 3, 10_000))
    kept = stylized.persistence(swapped, entered)
    np.testing.assert_allclose(kept, 0.8, atol=0.02)  # entrants then persist as founders
    assert (stylized.persistence(swapped, np.zeros(noisy.shape)) < kept - 0.05).all()


def test_innovation_skew_counts_the_top_tenth_of_breakthroughs():
    value = np.zeros((1, 1, 2, 50))
    value[0, 0, 0, :10] = 1.0  # ten breakthroughs of value 1 ...
    value[0, 0, 1, 0] = 9.0  # ... and one of value 9: the top tenth (one) holds 9 / 19
    assert stylized.innovation_skew(value)[0, 0] == pytest.approx(9 / 19)
    assert np.isnan(stylized.innovation_skew(np.zeros((1, 1, 2, 50))))[0, 0]


def test_facts_table_names_ranges_sources_and_checks_the_baseline():
    from resonance.flows.config import load_config

    config = load_config(
        DEFAULT_CONFIG,
        {
            "sizes.scenarios": 4,
            "sizes.firms": 200,
            "sizes.firm_snapshots": 4,
            "paths": ["baseline", "factor_reset"],
        },
    )
    snapshots = stylized.simulate_snapshots(config)
    assert dict(snapshots.sizes) == {"scenario": 4, "path": 2, "year": 10, "firm": 200}
    table = stylized.facts(snapshots)
    assert set(table.fact.values) == set(stylized.FACT_NAMES)
    assert table.checked.sel(path="baseline").all()
    assert bool(table.checked.sel(path="factor_reset", fact="tfp_growth"))
    assert not table.checked.sel(path="factor_reset", fact="persistence")
    assert (table.measured.sel(path="baseline") == 4).all()
    assert "Axtell" in str(table.source.sel(fact="size_tail_end").values)
    # a median pushed outside its range is reported out of range
    per_scenario = stylized.scenario_facts(snapshots)
    per_scenario["exit_rate"][:] = 50.0
    moved = stylized.summarise(per_scenario)
    assert not bool(moved.in_range.sel(fact="exit_rate", path="baseline"))


def test_facts_check_fails_when_innovation_steps_are_ten_times_larger(tmp_path, capsys):
    from resonance.flows.config import load_config

    def tenfold(raw):
        raw["parameters"]["inc_scale"] *= 10

    file = write_config(tmp_path, tenfold)
    # The default sample (16 x 1,000): on fewer firms the big ones, whose old track
    # saturates first, carry the aggregate and tenfold steps stay near the range's edge.
    sizes = {"sizes.scenarios": 16, "sizes.firms": 1000, "paths": ["baseline"]}
    growth = {
        name: float(
            stylized.facts(stylized.simulate_snapshots(load_config(f, sizes)))["median"].sel(
                fact="tfp_growth", path="baseline"
            )
        )
        for name, f in (("default", DEFAULT_CONFIG), ("tenfold", file))
    }
    assert growth["tenfold"] > 2 * growth["default"] and growth["tenfold"] > 6.0
    args = ["facts", str(file), "--scenarios", "16", "--firms", "1000", "--paths", "baseline"]
    assert main([*args, "--check"]) == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert "out of range" in last and "tfp_growth" in last
    assert main(args) == 0  # without --check the table is only reported


def test_facts_of_a_store_read_its_snapshots(tmp_path, capsys):
    store = tmp_path / "s.zarr"
    assert main(tiny_run(store, firms=60, quarters=12)) == 0
    capsys.readouterr()
    assert main(["facts", str(store)]) == 0  # reported, not checked
    out = capsys.readouterr().out
    assert "4 scenarios x 60 firms, 3 years" in out and "aggregate TFP growth" in out
    firms = xr.open_zarr(store, group="firms")
    direct = stylized.facts(firms)
    assert direct.sizes["fact"] == len(stylized.FACT_NAMES) and direct.sizes["path"] == 1
