"""A single-node SLURM for the tests: Debian's ``slurm-wlm`` and ``munge``, installed with
``apt-get`` when missing and this process is root, configured in a temporary directory and
started there (``munged``, ``slurmctld``, ``slurmd``, each a child of this process), so
``sbatch`` really runs jobs on this machine.

Nothing of the system's own SLURM or munge configuration is read or changed: the daemons
take every path from the temporary directory (the munge key and socket, the state and
spool directories, the logs), the slurm commands find ``slurm.conf`` through ``SLURM_CONF``
(:attr:`SingleNodeSlurm.env`), and the ports are free ones of 127.0.0.1.

A helper module of its own (``STYLE.md``: never imported from conftest).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.helpers import free_port

PACKAGES = ("slurm-wlm", "munge")  # Debian's packages
BINARIES = ("slurmctld", "slurmd", "sbatch", "sinfo", "squeue", "scancel", "munged", "mungekey")
SEARCH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
START_TIMEOUT = 60  # seconds for the node to show idle in sinfo


def _which(name: str) -> str | None:
    return shutil.which(name, path=SEARCH)


def slurm_installed() -> str:
    """Why SLURM and munge are not here, or an empty string when they are (installed with
    ``apt-get install -y slurm-wlm munge`` when missing and this process is root)."""
    missing = [b for b in BINARIES if _which(b) is None]
    if not missing:
        return ""
    packages = " ".join(PACKAGES)
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return f"no SLURM ({', '.join(missing)}): install Debian's {packages} (not root here)"
    if shutil.which("apt-get") is None:
        return f"no SLURM ({', '.join(missing)}) and no apt-get to install {packages}"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES],
    ):
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
            return f"`{' '.join(cmd)}` failed ({tail[0]}): {packages} not installed"
    missing = [b for b in BINARIES if _which(b) is None]
    return f"{packages} installed but {', '.join(missing)} not found" if missing else ""


def _memory_mb() -> int:
    """This machine's memory in MB, as slurmd counts it (MemTotal)."""
    with open("/proc/meminfo") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
    return kb // 1024


CONF = """\
ClusterName=resonance-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge/munge.socket
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
# no cgroups: processes are tracked through /proc, tasks are not confined
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""
PARTITION = "debug"


class SingleNodeSlurm:
    """munged, slurmctld and slurmd on this machine, configured in a temporary directory:
    a context manager; on exit every job is cancelled, the daemons are stopped and the
    directory removed, however the body ended.

    ``env``: this process's environment with ``SLURM_CONF``, for the slurm commands (and
    anything that calls them: dask-jobqueue's ``sbatch``). ``root``: the directory.
    """

    def __init__(self):
        # Short (a socket path has at most 107 bytes) and searchable by all: munged
        # refuses a socket in a directory any of whose parents others cannot traverse.
        self.root = Path(tempfile.mkdtemp(prefix="rs-slurm-"))
        self.root.chmod(0o755)
        self.env = dict(os.environ, SLURM_CONF=str(self.root / "slurm.conf"))
        self._daemons: list[subprocess.Popen] = []

    def __enter__(self) -> SingleNodeSlurm:
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self) -> None:
        for sub in ("munge", "state", "spool", "log"):
            (self.root / sub).mkdir(mode=0o755)
        munge = self.root / "munge"
        self._call("mungekey", "--create", f"--keyfile={munge / 'munge.key'}")
        self._daemon(
            "munged",
            "--foreground",
            f"--key-file={munge / 'munge.key'}",
            f"--socket={munge / 'munge.socket'}",
            f"--pid-file={munge / 'munged.pid'}",
            f"--seed-file={munge / 'munged.seed'}",
            f"--log-file={self.root / 'log' / 'munged.log'}",
        )
        self._wait(lambda: (munge / "munge.socket").exists(), "munged's socket")
        (self.root / "slurm.conf").write_text(
            CONF.format(
                root=self.root,
                ctld_port=free_port(),
                slurmd_port=free_port(),
                cpus=os.cpu_count() or 1,
                memory=_memory_mb() * 9 // 10,  # below what slurmd finds, or the node drains
            )
        )
        self._daemon("slurmctld", "-D", "-i")
        self._daemon("slurmd", "-D", "-N", "localhost")
        self._wait(lambda: self.node_state() == "idle", "the node idle in sinfo")

    def node_state(self) -> str:
        """The node's state as ``sinfo`` shows it (idle, mixed, allocated, down...)."""
        done = subprocess.run(
            [_which("sinfo"), "-h", "-N", "-o", "%T"],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=30,
        )
        return done.stdout.strip()

    def jobs(self) -> list[str]:
        """The ids of the jobs SLURM holds (pending or running)."""
        done = subprocess.run(
            [_which("squeue"), "-h", "-o", "%i"],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=30,
        )
        return done.stdout.split()

    def log(self, name: str) -> str:
        """The text of a daemon's log (``munged``, ``slurmctld``, ``slurmd``)."""
        file = self.root / "log" / f"{name}.log"
        return file.read_text(errors="replace") if file.exists() else ""

    def _call(self, *cmd: str) -> None:
        subprocess.run([_which(cmd[0]), *cmd[1:]], check=True, env=self.env, timeout=60)

    def _daemon(self, *cmd: str) -> None:
        out = open(self.root / "log" / f"{cmd[0]}.out", "wb")  # noqa: SIM115 - closed below
        try:
            self._daemons.append(
                subprocess.Popen(
                    [_which(cmd[0]), *cmd[1:]],
                    env=self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        finally:
            out.close()  # the child has its own copy

    def _wait(self, condition, what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            dead = [p for p in self._daemons if p.poll() is not None]
            if dead:
                raise RuntimeError(f"{dead[0].args[0]} exited ({self._logs()})")
            if condition():
                return
            time.sleep(0.2)
        raise RuntimeError(f"no {what} after {START_TIMEOUT} s ({self._logs()})")

    def _logs(self) -> str:
        tails = []
        for name in ("munged", "slurmctld", "slurmd"):
            lines = (self.log(name) or "").strip().splitlines()[-3:]
            tails.append(f"{name}: " + " | ".join(lines))
        return "; ".join(tails)

    def __exit__(self, *exc) -> None:
        try:
            if self._daemons and _which("scancel"):
                subprocess.run(
                    [_which("scancel"), "--full", "--user", "root"],
                    env=self.env,
                    capture_output=True,
                    timeout=30,
                )
        finally:
            for proc in reversed(self._daemons):  # slurmd, slurmctld, munged
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in self._daemons:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            self._daemons.clear()
            shutil.rmtree(self.root, ignore_errors=True)
