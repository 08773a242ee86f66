"""Lever ranges sampled as a design: a path file with ``[low, high]`` levers and
``policies: N`` stands for N policies on the store's path dimension, with their lever values
as coordinates, and every analysis works on them."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import resonance.flows.analysis  # noqa: F401  (registers ds.resonance)
from resonance.flows.cli import main
from resonance.flows.config import load_config
from resonance.flows.engine.layout import by_metric
from resonance.kernels.registry import PARAMETERS
from tests.helpers import DEFAULT_CONFIG, ROOT, tiny_run, write_config

RANGED = """name: support
description: spillover support drawn from a range
policies: 6
scale: {spillover: [1.0, 2.0]}
add: {coop: [0.0, 2.0]}
set: {h0: 0.6}
"""


def _config_dir(tmp_path, text=RANGED, name="support"):
    def local_cluster(raw):  # the copy has no clusters folder beside it
        raw["cluster"] = str(ROOT / "configs" / "clusters" / "local.yaml")

    file = write_config(tmp_path, local_cluster)
    (tmp_path / "paths" / f"{name}.yaml").write_text(text)
    return file


@pytest.mark.parametrize("sampler", ["mc", "lhs", "sobol"])
def test_a_ranged_path_expands_into_policies_within_its_ranges(tmp_path, sampler):
    file = _config_dir(tmp_path)
    config = load_config(file, {"paths": ["baseline", "support"], "sampler": sampler})
    assert config.path_names == ["baseline", *(f"support/{k:03d}" for k in range(6))]
    scale = config.lever_coords["lever_scale_spillover"]
    coop = config.lever_coords["lever_add_coop"]
    assert np.isnan(scale[0]) and np.isnan(coop[0])  # the baseline has no drawn lever
    assert np.all((scale[1:] >= 1.0) & (scale[1:] <= 2.0))
    assert np.all((coop[1:] >= 0.0) & (coop[1:] <= 2.0))
    assert len(set(scale[1:])) == 6  # six different policies
    # each policy's parameters are the baseline's with its own levers
    base = config.nominal[None, :]
    params = config.levers.apply(base)[0]
    k = PARAMETERS.index("spillover")
    np.testing.assert_allclose(params[1:, k], base[0, k] * scale[1:])
    np.testing.assert_allclose(params[1:, PARAMETERS.index("coop")], coop[1:])
    assert np.all(params[1:, PARAMETERS.index("h0")] == 0.6)  # fixed levers stay


def test_the_policies_depend_on_seed_and_sampler_only(tmp_path):
    file = _config_dir(tmp_path)
    paths = {"paths": ["baseline", "support"]}
    a = load_config(file, {**paths, "sizes.scenarios": 64}).lever_coords
    b = load_config(file, {**paths, "sizes.scenarios": 512}).lever_coords
    c = load_config(file, {**paths, "seed": 7}).lever_coords
    d = load_config(file, {**paths, "sampler": "mc"}).lever_coords
    np.testing.assert_array_equal(a["lever_scale_spillover"], b["lever_scale_spillover"])
    assert not np.array_equal(a["lever_scale_spillover"][1:], c["lever_scale_spillover"][1:])
    assert not np.array_equal(a["lever_scale_spillover"][1:], d["lever_scale_spillover"][1:])


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("name: r\nscale: {spillover: [1.0, 2.0]}\n", "paths.r.policies: missing"),
        ("name: r\npolicies: 4\nscale: {spillover: 2.0}\n", "paths.r.policies"),
        ("name: r\npolicies: 4\nscale: {spillover: [2.0, 1.0]}\n", "paths.r.scale.spillover"),
        ("name: r\npolicies: 4\ncombine: [factor_reset]\nadd: {coop: [0, 1]}\n", "combine"),
        ("name: r\npolicies: 0\nadd: {coop: [0, 1]}\n", "paths.r.policies"),
        ("name: r\npolicies: 4\nscale: {spillover: [1.0, 200.0]}\n", "paths.r"),
    ],
)
def test_bad_lever_ranges_are_refused_in_one_line(tmp_path, capsys, text, where):
    file = _config_dir(tmp_path, text, "r")
    assert main(["validate", str(file), "--paths", "baseline,r"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and where in err, err


def test_a_store_of_drawn_policies_passes_through_every_analysis(tmp_path, capsys):
    file = _config_dir(tmp_path)
    store = tmp_path / "s.zarr"
    args = tiny_run(store, scenarios=32, firms=30, quarters=12, chunk=8, paths="baseline,support")
    args[1] = str(file)
    assert main(args) == 0
    config = load_config(file, {"paths": ["baseline", "support"]})
    for group in (None, "draws", "firms"):
        ds = xr.open_zarr(store, group=group)
        assert [str(p) for p in ds.path.values] == config.path_names
        np.testing.assert_array_equal(
            ds.lever_scale_spillover.values, config.lever_coords["lever_scale_spillover"]
        )
        assert ds.lever_scale_spillover.attrs["long_name"].startswith("spillover scaled by")
    draws = by_metric(xr.open_zarr(store, group="draws"))
    r = draws.resonance.robustness("innovation_efficiency", satisfice=0.05)
    assert r.table.sizes["path"] == 7
    s = draws.resonance.sensitivity("innovation_efficiency", path="support/*", bootstrap=3)
    assert {"lever_scale_spillover", "lever_add_coop", "spillover"} <= set(s.ranking.index)
    assert s.sobol is None
    y = draws.innovation_efficiency.sel(path=config.path_names[1:]).isel(time=-1).values
    d = draws.resonance.discover("innovation_efficiency", float(np.median(y)), path="support/*")
    assert len(d.interest) == 32 * 6 and "lever_add_coop" in d.inputs.columns
    capsys.readouterr()
    assert main(["robust", str(store)]) == 0
    assert main(["sensitivity", str(store), "--path", "support/*", "--bootstrap", "3"]) == 0
    out = capsys.readouterr().out
    assert "support/005" in out and "lever_scale_spillover" in out


def test_the_worked_example_path_file_loads():
    config = load_config(DEFAULT_CONFIG, {"paths": ["baseline", "spillover_support"]})
    assert len(config.path_names) == 17 and config.path_names[-1] == "spillover_support/015"
