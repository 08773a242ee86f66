"""sizes.replications: each world simulated R times with its own firms, bit for bit the
same whatever the chunks, and a config without it as it was before."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from resonance.flows.cli import main
from resonance.flows.config import load_config
from resonance.flows.engine.execute import SequentialExecutor, run_plan
from resonance.flows.engine.plan import Design, cost_ids, draw_ids, make_plan
from tests.flows.engine.test_grow import _assert_same
from tests.helpers import DEFAULT_CONFIG, write_config

SMALL = {
    "sizes.firms": 20,
    "sizes.quarters": 4,
    "sizes.firm_snapshots": 5,
    "paths": ["baseline", "all_paths"],
}


def _config(worlds, replications, store="unused.zarr", **extra):
    return load_config(
        DEFAULT_CONFIG,
        {
            **SMALL,
            "sizes.scenarios": worlds,
            "sizes.replications": replications,
            "store": str(store),
            **extra,
        },
    )


@pytest.mark.parametrize("sampler", ["sobol", "mc", "lhs"])
def test_replications_share_their_worlds_point_and_draw_their_own_counters(sampler):
    one, four = _config(16, 1, sampler=sampler), _config(16, 4, sampler=sampler)
    assert (four.n_scenarios, four.n_worlds, four.replications) == (64, 16, 4)
    worlds = Design.of(one).theta(0, 16)
    # scenario s takes world s // 4's point, from any range of scenarios
    np.testing.assert_array_equal(Design.of(four).theta(0, 64), np.repeat(worlds, 4, axis=0))
    np.testing.assert_array_equal(Design.of(four).theta(7, 30), np.repeat(worlds, 4, axis=0)[7:30])
    ids = draw_ids(sampler, 0, 64, four.saltelli_multiple, 4)
    assert np.unique(ids).size == 64  # every replication its own firms, shocks and events
    np.testing.assert_array_equal(cost_ids(sampler, 0, 64, four.saltelli_multiple, 4), ids // 4)


def test_saltelli_rows_of_a_base_sample_share_a_counter_per_replication():
    m, r = 17, 3  # d + 2 rows per base sample; 3 replications
    ids = draw_ids("saltelli", 0, 4 * m * r, m, r)  # 4 base samples
    s = np.arange(4 * m * r)
    np.testing.assert_array_equal(ids, (s // r // m) * r + s % r)
    by_sample = ids.reshape(4, m, r)  # (base sample, row, replication)
    assert (by_sample == by_sample[:, :1, :]).all()  # the d + 2 rows share, per replication
    assert np.unique(by_sample[:, 0, :]).size == 4 * r  # distinct across replications
    # the unit costs belong to the world: one per base sample, whatever the replication
    np.testing.assert_array_equal(cost_ids("saltelli", 0, 4 * m * r, m, r), s // r // m)
    # R = 1 is the counter of before replications
    np.testing.assert_array_equal(draw_ids("saltelli", 5, 90, m, 1), np.arange(5, 90) // m)


def test_one_replication_is_the_config_and_counters_of_before(tmp_path):
    plain = load_config(DEFAULT_CONFIG)
    explicit = load_config(DEFAULT_CONFIG, {"sizes.replications": 1})
    assert explicit.sha256 == plain.sha256 and explicit.identity == plain.identity
    assert "replications" not in plain.canonical
    assert plain.n_scenarios == plain.n_worlds == 2048
    np.testing.assert_array_equal(draw_ids("sobol", 3, 40, 17, 1), np.arange(3, 40))
    np.testing.assert_array_equal(cost_ids("sobol", 3, 40, 17, 1), np.arange(3, 40))
    # two replications are another config: a store of one does not resume the other
    assert load_config(DEFAULT_CONFIG, {"sizes.replications": 2}).identity != plain.identity
    store = tmp_path / "one.zarr"
    config = _config(4, 1, store)
    run_plan(make_plan(config), SequentialExecutor())
    draws = xr.open_zarr(store, group="draws")
    assert "world" not in draws.variables and "replication" not in draws.variables


@pytest.mark.slow
def test_replicated_store_is_bit_identical_across_chunkings(tmp_path):
    """Chunks of 18 (the whole run), 5 and 4 scenarios: chunk bounds cut worlds of 3."""
    stores = []
    for chunk in (18, 5, 4):
        store = tmp_path / f"c{chunk}.zarr"
        config = _config(6, 3, store, chunk_scenarios=chunk)
        run_plan(make_plan(config), SequentialExecutor())
        stores.append(store)
    for other in stores[1:]:
        _assert_same(stores[0], other)
    draws = xr.open_zarr(stores[0], group="draws")
    np.testing.assert_array_equal(draws["world"].values, np.arange(18) // 3)
    np.testing.assert_array_equal(draws["replication"].values, np.arange(18) % 3)
    assert "world" in draws.coords and "replication" in draws.coords
    assert draws.attrs["replications"] == 3 and draws.attrs["n_worlds"] == 6
    # the replications of a world share its parameters, and not its firms
    spread = draws["opportunity"].values.reshape(6, 3)
    assert (spread == spread[:, :1]).all()
    tfp = draws["outcome"].sel(metric="tfp").isel(time=-1).values.reshape(6, 3, -1)
    assert (tfp[:, 1:] != tfp[:, :1]).all()


def test_a_replicated_store_grows_by_worlds_to_the_bits_of_a_fresh_one(tmp_path):
    grown, fresh = tmp_path / "grown.zarr", tmp_path / "fresh.zarr"
    run_plan(make_plan(_config(4, 2, grown, chunk_scenarios=3)), SequentialExecutor())
    report = run_plan(make_plan(_config(8, 2, grown, chunk_scenarios=3)), SequentialExecutor())
    assert report.skipped == 2  # the finished whole chunks of the 8 scenarios held
    run_plan(make_plan(_config(8, 2, fresh, chunk_scenarios=3)), SequentialExecutor())
    _assert_same(grown, fresh)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (0, "greater than or equal to 1"),
        (2.5, "valid integer"),
        ("two", "valid integer"),
        (2**31, "is more than 2147483648 scenarios"),
    ],
)
def test_bad_replications_is_one_line(tmp_path, capsys, value, says):
    file = write_config(tmp_path, lambda raw: raw["sizes"].update(replications=value))
    assert main(["validate", str(file)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "sizes.replications" in err and says in err


def test_replications_override_on_the_command_line(capsys):
    assert main(["validate", str(DEFAULT_CONFIG), "--scenarios", "64", "--replications", "4"]) == 0
    assert "256 scenarios (64 worlds x 4 replications)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit:  # argparse's usage error, one line
        main(["validate", str(DEFAULT_CONFIG), "--replications", "0"])
    assert exit.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--replications" in err
