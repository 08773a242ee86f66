"""One run request: its options declared once, bad input refused in one line, and each
check of a run (config, store, convergence, kernel warm-up) made once."""

from __future__ import annotations

import inspect

import pytest

from resonance.flows.cli import _parser, main
from resonance.flows.errors import ResonanceError
from resonance.flows.request import RunOptions, RunRequest
from tests.helpers import DEFAULT_CONFIG, tiny_run


def test_the_flow_takes_the_run_options_and_nothing_else_of_a_run():
    """The flow's signature is the options' one other writing (Prefect reads a deployment's
    schema off it): the same names, in order, with the same defaults."""
    from resonance.flows.flow import scenario_run

    parameters = inspect.signature(scenario_run.fn).parameters
    assert list(parameters) == [*RunOptions.model_fields, "show_summary", "started"]
    defaults = RunOptions()
    for name in RunOptions.model_fields:
        default = parameters[name].default
        assert getattr(defaults, name) == ({} if name == "overrides" else default), name


def test_the_run_flags_map_onto_the_options_by_name():
    args = _parser().parse_args(
        [*tiny_run("/tmp/x.zarr", engine=None), "--until-se", "0.1", "--max-scenarios", "64"]
    )
    options = RunOptions.from_args(args, {"sizes.scenarios": 4, "store": "/tmp/x.zarr"})
    assert options.config_path == str(DEFAULT_CONFIG) and options.out == "/tmp/x.zarr"
    assert options.overrides == {"sizes.scenarios": 4}  # --out is the option out
    assert (options.workers, options.until_se, options.max_scenarios) == (1, 0.1, 64)
    assert options.progress is False and options.overwrite is False
    assert options.config_overrides["store"] == "/tmp/x.zarr"


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"workers": 0}, "workers: input should be greater than or equal to 1 (got 0)"),
        ({"until_se": -1.0}, "until_se:"),
        ({"max_scenarios": 64}, "--max-scenarios: only applies with --until-se"),
        ({"overrides": {"sizes.firms": 0}}, "sizes.firms"),
        ({"overrides": {"paths": ["nowhere"]}}, "paths.nowhere"),
        ({"cluster": "nowhere"}, "cluster.nowhere: unknown cluster"),
    ],
)
def test_a_request_refuses_bad_input_in_one_line(values, where, tmp_path):
    store = tmp_path / "s.zarr"
    with pytest.raises(ResonanceError) as err:
        RunRequest.of(
            RunOptions.of({"config_path": str(DEFAULT_CONFIG), "out": str(store), **values})
        )
    assert where in str(err.value) and "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_a_bad_option_on_the_command_line_is_one_line_and_exit_2(tmp_path, capsys):
    assert main([*tiny_run(tmp_path / "s.zarr"), "--max-scenarios", "64"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "resonance: error: --max-scenarios: only applies with --until-se"
    assert not (tmp_path / "s.zarr").exists()


def test_a_request_is_frozen(tmp_path):
    import dataclasses

    options = RunOptions.of({"config_path": str(DEFAULT_CONFIG), "out": str(tmp_path / "s")})
    with pytest.raises(ValueError):  # pydantic's ValidationError
        options.workers = 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        RunRequest.of(options).store = "resume"


@pytest.fixture
def counted(monkeypatch):
    """Count, in this process, the config parses, store checks, convergence checks and
    kernel warm-ups of what runs in the block (each through the one function that does it)."""
    from resonance.flows import config
    from resonance.flows.engine import converge, store_state
    from resonance.flows.engine.plan import ChunkJob

    counts = dict.fromkeys(("config", "store", "convergence", "warm-up"), 0)

    def counting(name, function):
        def wrapper(*args, **kwargs):
            counts[name] += 1
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(
        config, "config_from_mapping", counting("config", config.config_from_mapping)
    )
    # store_state.check's one decision (check itself is imported by name elsewhere)
    monkeypatch.setattr(store_state, "_mode", counting("store", store_state._mode))
    monkeypatch.setattr(converge, "check", counting("convergence", converge.check))
    monkeypatch.setattr(ChunkJob, "warm", counting("warm-up", ChunkJob.warm))
    return counts


def test_one_run_parses_checks_and_warms_once(counted, tmp_path):
    assert main(tiny_run(tmp_path / "once.zarr")) == 0
    assert counted == {"config": 1, "store": 1, "convergence": 0, "warm-up": 1}


def test_the_flow_takes_the_request_resonance_run_checked_and_checks_nothing_again(
    counted, tmp_path
):
    """Through Prefect, ``resonance run`` hands the flow the run it launched: the flow's
    validate task takes that run's request (its options are the flow's), checking nothing,
    and checks a request of its own only for other options (a deployment's)."""
    from resonance.flows.engine.startup import Launched
    from resonance.flows.engine.timing import Clock
    from resonance.flows.flow import validate

    options = RunOptions.of({"config_path": str(DEFAULT_CONFIG), "out": str(tmp_path / "s")})
    request = RunRequest.of(options)
    launched = Launched(request, executor=None, clock=Clock())  # no cluster: not run here
    given = RunOptions.of(options.parameters())  # as the flow rebuilds them from its parameters
    assert validate.fn(given, launched) is request
    assert counted["config"] == counted["store"] == 1
    other = RunOptions.of({**options.parameters(), "workers": 1})
    assert validate.fn(other, launched) is not request
    assert counted["config"] == counted["store"] == 2


def test_a_growing_run_checks_convergence_once_and_each_new_size_once(counted, tmp_path):
    args = tiny_run(tmp_path / "grow.zarr", scenarios=8, firms=10, quarters=4, chunk=8)
    assert main([*args, "--until-se", "1e-9", "--max-scenarios", "32"]) == 0
    # sizes 8, 16, 32: the request's parse and store check, then one of each per new size
    assert counted == {"config": 3, "store": 3, "convergence": 1, "warm-up": 1}
