"""The one exception type for mistakes a user can make."""

from __future__ import annotations


class ResonanceError(Exception):
    """A problem with the user's input, told in one line: where, what was seen, what to do.

    The CLI prints ``str(error)`` and exits with status 2; nothing is written before the
    input has been checked, so such an error never leaves a half-written store.
    """

    def __init__(self, where: str, problem: str, hint: str = ""):
        self.where = where
        self.problem = problem
        self.hint = hint
        message = f"{where}: {problem}" if where else problem
        if hint:
            message += f" ({hint})"
        super().__init__(message)


class ConfigError(ResonanceError):
    """A config file, path file or command-line override that cannot be used."""


class StoreError(ResonanceError):
    """A store that cannot be used for this run (another config, not a resonance store)."""


def config_error_from(err, where: str) -> ConfigError:
    """The first problem of a pydantic ``ValidationError`` as a one-line ConfigError, its
    key prefixed by ``where`` (e.g. ``paths.factor_reset``)."""
    first = err.errors()[0]
    loc = ".".join(str(x) for x in first["loc"])
    key = ".".join(part for part in (where, loc) if part)
    value = first.get("input")
    shown = "" if isinstance(value, dict) else f" (got {value!r})"
    return ConfigError(key, f"{first['msg'].lower()}{shown}")
