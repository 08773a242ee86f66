"""``resonance verify``: a store re-simulated from its own config equals itself bit for bit;
a value overwritten or a chunk truncated on disk is named (chunk, variable, index), and
after ``--repair`` the next run recomputes just that chunk and the store is whole again."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
import zarr

from resonance.flows.cli import main
from resonance.flows.engine.layout import by_metric
from resonance.kernels.registry import METRICS
from tests.helpers import tiny_run


def _values(store):
    draws = by_metric(xr.open_zarr(store, group="draws"))
    bands = xr.open_zarr(store)
    return draws.tfp.values.copy(), draws.coupling.values.copy(), bands.tfp.values.copy()


PATHS = "baseline,factor_reset"


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """An undamaged store's values (a store's identity includes its location, so every
    test makes its own store rather than a copy)."""
    store = tmp_path_factory.mktemp("verify") / "s.zarr"
    assert _rerun(store, PATHS) == 0
    return None, PATHS, _values(store)


@pytest.fixture
def store(tmp_path):
    out = tmp_path / "s.zarr"
    assert _rerun(out, PATHS) == 0
    return out


def _rerun(store, paths):
    return main(tiny_run(store, scenarios=32, firms=20, quarters=8, chunk=8, paths=paths))


def test_an_undamaged_store_verifies_bit_for_bit(store, capsys):
    assert main(["verify", str(store), "--chunks", "all"]) == 0
    out = capsys.readouterr().out
    assert "re-simulated 4 chunks" in out and "bit for bit" in out
    assert main(["verify", str(store), "--chunks", "2"]) == 0
    assert "re-simulated 2 chunks" in capsys.readouterr().out


def test_an_overwritten_value_is_named_and_repaired(made, store, capsys):
    _, paths, before = made
    outcome = zarr.open_array(store, path="draws/outcome", mode="r+")
    outcome[13, 1, 5, METRICS.index("coupling")] = 0.5
    assert main(["verify", str(store), "--chunks", "all", "--repair"]) == 1
    out = capsys.readouterr().out
    assert "chunk 1: coupling[scenario=13, path=factor_reset, time=5] is 0.5" in out
    assert "cleared the done marks of chunks [1]" in out
    assert zarr.open_group(store, mode="r").attrs["bands_scenarios"] == 0  # not current
    assert _rerun(store, paths) == 0
    assert "1 chunks computed, 3 already in the store" in capsys.readouterr().out
    for got, want in zip(_values(store), before, strict=True):
        np.testing.assert_array_equal(got, want)
    assert main(["verify", str(store), "--chunks", "all"]) == 0


def test_a_damaged_chokepoint_mark_is_named_and_rewritten(store, capsys):
    # the world events are checked against the kernel's own draw, and --repair rewrites them
    marks = zarr.open_array(store, path="draws/chokepoint", mode="r+")
    kept = marks[:]
    marks[20] = 1 - kept[20]
    assert main(["verify", str(store), "--chunks", "all", "--repair"]) == 1
    out = capsys.readouterr().out
    assert f"chunk 2: chokepoint[scenario=20] is {1 - kept[20]}" in out
    np.testing.assert_array_equal(zarr.open_array(store, path="draws/chokepoint")[:], kept)
    assert _rerun(store, PATHS) == 0
    assert main(["verify", str(store), "--chunks", "all"]) == 0


def test_a_truncated_chunk_is_named_and_recomputed(made, store, capsys):
    _, paths, before = made
    obj = store / "draws" / "outcome" / "c.2.0.0.0"  # the chunk's one shard
    obj.write_bytes(obj.read_bytes()[:16])
    assert main(["verify", str(store), "--chunks", "all", "--repair"]) == 1
    out = capsys.readouterr().out
    assert f"chunk 2: {METRICS[0]}[scenario=16..23] is unreadable" in out
    assert _rerun(store, paths) == 0
    for got, want in zip(_values(store), before, strict=True):
        np.testing.assert_array_equal(got, want)


def test_differing_package_versions_are_warned_about(store, capsys):
    root = zarr.open_group(store, mode="r+")
    versions = dict(root.attrs["versions"])
    versions["numba"] = "0.0.1"
    root.attrs["versions"] = versions
    assert main(["verify", str(store), "--chunks", "1"]) == 0
    assert "warning: numba 0.0.1 made the store" in capsys.readouterr().err


def test_a_store_whose_config_no_longer_rebuilds_is_one_line(store, capsys):
    root = zarr.open_group(store, mode="r+")
    root.attrs["config_sha256"] = "0" * 64
    assert main(["verify", str(store)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no longer rebuilds" in err


def test_bad_chunk_counts_are_one_line(store, capsys):
    assert main(["verify", str(store), "--chunks", "some"]) == 2
    assert "--chunks some" in capsys.readouterr().err
