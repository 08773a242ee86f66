"""Reading the user's YAML files (run configs, path files, cluster files): the one place
where an unreadable file becomes a one-line ConfigError instead of a traceback."""

from __future__ import annotations

from pathlib import Path

import yaml

from .errors import ConfigError


def read_yaml_mapping(file: Path, where: str, what: str = "file") -> dict:
    """The YAML mapping in ``file``; ``where`` is the key the errors name (see
    :func:`read_yaml_text`)."""
    return read_yaml_text(file, where, what)[0]


def read_yaml_text(file: Path, where: str, what: str = "file") -> tuple[dict, str]:
    """The YAML mapping in ``file`` and the text it was read from; ``where`` is the key the
    errors name.

    Refused in one line: a missing file, a directory, a binary or non-UTF-8 file, invalid
    YAML, and YAML whose top level is not a mapping (an empty file reads as an empty one).
    """
    name = "" if where == str(file) else f"{file} "  # the key already names the file
    if not file.is_file():
        problem = "is a directory" if file.is_dir() else "no such file"
        raise ConfigError(where, f"{name}{problem}", f"give the path of a {what}")
    data = file.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            where,
            f"{name}is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            f"a {what} is a YAML text file",
        ) from None
    if "\x00" in text:
        raise ConfigError(
            where, f"{name}is a binary file, not YAML text", f"a {what} is a YAML text file"
        )
    return yaml_mapping(text, where, name), text


def yaml_mapping(text: str, where: str, name: str = "") -> dict:
    """The YAML mapping of ``text`` (a file's, or a config's text sent through the Prefect
    API); ``where`` is the key the errors name, ``name`` the file's ("" for none). Refused
    in one line: invalid YAML, and YAML whose top level is not a mapping (an empty text
    reads as an empty one)."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(where, f"{name}is not valid YAML: {str(exc).splitlines()[0]}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(
            where, f"{name}must hold a YAML mapping (key: value lines), got a {type(raw).__name__}"
        )
    return raw
