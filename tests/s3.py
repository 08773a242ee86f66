"""A local S3-compatible server for the tests: moto's standalone server (``moto[server]``,
a dev dependency) in a process of its own on a free port of 127.0.0.1, with the
environment that points s3fs (and so Zarr, xarray and the store's lease) at it.

A helper module of its own (``STYLE.md``: never imported from conftest).
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.helpers import free_port

START_TIMEOUT = 60  # seconds for the server to answer


class MotoServer:
    """``python -m moto.server`` on 127.0.0.1: a context manager; stopped on exit.

    ``env``: the variables that send every S3 client of a process to it (botocore reads
    ``AWS_ENDPOINT_URL``; the credentials are moto's dummies, and no file of the user's
    AWS configuration is read).
    """

    def __init__(self, scratch: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = scratch / "moto.log"
        self.env = {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(scratch / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "no-aws-credentials"),
        }
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> MotoServer:
        with open(self.log, "wb") as out:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"moto's server exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url, timeout=2):
                    return self
            except OSError:
                time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError(f"moto's server did not answer on {self.url} in {START_TIMEOUT} s")

    def __exit__(self, *exc) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
