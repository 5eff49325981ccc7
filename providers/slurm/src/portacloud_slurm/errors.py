"""The one table that turns Slurm client failures into portacloud errors.

The driver runs Slurm's own commands (sbatch, squeue, scontrol, sacct, scancel, sinfo). They
report failures as an exit status and a line on stderr (``sbatch: error: Batch job submission
failed: Invalid partition name specified``), so the native exception is
:class:`SlurmCommandError`, carrying both, and this module decides what it means:

1. the exception's class (a missing client, a command that hung, a file the state directory
   would not let us touch);
2. the first stderr pattern of :data:`RULES` that matches, each with a
   :class:`~portacloud.providerkit.ErrorRule` (whose ``reason`` is a hint added to Slurm's
   words);
3. whatever is left is UNKNOWN, with the command's own words.

Messages keep Slurm's wording (stripped of the ``sbatch: error:`` prefixes and scrubbed by
:func:`~portacloud.providerkit.scrub`) so a user can search for it. The native exception stays
reachable as ``__cause__``.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence

from portacloud import errors as pe
from portacloud.providerkit import ErrorRule, scrub

__all__ = [
    "INSTALL_HINT",
    "MAYBE_APPLIED",
    "RULES",
    "UNSATISFIABLE",
    "SlurmClientMissingError",
    "SlurmCommandError",
    "map_slurm_error",
]

INSTALL_HINT = (
    "install Slurm's client tools (Debian/Ubuntu: apt-get install slurm-client; "
    "RHEL/Rocky: dnf install slurm) or load the cluster's Slurm module, so that sbatch, "
    "squeue, scontrol, sacct and scancel are on PATH"
)
_MESSAGE_MAX = 400
#: sbatch's ways of saying that no node of the partition can ever run the request.
UNSATISFIABLE = re.compile(
    r"Requested node configuration is not available"
    r"|Memory specification can not be satisfied"
    r"|More processors requested than permitted"
    r"|Node count specification invalid"
    r"|Invalid generic resource \(gres\) specification"
    r"|Invalid Trackable RESource \(TRES\) specification",
    re.IGNORECASE,
)
#: Transport failures after which the controller may have acted on the request all the same
#: (an answer lost on the way back), unlike a refused connection.
MAYBE_APPLIED = re.compile(
    r"Socket timed out|Zero Bytes were transmitted or received"
    r"|Communication connection failure|Transport endpoint is not connected",
    re.IGNORECASE,
)
_NOISE = re.compile(
    r"^(?:[\w.-]+:? )?(?:error|fatal): (?:Batch job submission failed: )?", re.MULTILINE
)


class SlurmCommandError(Exception):
    """A Slurm client command failed.

    Attributes:
        argv: The command line that was run.
        command: The command's name (``sbatch``...).
        returncode: Its exit status.
        stderr: What it wrote on stderr.
    """

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        self.argv = tuple(argv)
        self.command = os.path.basename(self.argv[0]) if self.argv else "slurm"
        self.returncode = returncode
        self.stderr = stderr.strip()
        super().__init__(f"{self.command} exited with status {returncode}: {self.stderr}")

    @property
    def detail(self) -> str:
        """Slurm's own explanation: stderr without the ``cmd: error:`` prefixes."""
        lines = [_NOISE.sub("", line).strip() for line in self.stderr.splitlines()]
        text = "; ".join(dict.fromkeys(line for line in lines if line))
        return scrub(text, max_chars=_MESSAGE_MAX) or f"exit status {self.returncode}"


class SlurmClientMissingError(SlurmCommandError):
    """A Slurm client command is not installed (not on PATH)."""

    def __init__(self, argv: Sequence[str]) -> None:
        super().__init__(argv, 127, f"{os.path.basename(argv[0])}: command not found")


def _rule(
    pattern: str | re.Pattern[str],
    error: type[pe.PortaCloudError],
    retryable: bool | None = None,
    hint: str = "",
) -> tuple[re.Pattern[str], ErrorRule]:
    compiled = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern, re.IGNORECASE)
    return compiled, ErrorRule(error, retryable, hint)


