"""``ray://host:dashboard_port``: portable jobs on a Ray cluster through its Jobs REST API.

Each portable job is one Ray job whose ``submission_id`` is the portable id
(``<name>-<hex>``). Its entrypoint is :mod:`portacloud_ray.runner` wrapping the user's command:
the runner enforces timeouts, retries and arrays (Ray Jobs have none of them) and writes marker
lines into the job log, from which :meth:`RayJobDriver.status` reads attempts, exit codes and
reasons back; :mod:`portacloud_ray.states` maps everything onto portable states in one table.
The runner is shipped with every job (``runtime_env.py_modules``), so the cluster needs Python
and Ray only.

Ray itself is imported when a queue is opened, never when this module is.

Deadlines and retries (docs/decisions/0007-jobs-and-compute-retries.md): every HTTP request to
the dashboard carries ``request_timeout`` (Ray's client sets none). A submission is retried
under the policy given to ``open_jobs`` with the same ``submission_id``, which Ray refuses to
run twice: after a try whose answer was lost, "already exists" with this submission's nonce
means the first try created the job. Status reads are retried by the portable queue, and by
this driver between the polls of ``follow_logs``, under the same policy.
"""

from __future__ import annotations

import builtins
import json
import logging
import secrets
import shlex
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import SplitResult

from pydantic import BeforeValidator, Field

import portacloud_ray
from portacloud.errors import (
    AlreadyExistsError,
    InvalidArgumentError,
    NotFoundError,
    PortaCloudError,
    ResourceExhaustedError,
    guarded_call,
)
from portacloud.home import portacloud_home
from portacloud.jobs.containers import container_runtimes
from portacloud.jobs.models import JobCapabilities, JobSpec, JobStatus
from portacloud.providerkit import ProviderOptions, parse_options
from portacloud.retry import RetryPolicy, call_with_retry
from portacloud_ray.capacity import GIB, Node, never_fits, read_nodes
from portacloud_ray.errors import map_ray_error
from portacloud_ray.images import image_entrypoint
from portacloud_ray.runner import CONFIG_ENV
from portacloud_ray.states import RayStatus
from portacloud_ray.status import (
    META_GPUS,
    META_IMAGE,
    META_NAME,
    META_NONCE,
    META_OUTPUT_URI,
    META_RETRIES,
    META_TASKS,
    META_TIMEOUT,
    CancelRecord,
    is_portacloud_job,
    parse_job_log,
    status_from_ray,
)
from portacloud_ray.workdir import MAX_WORKDIR_MB, staged_working_dir

if TYPE_CHECKING:
    from ray.job_submission import JobDetails, JobSubmissionClient

    from portacloud.services.driver import ServiceDriver

__all__ = ["RayJobDriver", "RayJobsProvider", "RayOptions", "provider"]

_DEFAULT_PORT = 8265
_DEFAULT_REQUEST_TIMEOUT = 60.0
_TERMINAL_CACHE = 4096
_FOLLOW_MIN, _FOLLOW_MAX = 0.2, 1.0
#: Ray loggers that narrate every submit at INFO ("Uploading package...", "already exists,
#: skipping upload") on the caller's stderr.
_CHATTY_LOGGERS = ("ray.dashboard.modules.dashboard_sdk", "ray._private.runtime_env.packaging")

_CAPABILITIES = JobCapabilities(
    workdir=True,
    max_workdir_mb=MAX_WORKDIR_MB,
    task_logs=True,
    notes=(
        "timeouts, retries and arrays are enforced by portacloud_ray.runner inside the Ray job",
        "array tasks run one after another inside one Ray job, each with all of its GPUs",
        "CPUs and memory are Ray logical resources (entrypoint_num_cpus/entrypoint_memory): "
        "reserved for scheduling, not enforced as limits; disk_gb and spot are not used",
        "a job cancelled before Ray placed it is recorded as cancelled on the cancelling "
        "machine; Ray keeps it PENDING until it can place it and stops it then",
        "logs are the driver's stdout and stderr in one stream, as Ray stores them "
        "(carriage returns become newlines)",
        "images run with podman started by the job's entrypoint, not runtime_env image_uri "
        "(docs/decisions/0008-container-jobs.md); the runtime is looked for on the "
        "submitting machine's PATH, the nodes must have it too",
        "workdir ships as runtime_env working_dir: links to files inside it ship as those "
        "files, other links, .gitignore/.rayignore files and __pycache__ are left out",
    ),
)


