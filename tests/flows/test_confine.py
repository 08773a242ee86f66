"""Runs created through the Prefect API read configs only under the config folder and write
stores only under the results root; everything else is refused in one line, untouched."""

from __future__ import annotations

import shutil

import pytest

from resonance.flows.confine import CONFIG_ROOT, RESULTS_ROOT, check_store, confine
from resonance.flows.errors import ResonanceError
from tests.helpers import ROOT


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A copy of the project's configs folder and an empty results root, as the roots."""
    configs = tmp_path / "project" / "configs"
    shutil.copytree(ROOT / "configs", configs)
    results = tmp_path / "project" / "runs"
    results.mkdir()
    monkeypatch.setenv(CONFIG_ROOT, str(configs))
    monkeypatch.setenv(RESULTS_ROOT, str(results))
    return configs, results


def test_a_run_inside_both_roots_is_allowed(project):
    configs, results = project
    confine(str(configs / "default.yaml"), {"store": str(results / "a.zarr")}, None)
    confine(str(configs / "default.yaml"), {"store": str(results / "deep" / "b.zarr")}, "local")


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"store": "/tmp/elsewhere.zarr"}, "outside the results root"),
        ({"store": "RESULTS/../escape.zarr"}, "outside the results root"),
        ({"store": "RESULTS"}, "outside the results root"),  # the root itself is not a store
        ({"store": "s3://bucket/x.zarr"}, "outside the results root"),
        ({"paths": ["baseline", "../../../outside"]}, "paths.../../../outside"),
        ({"paths": [str(ROOT / "configs" / "paths" / "baseline.yaml")]}, "outside the config"),
    ],
)
def test_parameters_that_point_elsewhere_are_refused(project, change, where):
    configs, results = project
    change = {
        k: v.replace("RESULTS", str(results)) if isinstance(v, str) else v
        for k, v in change.items()
    }
    with pytest.raises(ResonanceError) as err:
        confine(str(configs / "default.yaml"), change, None)
    assert where in str(err.value) and "\n" not in str(err.value)


def test_a_config_or_cluster_outside_the_config_folder_is_refused(project, tmp_path):
    configs, results = project
    outside = tmp_path / "mine.yaml"
    shutil.copy(configs / "default.yaml", outside)
    with pytest.raises(ResonanceError, match="config_path"):
        confine(str(outside), {"store": str(results / "a.zarr")}, None)
    with pytest.raises(ResonanceError, match="cluster"):
        confine(str(configs / "default.yaml"), {"store": str(results / "a.zarr")}, str(outside))
    with pytest.raises(ResonanceError, match="cluster"):
        confine(str(configs / "default.yaml"), {"store": str(results / "a.zarr")}, "../../x")


def test_a_link_out_of_the_results_root_is_refused(project, tmp_path):
    _, results = project
    target = tmp_path / "victim"
    target.mkdir()
    (results / "link").symlink_to(target)
    with pytest.raises(ResonanceError, match="outside the results root"):
        check_store(str(results / "link" / "s.zarr"), str(results))


def test_a_url_results_root_takes_stores_below_it():
    check_store("s3://bucket/runs/a.zarr", "s3://bucket/runs")
    with pytest.raises(ResonanceError):
        check_store("s3://bucket/runs-other/a.zarr", "s3://bucket/runs")
    with pytest.raises(ResonanceError):
        check_store("/tmp/a.zarr", "s3://bucket/runs")
