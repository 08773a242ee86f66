"""Nothing that is not ours is destroyed: --overwrite replaces only a resonance store."""

from __future__ import annotations

from pathlib import Path

import pytest
import zarr

from resonance.flows.cli import main
from tests.helpers import tiny_run


def _run(out, *extra) -> int:
    return main([*tiny_run(out, firms=8, quarters=2), *extra])


def _user_files(root: Path) -> dict[Path, bytes]:
    (root / "notes").mkdir(parents=True)
    files = {root / "thesis.tex": b"\\chapter{Results}", root / "notes" / "a.txt": b"keep me"}
    for path, data in files.items():
        path.write_bytes(data)
    return files


@pytest.mark.parametrize("flag", [[], ["--overwrite"]])
def test_overwrite_refuses_a_directory_that_is_not_a_store(tmp_path, capsys, flag):
    target = tmp_path / "mywork"
    files = _user_files(target)
    code = _run(target, *flag)
    assert code == 2
    err = capsys.readouterr().err
    assert "not a resonance store" in err and len(err.strip().splitlines()) == 1
    for path, data in files.items():
        assert path.read_bytes() == data
    assert sorted(p.name for p in target.iterdir()) == ["notes", "thesis.tex"]


def test_overwrite_refuses_an_existing_file(tmp_path, capsys):
    target = tmp_path / "results.txt"
    target.write_text("precious")
    assert _run(target, "--overwrite") == 2
    assert "not a resonance store" in capsys.readouterr().err
    assert target.read_text() == "precious"


def test_an_empty_directory_is_used_as_a_new_store(tmp_path):
    target = tmp_path / "empty"
    target.mkdir()
    assert _run(target) == 0
    assert (target / "draws").is_dir()


def test_dashboard_listens_on_loopback_by_default():
    from resonance.flows.engine.cluster import ClusterSpec, load_cluster
    from tests.helpers import ROOT

    for spec in (ClusterSpec(), load_cluster("local", ROOT / "configs" / "clusters")):
        assert spec.dashboard_address.startswith("127.0.0.1:")
        assert spec.host == "127.0.0.1"


def test_a_store_that_would_not_fit_its_file_system_is_refused_before_anything_starts(
    tmp_path, capsys
):
    from tests.helpers import DEFAULT_CONFIG

    target = tmp_path / "huge.zarr"
    code = main(["run", str(DEFAULT_CONFIG), "--scenarios", "1000000000", "--out", str(target)])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "would need about" in err and "TB for 1,000,000,000 scenarios" in err, err
    assert len(err.splitlines()) == 1 and not target.exists()


def test_the_size_estimate_is_near_the_stored_bytes(tmp_path):
    from resonance.flows.config import load_config
    from resonance.flows.engine.layout import store_bytes
    from tests.helpers import DEFAULT_CONFIG

    target = tmp_path / "sized.zarr"
    assert main(tiny_run(target, scenarios=256, firms=50, quarters=40, chunk=64)) == 0
    stored = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    sizes = {"sizes.scenarios": 256, "sizes.firms": 50, "sizes.quarters": 40}
    config = load_config(DEFAULT_CONFIG, {**sizes, "paths": ["baseline"]})
    assert 0.7 < store_bytes(config, 256) / stored < 1.5, (store_bytes(config, 256), stored)


