"""Jobs whose tasks write one log file each: reading them whole, and following them.

The local backend and Slurm both keep a job's output as one file per task on a filesystem
this process can read. An array job's text is prefixed ``[task N]`` line by line, so the
tasks' interleaved output stays attributable.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import ClassVar

__all__ = ["TaskLogFiles", "follow_task_logs", "read_task_logs"]


def read_task_logs(files: Sequence[Path]) -> str:
    """The text of every task's log, in task order (a missing file reads as empty)."""
    parts = []
    for i, path in enumerate(files):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            text = ""
        if len(files) > 1:
            text = "".join(f"[task {i}] {line}" for line in text.splitlines(keepends=True))
        parts.append(text)
    return "".join(parts)


def follow_task_logs(
    files: Sequence[Path], ended: Callable[[], bool], *, interval: float
) -> Iterator[str]:
    """Yield what the task logs gain, until ``ended`` says the job has ended.

    ``ended`` is asked before each read, so the read after it said yes is the complete rest.
    """
    offsets = [0] * len(files)

    def drain() -> Iterator[str]:
        for i, path in enumerate(files):
            try:
                with open(path, "rb") as f:
                    f.seek(offsets[i])
                    data = f.read()
            except FileNotFoundError:
                continue
            if data:
                offsets[i] += len(data)
                yield data.decode(errors="replace")

    while True:
        done = ended()
        yield from drain()
        if done:
            return
        time.sleep(interval)


class TaskLogFiles:
    """The log reads of a driver that keeps one log file per task.

    A driver mixes it in and says where a job's files are (``_log_files``, task order) and
    whether the job has ended (``_log_ended``); it gets the merged log and each task's own.
    """

    #: Seconds between two reads of a followed log.
    follow_interval: ClassVar[float] = 0.2

    def _log_files(self, job_id: str) -> list[Path]:
        raise NotImplementedError

    def _log_ended(self, job_id: str) -> bool:
        raise NotImplementedError

    def logs(self, job_id: str) -> str:
        """Every task's output, prefixed ``[task N]`` for arrays."""
        return read_task_logs(self._log_files(job_id))

    def follow_logs(self, job_id: str) -> Iterator[str]:
        """What every task's log gains, until the job ends."""
        return self._follow(job_id, self._log_files(job_id))

    def task_logs(self, job_id: str, task: int) -> str:
        """Task ``task``'s output, unprefixed."""
        return read_task_logs(self._log_files(job_id)[task : task + 1])

    def follow_task_logs(self, job_id: str, task: int) -> Iterator[str]:
        """What task ``task``'s log gains, until the job ends."""
        return self._follow(job_id, self._log_files(job_id)[task : task + 1])

    def _follow(self, job_id: str, files: list[Path]) -> Iterator[str]:
        return follow_task_logs(
            files, lambda: self._log_ended(job_id), interval=self.follow_interval
        )
