"""Prefect's API for ``resonance run``: the server a user's Prefect settings name, else a
temporary one started beside the run (:func:`prefect_api`), without importing Prefect's
server code into this process; and the one line when there is none (:class:`PrefectUnavailable`).

Prefect's server takes about 3 s of CPU to answer on the 2-core machine of
``docs/results.md`` (a first start, with its database migrations, much longer):
``resonance run`` starts it first (:func:`start_server`), then its run, and imports
Prefect's client once the run's first chunk is on its way.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from .engine import console
from .errors import ResonanceError


class PrefectUnavailable(ResonanceError):
    """Prefect's API could not be reached or started (the run itself may go on)."""


class PrefectServer:
    """Prefect's temporary API server for one ``resonance run``, started without importing
    Prefect's server code into this process.

    Prefect's own ephemeral mode (``SubprocessASGIServer``, Prefect 3) imports its whole
    server application into the client process first (4 s here) and then starts the same
    application in a subprocess. This starts that subprocess the way Prefect does (uvicorn,
    the app factory from Prefect's own directory, loopback, its ephemeral-mode flags, a new
    port when the chosen one was taken); :func:`prefect_api` points this process's client
    at it. The server reads the user's Prefect profile and environment as any Prefect
    process does. Like Prefect's, it is stopped at exit; a run killed with SIGKILL leaves it
    to the operating system.
    """

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.process: subprocess.Popen | None = None
        self._start()

    def _start(self) -> None:
        import importlib.util

        prefect_dir = Path(importlib.util.find_spec("prefect").origin).parent
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        env = {
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",  # Prefect's flags of its ephemeral server
            "PREFECT__SERVER_FINAL": "1",
        }
        env.pop("PREFECT_API_URL", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--app-dir", str(prefect_dir.parent), "--factory"]
            + ["prefect.server.api.server:create_app", "--host", "127.0.0.1"]
            + ["--port", str(self.port), "--log-level", "error", "--lifespan", "on"],
            env=env,
        )

    def wait(self, abort=None) -> None:
        """Return once the server answers; PrefectUnavailable if it does not in time.
        ``abort()``, called while waiting, may raise to stop the wait (a failed run)."""
        began = time.monotonic()
        restarts = 0
        while time.monotonic() - began < self.timeout:
            if abort is not None:
                abort()
            code = self.process.poll()
            if code == 3 and restarts < 3:  # uvicorn could not bind: the port was taken
                restarts += 1
                self._start()
                continue
            if code is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        code = self.process.poll()
        raise PrefectUnavailable(
            "prefect",
            "its temporary API server did not start in time"
            + (f" (it exited with code {code})" if code is not None else ""),
            "raise PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, or run without Prefect: "
            "--engine direct",
        )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


RUN_HINT = "start it, unset PREFECT_API_URL for a temporary server, or --engine direct"


def check_prefect_url(url: str, where: str = "PREFECT_API_URL", hint: str = RUN_HINT) -> None:
    """PrefectUnavailable unless something answers HTTP at the Prefect API ``url`` (any
    status: a server that wants a key still answers); ``hint``: what to do then."""
    import urllib.error

    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/health", timeout=5):
            pass
    except urllib.error.HTTPError:
        pass
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise PrefectUnavailable(
            where,
            f"no Prefect server answered at {url} ({reason})",
            hint,
        ) from None


def start_server(timeout: float) -> PrefectServer | None:
    """Prefect's temporary server, started now, unless Prefect's settings may name a
    server (:func:`may_name_server`; :func:`prefect_api` then reads them and starts one
    only if they do not). ``resonance run`` starts it before its own start-up, whose
    imports keep one core busy, so that the server boots on the other one (3 s of CPU on
    the machine of ``docs/results.md``) rather than beside the run's chunks. Stopped when
    the process exits, as Prefect stops its own: Prefect's log and event workers, which
    start later and so are drained earlier at exit, still send to it at the end."""
    if may_name_server():
        return None
    server = PrefectServer(timeout)
    atexit.register(server.stop)
    return server


def may_name_server() -> bool:
    """Whether Prefect's settings may name an API server, read without importing Prefect
    (its settings take a second to import): the environment's ``PREFECT_API_URL``, the
    active profile of ``profiles.toml``, an ``.env`` here, or the ``api.url`` of a
    ``prefect.toml`` or a ``pyproject.toml``'s ``[tool.prefect]`` here. True where unsure."""
    if os.environ.get("PREFECT_API_URL"):
        return True
    import tomllib

    home = Path(os.environ.get("PREFECT_HOME", Path.home() / ".prefect")).expanduser()
    profiles = Path(os.environ.get("PREFECT_PROFILES_PATH", home / "profiles.toml")).expanduser()
    try:
        if profiles.exists():
            data = tomllib.loads(profiles.read_text())
            active = os.environ.get("PREFECT_PROFILE") or data.get("active", "ephemeral")
            if "PREFECT_API_URL" in data.get("profiles", {}).get(active, {}):
                return True
        if Path(".env").exists() and "PREFECT_API_URL" in Path(".env").read_text():
            return True
        for name, table in (("prefect.toml", ()), ("pyproject.toml", ("tool", "prefect"))):
            if Path(name).exists():
                data = tomllib.loads(Path(name).read_text())
                for key in table:
                    data = data.get(key, {})
                if "PREFECT_API_URL" in data or "url" in data.get("api", {}):
                    return True
    except (OSError, ValueError):  # unreadable: let Prefect's own settings decide
        return True
    return False


@contextlib.contextmanager
def prefect_api(
    timeout: float,
    abort: Callable[[], None] | None = None,
    server: PrefectServer | None = None,
) -> Iterator[None]:
    """Prefect's API for the block: the server Prefect's settings name, if any (checked to
    answer; ``server``, a temporary one started ahead, is then stopped); else ``server``
    or a temporary one started now (:func:`start_server`). Call after the run has started
    ahead (``startup.launch``): ``abort()``, called while waiting for the server, raises
    the run's own error if it fails meanwhile (``Launched.raise_if_failed``).
    PrefectUnavailable when there is no API to be had."""
    from prefect import settings
    from prefect.settings import PREFECT_API_URL, temporary_settings

    configured = PREFECT_API_URL.value()
    if configured:
        if server is not None:  # the profile names a server: the temporary one is not needed
            server.stop()
        check_prefect_url(configured, "the Prefect profile's PREFECT_API_URL")
        yield
        return
    server = server or start_server(timeout)
    with console.waiting("starting Prefect's temporary server"):
        server.wait(abort=abort)
    updates = {PREFECT_API_URL: server.url}
    # No flow-run heartbeats to it: they let a lasting server mark a run whose process
    # died as crashed, but this server dies with the run's process. And Prefect's
    # heartbeat thread sleeps in whole seconds, which the flow's end waits out (0-1 s).
    # (Prefect before 3.6 has no such setting and sends none.)
    heartbeat = getattr(settings, "PREFECT_FLOWS_HEARTBEAT_FREQUENCY", None)
    if heartbeat is not None:
        updates[heartbeat] = None
    with temporary_settings(updates):
        yield