def test_a_prefect_server_that_does_not_answer_is_one_line_before_anything_starts(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # nothing listens there
    target = tmp_path / "never.zarr"
    assert main(tiny_run(target, engine=None)) == 2
    err = capsys.readouterr().err.strip()
    assert "no Prefect server answered at http://127.0.0.1:9/api" in err, err
    assert len(err.splitlines()) == 1 and not target.exists()


def _objects(store: Path) -> int:
    return sum(1 for p in store.rglob("*") if p.is_file())


def test_a_store_of_1024_chunks_is_at_most_two_objects_a_chunk(tmp_path):
    """Issue 14, item 4: one chunk of scenarios is one object (its ``outcome`` shard);
    what else the store holds (metadata, bands, scenario inputs by the million) does not
    grow with the chunks."""
    from resonance.flows.config import load_config
    from resonance.flows.engine.execute import SequentialExecutor, run_plan
    from resonance.flows.engine.plan import make_plan
    from tests.helpers import DEFAULT_CONFIG

    def store_of(chunks: int) -> Path:
        target = tmp_path / f"c{chunks}.zarr"
        sizes = {"sizes.scenarios": 2 * chunks, "sizes.firms": 2, "sizes.quarters": 4}
        config = load_config(
            DEFAULT_CONFIG,
            {**sizes, "chunk_scenarios": 2, "sizes.firm_snapshots": 0, "store": str(target)},
        )
        run_plan(make_plan(config), SequentialExecutor())
        return target

    small, large = _objects(store_of(64)), _objects(store_of(1024))
    assert (large - small) / (1024 - 64) <= 2, (small, large)
    assert large <= 2 * 1024, large
    shards = [p for p in (tmp_path / "c1024.zarr" / "draws" / "outcome").iterdir()]
    assert len(shards) == 1024 + 1  # a shard per chunk and the array's zarr.json
    # the draws' codec (layout.DRAWS_CODEC: LZ4 after a byte shuffle, 3x zstd's speed)
    (codec,) = zarr.open_array(tmp_path / "c64.zarr" / "draws" / "outcome").compressors
    assert (codec.cname.value, codec.shuffle.value) == ("lz4", "shuffle")


def test_making_a_store_holds_memory_flat_in_the_scenario_count(tmp_path):
    """Issue 14, item 8: the template and the scenario inputs of 4 M scenarios take no more
    memory than those of 1 M: the inputs are made and written a shard at a time. (A model
    of 2 firms and 4 quarters keeps the store small; its inputs are the full size.)"""
    import tracemalloc

    from resonance.flows.config import load_config
    from resonance.flows.engine.execute import DesignInputs
    from resonance.flows.engine.layout import INPUT_SHARD_SCENARIOS
    from resonance.flows.engine.store_write import open_or_create
    from tests.helpers import DEFAULT_CONFIG

    def peak(n: int) -> int:
        target = tmp_path / f"n{n}.zarr"
        config = load_config(
            DEFAULT_CONFIG,
            {
                "sizes.scenarios": n,
                "sizes.firms": 2,
                "sizes.quarters": 4,
                "sizes.firm_snapshots": 0,
                "paths": ["baseline"],
                "store": str(target),
            },
        )
        tracemalloc.start()
        try:
            open_or_create(config, config.store, False, DesignInputs.of(config))
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    peak(2**16)  # imports and first-use caches out of the way
    small, large = peak(2**20), peak(2**22)
    assert large < 1.25 * small, (small, large)
    # one shard's design (float64, made and transformed) and world events (17 bytes a
    # scenario), not the run's: 4 M scenarios' inputs alone would be 4 M x that
    per_scenario = len(load_config(DEFAULT_CONFIG).uncertain_names) * 8 + 17
    shard = INPUT_SHARD_SCENARIOS * per_scenario
    assert large < 2.5 * shard < 4 * 2**22 * per_scenario, large


@pytest.mark.parametrize("recorded", ["0" * 64, None])
def test_a_store_of_another_model_is_not_resumed_or_grown(tmp_path, capsys, recorded):
    """A store records the digest of the model's code (kernels/*.py); a run under another
    model refuses to resume or grow it in one line, so no store mixes two models' chunks,
    and --overwrite recomputes it."""
    import zarr

    from resonance.flows.engine.layout import model_digest

    out = tmp_path / "s.zarr"
    assert _run(out) == 0
    group = zarr.open_group(str(out), mode="r+")
    assert group.attrs["model_sha256"] == model_digest()
    attrs = dict(group.attrs)
    if recorded is None:
        attrs.pop("model_sha256")  # a store made before stores recorded their model
    else:
        attrs["model_sha256"] = recorded
    group.attrs.clear()
    group.attrs.update(attrs)
    capsys.readouterr()
    # verify says the model changed (its bits may differ for that reason), repair refuses
    from resonance.flows.engine import verify
    from resonance.flows.errors import StoreError

    assert main(["verify", str(out), "--chunks", "1"]) == 0
    assert "differences may be the model" in " ".join(capsys.readouterr().err.split())
    with pytest.raises(StoreError, match="another version of the model"):
        verify.repair(str(out), [verify.Difference(0, "tfp", {}, 0.0, 1.0)])
    for extra in ([], ["--scenarios", "8"]):  # resume, then grow
        assert main([*tiny_run(out, firms=8, quarters=2), *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "model" in err and "--overwrite" in err, err
    assert _run(out, "--overwrite") == 0
    assert zarr.open_group(str(out), mode="r").attrs["model_sha256"] == model_digest()
