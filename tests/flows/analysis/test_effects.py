"""Effect sizes beside the odds: every number of ``effects`` against a direct NumPy/SciPy
computation over the stored draws of a real run (read chunk by chunk), the cost part on
draws of known policy costs, the reference against itself, and what the commands print."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy import stats

import resonance.flows.analysis.effects as effects_module
from resonance.flows.analysis.effects import TFP_GROWTH, effects
from resonance.flows.cli import main
from resonance.flows.engine.layout import by_metric
from tests.helpers import tiny_run

PATHS = "baseline,technological_transition,digital_empowerment,policy_coordination,all_paths"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    out = tmp_path_factory.mktemp("effects") / "s.zarr"
    # 48 scenarios in chunks of 8: the sums must be merged over six chunks to be right.
    assert main(tiny_run(out, scenarios=48, firms=30, quarters=12, chunk=8, paths=PATHS)) == 0
    return out


def _draws(store):
    return by_metric(xr.open_zarr(store, group="draws"))


def _values(ds, metric: str, quarter: int) -> np.ndarray:
    """(scenario, path) float64 of ``metric`` at ``quarter``, straight from the store."""
    if metric == TFP_GROWTH:
        tfp = ds.tfp.isel(time=quarter).transpose("scenario", "path").values
        return 100.0 * (tfp ** (1.0 / float(ds.time[quarter])) - 1.0)
    return ds[metric].isel(time=quarter).transpose("scenario", "path").values


def _median_interval(d: np.ndarray) -> tuple[float, float]:
    """SciPy's distribution-free 95 % interval of the median of ``d``."""
    ci = stats.quantile_test(d, q=0.0, p=0.5).confidence_interval(0.95)
    return float(ci.low), float(ci.high)


