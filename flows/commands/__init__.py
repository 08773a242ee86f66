"""The subcommands of ``resonance`` as data: ``COMMANDS``, one ``Command`` each.

Adding an analysis command is one function that computes it (a module of
``flows/analysis/``), its steps in ``steps.py`` (each a few lines: compute, table, figure)
and one ``Command`` in ``declared.COMMANDS``: name, help, arguments and those steps. The
command line builds its parser from the declarations and runs every analysis command with
``base.analyse``; run, validate and verify have functions of their own in ``cli.py``.
"""

from .base import Arg, Command, Group, OneOf, Plain, analyse, arg
from .declared import COMMANDS

__all__ = ["COMMANDS", "Arg", "Command", "Group", "OneOf", "Plain", "analyse", "arg"]
