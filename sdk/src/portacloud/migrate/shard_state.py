"""Where a sharded migration keeps its truth: a folder in portable storage.

``<state URL>/<migration id>/`` holds ``plan.json`` (the shards' key ranges), ``run.json`` (the
job that runs them) and, per shard, ``shard-NNNN/`` with ``journal.sqlite`` (a snapshot of the
shard's journal, refreshed while it runs), ``progress.json``, ``receipt.jsonl`` and
``result.json``. Every task and every rerun of the coordinating command reads the same folder,
so a task retried on another node resumes its range and a killed coordinator is replaced by
running the same command again.

The state lives outside the source and the destination (checked), by default in the profile's
storage under the reserved prefix :data:`RESERVED_PREFIX`. Nothing secret is written there.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field

from portacloud.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from portacloud.openers import open_bucket
from portacloud.storage.bucket import Bucket

if TYPE_CHECKING:
    from portacloud.profiles import Profile

__all__ = [
    "RESERVED_PREFIX",
    "RunRecord",
    "ShardProgress",
    "ShardState",
    "check_placement",
    "check_reachable",
    "default_state_url",
]

#: The folder, inside the profile's storage, that holds sharded migrations by default.
RESERVED_PREFIX = ".portacloud/migrations"

_M = TypeVar("_M", bound=BaseModel)
_FROZEN = ConfigDict(frozen=True, extra="forbid")


class RunRecord(BaseModel):
    """The job that runs (or ran) the shards.

    Attributes:
        job_id: The queue's id of the array job.
        on: The queue URL it was submitted to.
        shards: The shard each task index runs (task ``i`` runs shard ``shards[i]``).
        forward_file: The file of forwarded variables (``ray://``), removed when the job ends.
    """

    model_config = _FROZEN

    job_id: str
    on: str
    shards: tuple[int, ...]
    forward_file: str | None = None


class ShardProgress(BaseModel):
    """Where one shard stands, as its task last reported.

    Attributes:
        index: The shard.
        state: ``pending``, ``planning``, ``copying``, ``verifying``, ``done`` or ``failed``.
        attempt: How many times a task started on this shard.
        objects: Objects of its range done (copied, or found identical at the destination).
        bytes: Their bytes.
        objects_total: Objects of its range (once its plan is made).
        bytes_total: Their bytes.
        failed: Keys that failed in its last run.
    """

    model_config = _FROZEN

    index: int = Field(ge=0)
    state: str = "pending"
    attempt: int = 0
    objects: int = 0
    bytes: int = 0
    objects_total: int | None = None
    bytes_total: int | None = None
    failed: int = 0


def default_state_url(profile: Profile) -> str:
    """``<profile storage>/.portacloud/migrations``, keeping the URL's query (endpoint...)."""
    storage = profile.storage
    if storage is None:  # load_profile fills it in; a hand-made profile may not
        from portacloud.home import portacloud_home

        storage = (portacloud_home() / "storage").as_uri()
    parts = urlsplit(storage)
    path = parts.path.rstrip("/") + "/" + RESERVED_PREFIX
    return urlunsplit(parts._replace(path=path))


def _location(url: str) -> str:
    """``scheme://host/path/`` of a URL, for containment checks (query dropped)."""
    parts = urlsplit(url)
    path = unquote(parts.path)
    if parts.scheme == "file":
        path = os.path.realpath(path)
    return f"{parts.scheme}://{parts.netloc}{path.rstrip('/')}/"


def check_placement(state: str, src: str, dst: str) -> None:
    """Refuse a state folder inside (or around) the source or the destination.

    Raises:
        InvalidArgumentError: They overlap: the state would be migrated, or overwritten.
    """
    where = _location(state)
    for role, url in (("source", src), ("destination", dst)):
        other = _location(url)
        if where.startswith(other) or other.startswith(where):
            raise InvalidArgumentError(
                f"the migration state {state} overlaps the {role} {url}: keep it outside "
                "both (--state)",
                operation="migrate",
            )


def _slurm_nodes(partition: str) -> set[str] | None:
    """The node names of a Slurm partition, or ``None`` if ``sinfo`` cannot tell."""
    try:
        out = subprocess.run(
            ["sinfo", "-h", "-N", "-p", partition, "-o", "%N"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {line.strip() for line in out.splitlines() if line.strip()} or None


def _on_this_machine(on: str) -> bool:
    """Whether every worker of the queue ``on`` runs on this machine."""
    parts = urlsplit(on)
    if parts.scheme == "local":
        return True
    if parts.scheme == "ray":
        return (parts.hostname or "") in ("127.0.0.1", "localhost", "::1")
    if parts.scheme == "slurm":
        nodes = _slurm_nodes(parts.netloc or parts.path.strip("/"))
        return nodes is not None and nodes <= {socket.gethostname().split(".")[0]}
    return False


def check_reachable(state: str, on: str, *, shared: bool) -> None:
    """Refuse, before anything is submitted, a state the workers of ``on`` cannot reach.

    A ``file://`` state is reachable when the workers run on this machine (``local://``, a
    Ray head on loopback, a Slurm partition whose only node is this host) or when ``shared``
    says the path is on a filesystem every node mounts. ``memory://`` never is.

    Raises:
        FailedPreconditionError: The workers could not read or write the state.
    """
    scheme = urlsplit(state).scheme
    if scheme == "memory":
        raise FailedPreconditionError(
            f"the migration state {state} lives in this process's memory: the workers of "
            f"{on} cannot reach it; use a bucket (--state s3://...)",
            operation="migrate",
        )
    if scheme == "file" and not shared and not _on_this_machine(on):
        raise FailedPreconditionError(
            f"the migration state {state} is a local path, and the workers of {on} may run "
            "on other machines; use a bucket (--state s3://...), or --shared-state if that "
            "path is on a filesystem every node mounts",
            operation="migrate",
        )


class ShardState:
    """The state folder of one sharded migration.

    Args:
        url: The state URL (the folder that holds every migration's folder).
        migration: The migration's id.
        profile: The profile whose region policy binds the state bucket.
        create: Make a missing ``file://`` folder (not for a dry run, which writes nothing).
    """

    def __init__(
        self,
        url: str,
        migration: str,
        *,
        profile: str | Profile | None = None,
        create: bool = True,
    ) -> None:
        self.url = url
        self.migration = migration
        if create and urlsplit(url).scheme == "file":
            # A file:// bucket is a directory that must exist before it is opened.
            Path(unquote(urlsplit(url).path), migration).mkdir(parents=True, exist_ok=True)
        self._root = open_bucket(url, profile=profile)
        self.bucket: Bucket = self._root.child(f"{migration}/")

    @staticmethod
    def shard_key(index: int, name: str) -> str:
        """The key of one shard's file ``name``."""
        return f"shard-{index:04d}/{name}"

    def read(self, key: str, model: type[_M]) -> _M | None:
        """The model stored at ``key``, or ``None`` when there is none yet."""
        try:
            data = self.bucket.get(key)
        except NotFoundError:
            return None
        return model.model_validate_json(data)

    def write(self, key: str, value: BaseModel) -> None:
        """Store ``value`` as JSON at ``key`` (replacing what was there)."""
        self.bucket.put(key, value.model_dump_json().encode(), content_type="application/json")

    def put_file(self, key: str, path: Path) -> None:
        """Upload a local file to ``key``."""
        self.bucket.put(key, path.read_bytes())

    def get_file(self, key: str, path: Path) -> bool:
        """Download ``key`` to ``path``; False when it does not exist."""
        try:
            data = self.bucket.get(key)
        except NotFoundError:
            return False
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        return True

    def clear_shard(self, index: int) -> None:
        """Forget a shard's outcome (before it runs again); its journal stays."""
        for name in ("result.json", "receipt.jsonl"):
            self.bucket.delete(self.shard_key(index, name))

    def close(self) -> None:
        """Close the state bucket."""
        self._root.close()


def refuse_other_plan(found_src: str, found_dst: str, src: str, dst: str) -> None:
    """A state folder is named by a digest of the URLs; refuse the (unlikely) mix-up."""
    if (found_src, found_dst) != (src, dst):
        raise InvalidArgumentError(
            f"the migration state folder belongs to {found_src} -> {found_dst}",
            operation="migrate",
        )
