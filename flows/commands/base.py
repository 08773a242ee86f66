"""What a command of the command line is, as data, and the one function that runs an
analysis command: open -> check -> compute -> table -> figure -> exit status.

Nothing here imports xarray, the analysis package or the engine at import time: ``resonance
--help`` stays fast, and importing the command line registers no accessor.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from ..engine.console import console
from ..errors import ResonanceError

err_console = Console(stderr=True)


# Types of arguments: a mistake is one line naming what was expected (argparse, exit 2).
def positive(text: str) -> int:
    """A whole number >= 1, from the command line's text."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def positive_or_auto(text: str) -> int | str:
    """A whole number >= 1, or the word ``auto``, from the command line's text."""
    if text == "auto":
        return text
    try:
        return positive(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected a positive whole number or auto, got {text!r}"
        ) from None


def positive_float(text: str) -> float:
    """A finite number > 0, from the command line's text."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def seed(text: str) -> int:
    """A 64-bit run seed (decimal, 0x.. hex or 0o.. octal), from the command line's text."""
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value < 2**64:
        raise argparse.ArgumentTypeError(f"expected 0 <= seed < 2**64, got {value}")
    return value


@dataclass(frozen=True)
class Arg:
    """One argument: its flags (``"store"`` or ``"--metric"``) and the keywords of
    ``argparse``'s ``add_argument`` (type, default, help...). Build one with ``arg()``."""

    flags: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)


def arg(*flags: str, **options: Any) -> Arg:
    """``arg("--quarter", type=int, default=-1)``: the same words as ``add_argument``."""
    return Arg(flags, options)


@dataclass(frozen=True)
class Group:
    """Arguments shown under a title of their own in ``--help``."""

    title: str
    arguments: tuple[Arg | OneOf, ...]


@dataclass(frozen=True)
class OneOf:
    """Arguments of which at most one (exactly one when ``required``) may be given."""

    arguments: tuple[Arg, ...]
    required: bool = False


def add_arguments(parser, arguments: Iterable[Arg | Group | OneOf]) -> None:
    """Add declared arguments to an argparse parser (or group), in their order."""
    for a in arguments:
        if isinstance(a, Group):
            add_arguments(parser.add_argument_group(a.title), a.arguments)
        elif isinstance(a, OneOf):
            add_arguments(parser.add_mutually_exclusive_group(required=a.required), a.arguments)
        else:
            parser.add_argument(*a.flags, **a.options)


class Plain(str):
    """Text a table hook yields to be printed as it is (``print``): no markup, highlighting
    or wrapping by the console, e.g. markdown to pipe into a file."""


@dataclass(frozen=True)
class Command:
    """One subcommand of ``resonance``, declared once.

    - ``name``, ``help``, ``arguments``: its argparse subparser (``arguments`` are ``Arg``,
      ``Group`` and ``OneOf`` in the order ``--help`` shows them).
    - ``compute(data, args) -> result``: the analysis, given what ``opens`` returned and the
      parsed arguments. ``None`` for a command the command line runs with its own function
      (run, validate, verify: ``cli.EXPLICIT``).
    - ``opens(args) -> data``: what the command reads (default: the store's draws, with a
      note when its run is unfinished). After it, ``--quarter`` (where the command has one)
      is checked against the data's ``time`` dimension.
    - ``check(args) -> None``: checks of the arguments alone, before anything is opened.
    - ``table(result, args) -> iterable``: what to print, in order (rich renderables or
      strings through the console, ``Plain`` text as it is).
    - ``figure(result, args) -> path``: writes ``args.out`` when it is given; ``wrote PATH``
      is printed after the table.
    - ``status(result, args) -> int``: the exit status (default 0).

    A mistake the user can fix is a ``ResonanceError`` raised by any of these: one line,
    exit 2 (``cli.main``).
    """

    name: str
    help: str
    arguments: tuple[Arg | Group | OneOf, ...]
    compute: Callable[[Any, argparse.Namespace], Any] | None = None
    opens: Callable[[argparse.Namespace], Any] | None = None
    check: Callable[[argparse.Namespace], None] | None = None
    table: Callable[[Any, argparse.Namespace], Iterable[Any]] | None = None
    figure: Callable[[Any, argparse.Namespace], Any] | None = None
    status: Callable[[Any, argparse.Namespace], int] | None = None


def analyse(command: Command, args: argparse.Namespace) -> int:
    """Run an analysis command: open -> check -> compute -> table -> figure; its exit status."""
    if command.check is not None:
        command.check(args)
    data = (command.opens or draws)(args)
    if "quarter" in vars(args):
        check_quarter(data, args.quarter)
    result = command.compute(data, args)
    for renderable in command.table(result, args) if command.table else ():
        if isinstance(renderable, Plain):
            print(renderable)
        else:
            console.print(renderable)
    if command.figure is not None and getattr(args, "out", None):
        console.print(f"wrote {command.figure(result, args)}")
    return command.status(result, args) if command.status else 0


def draws(args: argparse.Namespace):
    """The per-scenario draws of ``args.store`` (an ``xr.Dataset``, one variable per metric,
    dims (scenario, path, time)); a note on stderr when its run is going or was stopped."""
    from ..engine.store_read import open_draws

    return noted(open_draws(args.store), args.store)


def bands(args: argparse.Namespace):
    """The bands of ``args.store`` (an ``xr.Dataset``, dims (path, time, quantile)); a note
    on stderr when its run is going or was stopped."""
    from ..engine.store_read import open_bands

    return noted(open_bands(args.store), args.store)


def noted(ds, store: str):
    """A store whose run is going or was stopped: say how much of it the figures are of."""
    if "progress" in ds.attrs:
        err_console.print(
            f"resonance: note: {store}: {ds.attrs['progress']}", markup=False, highlight=False
        )
    return ds


def check_quarter(ds, quarter: int) -> None:
    """A quarter index in -n..n-1 of the dataset's ``time`` dimension, or one line."""
    n = ds.sizes["time"]
    if not -n <= quarter < n:
        raise ResonanceError(
            f"--quarter {quarter}", f"out of range for {n} quarters", f"use -{n}..{n - 1}"
        )
