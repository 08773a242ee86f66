"""The chokepoint in the store (S4 §5.2, MODEL.md §9): the event each scenario records is
the one the kernel simulated, ``--where`` restricts an analysis to it, and ``resonance
recovery`` tells which path recovers fastest, through real runs into real Zarr stores."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from resonance.flows.cli import main
from resonance.flows.config import load_config
from resonance.flows.engine.execute import SequentialExecutor, run_plan
from resonance.flows.engine.plan import make_plan
from resonance.flows.engine.store_read import open_draws
from resonance.flows.errors import ConfigError
from resonance.kernels.registry import METRICS
from tests.helpers import DEFAULT_CONFIG, write_config

PATHS = ["baseline", "independent_innovation", "international_cooperation"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = str(tmp_path_factory.mktemp("choke") / "run.zarr")
    config = load_config(
        DEFAULT_CONFIG,
        {
            "sizes.scenarios": 64,
            "sizes.firms": 40,
            "sizes.quarters": 24,
            "chunk_scenarios": 16,
            "paths": PATHS,
            "store": store,
        },
    )
    run_plan(make_plan(config), SequentialExecutor())
    return store


def test_each_scenario_stores_the_chokepoint_the_kernel_simulated(store):
    ds = open_draws(store)
    struck = ds["chokepoint"].values
    assert ds["chokepoint"].dtype == np.int8 and set(np.unique(struck)) == {0, 1}
    assert ds["chokepoint_time"].attrs["units"] == "years"
    when = ds["chokepoint_time"].values
    assert np.isnan(when[struck == 0]).all() and np.isfinite(when[struck == 1]).all()
    severity = ds["chokepoint_severity"].values
    np.testing.assert_array_equal(severity[struck == 1], ds["choke_severity"].values[struck == 1])
    assert (severity[struck == 0] == 0.0).all()
    loss = ds["chokepoint_loss"].transpose("scenario", "path", "time").values
    years = ds.time.values
    for s in range(ds.sizes["scenario"]):
        if struck[s]:
            before = years < when[s]
            assert (loss[s][:, before] == 0.0).all()
            assert (loss[s][:, years == when[s]] > 0.0).all()  # every path, the same quarter
        else:
            assert (loss[s] == 0.0).all()


def test_world_events_are_not_inputs_of_the_analyses(store):
    from resonance.flows.analysis.select import input_names

    names = input_names(open_draws(store))
    assert "choke_prob" in names and "chokepoint" not in names


def test_compare_where_the_chokepoint_struck(store, capsys):
    ds = open_draws(store)
    struck = int(ds["chokepoint"].sum())
    assert 0 < struck < 64
    args = ["compare", store, "baseline", "independent_innovation", "--where"]
    assert main([*args, "chokepoint"]) == 0
    out = capsys.readouterr().out
    assert f"{struck} scenarios where chokepoint" in out and f"over {struck} scenarios" in out
    assert main([*args, "not chokepoint", "--metric", "chokepoint_loss"]) == 0
    assert f"over {64 - struck} scenarios" in capsys.readouterr().out
    assert main([*args, "choke_severity>=0.3"]) == 0
    n = int((ds["choke_severity"].values >= 0.3).sum())
    assert f"{n} scenarios where choke_severity>=0.3" in capsys.readouterr().out


@pytest.mark.parametrize(
    "where, says",
    [
        ("chokepoint and more", "cannot read it"),
        ("weather", "no variable weather on scenario"),
        ("choke_severity", "not a 0/1 mark"),
        ("choke_severity>5", "selects none of the 64 scenarios"),
    ],
)
def test_a_bad_where_is_one_line(store, capsys, where, says):
    assert main(["compare", store, "baseline", "independent_innovation", "--where", where]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0] and "--where" in err[0]


def test_recovery_names_the_paths_and_draws_them(store, tmp_path, capsys):
    figure = tmp_path / "recovery.png"
    assert main(["recovery", store, "--window", "8", "--out", str(figure)]) == 0
    out = capsys.readouterr().out
    assert "After the chokepoint" in out and "baseline" in out
    assert figure.stat().st_size > 10_000
    from resonance.flows.analysis.recovery import recovery

    r = recovery(open_draws(store), window=8)
    assert r.table.loc["baseline", "p_faster"] == 0.5  # against itself: all ties
    assert sorted(r.order()) == sorted(PATHS)
    # the paths are paired on the same struck scenarios, each with 8 quarters after it
    assert r.half_life.shape == (r.n, len(PATHS)) and r.n <= r.struck
    assert (
        r.table.loc["independent_innovation", "loss_at_strike"]
        < (r.table.loc["baseline", "loss_at_strike"])
    )


def test_recovery_with_a_window_past_the_horizon_is_one_line(store, capsys):
    assert main(["recovery", store, "--window", "40"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--window 40" in err[0]


def test_a_path_may_not_lever_the_world_event(tmp_path):
    config = write_config(tmp_path, lambda raw: raw.update(paths=["baseline", "luck"]))
    (tmp_path / "paths" / "luck.yaml").write_text("name: luck\nset: {choke_prob: 0.0}\n")
    with pytest.raises(ConfigError, match="choke_prob: is a world event, the same on every path"):
        load_config(config)


def test_the_draws_group_has_the_new_metric(store):
    ds = xr.open_zarr(store, group="draws")
    assert list(ds.metric.values) == list(METRICS)
    assert "chokepoint_loss" in ds.metric.values


def test_recovery_of_a_known_loss():
    """Event time, half-life, censoring and the window, on losses of known answer."""
    from resonance.flows.analysis.recovery import recovery

    t = 10  # quarters; the time coordinate of quarter q is (q + 1) / 4
    loss = np.zeros((4, 2, t))
    # scenario 0: struck in quarter 2; baseline halves after 3 quarters, "fast" after 1
    loss[0, 0, 2:] = [0.2, 0.2, 0.15, 0.1, 0.1, 0.1, 0.1, 0.1]
    loss[0, 1, 2:] = [0.2, 0.1, 0.05, 0.05, 0.02, 0.02, 0.02, 0.02]
    # scenario 1: struck in quarter 7, too late for a window of 4: left out
    loss[1, :, 7:] = 0.3
    # scenario 2: not struck; scenario 3: struck in quarter 0, the baseline never halves
    loss[3, 0, :] = 0.1
    loss[3, 1, :] = [0.1, 0.1, 0.1, 0.1, 0.04, 0.04, 0.04, 0.04, 0.04, 0.04]
    ds = xr.Dataset(
        {
            "chokepoint_loss": (("scenario", "path", "time"), loss),
            "chokepoint": ("scenario", np.array([1, 1, 0, 1], dtype=np.int8)),
            "chokepoint_time": ("scenario", np.array([0.75, 2.0, np.nan, 0.25])),
        },
        coords={"path": ["baseline", "fast"], "time": (np.arange(t) + 1) / 4},
    )
    r = recovery(ds, window=4)
    assert (r.n, r.struck, r.scenarios) == (2, 3, 4)
    np.testing.assert_array_equal(r.half_life, [[3.0, 1.0], [np.inf, 4.0]])
    np.testing.assert_allclose(r.remaining, [[0.5, 0.1], [1.0, 0.4]])
    assert r.table.loc["fast", "p_faster"] == 1.0 and r.order() == ["fast", "baseline"]
    assert r.table.loc["fast", "loss_at_strike"] == pytest.approx(0.15)
    np.testing.assert_allclose(r.event["loss_mean"].sel(path="fast").values[:2], [0.15, 0.1])


def test_a_negated_comparison_never_selects_a_missing_time(store):
    from resonance.flows.analysis.select import where

    ds = open_draws(store)
    struck = int(ds["chokepoint"].sum())
    late = where(ds, "chokepoint_time>3").sizes["scenario"]
    assert where(ds, "not chokepoint_time<=3").sizes["scenario"] == late
    assert late + where(ds, "chokepoint_time<=3").sizes["scenario"] == struck


def test_a_saltelli_store_records_the_events_of_its_shared_counters(tmp_path):
    """Saltelli rows of one base sample share a counter: the stored strike quarter is the
    kernel's for that counter (the rows differ only in their probabilities)."""
    from resonance.flows.engine.plan import draw_ids

    store = str(tmp_path / "s.zarr")
    # a Saltelli design cannot draw from a posterior (config.py): the default without it
    d2 = len(load_config(DEFAULT_CONFIG, without_posterior=True).uncertain_names) + 2
    config = load_config(
        DEFAULT_CONFIG,
        {
            "sampler": "saltelli",
            "sizes.scenarios": 4 * d2,
            "sizes.firms": 10,
            "sizes.quarters": 12,
            "chunk_scenarios": d2,
            "paths": ["baseline"],
            "store": store,
        },
        without_posterior=True,
    )
    run_plan(make_plan(config), SequentialExecutor())
    ds = open_draws(store)
    loss = ds["chokepoint_loss"].sel(path="baseline").values  # (scenario, time)
    when = ds["chokepoint_time"].values
    for s in range(ds.sizes["scenario"]):
        if ds["chokepoint"].values[s]:
            assert (loss[s][ds.time.values < when[s]] == 0.0).all()
            assert loss[s][ds.time.values == when[s]][0] > 0.0
        else:
            assert (loss[s] == 0.0).all()
    ids = draw_ids("saltelli", 0, 4 * d2, d2)
    for base in range(4):  # one strike quarter per counter, where its rows strike
        times = when[ids == base]
        assert np.unique(times[np.isfinite(times)]).size <= 1
