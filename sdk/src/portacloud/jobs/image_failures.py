"""Reading an image task's exit: the code podman reserves for "could not pull or start"."""

from __future__ import annotations

from portacloud.jobs.containers import INFRA_EXIT_CODE
from portacloud.jobs.models import JobReason

__all__ = ["image_failure", "image_reason"]


def image_reason(
    image: str | None, reason: JobReason | None, exit_code: int | None
) -> JobReason | None:
    """``reason``, or INFRA_ERROR where a task's USER_ERROR was its image failing to start
    (a task's reason, beside the job's message from :func:`image_failure`)."""
    if reason is JobReason.USER_ERROR and image_failure(image, exit_code) is not None:
        return JobReason.INFRA_ERROR
    return reason


def image_failure(image: str | None, exit_code: int | None) -> str | None:
    """Why an image task that exited ``exit_code`` failed for want of its image, or ``None``.

    Args:
        image: The spec's image (``None`` for a plain command, which never has this failure).
        exit_code: The task's exit code.
    """
    if image is None or exit_code != INFRA_EXIT_CODE:
        return None
    return (
        f"image {image}: podman could not pull or start it (exit {INFRA_EXIT_CODE}); "
        "the job's log has podman's message"
    )