@pytest.mark.parametrize("exact", [True, False])
@pytest.mark.parametrize(
    ("metric", "quarter"),
    [("innovation_efficiency", -1), (TFP_GROWTH, -1), ("institutional_gap", -3)],
)
def test_effects_match_numpy_over_the_stored_draws(store, monkeypatch, metric, quarter, exact):
    monkeypatch.setattr(effects_module, "BLOCK_BYTES", 0)  # one store chunk per read
    ds = _draws(store)
    e = effects(ds, metric, quarter, exact=exact)
    v = _values(ds, metric, quarter)
    n = v.shape[0]
    d = v - v[:, :1]  # every path minus the baseline, scenario by scenario
    assert [str(p) for p in e.path.values] == PATHS.split(",")
    assert (e["n"].values == n).all() and n == 48
    mean = d.mean(axis=0)
    se = d.std(axis=0, ddof=1) / np.sqrt(n)
    t = stats.t.ppf(0.975, n - 1)
    np.testing.assert_allclose(e["mean"].values, mean, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(e.mean_se.values, se, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(e.mean_low.values, mean - t * se, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(e.mean_high.values, mean + t * se, rtol=1e-8, atol=1e-14)
    # SciPy's own t interval agrees
    for j in range(1, d.shape[1]):
        if se[j] > 0:
            ci = stats.ttest_1samp(d[:, j], 0.0).confidence_interval(0.95)
            assert e.mean_low.values[j] == pytest.approx(ci.low, rel=1e-8)
            assert e.mean_high.values[j] == pytest.approx(ci.high, rel=1e-8)
    higher = metric != "institutional_gap"
    assert bool(e.attrs["higher_is_better"]) is higher
    wins = (d > 0) if higher else (d < 0)
    p = wins.mean(axis=0) + 0.5 * (d == 0).mean(axis=0)
    np.testing.assert_allclose(e.p_better.values, p, rtol=1e-12)
    np.testing.assert_allclose(e.p_better_se.values, np.sqrt(p * (1 - p) / n), rtol=1e-12)
    np.testing.assert_allclose(e.value_mean.values, v.mean(axis=0), rtol=1e-10)
    # quantiles: exact in memory, or within the stated bound of the streamed histograms
    tol = e.attrs["quantile_error"] + 1e-12
    assert (tol > 1e-12) is (not exact)
    np.testing.assert_allclose(e["median"].values, np.median(d, axis=0), rtol=0, atol=tol)
    for name, q in (("value_p5", 0.05), ("value_median", 0.5), ("value_p95", 0.95)):
        np.testing.assert_allclose(e[name].values, np.quantile(v, q, axis=0), rtol=0, atol=tol)
    for j in range(d.shape[1]):
        low, high = _median_interval(d[:, j])
        assert e.median_low.values[j] == pytest.approx(low, abs=tol)
        assert e.median_high.values[j] == pytest.approx(high, abs=tol)
        assert e.median_low.values[j] <= e["median"].values[j] <= e.median_high.values[j]


def test_the_baseline_against_itself_has_no_effect_and_no_cost_ratio(store):
    e = effects(_draws(store), "innovation_efficiency").sel(path="baseline")
    for name in ("mean", "mean_low", "mean_high", "std", "median", "median_low", "median_high"):
        assert float(e[name]) == 0.0, name
    assert float(e.p_better) == 0.5
    for name in ("per_cost", "per_cost_low", "per_cost_high"):
        assert np.isnan(float(e[name])), name


def test_a_pair_in_compare_is_the_same_numbers_as_in_effects(store):
    ds = _draws(store)
    c = ds.resonance.compare("baseline", "all_paths", TFP_GROWTH)
    e = effects(ds, TFP_GROWTH).sel(path="all_paths")
    for name in ("mean", "mean_low", "mean_high", "median", "median_low", "median_high"):
        assert getattr(c, name) == float(e[name]), name
    assert (c.p_better, c.p_better_se) == (float(e.p_better), float(e.p_better_se))
    assert c.units == "percentage points per year"


def _costed(n: int = 50, quarters: int = 4, chunk: int | None = None) -> xr.Dataset:
    """Draws of known policy costs, (scenario, path, time): the baseline costs nothing,
    ``free`` costs nothing either, ``cheap`` and ``dear`` cost what the generator draws."""
    gen = np.random.default_rng(11)
    paths = ["baseline", "cheap", "free", "dear"]
    value = gen.normal(0.1, 0.05, (n, len(paths), quarters))
    cost = np.zeros((n, len(paths), quarters))
    cost[:, 1] = gen.uniform(0.0, 0.1, (n, quarters))
    cost[:, 3] = gen.uniform(0.2, 0.6, (n, quarters))
    # on the same worlds, cheap buys 0.5 of the metric per year of R&D spending it has cost
    # so far, dear 0.2, give or take a little noise
    spent = np.cumsum(cost, axis=2) / 4.0
    value[:, 1] = value[:, 0] + 0.5 * spent[:, 1] + gen.normal(0, 0.002, (n, quarters))
    value[:, 3] = value[:, 0] + 0.2 * spent[:, 3] + gen.normal(0, 0.002, (n, quarters))
    value[:, 2, :] = value[:, 0, :] + 0.01  # a sure win at no cost
    ds = xr.Dataset(
        {
            "innovation_efficiency": (("scenario", "path", "time"), value),
            "policy_cost": (("scenario", "path", "time"), cost),
        },
        coords={
            "scenario": np.arange(n),
            "path": paths,
            "time": (np.arange(quarters) + 1.0) / 4.0,
        },
    )
    return ds.chunk({"scenario": chunk}) if chunk else ds


@pytest.mark.parametrize("chunk", [None, 7])
@pytest.mark.parametrize("quarter", [-1, 1])
def test_effect_per_cost_is_a_ratio_of_means_with_a_delta_method_interval(
    monkeypatch, chunk, quarter
):
    monkeypatch.setattr(effects_module, "BLOCK_BYTES", 0)  # one chunk of 7 per read
    ds = _costed(chunk=chunk)
    e = effects(ds, "innovation_efficiency", quarter)
    q = quarter % ds.sizes["time"]
    v = ds.innovation_efficiency.values[:, :, q]
    c = ds.policy_cost.values[:, :, : q + 1].sum(axis=2) / 4.0  # years of R&D spending
    d, extra = v - v[:, :1], c - c[:, :1]
    n = d.shape[0]
    t = stats.t.ppf(0.975, n - 1)
    np.testing.assert_allclose(e.cost.values, extra.mean(axis=0), rtol=1e-12, atol=1e-15)
    for j in (1, 3):  # the paths that cost something
        r = d[:, j].mean() / extra[:, j].mean()
        se = np.sqrt(np.var(d[:, j] - r * extra[:, j], ddof=1) / n) / abs(extra[:, j].mean())
        assert float(e.per_cost[j]) == pytest.approx(r, rel=1e-10)
        assert float(e.per_cost_low[j]) == pytest.approx(r - t * se, rel=1e-8)
        assert float(e.per_cost_high[j]) == pytest.approx(r + t * se, rel=1e-8)
    for j, slope in ((1, 0.5), (3, 0.2)):  # as the draws were made
        assert float(e.per_cost_low[j]) < slope < float(e.per_cost_high[j])
        assert float(e.per_cost_high[j]) - float(e.per_cost_low[j]) < 0.2
    for j in (0, 2):  # the baseline itself, and a path of no extra cost: no ratio
        assert float(e.cost[j]) == 0.0
        for name in ("per_cost", "per_cost_low", "per_cost_high"):
            assert np.isnan(float(e[name][j]))
    assert float(e["mean"][2]) == pytest.approx(0.01) and float(e.p_better[2]) == 1.0
    assert e.attrs["has_cost"] == 1


def test_draws_without_policy_cost_give_no_cost_and_no_ratio():
    e = effects(_costed().drop_vars("policy_cost"), "innovation_efficiency")
    assert e.attrs["has_cost"] == 0
    assert np.isnan(e.cost.values).all() and np.isnan(e.per_cost.values).all()
    assert np.isfinite(e["mean"].values).all()


def test_effects_refuse_an_unknown_reference_and_a_quarter_out_of_range():
    from resonance.flows.errors import ResonanceError

    with pytest.raises(ResonanceError, match="path status_quo"):
        effects(_costed(), "innovation_efficiency", reference="status_quo")
    with pytest.raises(ResonanceError, match="--quarter 9"):
        effects(_costed(), "innovation_efficiency", quarter=9)


def test_the_commands_print_the_size_of_the_effect_beside_the_odds(store, capsys):
    assert main(["compare", str(store), "baseline", "all_paths"]) == 0
    out = capsys.readouterr().out
    assert "P(all_paths beats baseline)" in out  # what it printed before stays
    assert "effect: mean difference [95 % CI]" in out
    assert "effect: median difference [95 % CI]" in out and "per unit of cost" in out
    assert "all_paths beats baseline in" in out and "by a median of" in out
    assert main(["robust", str(store), "--metric", TFP_GROWTH]) == 0
    out = capsys.readouterr().out
    assert "Robustness of tfp_growth" in out
    assert "Effect on tfp_growth against baseline" in out and "Δ per cost" in out


def test_a_run_closes_with_the_headline_outcomes_side_by_side(tmp_path, capsys):
    out_store = tmp_path / "run.zarr"
    args = tiny_run(out_store, scenarios=8, firms=10, quarters=8, chunk=4, paths=PATHS)
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Headline outcomes after 2 years (8 scenarios x 10 firms)" in out
    for word in ("TFP growth", "coordi-", "innovation", "vs baseline", "wins"):
        assert word in out, word
    assert "all metrics: resonance summary" in out  # where to see the rest
    # the all_paths row carries its TFP growth, as the draws give it
    ds = _draws(out_store)
    growth = 100 * (ds.tfp.sel(path="all_paths").isel(time=-1).values ** 0.5 - 1)
    row = next(line for line in out.splitlines() if "all_paths" in line and "│" in line)
    assert f"{np.median(growth):.2f} [" in row
