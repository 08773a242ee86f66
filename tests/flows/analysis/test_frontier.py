"""The cost-effect frontier: the Pareto sets of a known case, and the frontier of a real
store of drawn policies against NumPy over its draws."""

from __future__ import annotations

import numpy as np
import xarray as xr

from resonance.flows.analysis.frontier import frontier, pareto
from resonance.flows.config import load_config
from resonance.flows.engine.execute import SequentialExecutor, run_plan
from resonance.flows.engine.layout import by_metric
from resonance.flows.engine.plan import make_plan
from tests.helpers import write_config


def test_pareto_keeps_exactly_the_undominated_points():
    cost = np.array([0.0, 1.0, 1.0, 2.0, 3.0, np.nan])
    loss = np.array([5.0, 3.0, 4.0, 3.0, 1.0, 0.0])
    np.testing.assert_array_equal(pareto(cost, loss), [True, True, False, False, True, False])


def test_frontier_of_drawn_policies_matches_numpy(tmp_path):
    def mutate(cfg):
        cfg["paths"] = ["baseline", "ranged"]
        cfg["sizes"].update(scenarios=32, firms=60, quarters=12, firm_snapshots=0)
        cfg["chunk_scenarios"] = 16
        cfg["store"] = str(tmp_path / "f.zarr")

    file = write_config(tmp_path, mutate)
    (tmp_path / "paths" / "ranged.yaml").write_text(
        "name: ranged\npolicies: 6\nscale: {spillover: [1.0, 2.5]}\nadd: {coop: [0.0, 2.0]}\n"
    )
    config = load_config(file)
    run_plan(make_plan(config), SequentialExecutor())
    draws = by_metric(xr.open_zarr(config.store, group="draws"))
    table = frontier(draws, "tfp", quarter=-1)

    tfp = draws["tfp"].isel(time=-1).values  # (scenario, path)
    cost = draws["policy_cost"].values.mean(axis=(0, 2))  # mean per year, every quarter
    paths = [str(p) for p in draws.path.values]
    for k, path in enumerate(paths):
        row = table.sel(path=path)
        assert float(row.cost) == np.float64(cost[k]) or np.isclose(float(row.cost), cost[k])
        assert np.isclose(float(row.effect), (tfp[:, k] - tfp[:, 0]).mean())
    assert float(table.sel(path="baseline").cost) == 0.0
    np.testing.assert_array_equal(
        table.on_effect_frontier.values,
        pareto(table.cost.values, -table.effect.values),
    )
    assert table.on_effect_frontier.sel(path="baseline")
    assert (np.diff(table.cost.values) >= 0).all()  # cheapest first
