"""Shipping a job's ``workdir`` to Ray as the job's ``runtime_env`` ``working_dir``.

Ray zips a local ``working_dir`` at submit and uploads it to the cluster (its GCS), where
every node that runs the job unpacks it; the runner then gives each task its own copy. Ray's
zip follows links and applies ``.gitignore``/``.rayignore`` files its own way, so what Ray
receives is a staged copy of exactly what portacloud ships (``portacloud.jobs.workdir``):
links already resolved inside the workdir or left out, ignore files already applied and
therefore left out of the copy.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from portacloud.jobs.workdir import scan_workdir, stage_workdir

__all__ = ["MAX_WORKDIR_MB", "staged_working_dir"]

#: Ray refuses a package over its gRPC message bound (512 MiB unless the cluster's
#: ``RAY_max_grpc_message_size`` says otherwise); a little is kept for the zip's overhead.
MAX_WORKDIR_MB = 500
#: Ignore files Ray would apply again, in its own reading of them.
_APPLIED = (".gitignore", ".rayignore")


class _HasWorkdir(Protocol):
    """A job or service spec: what is shipped is its ``workdir``."""

    @property
    def workdir(self) -> str | None: ...


@contextmanager
def staged_working_dir(spec: _HasWorkdir) -> Iterator[dict[str, str]]:
    """The ``runtime_env`` entries that ship ``spec.workdir``, valid while the block runs.

    Yields ``{}`` for a spec without a workdir. The staged copy is removed on exit, once the
    submit (which uploads it) has returned.
    """
    if spec.workdir is None:
        yield {}
        return
    staging = Path(tempfile.mkdtemp(prefix="portacloud-ray-workdir-"))
    try:
        target = staging / "workdir"
        stage_workdir(scan_workdir(spec.workdir), target, links="inside-files")
        for name in _APPLIED:
            for path in target.rglob(name):
                if path.is_file():
                    path.unlink()
        yield {"working_dir": str(target)}
    finally:
        shutil.rmtree(staging, ignore_errors=True)
