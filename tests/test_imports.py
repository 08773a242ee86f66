"""Importing resonance changes nothing in the process and pulls in only what it needs."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import ROOT, resonance_cli, tiny_run


def _python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_importing_every_module_changes_no_setting():
    out = _python("""
import importlib, numba, xarray
from pathlib import Path
cache_dir = numba.config.CACHE_DIR
import resonance, resonance.kernels, resonance.flows
names = []
for package in (resonance.kernels, resonance.flows):
    root = Path(package.__path__[0])
    for file in sorted(root.rglob("*.py")):  # every module but the analysis package's
        parts = file.relative_to(root).with_suffix("").parts
        if parts[0] != "analysis" and "__main__" not in parts:
            name = ".".join((package.__name__, *parts)).removesuffix(".__init__")
            importlib.import_module(name)
            names.append(name)
from resonance.kernels.compile import configured
assert numba.config.CACHE_DIR == cache_dir, numba.config.CACHE_DIR
assert not configured()
assert not hasattr(xarray.Dataset, "resonance")  # only the analysis package registers it
import resonance.flows.analysis
assert hasattr(xarray.Dataset, "resonance")
print(len(names))
""")
    assert int(out) >= 20


def test_the_config_module_imports_no_heavy_library():
    out = _python("""
import sys
import resonance.flows.config
print(sorted(m for m in ("xarray", "matplotlib", "dask", "distributed", "prefect", "zarr",
                         "numba") if m in sys.modules))
""")
    assert out.strip() == "[]"


def test_load_configures_numba_for_the_kernels():
    out = _python("""
import numba
from resonance.kernels import load
from resonance.kernels.compile import cache_dir, configured
module = load()
assert configured() and numba.config.CACHE_DIR == str(cache_dir())
print(module.__name__)
""")
    assert out.strip() == "resonance.kernels.simulate"


def test_a_successful_run_prints_no_traceback(tmp_path):
    for k in range(2):  # the shutdown race showed in one run of two
        store = tmp_path / f"s{k}.zarr"
        done = resonance_cli(*tiny_run(store, scenarios=8, firms=20, workers=2))
        assert done.returncode == 0, done.stderr[-3000:]
        assert "Traceback" not in done.stderr + done.stdout
        assert "Error" not in done.stderr, done.stderr


def test_imports_inside_the_packages_are_relative():
    """Inside kernels/ and flows/ every import of the project is relative, so a reader or
    a tool that follows imports in the checkout (no install) finds the files they name;
    but flows/flow.py and flows/nightly.py, which Prefect's worker loads by their paths,
    outside the package (prefect.yaml's entrypoints)."""
    import ast

    absolute = []
    for top in ("kernels", "flows"):
        for file in sorted((ROOT / top).rglob("*.py")):
            if file in (ROOT / "flows" / "flow.py", ROOT / "flows" / "nightly.py"):
                continue
            for node in ast.walk(ast.parse(file.read_text(), str(file))):
                if isinstance(node, ast.ImportFrom) and node.level == 0:
                    names = [node.module or ""]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                else:
                    continue
                absolute += [
                    f"{file.relative_to(ROOT)}:{node.lineno} {name}"
                    for name in names
                    if name == "resonance" or name.startswith("resonance.")
                ]
    assert not absolute, absolute


def test_the_architecture_page_holds_the_import_graph_of_the_code():
    """docs/architecture.md's import graph is the one docs/import_graph.py reads off the
    source now: regenerate it with `python docs/import_graph.py --write` after a change."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "docs/import_graph.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    page = (ROOT / "docs" / "architecture.md").read_text()
    assert generator.render(generator.graph()) in page
