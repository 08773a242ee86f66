"""One writer of an ``s3://`` store at a time: a lease, the object store's stand-in for the
``flock`` a local store's writer holds (``store_lock.py``).

The lease is one object beside the store, ``<store>.resonance-lease`` (outside the store's
prefix: Zarr lists every object under it and warns of any that is not its own). It holds
JSON: who writes (``owner``), a random ``token``, the lease's length (``seconds``) and a
``renewal`` count. Every change of it is a conditional PUT, so two writers can never both
believe they hold it:

- taken with ``If-None-Match: *`` (only if there is none);
- renewed every third of its length by a thread, with ``If-Match: <its ETag>`` (only if
  nobody replaced it); each renewal changes the body (``renewal``), hence the ETag, so a
  writer that read the lease before a renewal cannot replace it after;
- taken over, once expired, with ``If-Match: <the expired lease's ETag>``;
- released at the end with a conditional DELETE (``If-Match``).

A lease expires ``seconds`` after the object's ``Last-Modified``, compared with the
``Date`` of the server's answer: the server's clock on both sides, so the writers' clocks
need not agree. A killed writer's lease lapses by itself after at most ``seconds``
(default LEASE_SECONDS; ``RESONANCE_LEASE_SECONDS`` sets another).

The requests go through the store's own fsspec file system (``s3fs``), so the lease uses
whatever endpoint, credentials and options reach the store (``AWS_ENDPOINT_URL``, ...).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

from ..errors import ConfigError, StoreError

LEASE_SUFFIX = ".resonance-lease"  # the lease's key: the store's, with this appended
LEASE_SECONDS = 60.0  # how long a lease lasts without a renewal
PROTOCOLS = ("s3", "s3a")  # the object stores whose writers take a lease
_HELD: dict[str, Lease] = {}  # lease path -> the lease this process holds on it


def has_lease(store: str) -> bool:
    """Whether writers of ``store`` take a lease (an ``s3://`` URL)."""
    return store.split("://", 1)[0] in PROTOCOLS if "://" in store else False


def lease_seconds() -> float:
    """The length of a new lease in seconds: ``RESONANCE_LEASE_SECONDS``, or LEASE_SECONDS."""
    text = os.environ.get("RESONANCE_LEASE_SECONDS")
    if not text:
        return LEASE_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 1 <= seconds <= 86400:
        raise ConfigError(
            "RESONANCE_LEASE_SECONDS", f"must be a number of seconds from 1 to 86400 (got {text!r})"
        )
    return seconds


@dataclass(frozen=True)
class Holder:
    """A lease as read from the store: its body, its ETag, when it expires and the time of
    the reading, both by the server's clock (UTC)."""

    owner: str
    token: str
    etag: str
    expires: datetime
    now: datetime

    @property
    def expired(self) -> bool:
        return self.now >= self.expires

    def describe(self) -> str:
        """Who holds it and until when: ``pid ... on ..., since ...; its lease expires at
        2026-12-05 05:40:12 UTC``."""
        return f"{self.owner}; its lease expires at {self.expires:%Y-%m-%d %H:%M:%S} UTC"


class LeaseHeld(Exception):
    """Raised by :meth:`Lease.take` when another writer holds the lease: ``holder``."""

    def __init__(self, holder: Holder):
        super().__init__(holder.describe())
        self.holder = holder


class LeaseLost(Exception):
    """Raised by :meth:`Lease.renew` when another writer replaced the lease (after it had
    expired: this writer stalled longer than the lease lasts)."""


def _code(exc: BaseException) -> str:
    """The S3 error code of an error s3fs raised (it keeps botocore's as the cause)."""
    for err in (exc, exc.__cause__):
        response = getattr(err, "response", None)
        if isinstance(response, dict):
            return str(response.get("Error", {}).get("Code", ""))
    return ""


# 412 when the condition does not hold; 409 when another conditional write of the same key
# is under way (S3 then asks to retry: for a lease, the other writer got there first).
_CONFLICT = ("PreconditionFailed", "ConditionalRequestConflict", "412", "409")


def _server_time(response: dict) -> datetime:
    """The ``Date`` of the server's answer (this machine's clock when it sent none)."""
    date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    return parsedate_to_datetime(date) if date else datetime.now(timezone.utc)


class Lease:
    """The lease of one ``s3://`` store, as this process sees it: :meth:`take` it,
    :meth:`renew` it, :meth:`release` it; :meth:`read` says who holds it."""

    def __init__(self, store: str, seconds: float | None = None):
        import fsspec

        self.store = store
        self.fs, path = fsspec.core.url_to_fs(store)
        path = path.rstrip("/")
        if "/" not in path:
            raise StoreError(
                store,
                "names a whole bucket; a store is a prefix inside one",
                "use --out s3://BUCKET/NAME.zarr",
            )
        self.path = path + LEASE_SUFFIX
        self.bucket, self.key = self.path.split("/", 1)
        self.seconds = lease_seconds() if seconds is None else seconds
        self.token = uuid.uuid4().hex
        self.owner = (
            f"pid {os.getpid()} on {socket.gethostname()}, since "
            f"{datetime.now(timezone.utc).isoformat(timespec='seconds')}"
        )
        self.etag: str | None = None  # of the lease this process wrote last, while it holds it
        self.renewals = 0

    def read(self) -> Holder | None:
        """Who holds the lease (expired or not), or None when there is no lease object."""
        from fsspec.asyn import sync

        try:
            response, body = sync(self.fs.loop, self._get)
        except FileNotFoundError:
            return None
        try:
            lease = json.loads(body)
            return Holder(
                owner=str(lease["owner"]),
                token=str(lease["token"]),
                etag=response["ETag"],
                expires=response["LastModified"] + timedelta(seconds=float(lease["seconds"])),
                now=_server_time(response),
            )
        except (ValueError, TypeError, KeyError):
            raise StoreError(
                self.store,
                f"has an object s3://{self.path} beside it that is not a resonance lease",
                "remove it, or choose another --out",
            ) from None

    async def _get(self) -> tuple[dict, bytes]:
        response = await self.fs._call_s3("get_object", Bucket=self.bucket, Key=self.key)
        async with response["Body"] as stream:
            return response, await stream.read()

    def take(self) -> None:
        """Take the lease: write it when there is none, or replace an expired one. Raises
        LeaseHeld when another writer holds it."""
        while True:
            holder = self.read()
            if holder is not None and not holder.expired:
                raise LeaseHeld(holder)
            condition = {"IfNoneMatch": "*"} if holder is None else {"IfMatch": holder.etag}
            if self._put(condition):
                return
            # Another writer wrote it between the read and the write: read who, again.

    def renew(self) -> None:
        """Extend the lease by its length from now. Raises LeaseLost when another writer
        replaced it."""
        if not self._put({"IfMatch": self.etag}):
            raise LeaseLost(self.store)

    def release(self) -> None:
        """Delete the lease, unless another writer replaced it meanwhile."""
        try:
            self.fs.call_s3("delete_object", Bucket=self.bucket, Key=self.key, IfMatch=self.etag)
        except FileNotFoundError:
            pass
        except OSError as exc:
            if _code(exc) not in _CONFLICT:
                # An endpoint without conditional deletes: delete it if it is still ours.
                holder = self.read()
                if holder is not None and holder.token == self.token:
                    self.fs.call_s3("delete_object", Bucket=self.bucket, Key=self.key)
        self.etag = None

    def _put(self, condition: dict) -> bool:
        """Write the lease's body if ``condition`` holds; whether it did."""
        self.renewals += 1
        body = {
            "owner": self.owner,
            "token": self.token,
            "seconds": self.seconds,
            "renewal": self.renewals,  # a new ETag at every write
        }
        try:
            response = self.fs.call_s3(
                "put_object",
                Bucket=self.bucket,
                Key=self.key,
                Body=json.dumps(body).encode(),
                ContentType="application/json",
                **condition,
            )
        except (FileExistsError, OSError) as exc:
            if isinstance(exc, FileExistsError) or _code(exc) in _CONFLICT:
                return False
            raise
        self.etag = response["ETag"]
        return True


def current_holder(store: str) -> Holder | None:
    """The unexpired lease of ``store`` held by another process, or None."""
    lease = Lease(store, seconds=LEASE_SECONDS)
    if lease.path in _HELD:
        return None
    holder = lease.read()
    return None if holder is None or holder.expired else holder


class _Renewer(threading.Thread):
    """Renews a lease every third of its length until stopped or the lease is lost."""

    def __init__(self, lease: Lease):
        super().__init__(daemon=True, name="lease")
        self.lease = lease
        self.stopping = threading.Event()
        self.lost = False

    def run(self) -> None:
        while not self.stopping.wait(self.lease.seconds / 3):
            try:
                self.lease.renew()
            except LeaseLost:
                self.lost = True
                return
            except OSError:  # the endpoint did not answer: try again at the next tick
                continue

    def stop(self) -> None:
        self.stopping.set()
        self.join()


@contextlib.contextmanager
def leased(store: str) -> Iterator[None]:
    """Hold ``store``'s lease for the body (re-entrant within a process), renewed in a
    thread, released on exit. Raises LeaseHeld at once when another writer holds it, and
    StoreError on exit when the lease was lost meanwhile (this run stalled past its lease
    and another writer took the store over)."""
    lease = Lease(store)
    if lease.path in _HELD:
        yield
        return
    lease.take()
    _HELD[lease.path] = lease
    renewer = _Renewer(lease)
    renewer.start()
    try:
        yield
    finally:
        renewer.stop()
        del _HELD[lease.path]
        if not renewer.lost:
            lease.release()
    if renewer.lost:
        holder = lease.read()
        raise StoreError(
            store,
            "lost its lease while this run wrote it: the run stalled longer than the lease "
            f"lasts ({lease.seconds:g} s) and another run took the store over"
            + (f" ({holder.owner})" if holder else ""),
            "let that run finish, then run again to resume",
        )
