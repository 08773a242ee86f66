"""A store grows: more scenarios of the same config extend it to the bits of a fresh run."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
import zarr

from resonance.flows.cli import main
from resonance.flows.config import load_config
from resonance.flows.engine.execute import SequentialExecutor, run_plan
from resonance.flows.engine.layout import by_metric, snapshot_chunk
from resonance.flows.engine.plan import make_plan
from resonance.flows.engine.store_io import done_chunks
from resonance.kernels.registry import METRICS, SNAPSHOT
from tests.helpers import DEFAULT_CONFIG, tiny_run

SIZES = {
    "sizes.firms": 30,
    "sizes.quarters": 8,
    "sizes.firm_snapshots": 20,
    "paths": ["baseline", "all_paths"],
    "chunk_scenarios": 16,
}


def _run(store, n, **extra):
    config = load_config(
        DEFAULT_CONFIG, {**SIZES, "sizes.scenarios": n, "store": str(store), **extra}
    )
    return run_plan(make_plan(config), SequentialExecutor())


def _assert_same(a, b):
    for group in (None, "draws", "firms"):
        da, db = xr.open_zarr(a, group=group), xr.open_zarr(b, group=group)
        assert dict(da.sizes) == dict(db.sizes)
        for name in {*da.variables, *db.variables}:
            np.testing.assert_array_equal(da[name].values, db[name].values, err_msg=name)


@pytest.mark.parametrize("sampler", ["sobol", "mc"])
def test_a_store_grown_from_64_to_256_equals_a_fresh_256(tmp_path, sampler):
    grown, fresh = tmp_path / "grown.zarr", tmp_path / "fresh.zarr"
    _run(grown, 64, sampler=sampler)
    first = by_metric(xr.open_zarr(grown, group="draws")).load()
    report = _run(grown, 256, sampler=sampler)
    assert (report.computed, report.skipped) == (12, 4)  # only the new chunks
    _run(fresh, 256, sampler=sampler)
    _assert_same(grown, fresh)
    # the first 64 scenarios were not touched, and the store says how it grew
    kept = by_metric(xr.open_zarr(grown, group="draws")).isel(scenario=slice(0, 64))
    for m in METRICS:
        np.testing.assert_array_equal(kept[m].values, first[m].values)
    attrs = xr.open_zarr(grown).attrs
    assert attrs["n_scenarios"] == 256 and attrs["bands_scenarios"] == 256
    assert attrs["extended"].startswith("from 64 to 256 scenarios")


def test_a_partial_last_chunk_is_recomputed_whole_and_snapshots_grow(tmp_path):
    grown, fresh = tmp_path / "grown.zarr", tmp_path / "fresh.zarr"
    _run(grown, 12, sampler="mc")  # one partial chunk of 12 of 16, 12 of 20 snapshots
    report = _run(grown, 40, sampler="mc")
    assert (report.computed, report.skipped) == (3, 0)
    _run(fresh, 40, sampler="mc")
    _assert_same(grown, fresh)
    assert xr.open_zarr(grown, group="firms").sizes["scenario"] == 20
    firms = zarr.open_group(grown, path="firms", mode="r")
    for name in SNAPSHOT:
        assert firms[name].shape[0] == 20
        # made for 12 snapshots in chunks of 16 scenarios: zarr chunks of 8 rows, each of
        # which one task writes whole, also now that tasks 0 and 1 write rows 0-15, 16-19
        assert firms[name].chunks[0] == 8


def test_snapshot_chunks_divide_the_runs_chunks():
    for cs in range(1, 40):
        for k in range(0, 90):
            c = snapshot_chunk(cs, k)
            assert cs % c == 0  # no snapshot chunk straddles two tasks, whatever K becomes
            assert c == cs if k >= cs else c <= max(k, 1)
    assert (snapshot_chunk(128, 16), snapshot_chunk(128, 100), snapshot_chunk(127, 16)) == (
        16,
        64,
        1,
    )


def test_an_extension_killed_half_way_is_grown_again(tmp_path, monkeypatch):
    from resonance.flows.engine import store_write

    grown, fresh = tmp_path / "grown.zarr", tmp_path / "fresh.zarr"
    _run(grown, 64)
    real_provenance = store_write.provenance

    def cut_off(config):  # the arrays are resized, the new size not yet recorded
        raise KeyboardInterrupt

    monkeypatch.setattr(store_write, "provenance", cut_off)
    with pytest.raises(KeyboardInterrupt):
        _run(grown, 128)
    monkeypatch.setattr(store_write, "provenance", real_provenance)
    assert zarr.open_group(str(grown)).attrs["n_scenarios"] == 64
    _run(grown, 128)
    _run(fresh, 128)
    _assert_same(grown, fresh)


def test_a_run_at_the_old_size_after_a_killed_extension_cuts_the_arrays_back(tmp_path, monkeypatch):
    from resonance.flows.engine import store_write

    store, fresh = tmp_path / "cut.zarr", tmp_path / "fresh.zarr"
    _run(store, 64)
    real_provenance = store_write.provenance

    def cut_off(config):  # the arrays are resized to 128, the new size not yet recorded
        raise KeyboardInterrupt

    monkeypatch.setattr(store_write, "provenance", cut_off)
    with pytest.raises(KeyboardInterrupt):
        _run(store, 128)
    monkeypatch.setattr(store_write, "provenance", real_provenance)
    assert zarr.open_group(str(store), path="draws")["outcome"].shape[0] == 128  # the tails
    _run(store, 64)  # resumes at the recorded size
    for consolidated in (True, False):  # the arrays themselves, not only the stale summary
        draws = xr.open_zarr(store, group="draws", consolidated=consolidated)
        assert draws.sizes["scenario"] == 64 and draws.outcome.shape[0] == 64
        assert by_metric(draws).tfp.sizes["scenario"] == 64
    _run(fresh, 64)
    _assert_same(store, fresh)


def test_growth_is_refused_in_one_line_where_it_cannot_keep_the_first_points(tmp_path, capsys):
    store = tmp_path / "s.zarr"
    base = tiny_run(store, scenarios=8, chunk=4)
    assert main([*base, "--sampler", "lhs"]) == 0
    before = xr.open_zarr(store).load()
    assert main([*base, "--sampler", "lhs", "--scenarios", "16"]) == 2
    err = capsys.readouterr().err.strip()
    assert "lhs design of 8 scenarios, which cannot grow to 16" in err
    assert len(err.splitlines()) == 1
    xr.testing.assert_identical(xr.open_zarr(store).load(), before)


def test_a_store_neither_shrinks_nor_grows_sobol_off_powers_of_two(tmp_path, capsys):
    store = tmp_path / "s.zarr"
    base = tiny_run(store, scenarios=8, chunk=4)
    assert main(base) == 0
    assert main([*base, "--scenarios", "4"]) == 2
    assert "does not shrink" in capsys.readouterr().err
    assert main([*base, "--scenarios", "12"]) == 2
    assert "--scenarios 16" in capsys.readouterr().err
    assert int(done_chunks(str(store)).sum()) == 2
    # a store's identity leaves out where it lies: a moved store resumes
    moved = tmp_path / "moved.zarr"
    store.rename(moved)
    assert main([*tiny_run(moved, scenarios=16, chunk=4)]) == 0
    assert xr.open_zarr(moved).attrs["n_scenarios"] == 16
