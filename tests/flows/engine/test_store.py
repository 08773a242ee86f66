"""Nothing that is not ours is destroyed: --overwrite replaces only a resonance store."""

from __future__ import annotations

from pathlib import Path

import pytest

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
