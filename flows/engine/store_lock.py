"""One run writes a store at a time: :func:`writer_lock` holds an OS lock on a local
store's directory, which dies with the process that holds it, and the root attribute
``writer`` says who holds it, for the line that refuses a second run (the lock, not the
attribute, decides). An ``s3://`` store has no OS lock: its writer holds a lease instead
(``store_lease.py``), which lapses by itself after a killed writer. Other object stores
(``gs://`` ...) have neither; one writer there is the user's to keep.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import zarr

from ..errors import StoreError
from .store_io import open_root
from .store_lease import LeaseHeld, current_holder, has_lease, leased

_HELD: set[Path] = set()  # the store directories whose writer lock this process holds


def _lock_path(store: str) -> Path | None:
    """The directory of a local store (None for object stores, which have no OS locks)."""
    if "://" in store and not store.startswith("file://"):
        return None
    return Path(store.removeprefix("file://")).absolute()


LOCK_TRIES = 10  # x 50 ms: how long a starting writer waits out a reader's probe


@contextlib.contextmanager
def writer_lock(store: str) -> Iterator[None]:
    """Hold ``store``'s writer lock for the body, or raise StoreError at once naming the
    run that holds it.

    An exclusive ``flock`` on the store's directory (created when absent): the kernel drops
    it when the holding process ends, however it ends, so a killed run never leaves the
    store locked, and it adds no file that Zarr would not recognise. Who holds it is told
    by the root attribute ``writer`` (:func:`record_writer`). An ``s3://`` store's writer
    holds its lease instead (``store_lease.leased``); other object stores have no lock.
    """
    import fcntl

    if has_lease(store):
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(leased(store))
            except LeaseHeld as held:
                raise busy(store, str(held)) from None
            yield
        return
    path = _lock_path(store)
    if path is None or path in _HELD:
        yield
        return
    path.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        # A reader's probe (current_writer) holds a shared lock for a moment: try again
        # for a little while before calling the store busy.
        for attempt in range(LOCK_TRIES):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt == LOCK_TRIES - 1:
                    raise busy(store, _holder(store)) from None
                time.sleep(0.05)
        _HELD.add(path)
        try:
            yield
        finally:
            _HELD.discard(path)
    finally:
        os.close(fd)  # releases the lock


def record_writer(store: str) -> None:
    """Say in the root attribute ``writer`` which process writes the store (for the line
    that refuses a second run; the lock, not this attribute, decides)."""
    holder = (
        f"pid {os.getpid()} on {socket.gethostname()}, since "
        f"{datetime.now(timezone.utc).isoformat(timespec='seconds')}"
    )
    zarr.open_group(store, mode="r+").attrs.update({"writer": holder})


def busy(store: str, holder: str) -> StoreError:
    """The one line that refuses a second writer of ``store``, naming the run that holds it
    (and, for a leased store, when its lease expires)."""
    after = (
        "a stopped run's lease lapses when it expires"
        if has_lease(store)
        else "a stopped run leaves no lock behind"
    )
    return StoreError(
        store,
        f"is being written by another run ({holder})",
        f"wait for it to finish, or stop it; {after}",
    )


def clear_writer(store: str) -> None:
    """Remove the ``writer`` attribute at the end of a run, so a finished store's
    attributes are those of its content alone."""
    attrs = zarr.open_group(store, mode="r+").attrs
    if "writer" in attrs:
        del attrs["writer"]


def _holder(store: str) -> str:
    group = open_root(store)
    writer = group.attrs.get("writer") if group is not None else None
    return str(writer) if writer else "a process that holds its lock"


def current_writer(store: str) -> str | None:
    """Who holds ``store``'s writer lock or lease ("pid ... on ..., since ..."), or None:
    nobody, this process itself, or an object store without a lease."""
    import fcntl

    if has_lease(store):
        holder = current_holder(store)
        return holder.describe() if holder else None
    path = _lock_path(store)
    if path is None or path in _HELD or not path.is_dir():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _holder(store)
    finally:
        os.close(fd)
    return None
