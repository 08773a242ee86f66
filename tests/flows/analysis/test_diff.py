"""``resonance diff``: two stores' statistics against their Monte Carlo error."""

from __future__ import annotations

import numpy as np
import pytest

from resonance.flows.analysis.diff import mean_se, quantile_se, share_z, statistics
from tests.helpers import ROOT, resonance_cli, tiny_run

PATHS = "baseline,factor_reset,digital_empowerment"


def test_standard_errors_match_a_direct_numpy_computation():
    rng = np.random.default_rng(1)
    xa, xb = rng.normal(size=(500, 3)), rng.normal(size=(500, 3)) + 0.1
    n = xa.shape[0]
    for q in (0.05, 0.5, 0.95):
        h = np.sqrt(q * (1 - q) / n)
        expected = h * (np.quantile(xa, q + h, axis=0) - np.quantile(xa, q - h, axis=0)) / (2 * h)
        value, se, _ = quantile_se(xa, q)
        np.testing.assert_allclose(value, np.quantile(xa, q, axis=0))
        np.testing.assert_allclose(se, expected)
    mean, se = mean_se(xa)
    np.testing.assert_allclose(se, xa.std(axis=0, ddof=1) / np.sqrt(n))
    # the mean's s.e.: independent, and paired on the same worlds
    _, _, independent = statistics(xa, xb, [0.5], paired=False)
    np.testing.assert_allclose(independent[-1], np.hypot(mean_se(xa)[1], mean_se(xb)[1]))
    _, _, paired = statistics(xa, xa + 0.1 * xb, [0.5], paired=True)
    np.testing.assert_allclose(paired[-1], (0.1 * xb).std(axis=0, ddof=1) / np.sqrt(n))
    # a quantile's s.e. is at least the order-statistic one, in both cases
    for is_paired, b in ((False, xb), (True, xa + 0.1 * xb)):
        _, _, se = statistics(xa, b, [0.5], paired=is_paired)
        _, se_a, _ = quantile_se(xa, 0.5)
        _, se_b, _ = quantile_se(b, 0.5)
        if not is_paired:
            assert np.all(se[0] >= np.hypot(se_a, se_b) - 1e-12)


def test_median_standard_error_matches_the_spread_over_repeats():
    rng = np.random.default_rng(2)
    x = rng.lognormal(size=(400, 300))  # 300 repeats of 400 scenarios
    _, se, _ = quantile_se(x, 0.5)
    spread = np.median(x, axis=0).std(ddof=1)
    assert 0.7 * spread < se.mean() < 1.4 * spread


def test_a_quantile_jumping_between_atoms_is_not_a_move():
    # a rate over 20 firms: a p25 at an atom's edge jumps from 0 to 0.05 between samples
    rng = np.random.default_rng(3)
    xa = rng.binomial(20, 0.03, size=(64, 1)) / 20
    xb = rng.binomial(20, 0.03, size=(64, 1)) / 20
    va, vb = np.quantile(xa, 0.25, axis=0), np.quantile(xb, 0.25, axis=0)
    assert abs(share_z(xa, xb, va, vb, paired=False)[0]) < 4


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """Four tiny stores: the default seed, another seed, a stronger factor_reset on the
    default seed's worlds, and fewer paths."""
    tmp = tmp_path_factory.mktemp("diff")
    lever = tmp / "lever"
    lever.mkdir()
    text = (ROOT / "configs" / "paths" / "factor_reset.yaml").read_text()
    (lever / "factor_reset.yaml").write_text(
        text.replace("talent_decay: 0.5", "talent_decay: 0.1").replace(
            "patience: 8", "patience: 20"
        )
    )
    runs = {
        "a": (PATHS, []),
        "seed": (PATHS, ["--seed", "7"]),
        "lever": (PATHS.replace("factor_reset", str(lever / "factor_reset.yaml")), []),
        "fewer": ("baseline,factor_reset", []),
    }
    out = {}
    for name, (paths, extra) in runs.items():
        out[name] = tmp / f"{name}.zarr"
        args = tiny_run(out[name], scenarios=64, firms=20, quarters=8, chunk=32, paths=paths)
        done = resonance_cli(*args, *extra)
        assert done.returncode == 0, done.stderr
    return out


def test_two_seeds_of_one_config_exit_0(stores):
    done = resonance_cli("diff", stores["a"], stores["seed"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "independent (seed 20261123 against 7)" in done.stdout
    assert "none of 54 statistics moved" in done.stdout


def test_every_metric_at_every_quarter_of_two_seeds_exits_0(stores):
    done = resonance_cli("diff", stores["a"], stores["seed"], "--metric", "all", "--quarter", "all")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "none of" in done.stdout


def test_a_changed_lever_exits_1_naming_its_path(stores):
    done = resonance_cli("diff", stores["a"], stores["lever"])
    assert done.returncode == 1, done.stdout + done.stderr
    assert "paired: the same 64 worlds" in done.stdout
    moved = done.stdout[done.stdout.index("statistics moved, on") :]
    assert moved.startswith("statistics moved, on factor_reset:")
    assert "baseline" not in moved and "digital_empowerment" not in moved


def test_a_store_against_itself_exits_0_with_no_difference(stores):
    done = resonance_cli("diff", stores["a"], stores["a"], "--metric", "all")
    assert done.returncode == 0, done.stdout + done.stderr
    from resonance.flows.analysis.diff import diff
    from resonance.flows.engine.store_read import open_draws

    d = diff(open_draws(str(stores["a"])), open_draws(str(stores["a"])))
    assert float(np.abs(d.table.delta).max()) == 0 and not d.moved


def test_stores_of_other_paths_are_refused_in_one_line(stores):
    done = resonance_cli("diff", stores["a"], stores["fewer"])
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "its paths (baseline,factor_reset) differ from" in lines[0]