# First match wins, so the specific phrases come before the general ones.
RULES: tuple[tuple[re.Pattern[str], ErrorRule], ...] = (
    # A request no node of the partition can ever satisfy: refused at submit, never retried.
    _rule(
        UNSATISFIABLE,
        pe.InvalidArgumentError,
        False,
        "no node of this partition can ever satisfy the request",
    ),
    _rule(
        r"Requested time limit is invalid|Invalid job array specification"
        r"|Job array index too large|Invalid qos specification|Invalid dependency",
        pe.InvalidArgumentError,
        False,
    ),
    _rule(r"Invalid partition name specified|invalid partition specified", pe.NotFoundError),
    _rule(r"Partition \S+ not found", pe.NotFoundError),
    _rule(r"Invalid job id specified|Invalid job id\b|Job \S+ not found", pe.NotFoundError),
    # Quotas: waiting (for jobs to finish) can make the same submission succeed.
    _rule(
        r"Job violates accounting/QOS policy|QOSMax\w+|AssocMax\w+|Job submit limit"
        r"|Job is no longer pending execution|Reached maximum number of jobs",
        pe.ResourceExhaustedError,
        True,
    ),
    _rule(
        r"Invalid account or account/partition combination|Invalid user id"
        r"|Access/permission denied|Access denied|Permission denied|User not found on host",
        pe.PermissionDeniedError,
        False,
    ),
    _rule(
        r"Munge (?:en|de)code failed|Invalid authentication credential"
        r"|Protocol authentication error|Authentication failure|Unable to contact munge",
        pe.UnauthenticatedError,
        False,
        "check that munged runs and shares the cluster's key",
    ),
    # The controller is down, restarting or busy: the same call may succeed later.
    _rule(
        r"Unable to contact slurm controller|Connection refused|Socket timed out"
        r"|Zero Bytes were transmitted or received|Communication connection failure"
        r"|backup controller in standby mode|Resource temporarily unavailable"
        r"|temporarily unable to accept job|Unable to establish controller machine"
        r"|Transport endpoint is not connected",
        pe.UnavailableError,
        True,
    ),
    _rule(
        r"Could not establish a configuration source|Unable to process configuration file"
        r"|cannot stat file .*slurm\.conf",
        pe.UnavailableError,
        False,
        "point SLURM_CONF (or the conf= option) at the cluster's slurm.conf",
    ),
    _rule(
        r"already completing or completed|Job has already finished|Job is not running",
        pe.FailedPreconditionError,
        False,
    ),
    _rule(
        r"accounting storage is disabled|Job accounting is not enabled"
        r"|jobcomp plugin .* not|slurmdbd",
        pe.UnsupportedError,
        False,
    ),
)


def _from_class(exc: Exception) -> pe.PortaCloudError | None:
    """Failures recognised by the exception's type alone."""
    if isinstance(exc, SlurmClientMissingError):
        return pe.UnsupportedError(f"'{exc.command}' was not found: {INSTALL_HINT}")
    if isinstance(exc, subprocess.TimeoutExpired):
        cmd = exc.cmd[0] if isinstance(exc.cmd, list | tuple) and exc.cmd else exc.cmd
        return pe.UnavailableError(
            f"{os.path.basename(str(cmd))} did not answer within {exc.timeout:g} s "
            "(is slurmctld overloaded or unreachable?)",
            retryable=True,
        )
    if isinstance(exc, PermissionError):
        return pe.PermissionDeniedError(f"{exc.strerror or exc}: {exc.filename}")
    if isinstance(exc, TimeoutError):
        return pe.DeadlineExceededError(str(exc) or "timed out")
    return None


def map_slurm_error(exc: Exception) -> pe.PortaCloudError | None:
    """Translate a native failure of the Slurm driver, or return ``None`` if it is not one.

    Args:
        exc: A :class:`SlurmCommandError`, ``subprocess.TimeoutExpired`` or ``OSError`` the
            driver let through.

    Returns:
        The portacloud error (the caller chains ``exc`` as its ``__cause__``), or ``None``.
    """
    by_class = _from_class(exc)
    if by_class is not None:
        return by_class
    if not isinstance(exc, SlurmCommandError):
        return None
    for pattern, rule in RULES:
        if pattern.search(exc.stderr):
            hint = f" ({rule.reason})" if rule.reason else ""
            return rule.build(f"{exc.command}: {exc.detail}{hint}", max_chars=2 * _MESSAGE_MAX)
    return pe.UnknownError(f"{exc.command} failed: {exc.detail}")
