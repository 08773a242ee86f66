"""The project installs as one import package, ``resonance``, beside PyPI's ``kernels``.

The repository's folders ``kernels/`` and ``flows/`` install as ``resonance.kernels`` and
``resonance.flows`` (a package-dir mapping in ``pyproject.toml``); the distribution is
``resonance-scenarios``. All three bare names are taken on PyPI: ``kernels`` is Hugging
Face's package, ``flows`` is an old package (it no longer installs on current Python, but a
top-level ``flows`` of ours would still clash with it) and ``resonance`` is another project.

The test builds a real wheel from a copy of the source tree (nothing is written into the
repository), installs it non-editable into a fresh virtual environment and then installs
PyPI's ``kernels`` (with its dependencies) into the same environment. It checks that:

- our distribution adds exactly ``resonance/`` and ``resonance_scenarios-*.dist-info`` to
  site-packages, its RECORD names no other top-level entry, and every module of
  ``resonance/``, ``kernels/`` and ``flows/`` in the source tree is in the wheel;
- ``import kernels`` gives PyPI's package (its own RECORD owns it), and in the same process
  every installed ``resonance`` module imports from site-packages, none of them importing a
  top-level ``flows`` or ``kernels`` (an import left unrenamed would);
- ``python -m resonance --help`` and the ``resonance`` script run.

The environment sees the site-packages of the interpreter that runs the tests (a user's
virtual environment or the base interpreter), so numpy, numba, dask, prefect, ... are not
downloaded; building needs setuptools>=68 from PyPI (build isolation, as a user's ``pip
install`` does) and ``kernels`` comes from PyPI. The test is skipped only when PyPI cannot
be reached.

No folder of the repository root may shadow the installed package: the commands and imports
also run with the copy of the repository as working directory.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
DIST = "resonance_scenarios"  # the distribution's name as dist-info and wheel files spell it
# Source folder -> where it installs (pyproject.toml's [tool.setuptools.package-dir]).
PACKAGE_DIRS = {
    "src/resonance": "resonance",
    "kernels": "resonance/kernels",
    "flows": "resonance/flows",
}

# Left out of the copy of the source tree when it is not a git checkout.
_GENERATED = (".git", "build", "dist", "*.egg-info", "__pycache__", ".venv", "runs", "*.zarr")

# What pip prints when it cannot reach the index (refused, no DNS, a proxy that refuses).
_UNREACHABLE = re.compile(
    r"Failed to establish a new connection|Temporary failure in name resolution"
    r"|Name or service not known|nodename nor servname|Network is unreachable"
    r"|ConnectTimeoutError|ProxyError|Tunnel connection failed|Could not fetch URL",
    re.IGNORECASE,
)

_IMPORTS = """
import importlib, json, sys
import kernels  # PyPI's, imported first and kept while ours load
modules = {}
for name in sys.argv[1:]:
    modules[name] = importlib.import_module(name).__file__
