"""A headless Chromium for the browser tests: Debian's ``chromium``, installed with
``apt-get`` when missing and this process is root, driven by Playwright's Python API
(``executable_path``: Playwright downloads no browser of its own).

A helper module of its own (``STYLE.md``: never imported from conftest); the fixture in
``tests/flows/serve/conftest.py`` calls :func:`chromium_path`.
"""

from __future__ import annotations

import os
import shutil
import subprocess

PACKAGE = "chromium"  # Debian's package; its binary is /usr/bin/chromium
BINARIES = ("chromium", "chromium-browser")


def _found() -> str | None:
    return next((p for p in map(shutil.which, BINARIES) if p), None)


def chromium_path() -> tuple[str | None, str]:
    """(the path of a Chromium binary, "") or (None, why there is none): found on PATH,
    else installed with ``apt-get install -y chromium`` when running as root on a system
    with apt-get."""
    found = _found()
    if found:
        return found, ""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None, f"no Chromium: install Debian's package `{PACKAGE}` (not root here)"
    if shutil.which("apt-get") is None:
        return None, f"no Chromium and no apt-get to install the package `{PACKAGE}`"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", PACKAGE],
    ):
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
            return None, f"`{' '.join(cmd)}` failed ({tail[0]}): package `{PACKAGE}` not installed"
    found = _found()
    return (found, "") if found else (None, f"`{PACKAGE}` installed but no binary on PATH")


def free_port() -> int:
    """A TCP port of 127.0.0.1 nobody listens on now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Running:
    """``resonance serve``'s application under uvicorn in a thread of this process, on a
    free port of 127.0.0.1: ``url``; ``stop()`` ends it."""

    def __init__(self, results):
        import threading
        import time

        import uvicorn

        from resonance.flows.serve.app import create_app

        port = free_port()
        config = uvicorn.Config(
            create_app(results), host="127.0.0.1", port=port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("resonance serve did not start within 30 s")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{port}/"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def get(url: str) -> tuple[int, str, str]:
    """(status, content type, body as text) of a GET, errors included."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=120) as r:
            return r.status, r.headers.get("content-type", ""), r.read().decode("latin-1")
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.headers.get("content-type", ""), e.read().decode("latin-1")
