"""Calibration as inference (MODEL.md §11): each fact is observed as a split normal around
its source's value, its range's edges RANGE_SDS sds away; a small ABC-SMC runs end to end
into a posterior file a config can draw from; the held-out facts are not fitted; firm
parameters are held."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import yaml

from resonance.flows.analysis import calibrate, infer
from resonance.flows.analysis import facts as stylized
from resonance.flows.cli import main
from resonance.flows.config import load_config
from resonance.flows.engine.plan import make_plan
from resonance.flows.posterior import open_posterior
from tests.helpers import small_calibration_file, write_config

OBS = infer.Observation(
    low=np.array([1.0, 0.0]),
    high=np.array([6.0, 1.0]),
    centre=np.array([2.9, np.nan]),  # a growth around 2.9 in 1-6; a bound alone
    below=np.array([0.95, 0.25]),
    above=np.array([1.55, 0.25]),
)


def test_at_the_source_s_value_the_misfit_is_zero_and_elsewhere_in_range_it_is_not():
    """The range is not flat: 2.9 %/yr fits exactly, 5.5 %/yr (inside 1-6) does not."""
    assert infer.distance(np.array([2.9, 0.5]), OBS) == 0.0
    assert OBS.log_kernel(np.array([2.9, 0.5])) == 0.0
    z = OBS.misfit(np.array([5.5, 0.5]))
    assert z[0] == pytest.approx(2.6 / 1.55) and z[1] == 0.0
    assert OBS.log_kernel(np.array([5.5, 0.5])) == pytest.approx(-0.5 * (2.6 / 1.55) ** 2)


def test_the_split_normal_reads_a_range_s_edges_as_range_sds_away_on_either_side():
    obs = infer.observation()
    names = [name for name, _, _ in infer.targets()]
    tfp = names.index("incumbent_growth")
    assert obs.centre[tfp] == 2.85  # Brandt, Van Biesebroeck & Zhang 2012
    for edge in (obs.low[tfp], obs.high[tfp]):
        assert abs(obs.misfit(np.where(np.arange(len(names)) == tfp, edge, obs.centre))[tfp]) == (
            pytest.approx(infer.RANGE_SDS)
        )
    # a bound alone (entrants are small: below 1) is flat inside, normal outside
    entrant = names.index("entrant_size")
    assert np.isnan(obs.centre[entrant])
    inside, past = obs.low.copy(), obs.low.copy()
    inside[entrant], past[entrant] = 0.3, 1.5
    assert obs.misfit(inside)[entrant] == 0.0
    assert obs.misfit(past)[entrant] == pytest.approx(0.5 / obs.above[entrant])
    # every fitted fact has a centre inside its range, or is a bound
    centred = ~np.isnan(obs.centre)
    inside = (obs.low < obs.centre) & (obs.centre < obs.high)
    assert np.all(inside[centred])


def test_a_centre_on_its_range_s_edge_is_refused(monkeypatch):
    """An sd of 0 on one side would make every value past the centre infinitely far."""
    fact = stylized.FITTED[0]
    edged = [dataclasses.replace(fact, centre=fact.high), *stylized.FITTED[1:]]
    monkeypatch.setattr(stylized, "FITTED", tuple(edged))
    with pytest.raises(ValueError, match=f"the centre of {fact.name} is not inside its range"):
        infer.observation()


def test_a_fact_a_simulation_cannot_measure_counts_missing_sds():
    assert infer.distance(np.array([np.nan, 0.5]), OBS) == infer.MISSING_SDS
    assert infer.distance(np.array([2.9, np.nan]), OBS) == infer.MISSING_SDS


def test_the_inference_fits_the_fitted_facts_and_the_target_alone():
    names = [name for name, _, _ in infer.targets()]
    assert names == [f.name for f in stylized.FITTED] + ["new_paradigm_share"]
    assert not {f.name for f in stylized.HELD_OUT} & set(names)


def _spec_file(tmp_path, **abc):
    return small_calibration_file(tmp_path, **abc)


def test_the_sampling_sd_is_the_spread_of_repeated_simulations(tmp_path):
    spec = calibrate.load_spec(_spec_file(tmp_path))
    sim = infer.simulator(spec)
    sd, facts = infer.sampling_sd(sim, np.array([0.07, 0.007]), 4)
    assert facts.shape == (4, len(infer.targets()))
    assert np.all(sd > 0)
    spread = np.nanstd(facts, axis=0, ddof=1)
    moved = spread > infer.SD_FLOOR * 10
    np.testing.assert_allclose(sd[moved], spread[moved])


def test_a_small_inference_runs_end_to_end_into_a_posterior_a_config_can_use(tmp_path, capsys):
    spec = calibrate.load_spec(_spec_file(tmp_path))
    out = tmp_path / "posterior.zarr"
    spec_file = _spec_file(tmp_path)
    assert main(["calibrate", str(spec_file), "--out", str(out), "--no-checks"]) == 0
    printed = capsys.readouterr().out
    assert "held at the config's values: firm_parameters.jump_sigma" in printed
    assert "no held-out check or ranking on this posterior" in printed  # --no-checks
    post = open_posterior(out)
    # model parameters only: the firm parameter is held, not inferred
    assert sorted(str(p) for p in post.parameter.values) == ["chi", "inc_scale"]
    assert post.attrs["held_at_config"] == ["firm_parameters.jump_sigma"]
    assert post.sizes["draw"] == 12 and post.weight.sum() == pytest.approx(1.0)
    for k, name in enumerate(post.parameter.values):
        low, high = spec.search[f"parameters.{name}"]
        assert np.all((post.value[:, k] >= low) & (post.value[:, k] <= high))
    assert post.facts.shape == (12, len(infer.targets()))
    # the temperature falls to 1 (the exact posterior) by the last generation
    assert 1 <= post.sizes["generation"] <= 2 and np.all(np.diff(post.epsilon) <= 0)
    assert float(post.epsilon[-1]) == 1.0
    assert np.all(post.acceptance_rate > 0) and np.all(post.acceptance_rate <= 1)
    obs = infer.observation()
    expected = [infer.distance(row, obs) for row in post.facts.values]
    np.testing.assert_allclose(post.distance, expected)
    np.testing.assert_array_equal(post.fact_centre, obs.centre)
    assert post.attrs["library"] == "pyabc" and post.attrs["seed"] == 3

    # a config draws its scenarios' chi and inc_scale from it, pairs as accepted
    def mutate(raw):
        raw["sizes"].update({"scenarios": 16, "firms": 20, "quarters": 4})
        raw["uncertain"]["from"] = str(out)

    config = load_config(write_config(tmp_path, mutate))
    theta = make_plan(config).design.theta(0, 16)
    columns = [config.uncertain_names.index(str(p)) for p in post.parameter.values]
    accepted = {tuple(row) for row in post.value.values}
    assert all(tuple(row) in accepted for row in theta[:, columns])
    # its report shows how each fact was observed; a posterior stopped above T = 1 says so
    capsys.readouterr()
    assert main(["calibrate", str(out)]) == 0
    report = capsys.readouterr().out
    assert "observed as" in report and "2.85 -0.68/+0.82" in report
    assert "temperature" in report and "tempered" not in report
    from resonance.flows.posterior import write_posterior

    stopped = post.load().copy()
    stopped["epsilon"] = stopped.epsilon.where(stopped.generation < stopped.generation[-1], 1.5)
    write_posterior(stopped, tmp_path / "stopped.zarr")
    assert main(["calibrate", str(tmp_path / "stopped.zarr")]) == 0
    assert "stopped at temperature 1.5, not 1" in capsys.readouterr().out
    # the same file and seed give the same posterior
    again = infer.infer(calibrate.load_spec(spec_file))
    np.testing.assert_array_equal(again.value.values, post.value.values)
    np.testing.assert_array_equal(again.weight.values, post.weight.values)


def test_a_spec_without_a_model_parameter_is_refused_in_one_line(tmp_path, capsys):
    file = _spec_file(tmp_path)
    raw = yaml.safe_load(file.read_text())
    raw["search"] = {"firm_parameters.jump_sigma": [1.2, 2.2]}
    file.write_text(yaml.safe_dump(raw))
    assert main(["calibrate", str(file)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "names no parameters.* key" in err


def test_a_bad_abc_section_is_refused_in_one_line(tmp_path, capsys):
    assert main(["calibrate", str(_spec_file(tmp_path, particles=0))]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "abc.particles" in err


def test_leaving_the_held_out_facts_out_changes_no_fitted_number(tmp_path):
    """The inference measures without the held-out facts (their OLS is most of the cost):
    every fitted fact and the target are the same numbers either way."""
    from resonance.flows.analysis.facts import snapshots_dataset

    sim = infer.simulator(calibrate.load_spec(_spec_file(tmp_path)))
    outcomes, snap = sim.job.simulate(0, sim.n_scenarios)
    snapshots = snapshots_dataset(snap, ["baseline"])
    full = calibrate.measure(outcomes, snapshots, ["baseline"])
    lean = calibrate.measure(outcomes, snapshots, ["baseline"], held_out=False)
    for name, _, _ in infer.targets():
        assert lean[name] == full[name] or (np.isnan(lean[name]) and np.isnan(full[name])), name
    assert all(np.isnan(lean[f.name]) for f in stylized.HELD_OUT)
    assert lean["misses"] == full["misses"] and lean["score"] == full["score"]


def test_the_inference_samples_on_a_dask_cluster(tmp_path, capsys):
    """``--scheduler``: pyabc's Dask sampler runs the simulations on a real LocalCluster's
    worker processes. Its proposals are drawn on the workers, so the posterior is not the
    in-process one bit for bit, but it is a posterior of the same model: draws inside the
    priors, weights summing to 1, the temperature down to 1, each draw's facts its own."""
    from distributed import LocalCluster

    out = tmp_path / "posterior.zarr"
    spec_file = _spec_file(tmp_path)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        argv = ["calibrate", str(spec_file), "--out", str(out), "--no-checks"]
        assert main([*argv, "--scheduler", cluster.scheduler_address]) == 0
    post = open_posterior(out)
    spec = calibrate.load_spec(spec_file)
    assert post.sizes["draw"] == 12 and post.weight.sum() == pytest.approx(1.0)
    for k, name in enumerate(post.parameter.values):
        low, high = spec.search[f"parameters.{name}"]
        assert np.all((post.value[:, k] >= low) & (post.value[:, k] <= high))
    assert float(post.epsilon[-1]) == 1.0
    # each accepted draw's facts are its own simulation's, wherever it ran
    sim = infer.simulator(spec)
    for row, facts in zip(post.value.values[:3], post.facts.values[:3], strict=True):
        again = sim.facts(dict(zip(sim.names, row, strict=True)))
        np.testing.assert_array_equal(again, facts)
