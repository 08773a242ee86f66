"""Scenario discovery: the PRIM trajectory equals EMA Workbench's on the same data and
settings (peeling and pasting, step for step); boxes in sequence, chosen steps, resampling
stability and CART answer the same question; the CLI shows them."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import resonance.flows.analysis  # noqa: F401  (registers ds.resonance)
from resonance.flows.analysis.discover import cart_boxes, prim, sdtoolkit_quantile
from resonance.flows.cli import main
from resonance.flows.engine.layout import by_metric
from tests.helpers import tiny_run


def _planted(seed=3, n=2000, k=5, flip=0.05):
    """Cases of interest inside x0 > 0.6 and x3 < 0.4, with some labels flipped."""
    gen = np.random.default_rng(seed)
    x = pd.DataFrame(gen.random((n, k)), columns=[f"x{j}" for j in range(k)])
    inside = (x.x0.values > 0.6) & (x.x3.values < 0.4)
    return x, inside ^ (gen.random(n) < flip)


def _ema_trajectory(x, y, alpha, min_support):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # EMA Workbench warns about optional ipyparallel
        from ema_workbench.analysis import prim as ema

    algo = ema.Prim(
        x,
        y.astype(int),
        threshold=0.5,
        peel_alpha=alpha,
        paste_alpha=alpha,
        mass_min=min_support,
        threshold_type=ema.ABOVE,
        obj_function=ema.PRIMObjectiveFunctions.ORIGINAL,
    )
    return algo.find_box().peeling_trajectory


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # inside EMA Workbench, not ours
@pytest.mark.parametrize(
    ("seed", "alpha", "min_support", "flip"),
    [(3, 0.05, 0.05, 0.05), (4, 0.1, 0.02, 0.2), (5, 0.05, 0.1, 0.0)],
)
def test_prim_trajectory_equals_ema_workbench(seed, alpha, min_support, flip):
    x, y = _planted(seed, flip=flip)
    ours = prim(x, y, alpha=alpha, min_support=min_support, paste_alpha=alpha)
    theirs = _ema_trajectory(x, y, alpha, min_support)
    assert len(ours) == len(theirs) > 5
    np.testing.assert_allclose([b.coverage for b in ours], theirs.coverage.values, rtol=1e-12)
    np.testing.assert_allclose([b.density for b in ours], theirs.density.values, rtol=1e-12)
    np.testing.assert_allclose([b.support for b in ours], theirs.mass.values, rtol=1e-12)
    bounds = ours[0].limits
    np.testing.assert_array_equal([len(b.restricted(bounds)) for b in ours], theirs.res_dim.values)


def test_sdtoolkit_quantile_moves_past_ties():
    data = np.array([0.0, 1.0, 1.0, 1.0, 2.0, 3.0])
    assert sdtoolkit_quantile(data, 0.25) == 1.5  # (n-1) q = 1.25 -> 1 and the next distinct
    assert sdtoolkit_quantile(data, 0.9) == 2.5  # 4.5 -> between 2 and 3


def test_cart_leaves_find_the_planted_box():
    x, y = _planted(3, flip=0.0)
    leaves = cart_boxes(x, y, min_support=0.05)
    best = leaves[0]
    assert best.density > 0.95 and best.coverage > 0.5
    assert set(best.restricted({c: (x[c].min(), x[c].max()) for c in x.columns})) <= {"x0", "x3"}
    assert sum(b.support for b in leaves) == pytest.approx(1.0)  # leaves partition the cases


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    out = tmp_path_factory.mktemp("disc") / "s.zarr"
    args = tiny_run(out, scenarios=256, firms=30, quarters=12, chunk=64, paths="baseline")
    assert main(args) == 0
    return out


def test_boxes_in_sequence_cover_what_earlier_boxes_missed(store):
    ds = by_metric(xr.open_zarr(store, group="draws"))
    y = ds.innovation_efficiency.sel(path="baseline").isel(time=-1).values
    d = ds.resonance.discover("innovation_efficiency", float(np.quantile(y, 0.4)), boxes=2)
    assert len(d.found) == 2
    first, second = d.found[0].box, d.found[1].box
    # the second box is found on the cases outside the first
    inside_first = np.ones(len(y), bool)
    for name, (lo, hi) in first.limits.items():
        inside_first &= (d.inputs[name].values >= lo) & (d.inputs[name].values <= hi)
    assert d.found[1].trajectory[0].support == pytest.approx(1 - inside_first.mean())
    assert second.coverage > 0


def test_a_chosen_step_and_resampling_stability(store):
    ds = by_metric(xr.open_zarr(store, group="draws"))
    y = ds.innovation_efficiency.sel(path="baseline").isel(time=-1).values
    goal = float(np.quantile(y, 0.3))
    d = ds.resonance.discover("innovation_efficiency", goal, box=3, resamples=4)
    assert d.chosen == 3 and d.box is d.trajectory[3]
    table = d.found[0].stability
    assert list(table.columns) == ["reproduce coverage", "reproduce density"]
    assert set(table.index) == set(d.inputs.columns)
    assert ((table.values >= 0) & (table.values <= 100)).all()
    assert (np.round(table.values / 25, 9) % 1 == 0).all()  # multiples of 100 / 4 resamples


def test_discover_command_prints_trajectory_boxes_stability_and_cart(store, tmp_path, capsys):
    fig = tmp_path / "d.png"
    args = ["discover", str(store), "--below", "0.05", "--boxes", "2", "--resample", "3"]
    assert main([*args, "--out", str(fig)]) == 0
    out = capsys.readouterr().out
    for text in ("peeling trajectory", "box 1", "box 2", "reproduce", "CART"):
        assert text in out, text
    assert fig.stat().st_size > 10_000
    assert main(["discover", str(store), "--below", "0.05", "--box", "999"]) == 2
    assert "--box 999" in capsys.readouterr().err
