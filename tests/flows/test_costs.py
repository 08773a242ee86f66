"""Policies with a price (MODEL.md §10): costs as data, the policy_cost metric, and paths
scaled to equal budgets."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import yaml

from resonance.flows import budget
from resonance.flows.cli import main
from resonance.flows.config import load_config
from resonance.flows.engine.plan import draw_ids, make_plan
from resonance.kernels.registry import COST_FLAT, METRICS, N_PARAMETERS, PARAMETERS
from tests.helpers import DEFAULT_CONFIG, ROOT, write_config

COST = METRICS.index("policy_cost")
SMALL = {"sizes.scenarios": 16, "sizes.firms": 120, "sizes.firm_snapshots": 0}


@pytest.fixture(scope="module")
def default_run():
    config = load_config(DEFAULT_CONFIG, SMALL)
    return config, make_plan(config).simulate()


def test_baseline_costs_exactly_zero_and_every_other_path_costs_something(default_run):
    config, out = default_run
    assert config.path_names[0] == "baseline"
    assert (out[:, 0, :, COST] == 0.0).all()  # exactly: no lever, no coefficient
    assert (out[:, 1:, :, COST] > 0.0).all()


def test_a_flat_path_costs_its_unit_costs_times_its_changes(default_run):
    """digital_empowerment (w_d x2, feedback x1.9) is priced flat and relative: its cost
    each quarter is sum(unit x |new / old - 1|), the units drawn per scenario."""
    config, out = default_run
    p = config.path_names.index("digital_empowerment")
    ids = draw_ids(config.sampler, 0, config.n_scenarios, config.saltelli_multiple)
    units = config.costs.unit_costs(config.seed, ids)
    w_d, feedback = PARAMETERS.index("w_d"), PARAMETERS.index("feedback")
    expected = units[:, w_d] * 1.0 + units[:, feedback] * 0.9
    assert (units[:, w_d] != config.costs.cost[w_d]).any()  # the cost is uncertain
    np.testing.assert_allclose(
        out[:, p, :, COST], expected[:, None] + 0 * out[:, p, :, COST], rtol=1e-12
    )


def test_activity_costs_follow_what_the_path_does(default_run):
    """technological_transition pays per failure and per conversion besides its flat and
    R&D-based parts: its cost moves from quarter to quarter, a flat path's does not."""
    config, out = default_run
    tech = out[:, config.path_names.index("technological_transition"), :, COST]
    flat = out[:, config.path_names.index("digital_empowerment"), :, COST]
    assert (tech.std(axis=1) > 0).all()
    assert (flat == flat[:, :1]).all()


def test_cost_coefficients_are_zero_for_unchanged_parameters():
    config = load_config(DEFAULT_CONFIG, SMALL)
    job = make_plan(config).job
    theta = job.design.theta(0, 4)
    params = job.params(theta, np.arange(4))
    assert params.shape[-1] == N_PARAMETERS + 4
    assert (params[:, 0, N_PARAMETERS:] == 0.0).all()
    assert (params[:, 1:, COST_FLAT] > 0.0).all()


def _with_costs(tmp_path, change, paths=None):
    raw = yaml.safe_load((ROOT / "configs" / "costs.yaml").read_text())
    change(raw["costs"])

    def mutate(cfg):
        cfg["sizes"]["scenarios"] = 8
        if paths:
            cfg["paths"] = paths

    file = write_config(tmp_path, mutate)
    (tmp_path / "costs.yaml").write_text(yaml.safe_dump(raw))
    return file


