"""The job directories the Slurm driver keeps on the shared filesystem.

Each job portacloud submits gets a directory of its own under ``<state_dir>/<ClusterName>/jobs/``
holding the batch script, ``job.json`` (:class:`JobMeta`), one log per task and the script's
``task-N.status`` reports; ``ids/`` beside it maps Slurm job ids to those directories.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CANCEL_MARK", "META", "VERDICT", "JobFiles", "JobMeta", "write_atomic"]

#: The file in a job's directory that :class:`JobMeta` is kept in.
META = "job.json"
#: Touched when portacloud asked Slurm to cancel the job.
CANCEL_MARK = "cancel-requested"
#: Written when the driver gave up on a job Slurm can never start (its text says why).
VERDICT = "no-capacity"


@dataclass(frozen=True, slots=True)
class JobMeta:
    """What ``job.json`` remembers of a job portacloud submitted."""

    name: str
    partition: str
    tasks: int
    array: bool
    output_uri: str | None
    submitted_at: float | None
    job_id: str | None = None
    image: str | None = None

    def dump(self) -> str:
        """The JSON text of ``job.json``."""
        return json.dumps(
            {
                "format": 1,
                "name": self.name,
                "partition": self.partition,
                "tasks": self.tasks,
                "array": self.array,
                "output_uri": self.output_uri,
                "submitted_at": self.submitted_at,
                "job_id": self.job_id,
                "image": self.image,
            }
        )

    @classmethod
    def load(cls, job_dir: Path) -> JobMeta | None:
        """The ``job.json`` of ``job_dir``, or ``None`` where there is none (or it is broken)."""
        try:
            data = json.loads((job_dir / META).read_text(encoding="utf-8"))
            return cls(
                name=str(data["name"]),
                partition=str(data["partition"]),
                tasks=int(data["tasks"]),
                array=bool(data["array"]),
                output_uri=data.get("output_uri"),
                submitted_at=data.get("submitted_at"),
                job_id=data.get("job_id"),
                image=data.get("image"),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None


def write_atomic(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``text`` at once: readers on other nodes never see half of it."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(mode)
    os.replace(tmp, path)


class JobFiles:
    """The jobs' directories under ``root``, and an index from Slurm job id to directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.jobs = root / "jobs"
        self.index = root / "ids"

    def create(self, name: str) -> Path:
        """A new, empty directory for a job called ``name``."""
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        job_dir = self.jobs / f"{name}-{stamp}-{uuid.uuid4().hex[:8]}"
        job_dir.mkdir(parents=True)
        self.index.mkdir(parents=True, exist_ok=True)
        return job_dir

    def link(self, job_id: str, job_dir: Path) -> None:
        """Index ``job_dir`` under Slurm's ``job_id``."""
        # Replaced atomically: a cluster whose state was wiped hands out old ids again.
        tmp = self.index / f".{job_id}.{uuid.uuid4().hex[:8]}"
        tmp.symlink_to(os.path.relpath(job_dir, self.index))
        os.replace(tmp, self.index / job_id)

    def find(self, job_id: str) -> Path | None:
        """The directory indexed under ``job_id``, if it still exists."""
        link = self.index / job_id
        try:
            target = (self.index / os.readlink(link)).resolve()
        except OSError:
            return None
        return target if target.is_dir() else None

    def ids(self) -> list[str]:
        """Every Slurm job id in the index."""
        try:
            names = os.listdir(self.index)
        except FileNotFoundError:
            return []
        return [n for n in names if n.isdigit()]

    def ours(self, job_id: str) -> tuple[Path, JobMeta] | None:
        """The indexed directory and metadata of ``job_id``, when both are there and agree."""
        job_dir = self.find(job_id)
        meta = JobMeta.load(job_dir) if job_dir is not None else None
        if job_dir is None or meta is None or meta.job_id != job_id:
            return None
        return job_dir, meta
