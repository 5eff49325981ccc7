"""Getting credentials to the tasks of a sharded migration without writing them down.

Tasks use the credentials their cluster gives its workers (the workers' environment). Where
the user names variables to forward (``--forward-env AWS_PROFILE,...``), their values must reach
the tasks without being written into a job spec on disk, a journal, a log or a receipt
(docs/decisions/0011-sharded-migration-credentials.md):

- ``local://`` and ``slurm://`` pass the submitting process's environment on to every task
  (the local supervisor inherits it; the Slurm provider submits with ``sbatch --export=ALL``),
  so a named variable only has to be set here: nothing is written.
- ``ray://`` tasks start from the Ray workers' environment, and the job's ``runtime_env``
  is stored by the Ray head and shown by its dashboard. The values go instead into a 0600 file
  in a private directory of this machine, whose path (not its contents) is passed to the
  tasks; it is deleted when the job ends. That needs the Ray workers on this machine, which is
  checked; a remote cluster must give its workers the credentials itself.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from portacloud.errors import FailedPreconditionError, InvalidArgumentError

__all__ = ["forwarded_values", "load_forwarded", "masked", "write_forward_file"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def forwarded_values(names: Iterable[str]) -> dict[str, str]:
    """The current values of the variables to forward.

    Raises:
        InvalidArgumentError: A name is not a variable name, or the variable is not set.
    """
    values: dict[str, str] = {}
    for name in names:
        if not _NAME.match(name):
            raise InvalidArgumentError(f"--forward-env: {name!r} is not a variable name")
        if name not in os.environ:
            raise InvalidArgumentError(
                f"--forward-env: {name} is not set in this environment, so there is nothing "
                "to forward",
                operation="migrate",
            )
        values[name] = os.environ[name]
    return values


def masked(values: Mapping[str, str]) -> dict[str, str]:
    """The forwarded variables as shown to people: every value ``***``."""
    return dict.fromkeys(values, "***")


def write_forward_file(values: Mapping[str, str], on: str, directory: Path) -> Path | None:
    """Where the tasks of ``on`` read forwarded values from, or ``None`` if they inherit them.

    Args:
        values: The variables to forward.
        on: The queue URL.
        directory: A private directory of this machine for the file.

    Raises:
        FailedPreconditionError: The queue runs its tasks elsewhere and cannot inherit.
    """
    scheme = urlsplit(on).scheme
    if not values or scheme in ("local", "slurm"):
        return None
    host = urlsplit(on).hostname or ""
    if scheme != "ray" or host not in ("127.0.0.1", "localhost", "::1"):
        raise FailedPreconditionError(
            f"--forward-env cannot reach the workers of {on} without writing the values into "
            "the job; give the cluster's workers the credentials in their environment instead",
            operation="migrate",
        )
    path = directory / f"forward-{uuid.uuid4().hex}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(dict(values), out)
    return path


def load_forwarded(path: str) -> None:
    """Put the forwarded variables of ``path`` into this process's environment.

    Raises:
        FailedPreconditionError: The file is gone (the coordinating command removed it when
            its job ended) or unreadable.
    """
    try:
        with open(path, encoding="utf-8") as f:
            values = json.load(f)
    except (OSError, ValueError) as exc:
        raise FailedPreconditionError(
            f"cannot read the forwarded environment {path}: {exc}", operation="migrate"
        ) from None
    os.environ.update({str(k): str(v) for k, v in values.items()})