@pytest.mark.parametrize(
    ("change", "paths", "where"),
    [
        (lambda c: c.pop("w_d"), None, "w_d"),
        (
            lambda c: c.update(no_such={"cost": 1, "per": "absolute", "source": "x"}),
            None,
            "no_such",
        ),
        (lambda c: c["lambda0"].pop("reference"), None, "lambda0.reference"),
        (lambda c: c["w_d"].update(per="percent"), None, "w_d.per"),
        (lambda c: c["w_d"].update(cost=-1.0), None, "w_d.cost"),
        (lambda c: c["w_d"].update(range=[0.5, 0.6]), None, "w_d.range"),
        (lambda c: c["coop"].update(per="relative"), None, "coop.per"),
        (lambda c: c["w_d"].pop("source"), None, "w_d.source"),
    ],
)
def test_a_bad_costs_file_is_refused_in_one_line(tmp_path, capsys, change, paths, where):
    file = _with_costs(tmp_path, change, paths)
    assert main(["validate", str(file)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and where in err and "Traceback" not in err


def test_equal_budgets_scale_each_path_to_the_same_mean_cost():
    config = load_config(DEFAULT_CONFIG, {**SMALL, "sizes.scenarios": 64, "budget": 0.04})
    intensity = config.budget_intensity
    assert intensity[0] == 1.0  # the baseline has no levers to scale
    assert (intensity[1:] != 1.0).all()
    # On the pilot (64 worlds of the config's distributions by its mc stream, the run's
    # firms) each path costs its budget to the bisection's tolerance, or within the widest
    # step of the pilot's cost it takes (budget.JUMP), or exactly where every cost is flat.
    job = make_plan(config).job
    pilot = dataclasses.replace(
        job, design=dataclasses.replace(job.design, sampler="mc", n=budget.PILOT_SCENARIOS)
    )
    cost = pilot.simulate(0, budget.PILOT_SCENARIOS)[0][:, :, :, COST].mean(axis=(0, 2))
    np.testing.assert_allclose(cost[1:], 0.04, rtol=budget.JUMP)
    assert cost[0] == 0.0
    # The levers really moved: every path's parameters are the baseline's plus t x change.
    written = load_config(DEFAULT_CONFIG, SMALL)
    base = np.repeat(written.nominal[None, :], 1, axis=0)
    full = written.levers.apply(base)[0]
    scaled = config.levers.apply(base)[0]
    np.testing.assert_allclose(
        scaled - base, intensity[:, None] * (full - base), rtol=1e-12, atol=1e-15
    )


def test_a_budget_does_not_depend_on_the_scenario_count_or_the_sampler():
    """A store grows under one identity: its levers must not move with its size."""
    paths = {"paths": ["baseline", "technological_transition", "digital_empowerment"]}
    seen = [
        load_config(
            DEFAULT_CONFIG, {**SMALL, **paths, "sizes.scenarios": n, "sampler": s, "budget": 0.05}
        ).budget_intensity
        for n, s in ((16, "sobol"), (128, "sobol"), (32, "mc"))
    ]
    for other in seen[1:]:
        np.testing.assert_array_equal(other, seen[0])


def test_a_config_budget_leaves_drawn_policies_as_drawn():
    config = load_config(
        DEFAULT_CONFIG,
        {
            **SMALL,
            "paths": ["baseline", "spillover_support", "ecological_coordination"],
            "budget": 0.05,
        },
    )
    intensity = dict(zip(config.path_names, config.budget_intensity, strict=True))
    assert all(t == 1.0 for name, t in intensity.items() if "/" in name)
    assert intensity["ecological_coordination"] != 1.0


def test_an_unreachable_budget_is_refused_in_one_line(capsys):
    code = main(["validate", str(DEFAULT_CONFIG), "--scenarios", "8", "--budget", "1e6"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "budget" in err
    assert "out of reach" in err and "largest intensity" in err


def test_a_budget_with_lever_ranges_is_refused(tmp_path, capsys):
    file = write_config(tmp_path, lambda cfg: cfg.update(paths=["baseline", "ranged"]))
    (tmp_path / "paths" / "ranged.yaml").write_text(
        "name: ranged\npolicies: 4\nbudget: 0.05\nscale: {spillover: [1.0, 2.0]}\n"
    )
    assert main(["validate", str(file)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "ranged.budget" in err
