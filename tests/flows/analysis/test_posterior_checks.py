"""Checks of a calibration's posterior (issue 26 items 3 and 4): check draws taken by
weight, the held-out facts on each draw's own simulation, the paths' ranking and its
swaps against a direct count, the report stored and shown again without recomputing, and
``resonance facts`` showing the held-out table of a config's posterior."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import rankdata

from resonance.flows.analysis import calibrate, infer, posterior_checks
from resonance.flows.analysis import facts as stylized
from resonance.flows.cli import main
from resonance.flows.engine.console import console
from resonance.flows.metrics import HEADLINE
from resonance.flows.posterior import open_posterior, write_posterior
from tests.helpers import small_calibration_file, synthetic_posterior, write_config


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """A small calibration with its checks (5 draws): (spec file, posterior file, output)."""
    folder = tmp_path_factory.mktemp("calibrated")
    file = small_calibration_file(folder)
    out = folder / "posterior.zarr"
    with console.capture() as captured:  # capsys is a test's, this fixture the module's
        assert main(["calibrate", str(file), "--out", str(out)]) == 0
    return file, out, captured.get()


def test_check_draws_are_taken_by_weight_and_by_seed():
    post = synthetic_posterior({"chi": [0.02, 0.03, 0.04, 0.05]}, [0.7, 0.1, 0.1, 0.1])
    draws = posterior_checks.check_draws(post, 20, seed=5)
    # systematic resampling: each draw K x its weight times, to within one
    np.testing.assert_array_equal(np.bincount(draws, minlength=4), [14, 2, 2, 2])
    np.testing.assert_array_equal(draws, posterior_checks.check_draws(post, 20, seed=5))
    uneven = synthetic_posterior({"chi": np.linspace(0.02, 0.1, 7)}, [3, 1, 1, 1, 1, 1, 1])
    counts = np.bincount(posterior_checks.check_draws(uneven, 24, seed=9), minlength=7)
    assert np.all(np.abs(counts - 24 * uneven.weight.values) < 1)


def test_ranks_and_swaps_match_a_direct_count():
    rng = np.random.default_rng(4)
    means = rng.normal(size=(9, len(HEADLINE), 5))
    means[:, :, 4] = means[:, :, 3]  # two paths equal everywhere: a tie, never a swap
    rank = posterior_checks.ranks(means)
    for c in range(9):
        for o in range(len(HEADLINE)):
            np.testing.assert_array_equal(rank[c, o], rankdata(-means[c, o], method="min"))
    post = synthetic_posterior({"chi": [0.02, 0.03]}).assign(
        rank_mean=(("check", "outcome", "path"), means)
    )
    post = post.assign_coords(outcome=list(HEADLINE), path=[f"p{k}" for k in range(5)])
    share = posterior_checks.swaps(post).values
    ref = means.mean(axis=0)
    for o in range(len(HEADLINE)):
        for a in range(5):
            for b in range(5):
                if ref[o, a] > ref[o, b]:  # a ahead at the posterior mean
                    direct = np.mean([means[c, o, b] > means[c, o, a] for c in range(9)])
                    assert share[o, a, b] == direct
                else:
                    assert np.isnan(share[o, a, b])
    assert np.isnan(share[:, 3, 4]).all() and np.isnan(share[:, 4, 3]).all()


def test_path_growth_is_the_facts_tfp_growth():
    """The checks' TFP growth, read off the outcomes' ``tfp``, is the one ``resonance
    facts`` measures on the yearly snapshots of the same simulation (MODEL.md §8's cap is
    checked on that one): first snapshot to last, per scenario and path."""
    import dataclasses

    from resonance.flows.config import load_config
    from resonance.flows.engine.plan import make_plan
    from tests.helpers import DEFAULT_CONFIG

    config = load_config(
        DEFAULT_CONFIG,
        {"sizes.scenarios": 4, "sizes.firms": 80, "sizes.quarters": 16, "sizes.firm_snapshots": 4},
    )
    job = dataclasses.replace(make_plan(config).job, snapshots=4)
    outcomes, snap = job.simulate(0, 4)
    measured = stylized.scenario_facts(
        stylized.snapshots_dataset(snap, config.path_names), held_out=False
    ).tfp_growth.values
    got = posterior_checks.tfp_growth(outcomes, config.n_quarters)
    # the snapshots keep log TFP and shares in float32, the metric sums them in the kernel
    np.testing.assert_allclose(got, measured, rtol=1e-4, atol=1e-4)
    assert np.ptp(got) > 0.1  # paths and scenarios differ: not a constant on both sides


def test_paths_past_the_cap_are_counted_draw_by_draw():
    growth = np.array([[4.0, 12.0, 9.0], [5.0, 9.5, 10.5], [3.0, 11.0, 8.0]])  # (c, p)
    post = synthetic_posterior({"chi": [0.02, 0.03]}).assign(
        path_growth=(("check", "path"), growth)
    )
    post = post.assign_coords(path=["baseline", "all", "one"])
    assert posterior_checks.past_cap(post) == [("all", 2), ("one", 1)]
    with console.capture() as captured:
        console.print(posterior_checks.growth_table(post))
    table = captured.get()
    assert "2 of 3" in table and "1 of 3" in table and "0 of 3" in table
    assert table.index("all") < table.index("one") < table.index("baseline")


def test_a_small_calibration_checks_its_posterior_on_its_draws(calibrated):
    file, out, printed = calibrated
    post = open_posterior(out)
    assert posterior_checks.has_checks(post)
    spec = calibrate.load_spec(file)
    draws = post.check_draw.values
    assert draws.shape == (5,) and np.all((draws >= 0) & (draws < post.sizes["draw"]))
    assert post.heldout.shape == (5, len(stylized.HELD_OUT))
    assert list(post.held_out.values) == [f.name for f in stylized.HELD_OUT]
    # each check is the draw's own simulation, the one the inference accepted: its fitted
    # facts are the stored ones, and its held-out facts are what facts measure on it
    sim = infer.simulator(spec)
    draw = int(draws[0])
    values = dict(zip(map(str, post.parameter.values), post.value.values[draw], strict=True))
    row = sim.measure(values, held_out=True)
    fitted = np.array([row[name] for name, _, _ in infer.targets()])
    np.testing.assert_array_equal(fitted, post.facts.values[draw])
    np.testing.assert_array_equal(post.heldout.values[0], [row[f.name] for f in stylized.HELD_OUT])
    # every path of the config ranked on every headline outcome, by its mean
    assert post.ranking.shape == (5, len(HEADLINE), 10)
    ranked = posterior_checks.ranks(post.rank_mean.values)
    np.testing.assert_array_equal(post.ranking.values, ranked)
    assert "baseline" in post.path.values and post.attrs["rank_scenarios"] == 8
    # each path's TFP growth on each draw, shown against MODEL.md §8's cap
    assert post.path_growth.shape == (5, 10) and np.isfinite(post.path_growth.values).all()
    assert "TFP growth of each path on 5 posterior draws" in printed
    assert "Held out, on the posterior" in printed and "5 draws by weight" in printed
    assert "Is the ranking stable across the calibration's uncertainty?" in printed


def test_the_report_is_shown_again_from_the_posterior_without_recomputing(calibrated, capsys):
    _, out, printed = calibrated
    assert main(["calibrate", str(out)]) == 0
    again = capsys.readouterr().out
    assert "ABC-SMC" not in again.split("Posterior of")[0]  # nothing ran
    for title in ("Held out, on the posterior", "Ranking of the paths", "Pairs that swap"):
        assert title in again
    assert main(["calibrate", str(out), "--out", "elsewhere.zarr"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is a posterior" in err


def test_facts_shows_the_held_out_table_of_the_config_s_posterior(calibrated, tmp_path, capsys):
    _, out, _ = calibrated

    def mutate(raw):
        raw["uncertain"]["from"] = str(out)

    config = write_config(tmp_path, mutate)
    small = ["--scenarios", "2", "--firms", "60", "--paths", "baseline"]
    main(["facts", str(config), *small])
    shown = capsys.readouterr().out
    assert "Held out, on the posterior" in shown and "up_or_out" in shown
    # a posterior made with --no-checks says so; --posterior shows another file's
    bare = write_posterior(
        open_posterior(out)[["value", "weight", "facts", "prior_low", "prior_high", "epsilon"]],
        tmp_path / "b.zarr",
    )
    main(["facts", str(config), *small, "--posterior", str(bare)])
    assert "has no held-out check" in capsys.readouterr().out
