"""Config validation: every bad input gives one clear line and exit status 2."""

from __future__ import annotations

import numpy as np
import pytest

from resonance.flows.cli import main
from resonance.flows.config import load_config
from resonance.flows.engine.layout import by_metric
from resonance.flows.errors import ConfigError
from tests.helpers import DEFAULT_CONFIG, resonance_cli, write_config


def _write(tmp_path, mutate, name="bad.yaml"):
    return write_config(tmp_path, mutate, name)


def _set(path, value):
    def mutate(raw):
        node = raw
        *parents, last = path.split(".")
        for p in parents:
            node = node[p]
        node[last] = value

    return mutate


def _drop(path):
    def mutate(raw):
        node = raw
        *parents, last = path.split(".")
        for p in parents:
            node = node[p]
        del node[last]

    return mutate


BAD = {
    "unknown top-level key": (_set("colour", "blue"), "colour"),
    "wrong type of a size": (_set("sizes.firms", "many"), "sizes.firms"),
    "zero scenarios": (_set("sizes.scenarios", 0), "sizes.scenarios"),
    "unknown sampler": (_set("sampler", "halton"), "sampler"),
    "unknown precision": (_set("precision", "float16"), "precision"),
    "unknown path": (_set("paths", ["baseline", "moonshot"]), "paths.moonshot"),
    "unknown parameter": (_set("parameters.lambda_0", 0.1), "parameters.lambda_0"),
    "missing parameter": (_drop("parameters.zeta_d"), "parameters.zeta_d"),  # chi: posterior
    "out-of-range parameter": (_set("parameters.lock_w", 1.5), "parameters.lock_w"),
    "inverted uncertain range": (_set("uncertain.patience", [12.0, 2.0]), "uncertain.patience"),
    "unknown uncertain parameter": (_set("uncertain.luck", [0, 1]), "uncertain.luck"),
    "beta shape out of range": (_set("firm_parameters.rd0_a", 0.5), "firm_parameters.rd0_a"),
    "bad quantiles": (_set("quantiles", [0.5, 0.05]), "quantiles"),
    "negative seed": (_set("seed", -1), "seed"),
    "duplicate path": (_set("paths", ["baseline", "baseline"]), "paths"),
    "NaN size": (_set("sizes.firms", float("nan")), "sizes.firms"),
    "NaN parameter": (_set("parameters.chi", float("nan")), "parameters.chi"),
    "infinite parameter": (_set("parameters.chi", float("inf")), "parameters.chi"),
    "infinite uncertain bound": (
        _set("uncertain.patience", [2.0, float("inf")]),
        "uncertain.patience",
    ),
    "NaN quantile": (_set("quantiles", [0.05, float("nan")]), "quantiles"),
    "unknown distribution": (
        _set("uncertain.patience", {"dist": "gamma", "low": 1, "high": 2}),
        "uncertain.patience",
    ),
    "triangular mode outside": (
        _set("uncertain.patience", {"dist": "triangular", "low": 2, "mode": 20, "high": 12}),
        "uncertain.patience",
    ),
    "log-uniform from zero": (
        _set("uncertain.spillover", {"dist": "loguniform", "low": 0.0, "high": 0.1}),
        "uncertain.spillover",
    ),
    "truncated normal without spread": (
        _set(
            "uncertain.spillover",
            {"dist": "truncnormal", "mean": 0.1, "sd": 0.0, "low": 0.0, "high": 0.2},
        ),
        "uncertain.spillover.truncnormal.sd",
    ),
    "integer uniform of fractions": (
        _set("uncertain.inst_lag", {"dist": "integer", "low": 8.5, "high": 20}),
        "uncertain.inst_lag",
    ),
    "distribution outside the valid range": (
        _set("uncertain.spillover", {"dist": "uniform", "low": 0.5, "high": 1.5}),
        "uncertain.spillover",
    ),
    "parameter both fixed and uncertain": (_set("uncertain.chi", [0.05, 0.2]), "uncertain.chi"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_config_names_the_key_in_one_line_and_exits_2(tmp_path, capsys, case):
    mutate, key = BAD[case]
    file = _write(tmp_path, mutate)
    assert main(["validate", str(file)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("resonance: error: ") and key in err


def test_path_with_an_unknown_lever_fails_loudly(tmp_path, capsys):
    file = _write(tmp_path, lambda raw: None)
    (tmp_path / "paths" / "typo.yaml").write_text("name: typo\nscale: {talnt_decay: 0.5}\n")
    assert main(["validate", str(file), "--paths", "baseline,typo"]) == 2
    assert "paths.typo.scale.talnt_decay: unknown parameter" in capsys.readouterr().err


def test_path_that_levers_a_firm_distribution_is_refused(tmp_path, capsys):
    file = _write(tmp_path, lambda raw: None)
    (tmp_path / "paths" / "firms.yaml").write_text("name: firms\nset: {rd0_a: 6}\n")
    assert main(["validate", str(file), "--paths", "firms"]) == 2
    assert "cannot be levered" in capsys.readouterr().err


def test_path_that_leaves_a_parameter_range_is_refused(tmp_path, capsys):
    file = _write(tmp_path, lambda raw: None)
    (tmp_path / "paths" / "wild.yaml").write_text("name: wild\nadd: {data_sharing: 0.7}\n")
    assert main(["validate", str(file), "--paths", "wild"]) == 2
    assert "takes data_sharing to" in capsys.readouterr().err


def test_missing_config_and_bad_yaml(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 2
    (tmp_path / "broken.yaml").write_text("seed: [1, 2\n")
    assert main(["validate", str(tmp_path / "broken.yaml")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and "no such file" in lines[0] and "YAML" in lines[1]


def test_cli_prints_no_traceback_for_bad_input(tmp_path):
    file = _write(tmp_path, _set("parameters.lock_w", 1.5))
    done = resonance_cli("validate", file)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "resonance: error: parameters.lock_w: 1.5 is out of range (expected a value in [0.0, 1.0])"
    ]


def test_default_config_validates(capsys):
    assert main(["validate", str(DEFAULT_CONFIG)]) == 0
    assert "2048 scenarios x 1000 firms" in capsys.readouterr().out


def test_all_paths_combines_every_single_path():
    from resonance.flows.paths import PolicyPath, load_path
    from resonance.kernels.registry import (
        COOP,
        DATA_SHARING,
        H0,
        INST_LAG,
        LAMBDA0,
        NU,
        OPENNESS,
        PATIENCE,
        R_CRIT,
        SUBSTITUTION,
        TALENT_DECAY,
        TRAIN,
    )

    config = load_config(DEFAULT_CONFIG)
    merged = PolicyPath("check")
    for name in config.path_names[1:-1]:
        merged.merge(load_path(name, config.paths_dir), "check")
    assert merged.levers == load_path("all_paths", config.paths_dir).levers

    nominal = config.nominal
    got = config.levers.apply(nominal[None, :])[0, config.path_names.index("all_paths")]
    assert got[LAMBDA0] == pytest.approx(nominal[LAMBDA0] * 2.0 * 4.375)
    assert got[NU] == pytest.approx(nominal[NU] * 1.5 * 2.0)
    assert got[R_CRIT] == pytest.approx(nominal[R_CRIT] - 0.15)
    assert got[COOP] == pytest.approx(2.2)  # ecological coordination's 2 + cooperation's 0.2
    assert got[H0] == 0.7  # technological transition's set, above independent innovation's floor
    assert got[SUBSTITUTION] == 0.2 and got[OPENNESS] == 0.8  # independent innovation's floor
    assert got[TRAIN] == pytest.approx(nominal[TRAIN] * 1.5)
    assert got[INST_LAG] == min(nominal[INST_LAG], 6.0)
    assert got[DATA_SHARING] == max(nominal[DATA_SHARING], 0.6)
    assert got[PATIENCE] == nominal[PATIENCE] + 8.0
    assert got[TALENT_DECAY] == pytest.approx(nominal[TALENT_DECAY] * 0.5)


def test_overrides_change_the_config_hash():
    a = load_config(DEFAULT_CONFIG)
    b = load_config(DEFAULT_CONFIG, {"sizes.scenarios": 64})
    assert a.sha256 != b.sha256 and b.n_scenarios == 64


@pytest.mark.parametrize("value", ["large", 0, -3, 2.5, True])
def test_a_chunk_that_is_neither_a_count_nor_auto_says_both(tmp_path, capsys, value):
    file = _write(tmp_path, _set("chunk_scenarios", value))
    assert main(["validate", str(file)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("resonance: error: chunk_scenarios: ") and len(err.splitlines()) == 1
    assert "whole number of scenarios >= 1, or auto" in err, err


@pytest.mark.parametrize(
    ("given", "ok"), [("auto", True), ("16", True), ("0", False), ("x", False)]
)
def test_chunk_on_the_command_line_is_a_count_or_auto(capsys, given, ok):
    """``--chunk``: a positive whole number or ``auto``; else argparse's one line, status 2."""
    if ok:
        assert main(["validate", str(DEFAULT_CONFIG), "--chunk", given]) == 0
        return
    with pytest.raises(SystemExit) as stop:
        main(["validate", str(DEFAULT_CONFIG), "--chunk", given])
    assert stop.value.code == 2
    assert "--chunk: expected a positive whole number or auto" in capsys.readouterr().err


def test_auto_chunks_are_sized_by_the_work_not_the_scenario_count():
    """``chunk_scenarios: auto`` (the default config's) is resolved to a number where the
    config is read, so the store, the digests and a grown config see that number: 128 for
    the default run, the same identity as the number written out; ten times as many at a
    tenth of the firms (the same work per task); never changed by the scenario count."""
    from resonance.flows.config import TASK_FIRMS, auto_chunk

    default = load_config(DEFAULT_CONFIG)
    assert default.schema.model_dump()["chunk_scenarios"] == default.chunk_scenarios == 128
    written = load_config(DEFAULT_CONFIG, {"chunk_scenarios": 128})
    assert (written.identity, written.sha256) == (default.identity, default.sha256)
    assert "chunk_scenarios: 128" in default.canonical  # what a store records
    heavy = load_config(DEFAULT_CONFIG, {"sizes.firms": 100, "sizes.scenarios": 20480})
    assert heavy.chunk_scenarios == 1280
    assert heavy.with_scenarios(40960).chunk_scenarios == 1280  # a grown store keeps its chunks
    assert load_config(DEFAULT_CONFIG, {"paths": ["baseline"]}).chunk_scenarios == 128  # firms
    assert auto_chunk(2, 40, 10) == 1280  # outcome rows bound a tiny firm count
    assert auto_chunk(300, 40, 10) == 416  # 426 fit: a multiple of 16, for the snapshots
    assert auto_chunk(TASK_FIRMS * 2, 1, 1) == 1  # at least one scenario
    assert load_config(DEFAULT_CONFIG, {"chunk_scenarios": 7}).chunk_scenarios == 7


def test_conflicting_set_levers_are_refused(tmp_path):
    file = _write(tmp_path, lambda raw: None)
    (tmp_path / "paths" / "a.yaml").write_text("name: a\nset: {coop: 1.0}\n")
    (tmp_path / "paths" / "b.yaml").write_text("name: b\nset: {coop: 2.0}\n")
    (tmp_path / "paths" / "ab.yaml").write_text("name: ab\ncombine: [a, b]\n")
    with pytest.raises(ConfigError, match="both 1.0 and 2.0"):
        load_config(file, {"paths": ["ab"]})


UNREADABLE = {
    "binary file": bytes(range(256)) * 4,
    "non-UTF-8 text": "seed: 1  # Größe\n".encode("latin-1"),
    "NUL bytes in UTF-8 text": b"seed: 1\x00\n",
    "a YAML list": b"- seed\n- sizes\n",
    "a YAML scalar": b"just words\n",
}


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_unreadable_config_is_one_line(tmp_path, case):
    file = tmp_path / "config.yaml"
    file.write_bytes(UNREADABLE[case])
    done = resonance_cli("validate", file)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"resonance: error: {file}"), done.stderr


@pytest.mark.parametrize("content", [b"- a\n- b\n", bytes(range(256))])
def test_path_file_that_is_not_a_mapping_is_refused(tmp_path, capsys, content):
    file = _write(tmp_path, lambda raw: None)
    (tmp_path / "paths" / "odd.yaml").write_bytes(content)
    assert main(["validate", str(file), "--paths", "baseline,odd"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "paths.odd" in err[0]


def test_cluster_file_that_is_not_a_mapping_is_refused(tmp_path, capsys):
    cluster = tmp_path / "odd.yaml"
    cluster.write_text("- local\n")
    args = [
        "run",
        str(DEFAULT_CONFIG),
        "--cluster",
        str(cluster),
        "--out",
        str(tmp_path / "s.zarr"),
    ]
    assert main(args) == 2
    assert "must hold a YAML mapping" in capsys.readouterr().err
    assert not (tmp_path / "s.zarr").exists()


def test_output_where_nothing_can_be_written_is_refused(tmp_path, capsys):
    # /proc takes no new files, not even from root (whom permission bits do not stop).
    assert (
        main(
            ["run", str(DEFAULT_CONFIG), "--out", "/proc/resonance-test.zarr", "--engine", "direct"]
        )
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot write under /proc" in err[0]


def test_scheduler_that_does_not_answer_is_one_line_within_seconds(tmp_path):
    import socket
    import time

    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = tmp_path / "s.zarr"
    began = time.monotonic()
    done = resonance_cli(
        "run",
        DEFAULT_CONFIG,
        "--scheduler",
        f"tcp://127.0.0.1:{port}",
        "--out",
        store,
        timeout=60,
    )
    assert time.monotonic() - began < 30
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no Dask scheduler answered" in lines[0], done.stderr
    assert not store.exists()


def test_a_fixed_parameter_made_uncertain_in_the_config_alone(tmp_path):
    import xarray as xr

    from resonance.flows.engine.execute import SequentialExecutor, run_plan
    from resonance.flows.engine.plan import make_plan
    from resonance.kernels.registry import CHI

    def mutate(raw):
        raw["uncertain"].pop("from", None)  # a posterior would carry chi
        del raw["parameters"]["chi"]
        raw["uncertain"]["chi"] = {"dist": "triangular", "low": 0.05, "mode": 0.1, "high": 0.3}

    file = _write(tmp_path, mutate)
    store = tmp_path / "s.zarr"
    config = load_config(
        file,
        {
            "sizes.scenarios": 16,
            "sizes.firms": 20,
            "sizes.quarters": 4,
            "paths": ["baseline"],
            "chunk_scenarios": 8,
            "store": str(store),
        },
    )
    d = len(load_config(DEFAULT_CONFIG, without_posterior=True).uncertain_names) + 1  # and chi
    assert "chi" in config.uncertain_names and config.saltelli_multiple == d + 2
    plan = make_plan(config)
    chi = plan.design.theta(0, 16)[:, config.uncertain_names.index("chi")]
    assert (chi >= 0.05).all() and (chi <= 0.3).all() and np.unique(chi).size == 16
    np.testing.assert_array_equal(plan.params(0, 16)[:, 0, CHI], chi)
    run_plan(plan, SequentialExecutor())
    draws = by_metric(xr.open_zarr(store, group="draws"))
    np.testing.assert_array_equal(draws["chi"].values, chi)
    assert draws["chi"].attrs["distribution"] == "triangular"
    assert draws["chi"].attrs["mode"] == 0.1
    with pytest.raises(ConfigError, match=f"multiple of {d + 2}"):
        load_config(file, {"sampler": "saltelli", "sizes.scenarios": 10 * (d + 2) + 1})


def test_output_under_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert (
        main(
            [
                "run",
                str(DEFAULT_CONFIG),
                "--out",
                str(tmp_path / "notes.txt" / "r.zarr"),
                "--engine",
                "direct",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "which is a file" in err[0]
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_an_uncertain_rd_floor_is_checked_against_the_ceiling(tmp_path, capsys):
    def uncertain_floor(high):
        def mutate(raw):
            del raw["parameters"]["rd_min"]
            raw["uncertain"]["rd_min"] = [0.005, high]

        return mutate

    assert main(["validate", str(write_config(tmp_path, uncertain_floor(0.02)))]) == 0
    assert main(["validate", str(write_config(tmp_path, uncertain_floor(0.5), "b.yaml"))]) == 2
    assert "uncertain.rd_min: can be above rd_max" in capsys.readouterr().err


def test_a_threaded_cluster_that_is_not_local_is_refused_in_one_line(tmp_path, capsys):
    cluster = tmp_path / "threads.yaml"
    cluster.write_text("kind: slurm\nprocesses: false\n")
    args = ["run", str(DEFAULT_CONFIG), "--cluster", str(cluster), "--out", str(tmp_path / "s")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "processes: false is for a local cluster" in err, err
    assert not (tmp_path / "s").exists()
