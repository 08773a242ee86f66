"""The command line is built from its declarations, and every analysis command runs through
one function: open -> check -> compute -> table -> figure -> exit status."""

from __future__ import annotations

import argparse

import pytest

from resonance.flows import cli
from resonance.flows.commands import COMMANDS, Command, Plain, analyse, arg
from resonance.flows.errors import ResonanceError


def test_every_declared_command_is_a_subcommand_in_its_order():
    sub = next(a for a in cli._parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == [c.name for c in COMMANDS]
    assert len({c.name for c in COMMANDS}) == len(COMMANDS)


def test_every_command_either_computes_or_is_written_out_in_the_cli():
    written_out = {c.name for c in COMMANDS if c.compute is None}
    assert written_out == set(cli.EXPLICIT)
    for command in COMMANDS:
        if command.figure is not None:  # a figure is written to --out: the command has one
            assert any("--out" in getattr(a, "flags", ()) for a in command.arguments), command


@pytest.mark.parametrize("name", [c.name for c in COMMANDS])
def test_every_command_has_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([name, "--help"])
    assert exc.value.code == 0
    assert f"usage: resonance {name}" in capsys.readouterr().out


def _args(**kw) -> argparse.Namespace:
    return argparse.Namespace(**kw)


def test_analyse_runs_the_steps_in_order(capsys, tmp_path):
    steps = []
    out = tmp_path / "figure.txt"

    def figure(result, args):
        steps.append("figure")
        out.write_text(result)
        return args.out

    command = Command(
        "demo",
        "a demo",
        (arg("--out"),),
        check=lambda args: steps.append("check"),
        opens=lambda args: steps.append("open") or "data",
        compute=lambda data, args: steps.append("compute") or f"{data}!",
        table=lambda result, args: [steps.append("table") or Plain(f"[b]{result}[/b]"), "two"],
        figure=figure,
        status=lambda result, args: 3,
    )
    assert analyse(command, _args(out=str(out))) == 3
    assert steps == ["check", "open", "compute", "table", "figure"]
    assert capsys.readouterr().out.splitlines() == ["[b]data![/b]", "two", f"wrote {out}"]
    assert out.read_text() == "data!"


def test_analyse_draws_no_figure_without_out_and_checks_the_quarter(capsys):
    class Data:
        sizes = {"time": 4}

    command = Command(
        "demo",
        "a demo",
        (),
        opens=lambda args: Data(),
        compute=lambda data, args: 1,
        figure=lambda result, args: pytest.fail("no --out, no figure"),
    )
    assert analyse(command, _args(out=None, quarter=-4)) == 0
    with pytest.raises(ResonanceError, match="out of range for 4 quarters"):
        analyse(command, _args(out=None, quarter=4))
