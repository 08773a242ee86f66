"""Helpers shared by the tests (imported by them; conftest.py holds only fixtures)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from resonance.flows.config import load_config

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "configs" / "default.yaml"


def small_config(scenarios=8, firms=40, quarters=24, **overrides):
    """The default config shrunk to test size; extra overrides as dotted keys."""
    ov = {"sizes.scenarios": scenarios, "sizes.firms": firms, "sizes.quarters": quarters}
    ov.update({k.replace("__", "."): v for k, v in overrides.items()})
    return load_config(DEFAULT_CONFIG, ov)


def write_config(tmp_path: Path, mutate, name: str = "config.yaml") -> Path:
    """The default config changed by ``mutate(raw_dict)``, written to ``tmp_path`` beside a
    copy of the path files it names."""
    import yaml

    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    mutate(raw)
    (tmp_path / "paths").mkdir(exist_ok=True)
    for f in (ROOT / "configs" / "paths").glob("*.yaml"):
        (tmp_path / "paths" / f.name).write_text(f.read_text())
    file = tmp_path / name
    file.write_text(yaml.safe_dump(raw))
    return file


def path_index(config, name: str) -> int:
    return config.path_names.index(name)


def nominal_params(config) -> np.ndarray:
    """The nominal parameter vector (uncertain ones at mid-range), float64 (k,)."""
    return config.nominal.copy()