import resonance
print(json.dumps({
    "kernels": kernels.__file__,
    "kernels_is_pypi": hasattr(kernels, "get_kernel"),
    "modules": modules,
    "version": resonance.__version__,
    "top_level": sorted(m for m in sys.modules if m in ("flows", "kernels")),
    "kernels_still_pypi": sys.modules["kernels"] is kernels,
}))
"""


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(
        PYTHONNOUSERSITE="1",
        NUMBA_CACHE_DIR=str(tmp / "numba-cache"),
        PREFECT_HOME=str(tmp / "prefect-home"),
        MPLCONFIGDIR=str(tmp / "mpl"),
    )
    return env


def _run(
    args: list[str], tmp: Path, timeout: float = 300, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    # By default cwd is outside the repository; the shadowing checks pass the repository.
    return subprocess.run(
        args, cwd=cwd or tmp, env=_env(tmp), capture_output=True, text=True, timeout=timeout
    )


def _pip(python: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    """Run ``pip`` of the venv; skip if PyPI is unreachable, fail on any other error."""
    result = _run(
        [str(python), "-m", "pip", "--disable-pip-version-check", "--no-input", *args], tmp
    )
    if result.returncode != 0:
        output = result.stdout + result.stderr
        unreachable = [line for line in output.splitlines() if _UNREACHABLE.search(line)]
        if unreachable:
            pytest.skip(f"PyPI cannot be reached (pip {args[0]}): {unreachable[-1].strip()}")
        pytest.fail(f"pip {' '.join(args)} failed ({result.returncode}):\n{output}")
    return result


def _site_dirs(python: Path, tmp: Path) -> list[str]:
    """The site-packages folders that ``python`` imports from, its own first."""
    code = (
        "import json, sys; print(json.dumps([p for p in sys.path"
        " if p.endswith(('site-packages', 'dist-packages'))]))"
    )
    result = _run([str(python), "-c", code], tmp)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def make_venv(python: Path, dest: Path, tmp: Path, *, with_pip: bool = True) -> tuple[Path, Path]:
    """A fresh venv at ``dest`` that also sees the packages ``python`` sees; returns its
    interpreter and its site-packages folder.

    ``venv --system-site-packages`` is not enough: run from a user's virtual environment it
    exposes the *base* interpreter's site-packages, not the environment the project and its
    dependencies were installed into. A ``.pth`` file listing ``python``'s site folders does
    what is meant in both cases; as plain path lines, the ``.pth`` files inside those folders
    (an editable install's finder, for one) are not run, so only the wheel installed here
    provides ``resonance``.
    """
    outer = _site_dirs(python, tmp)
    args = [str(python), "-m", "venv", str(dest)] + ([] if with_pip else ["--without-pip"])
    made = _run(args, tmp)
    assert made.returncode == 0, made.stdout + made.stderr
    inner = dest / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(_run([str(inner), "-c", purelib], tmp).stdout.strip())
    assert site.is_dir() and site.is_relative_to(dest), site
    (site / "_outer_site_packages.pth").write_text("".join(f"{p}\n" for p in outer))
    return inner, site


def _copy_source(dest: Path) -> None:
    """The tracked and untracked-but-not-ignored files of the repository (no build/,
    *.egg-info, .git, ...), so that building writes nothing into the repository."""
    try:
        git = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
        listed = subprocess.run(git, cwd=REPO, capture_output=True, check=True).stdout.decode()
    except (OSError, subprocess.SubprocessError):
        listed = ""
    names = [n for n in listed.split("\0") if n]
    if not names:  # not a git checkout: copy all but the usual generated folders
        shutil.copytree(REPO, dest, ignore=shutil.ignore_patterns(*_GENERATED))
        return
    for name in names:
        src = REPO / name
        if src.is_file():  # a deleted but still tracked file is skipped
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def _record(dist_info: Path) -> list[str]:
    with open(dist_info / "RECORD", newline="") as f:
        return [row[0] for row in csv.reader(f) if row]


def _top_levels(dist_info: Path) -> set[str]:
    """Top-level site-packages names a distribution's RECORD installs, less its dist-info
    and the scripts outside site-packages (``../../../bin/...``)."""
    return {
        Path(path).parts[0]
        for path in _record(dist_info)
        if not path.startswith("..") and Path(path).parts[0] != dist_info.name
    }


def _one_dist_info(site: Path, pattern: str) -> Path:
    found = sorted(site.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {site}, found {found}"
    return found[0]


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh venv with the project's wheel and PyPI's ``kernels`` installed."""
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    _copy_source(src)

    venv_dir = tmp / "venv"
    python, site = make_venv(Path(sys.executable), venv_dir, tmp)

    wheels = tmp / "wheels"
    _pip(python, tmp, "wheel", "--no-deps", "--retries", "1", "--wheel-dir", str(wheels), str(src))
    wheel = _one_dist_info(wheels, f"{DIST}-*.whl")

    before = {p.name for p in site.iterdir()}
    _pip(python, tmp, "install", "--no-deps", "--no-index", str(wheel))
    added = {p.name for p in site.iterdir()} - before

    # Everything kernels needs to import (huggingface_hub, ...) but not torch, an extra.
    _pip(python, tmp, "install", "--retries", "1", "--only-binary=:all:", "kernels")

    return {
        "tmp": tmp,
        "src": src,
        "dir": venv_dir,
        "python": python,
        "site": site,
        "wheel": wheel,
        "added": added,
    }


def test_installs_only_resonance_at_top_level(venv):
    site = venv["site"]
    dist_info = _one_dist_info(site, f"{DIST}-*.dist-info")
    assert venv["added"] == {"resonance", dist_info.name}
    assert _top_levels(dist_info) == {"resonance"}
    assert not (site / "flows").exists()  # nobody here installs a top-level flows

    kernels_info = _one_dist_info(site, "kernels-*.dist-info")
    assert "kernels" in _top_levels(kernels_info)
    assert "kernels/__init__.py" in _record(kernels_info)

    # The mapping takes every module of the three folders, sub-packages included.
    src, record = venv["src"], set(_record(dist_info))
    expected = {
        f"{PACKAGE_DIRS[folder]}/{py.relative_to(src / folder).as_posix()}"
        for folder in PACKAGE_DIRS
        for py in (src / folder).rglob("*.py")
    }
    assert expected <= record, f"not in the wheel: {sorted(expected - record)}"
    assert "resonance/kernels/__init__.py" in record
    assert "resonance/flows/__init__.py" in record


def test_imports_beside_pypi_kernels(venv):
    site, dist_info = venv["site"], _one_dist_info(venv["site"], f"{DIST}-*.dist-info")
    modules = sorted(
        path[: -len(".py")].replace("/", ".").removesuffix(".__init__")
        for path in _record(dist_info)
        if path.startswith("resonance/")
        and path.endswith(".py")
        and path != "resonance/__main__.py"
    )
    for name in ("resonance.kernels", "resonance.flows.config", "resonance.flows.cli"):
        assert name in modules

    result = _run([str(venv["python"]), "-c", _IMPORTS, *modules], venv["tmp"])
    assert result.returncode == 0, result.stdout + result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])

    assert Path(seen["kernels"]) == site / "kernels" / "__init__.py"
    assert seen["kernels_is_pypi"] and seen["kernels_still_pypi"]
    assert seen["top_level"] == ["kernels"]  # PyPI's; nothing imported a top-level flows
    for name, file in seen["modules"].items():
        assert file is not None, f"{name} has no __file__ (not a regular package?)"
        assert Path(file).is_relative_to(site / "resonance"), f"{name} from {file}"
    assert seen["version"] == venv["wheel"].name.split("-")[1]


