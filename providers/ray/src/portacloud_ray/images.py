"""Image jobs on Ray: the entrypoint runs podman itself (docs/decisions/0008-container-jobs.md).

Ray's own ``runtime_env.image_uri`` would start the Ray worker inside the image, which then
needs Ray, and the very Python the cluster runs, inside it. Wrapping the command in
:func:`portacloud.jobs.containers.container_command` needs nothing inside the image, and the
runner keeps enforcing timeouts, retries and arrays around it as for a plain command.
"""

from __future__ import annotations

import os

from portacloud.jobs.containers import container_command, task_argv
from portacloud.jobs.models import JobSpec

__all__ = ["PODMAN_CONFIG", "image_entrypoint"]

#: Podman's configuration variables, passed on from the submitter as ``sbatch --export=ALL``
#: passes them on Slurm; the wrapper ignores any that names a file the node lacks.
PODMAN_CONFIG = ("CONTAINERS_CONF", "CONTAINERS_REGISTRIES_CONF")


def image_entrypoint(spec: JobSpec, *, output_uri: str) -> tuple[list[str], dict[str, str]]:
    """The argv the runner runs for ``spec``, and the variables an image job adds to it."""
    if spec.image is None:
        return task_argv(spec.command), {}
    argv = container_command(
        spec.image,
        spec.command,
        env_names=spec.env,
        output_uri=output_uri,
        timeout=spec.timeout,
    )
    return argv, {name: os.environ[name] for name in PODMAN_CONFIG if os.environ.get(name)}
