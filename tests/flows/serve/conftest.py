"""A results root made in the test: one small real store, a foreign Zarr store, a damaged
one and a symlink that leads out of the root; and ``resonance serve`` running over it."""

from __future__ import annotations

import json

import pytest

from tests.browser import Running
from tests.helpers import resonance_cli, tiny_run

PATHS = "baseline,technological_transition,factor_reset"


@pytest.fixture(scope="session")
def results(tmp_path_factory):
    """The results root: ``tiny.zarr`` (16 scenarios x 40 firms x 8 quarters, 3 paths),
    ``foreign.zarr`` (another tool's Zarr group), ``damaged.zarr`` (a broken zarr.json) and
    ``link.zarr`` (a symlink to a store outside the root)."""
    import zarr

    base = tmp_path_factory.mktemp("serve")
    root = base / "runs"
    root.mkdir()
    run = tiny_run(root / "tiny.zarr", scenarios=16, firms=40, quarters=8, chunk=4, paths=PATHS)
    done = resonance_cli(*run)
    assert done.returncode == 0, done.stderr[-3000:]
    zarr.open_group(root / "foreign.zarr", mode="w").attrs["title"] = "someone else's data"
    (root / "damaged.zarr").mkdir()
    (root / "damaged.zarr" / "zarr.json").write_text('{"zarr_format": 3, "node_type": ')
    outside = base / "outside.zarr"
    zarr.open_group(outside, mode="w").attrs.update(json.loads('{"secret": "not served"}'))
    (root / "link.zarr").symlink_to(outside, target_is_directory=True)
    return root


@pytest.fixture(scope="session")
def server(results):
    """``resonance serve --results ROOT`` on a free port of 127.0.0.1: its base URL."""
    running = Running(results)
    yield running.url
    running.stop()