def _flag(value: object) -> object:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("true", "false", "1", "0"):
        raise ValueError(f"must be true or false, not {value!r}")
    return text in ("true", "1")


class RayOptions(ProviderOptions):
    """The options of ``ray://`` queues (URL query or keywords).

    Attributes:
        python: The interpreter that runs the runner on the cluster (default ``python``,
            found on the PATH of Ray's processes).
        tls: Talk HTTPS to the dashboard.
        request_timeout: Seconds one request to the dashboard may take.
    """

    python: str | None = None
    tls: Annotated[bool, BeforeValidator(_flag)] = False
    request_timeout: float = Field(default=_DEFAULT_REQUEST_TIMEOUT, gt=0, le=3600)


class _CancelLog:
    """Cancellations portacloud asked for, kept on disk so other processes here see them.

    Ray cannot cancel a job it has not placed: ``stop_job`` leaves it PENDING (and
    ``delete_job`` refuses it) until the driver is placed, when Ray runs and stops it at once,
    or until RAY_JOB_START_TIMEOUT_SECONDS fails it. The record lets ``status`` say CANCELLED
    from the moment of the cancel.
    """

    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, job_id: str) -> Path:
        return self._root / f"{job_id}.json"

    def record(self, job_id: str, *, before_start: bool) -> None:
        self._root.mkdir(parents=True, exist_ok=True)
        path = self._path(job_id)
        tmp = path.with_suffix(f".{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_text(json.dumps({"before_start": before_start, "at": time.time()}))
        tmp.replace(path)

    def get(self, job_id: str) -> CancelRecord | None:
        try:
            data = json.loads(self._path(job_id).read_text())
        except (OSError, ValueError):
            return None
        return CancelRecord(
            before_start=bool(data.get("before_start")), at=float(data.get("at", 0))
        )


def runner_entrypoint(python: str, argv: Sequence[str]) -> str:
    """The shell command Ray runs: the runner, ``exec``'d in place of Ray's ``sh -c``.

    Ray stops a job by signalling the entrypoint's process and the children it has at that
    instant. Without ``exec``, a stop that comes as the job is placed (a job cancelled while
    PENDING) could kill the shell before it forked the runner, and the orphaned runner would
    run the command anyway.
    """
    return f"exec {shlex.quote(python)} -m portacloud_ray.runner -- {shlex.join(argv)}"


class RayJobDriver:
    """Runs portable jobs as Ray jobs, each wrapped in :mod:`portacloud_ray.runner`."""

    provider = "ray"

    def __init__(
        self,
        client: JobSubmissionClient,
        *,
        address: str,
        python: str,
        state_dir: Path,
        request_timeout: float = _DEFAULT_REQUEST_TIMEOUT,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._client = client
        self._retry = retry or RetryPolicy()
        self._address = address
        self._request_timeout = request_timeout
        self._python = python
        self._cancels = _CancelLog(state_dir / "cancelled")
        self._terminal: OrderedDict[str, JobStatus] = OrderedDict()
        self._lock = threading.Lock()
        self._nodes = self._read_nodes()
        self.capabilities = self._capabilities()

    # -- capacity ----------------------------------------------------------------------------

    def _read_nodes(self) -> list[Node]:
        return read_nodes(self._address, timeout=self._request_timeout)

    def _capabilities(self) -> JobCapabilities:
        most = max((int(n.gpus) for n in self._nodes), default=0)
        runtimes = container_runtimes()
        return _CAPABILITIES.model_copy(
            update={
                "max_gpus_per_job": most,
                "images": bool(runtimes),
                "container_runtimes": runtimes,
            }
        )

    def _never_fits(self, spec: JobSpec) -> str | None:
        """Why no node of the cluster could ever hold the job's entrypoint, or ``None``."""
        return never_fits(self._nodes, spec.resources)

    # -- submit ------------------------------------------------------------------------------

    def submit(self, spec: JobSpec, *, env: Mapping[str, str], output_uri: str) -> str:
        why = self._never_fits(spec)
        if why is not None:
            # The cluster may have grown (autoscaling) since the queue was opened.
            self._nodes = self._read_nodes()
            self.capabilities = self._capabilities()
            why = self._never_fits(spec)
        if why is not None:
            raise ResourceExhaustedError(why, retryable=False)
        job_id = f"{spec.name}-{uuid.uuid4().hex[:10]}"
        nonce = secrets.token_hex(8)
        argv, image_env = image_entrypoint(spec, output_uri=output_uri)
        config = {
            "job_id": job_id,
            "nonce": nonce,
            "tasks": spec.tasks,
            "retries": spec.retries,
            "timeout": spec.timeout,
            "gpus": spec.resources.gpu_count,
            # Ray starts the runner in the unpacked working_dir; "." is that copy.
            "workdir": "." if spec.workdir is not None else None,
        }
        entrypoint = runner_entrypoint(self._python, argv)
        runtime_env: dict[str, Any] = {
            "env_vars": {
                **image_env,
                **env,
                "PORTACLOUD_JOB_ID": job_id,
                "PORTACLOUD_TASK_INDEX": "0",
                CONFIG_ENV: json.dumps(config),
            },
            # The runner travels with the job, so its marker format always matches this driver.
            "py_modules": [str(Path(portacloud_ray.__file__).parent)],
            "excludes": ["__pycache__"],
        }
        metadata = {
            META_NAME: spec.name,
            META_OUTPUT_URI: output_uri,
            META_RETRIES: str(spec.retries),
            META_TIMEOUT: "" if spec.timeout is None else f"{spec.timeout:g}",
            META_TASKS: str(spec.tasks),
            META_GPUS: str(spec.resources.gpu_count),
            META_NONCE: nonce,
            **({META_IMAGE: spec.image} if spec.image else {}),
        }
        res = spec.resources
        with staged_working_dir(spec) as shipped:  # Ray uploads it during the submit
            self._submit_job(
                job_id,
                nonce,
                entrypoint=entrypoint,
                runtime_env={**runtime_env, **shipped},
                metadata=metadata,
                entrypoint_num_gpus=res.gpu_count or None,
                entrypoint_num_cpus=res.cpus,
                entrypoint_memory=int(res.memory_gb * GIB) if res.memory_gb else None,
            )
        return job_id

    def _submit_job(self, job_id: str, nonce: str, **request: Any) -> None:
        """Submit under the opener's policy, safely: the submission id is the idempotency key.

        A try whose answer was lost may have created the job; the next try then hears that the
        id already exists, and the job's nonce tells whether it is this very submission (done)
        or another one's (the error stands).
        """
        maybe_applied = False

        def once() -> None:
            nonlocal maybe_applied
            try:
                guarded_call(
                    lambda: self._client.submit_job(submission_id=job_id, **request),
                    map_error=map_ray_error,
                    provider=self.provider,
                    operation="submit",
                    resource=job_id,
                )
            except AlreadyExistsError:
                if not (maybe_applied and self._nonce_of(job_id) == nonce):
                    raise
            except PortaCloudError as exc:
                maybe_applied = maybe_applied or exc.retryable
                raise

        call_with_retry(self._retry, once)

    def _nonce_of(self, job_id: str) -> str | None:
        details = self._client.get_job_info(job_id)
        return (details.metadata or {}).get(META_NONCE)

    # -- status ------------------------------------------------------------------------------

    def status(self, job_id: str) -> JobStatus:
        # Job info is asked for every time (a deleted job is NOT_FOUND); the log only until
        # the job has ended.
        details = self._client.get_job_info(job_id)
        with self._lock:
            cached = self._terminal.get(job_id)
        if cached is not None:
            return cached
        raw = self._client.get_job_logs(job_id) if is_portacloud_job(details) else ""
        return self._status_from(details, raw)

    def _status_from(self, details: JobDetails, raw: str) -> JobStatus:
        job_id = details.submission_id or details.job_id or ""
        status = status_from_ray(details, raw, cancel=self._cancels.get(job_id))
        if status.state.terminal and RayStatus(str(details.status.value)).terminal:
            # Neither Ray's state nor the log changes any more: later calls skip the log.
            with self._lock:
                self._terminal[job_id] = status
                while len(self._terminal) > _TERMINAL_CACHE:
                    self._terminal.popitem(last=False)
        return status

    def list(self) -> builtins.list[JobStatus]:
        jobs = [j for j in self._client.list_jobs() if is_portacloud_job(j)]
        jobs.sort(key=lambda j: j.start_time or 0, reverse=True)
        found = []
        for details in jobs:
            job_id = details.submission_id or ""
            with self._lock:
                cached = self._terminal.get(job_id)
            if cached is not None:
                found.append(cached)
                continue
            try:
                raw = self._client.get_job_logs(job_id)
            except RuntimeError as exc:
                if isinstance(map_ray_error(exc), NotFoundError):
                    continue  # deleted between the listing and now
                raise
            found.append(self._status_from(details, raw))
        return found

    # -- logs --------------------------------------------------------------------------------

    @staticmethod
    def _visible(details: JobDetails, raw: str, *, complete: bool, task: int | None) -> str:
        """The user's output in a job log (``task``: that task's only): all of it
        (``complete``), or the part that stays the same as the log grows."""
        if not is_portacloud_job(details):
            return raw
        parsed = parse_job_log(details, raw, task=task)
        if not parsed.began:
            # Ray's own lines only, or, once Ray gave up on the job, why the runner never ran.
            return parsed.preamble if RayStatus(str(details.status.value)).terminal else ""
        return parsed.text + parsed.tail if complete else parsed.text

    def logs(self, job_id: str) -> str:
        return self.task_logs(job_id, None)

    def task_logs(self, job_id: str, task: int | None) -> str:
        details = self._client.get_job_info(job_id)
        raw = self._client.get_job_logs(job_id)
        return self._visible(details, raw, complete=True, task=task)

    def _poll(self, job_id: str) -> tuple[JobDetails, str]:
        """The job's info, then its log: one poll of ``follow_logs``.

        The portable queue cannot retry inside a generator, so this driver owns these reads,
        under the opener's policy.
        """

        def read() -> tuple[JobDetails, str]:
            return guarded_call(
                lambda: (self._client.get_job_info(job_id), self._client.get_job_logs(job_id)),
                map_error=map_ray_error,
                provider=self.provider,
                operation="logs",
                resource=job_id,
            )

        return call_with_retry(self._retry, read)

    def follow_logs(self, job_id: str) -> Iterator[str]:
        return self.follow_task_logs(job_id, None)

    def follow_task_logs(self, job_id: str, task: int | None) -> Iterator[str]:
        emitted = 0
        delay = _FOLLOW_MIN
        while True:
            # Status first: once it says the job ended, the log read after it is complete.
            details, raw = self._poll(job_id)
            ended = self._status_from(details, raw).state.terminal
            text = self._visible(details, raw, complete=ended, task=task)
            if len(text) > emitted:
                yield text[emitted:]
                emitted = len(text)
                delay = _FOLLOW_MIN
            if ended:
                return
            time.sleep(delay)
            delay = min(delay * 1.5, _FOLLOW_MAX)

    # -- cancel ------------------------------------------------------------------------------

    def cancel(self, job_id: str) -> None:
        status = self._client.get_job_status(job_id)
        ray_status = RayStatus(str(status.value))
        if ray_status not in (RayStatus.PENDING, RayStatus.RUNNING):
            return
        if self._cancels.get(job_id) is None:
            self._cancels.record(job_id, before_start=ray_status is RayStatus.PENDING)
        # Ray stops a RUNNING job's whole process tree (TERM, KILL after 3 s); for a PENDING
        # one the stop waits in the supervisor's queue and takes effect once Ray places it.
        self._client.stop_job(job_id)

    # -- plumbing ----------------------------------------------------------------------------

    def map_error(self, exc: Exception) -> PortaCloudError | None:
        return map_ray_error(exc)

    def native(self) -> object | None:
        return self._client

    def close(self) -> None:
        """Nothing to release: the client holds no connection between requests."""


def _state_dir(netloc: str) -> Path:
    safe = "".join(c if c.isalnum() or c in ".-" else "_" for c in netloc)
    return portacloud_home() / "ray" / safe


class RayJobsProvider:
    """Opens ``ray://host[:dashboard_port]?python=INTERPRETER&tls=false`` job queues and
    ``ray://host[:dashboard_port]?serve_port=8000`` services."""

    def open_jobs(
        self,
        url: SplitResult,
        options: Mapping[str, Any],
        *,
        retry: RetryPolicy | None = None,
    ) -> RayJobDriver:
        """Connect to the Ray dashboard the URL names and read the cluster's size.

        Args:
            url: ``ray://host:port``: the dashboard's address (default port 8265).
            options: See :class:`RayOptions`.
            retry: The policy of this driver's own retries (reads while following logs).

        Raises:
            InvalidArgumentError: the URL or an option is malformed.
            UnavailableError: the dashboard does not answer.
        """
        opts = parse_options(RayOptions, "ray", options)
        _, address = dashboard_address(url, tls=opts.tls)
        timeout = opts.request_timeout
        return guarded_call(
            lambda: RayJobDriver(
                bounded_client(address, timeout=timeout),
                address=address,
                python=opts.python or "python",
                state_dir=_state_dir(address.split("://", 1)[1]),
                request_timeout=timeout,
                retry=retry,
            ),
            map_error=map_ray_error,
            provider="ray",
            operation="open_jobs",
            resource=address,
        )

    def open_services(
        self,
        url: SplitResult,
        options: Mapping[str, Any],
        *,
        retry: RetryPolicy | None = None,
    ) -> ServiceDriver:
        """Open ``ray://host[:dashboard_port]?serve_port=8000``: services on Ray Serve.

        Args:
            url: ``ray://host:port``: the dashboard's address (default port 8265).
            options: See :class:`portacloud_ray.services.RayServicesOptions`.
            retry: The policy of the driver's own retries (reads while following logs).

        Raises:
            InvalidArgumentError: the URL or an option is malformed.
            UnavailableError: the dashboard does not answer.
        """
        from portacloud_ray.services import open_ray_services

        return open_ray_services(url, options, retry=retry)


def dashboard_address(url: SplitResult, *, tls: bool) -> tuple[str, str]:
    """The host (bracketed if IPv6) and the ``http(s)://host:port`` of the dashboard ``url``
    names (``ray://host[:port]``, port 8265 by default)."""
    if url.path not in ("", "/") or not url.hostname:
        raise InvalidArgumentError("ray:// URLs are ray://HOST:DASHBOARD_PORT")
    try:
        port = url.port or _DEFAULT_PORT
    except ValueError:
        raise InvalidArgumentError(f"malformed port in {url.netloc!r}") from None
    host = f"[{url.hostname}]" if ":" in url.hostname else url.hostname
    return host, f"{'https' if tls else 'http'}://{host}:{port}"


def bounded_client(address: str, *, timeout: float) -> JobSubmissionClient:
    """Ray's Jobs client, with a bound on every HTTP request (Ray's own sets none, so a
    dashboard that stops answering would hang every call)."""
    from ray.job_submission import JobSubmissionClient

    # After the import: Ray's modules set their loggers' levels when they are imported.
    for name in _CHATTY_LOGGERS:
        chatty = logging.getLogger(name)
        if chatty.level in (logging.NOTSET, logging.INFO):
            chatty.setLevel(logging.WARNING)

    class _BoundedClient(JobSubmissionClient):
        def _do_request(self, method: str, endpoint: str, **kwargs: Any) -> Any:
            kwargs.setdefault("timeout", timeout)
            return super()._do_request(method, endpoint, **kwargs)

    return _BoundedClient(address)


provider = RayJobsProvider()