@pytest.mark.parametrize("where", ["outside", "repository root"])
def test_command_line(venv, where):
    python, tmp = venv["python"], venv["tmp"]
    cwd = venv["src"] if where == "repository root" else tmp
    for args in (
        [str(python), "-m", "resonance", "--help"],
        [str(venv["dir"] / "bin" / "resonance"), "--help"],
    ):
        result = _run(args, tmp, cwd=cwd)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "usage:" in result.stdout.lower()


def test_repository_root_does_not_shadow_the_installed_package(venv):
    """Run from the checkout after ``pip install .``, the installed package is imported."""
    code = "import resonance.kernels, resonance.flows.cli; print(resonance.kernels.__file__)"
    result = _run([str(venv["python"]), "-c", code], venv["tmp"], cwd=venv["src"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert Path(result.stdout.strip()).is_relative_to(venv["site"] / "resonance")


def test_venv_made_from_a_users_venv_sees_its_packages(tmp_path):
    """The environment of the tests above, made from inside a user's virtual environment,
    sees what that environment holds (``--system-site-packages`` would show the base
    interpreter's instead, where the project's dependencies need not be)."""
    users_python, users_site = make_venv(
        Path(sys.executable), tmp_path / "users-venv", tmp_path, with_pip=False
    )
    (users_site / "only_in_the_users_venv.py").write_text("WHERE = 'users venv'\n")
    inner, _ = make_venv(users_python, tmp_path / "inner", tmp_path, with_pip=False)
    code = "import only_in_the_users_venv, numpy; print(only_in_the_users_venv.WHERE)"
    result = _run([str(inner), "-c", code], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "users venv"
