"""``ray://host:dashboard_port``: portable services as Ray Serve applications.

Each service is one Serve application (:mod:`portacloud_ray.services_config`) whose replicas
each run the service's command as a subprocess behind a Serve ingress
(:mod:`portacloud_ray.services_replica`); the endpoint is the Serve proxy at
``http://HOST:SERVE_PORT/NAME``. The driver talks only to the dashboard's REST API (the Serve
REST API, the package upload of the Jobs API and the log API), so it works from a machine off
the cluster, and ships the replica code with every application (``runtime_env.py_modules``),
so the cluster needs Ray Serve only.

The Serve REST API deploys the whole set of applications at once: deploy, update, scale and
delete read the applications deployed now, change one and put the set back. Two clients
changing different services of one cluster at the same instant can therefore undo each
other's change; one client at a time is the supported use.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult

from pydantic import Field

import portacloud_ray
from portacloud.errors import (
    AlreadyExistsError,
    DeadlineExceededError,
    FailedPreconditionError,
    NotFoundError,
    PortaCloudError,
    ResourceExhaustedError,
    guarded_call,
)
from portacloud.providerkit import parse_options
from portacloud.retry import RetryPolicy, call_with_retry
from portacloud.services.models import (
    ReplicaStatus,
    ServiceCapabilities,
    ServiceSpec,
    ServiceState,
    ServiceStatus,
)
from portacloud_ray.capacity import never_fits, read_nodes
from portacloud_ray.jobs import RayOptions, bounded_client, dashboard_address
from portacloud_ray.services_config import app_config, spec_version
from portacloud_ray.services_errors import map_service_error
from portacloud_ray.services_logs import list_log_files, read_log_file, tagged
from portacloud_ray.services_replica import DEPLOYMENT
from portacloud_ray.services_states import REPLICA_STATES, service_state
from portacloud_ray.workdir import MAX_WORKDIR_MB, staged_working_dir

if TYPE_CHECKING:
    from ray.job_submission import JobSubmissionClient

__all__ = ["CAPABILITIES", "RayServiceDriver", "RayServicesOptions", "open_ray_services"]

_APPS = "/api/serve/applications/"
_DEFAULT_SERVE_PORT = 8000
_DELETE_TIMEOUT_S = 90.0
#: Serve names each replica's actor ``SERVE_REPLICA::APP#DEPLOYMENT#ID``.
_REPLICA_ACTOR = "SERVE_REPLICA::"
_TAKEN_UP_S = 10.0
_FOLLOW_PERIOD_S = 1.0
_REASON_CHARS = 3000
#: How the replica's start-up error begins (services_replica.ServiceReplica._exited).
_COMMAND_EXITED = "the command of service"

CAPABILITIES = ServiceCapabilities(
    gpus=True,
    gpu_types=True,
    autoscaling=True,
    workdir=True,
    endpoint="Ray Serve proxy",
    notes=(
        "each replica is a Serve replica that runs the command as a subprocess and proxies "
        "HTTP to it; the endpoint is http://HOST:SERVE_PORT/NAME on the Serve proxy",
        "readiness gates a replica's first traffic; after that Serve's health check (the "
        "same probe) replaces a replica after 3 failed checks, keeping it in traffic until then",
        "a crash loop before readiness is FAILED after Serve's constructor retries "
        "(3 per replica, at most 20), not after max_start_failures",
        "a crashed replica is a new replica (a new id), so restarts stay 0",
        "CPUs and memory are Ray logical resources of the replica actor, not limits",
        "Serve runs at least 1 replica: scaling to 0 is refused",
        f"workdir ships as runtime_env working_dir (at most {MAX_WORKDIR_MB} MB), the "
        "replicas' working directory",
    ),
)


class RayServiceDriver:
    """Runs portable services as Ray Serve applications, through the dashboard's REST API."""

    provider = "ray"
    capabilities = CAPABILITIES

    def __init__(
        self,
        client: JobSubmissionClient,
        *,
        address: str,
        endpoint_host: str,
        serve_host: str,
        serve_port: int,
        request_timeout: float,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._client = client
        self._address = address
        self._endpoint_host = endpoint_host
        self._http_options = {"host": serve_host, "port": serve_port}
        self._timeout = request_timeout
        self._retry = retry or RetryPolicy()

    # -- the Serve REST API ------------------------------------------------------------------

    def _request(self, method: str, endpoint: str, **kwargs: Any) -> Any:
        return self._client._do_request(method, endpoint, timeout=self._timeout, **kwargs)

    def _details(self) -> dict[str, Any]:
        answer = self._request("GET", _APPS)
        if answer.status_code != 200:
            self._client._raise_error(answer)
        return dict(answer.json())

    def _app(self, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The cluster's Serve details and the application of service ``name``."""
        details = self._details()
        app = (details.get("applications") or {}).get(name)
        if app is None or spec_version(app.get("deployed_app_config") or {}) is None:
            raise NotFoundError(f"no service named {name!r} on {self._address}")
        return details, app

    def _put(self, details: dict[str, Any], name: str, config: dict[str, Any] | None) -> None:
        """Deploy the applications running now with ``name``'s replaced by ``config``
        (removed when ``None``)."""
        apps = []
        for other, app in (details.get("applications") or {}).items():
            deployed = app.get("deployed_app_config")
            if other != name and deployed and app.get("status") != "DELETING":
                apps.append(deployed)
        if config is not None:
            apps.append(config)
        body = {
            "http_options": details.get("http_options") or self._http_options,
            "proxy_location": details.get("proxy_location") or "EveryNode",
            "applications": apps,
        }
        answer = self._request("PUT", _APPS, json_data=body)
        if answer.status_code != 200:
            self._client._raise_error(answer)

    def _runtime_env(self, spec: ServiceSpec) -> dict[str, Any]:
        """The ``runtime_env`` that ships this package (and ``spec.workdir``, as the
        replicas' working directory) to the replicas, uploaded through the dashboard.

        Uploaded at every deploy and update: Ray keeps an unused package a few minutes only,
        and the upload is skipped when the cluster has that very package.
        """
        env: dict[str, Any] = {
            "py_modules": [str(Path(portacloud_ray.__file__).parent)],
            "excludes": ["__pycache__"],
        }
        self._client._upload_py_modules_if_needed(env)
        with staged_working_dir(spec) as shipped:
            if shipped:
                env.update(shipped)
                self._client._upload_working_dir_if_needed(env)
        return env

    # -- deploy, update, scale ---------------------------------------------------------------

    def _check_fits(self, spec: ServiceSpec) -> None:
        why = never_fits(read_nodes(self._address, timeout=self._timeout), spec.resources)
        if why is not None:
            raise ResourceExhaustedError(f"service {spec.name!r} {why}", retryable=False)

    def deploy(self, spec: ServiceSpec) -> ServiceStatus:
        if spec.initial_replicas < 1:
            raise self._no_zero(spec.name)
        self._check_fits(spec)
        details = self._details()
        if spec.name in (details.get("applications") or {}):
            raise AlreadyExistsError(f"a service (Serve application) named {spec.name!r} exists")
        config = app_config(
            spec, version=1, created_at=time.time(), runtime_env=self._runtime_env(spec)
        )
        self._put(details, spec.name, config)
        return self.get(spec.name)

    def update(self, spec: ServiceSpec) -> ServiceStatus:
        if spec.initial_replicas < 1:
            raise self._no_zero(spec.name)
        self._check_fits(spec)
        details, app = self._app(spec.name)
        _, version, created = spec_version(app["deployed_app_config"]) or (spec, 1, 0.0)
        config = app_config(
            spec, version=version + 1, created_at=created, runtime_env=self._runtime_env(spec)
        )
        self._put(details, spec.name, config)
        return self._taken_up(spec.name)

    def _taken_up(self, name: str, replicas: int | None = None) -> ServiceStatus:
        """The status once Serve took the new config up, so that no read after ``update``
        or ``scale`` still sees the old one READY (Serve's control loop acts on a PUT on its
        next round, a fraction of a second later). ``replicas``: the new count of a scale;
        ``None``: an update, taken up once the application is no longer RUNNING and HEALTHY.
        """
        deadline = time.monotonic() + _TAKEN_UP_S
        while True:
            details, app = self._app(name)
            dep = (app.get("deployments") or {}).get(DEPLOYMENT)
            if dep is None or time.monotonic() > deadline:
                return self._status(details, name, app)
            if replicas is None:
                if app.get("status") != "RUNNING" or dep.get("status") != "HEALTHY":
                    return self._status(details, name, app)
            elif int(dep.get("target_num_replicas", -1)) == replicas:
                return self._status(details, name, app)
            time.sleep(0.1)

    def scale(self, name: str, replicas: int) -> ServiceStatus:
        if replicas < 1:
            raise self._no_zero(name)
        details, app = self._app(name)
        deployed = app["deployed_app_config"]
        spec, version, created = spec_version(deployed) or (None, 1, 0.0)
        assert spec is not None  # _app() checked it
        config = app_config(
            spec,
            version=version,
            created_at=created,
            runtime_env=deployed.get("runtime_env") or self._runtime_env(spec),
            replicas=replicas,
        )
        self._put(details, name, config)
        return self._taken_up(name, replicas)

    @staticmethod
    def _no_zero(name: str) -> PortaCloudError:
        return FailedPreconditionError(
            f"service {name!r}: Ray Serve runs at least one replica per deployment; "
            "delete the service instead of scaling it to 0",
            retryable=False,
        )

    # -- status ------------------------------------------------------------------------------

    def get(self, name: str) -> ServiceStatus:
        details, app = self._app(name)
        return self._status(details, name, app)

    def list(self) -> builtins.list[ServiceStatus]:
        details = self._details()
        found = []
        for name, app in sorted((details.get("applications") or {}).items()):
            if spec_version(app.get("deployed_app_config") or {}) is not None:
                found.append(self._status(details, name, app))
        return found

    def _endpoint(self, details: dict[str, Any], name: str) -> str:
        port = (details.get("http_options") or self._http_options).get("port")
        return f"http://{self._endpoint_host}:{port}/{name}"

    def _status(self, details: dict[str, Any], name: str, app: dict[str, Any]) -> ServiceStatus:
        deployed = app["deployed_app_config"]
        spec, version, created = spec_version(deployed) or (None, 1, 0.0)
        dep = (app.get("deployments") or {}).get(DEPLOYMENT)
        configured = (deployed.get("deployments") or [{}])[0]
        desired = int(dep["target_num_replicas"] if dep else configured.get("num_replicas") or 1)
        replicas = tuple(
            ReplicaStatus(
                id=str(r["replica_id"]),
                state=REPLICA_STATES.get(str(r["state"]), ServiceState.STARTING),
                version=version,
                started_at=_when(r.get("start_time_s")),
            )
            for r in (dep or {}).get("replicas", [])
        )
        rebuilding = dep is None and app.get("status") == "DEPLOYING"
        if rebuilding:
            replicas = self._running_replicas(name)
        ready = sum(1 for r in replicas if r.state is ServiceState.READY)
        state = service_state(
            str(app.get("status")),
            str(dep["status"]) if dep else None,
            version=version,
            ready=ready,
            desired=desired,
        )
        if rebuilding and replicas:
            state = ServiceState.UPDATING
        reason = None
        if state is not ServiceState.READY:
            # The deployment's message holds the replica's error (and so the command's last
            # log lines); the application's only names the deployment that failed.
            message = str((dep or {}).get("message") or app.get("message") or "")
            reason = _reason(message)
        return ServiceStatus(
            name=name,
            state=state,
            reason=reason,
            endpoint_url=self._endpoint(details, name),
            version=version,
            desired_replicas=desired,
            replicas=replicas,
            created_at=_when(created),
            spec=spec,
        )

    def _running_replicas(self, name: str) -> tuple[ReplicaStatus, ...]:
        """The replicas of ``name`` that are alive, from Ray's actor list.

        While Serve builds a new config of an application (an update or a scale), its
        details list no deployment, but the replicas it had keep serving; they are READY.
        """
        query = (
            "/api/v0/actors?limit=10000&filter_keys=state&filter_predicates=%3D&filter_values=ALIVE"
        )
        answer = self._request("GET", f"{query}&timeout={max(1, int(self._timeout))}")
        if answer.status_code != 200:
            self._client._raise_error(answer)
        prefix = f"{_REPLICA_ACTOR}{name}#{DEPLOYMENT}#"
        actors = (answer.json().get("data") or {}).get("result", {}).get("result", [])
        return tuple(
            ReplicaStatus(id=str(a["name"])[len(prefix) :], state=ServiceState.READY)
            for a in actors
            if str(a.get("name") or "").startswith(prefix)
        )

    # -- delete ------------------------------------------------------------------------------

    def delete(self, name: str) -> None:
        details, _ = self._app(name)
        self._put(details, name, None)
        # Serve stops the replicas (each kills its command) before it forgets the application.
        deadline = time.monotonic() + _DELETE_TIMEOUT_S
        while time.monotonic() < deadline:
            if name not in (self._details().get("applications") or {}):
                return
            time.sleep(0.5)
        raise DeadlineExceededError(
            f"service {name!r} was still being deleted after {_DELETE_TIMEOUT_S:g}s"
        )

    # -- logs --------------------------------------------------------------------------------

    def _texts(self, name: str, replica: str | None) -> builtins.list[tuple[str, str]]:
        timeout = max(1, int(self._timeout))
        files = list_log_files(self._request, name, timeout=timeout)
        if replica is not None:
            files = [f for f in files if f.replica == replica]
            if not files:
                raise NotFoundError(f"service {name!r} has no replica {replica!r} with a log")
        return [(f.replica, read_log_file(self._request, f, timeout=timeout)) for f in files]

    def logs(self, name: str, replica: str | None) -> str:
        self._app(name)
        texts = self._texts(name, replica)
        if replica is not None:
            return "".join(text for _, text in texts)
        return "".join(tagged(rid, text) for rid, text in texts)

    def follow_logs(self, name: str, replica: str | None) -> Iterator[str]:
        sent: dict[str, int] = {}
        while True:
            try:
                call_with_retry(self._retry, lambda: self._guarded(lambda: self._app(name)))
            except NotFoundError:
                return
            texts = call_with_retry(
                self._retry, lambda: self._guarded(lambda: self._texts(name, replica))
            )
            for rid, text in texts:
                new = text[sent.get(rid, 0) :]
                if new:
                    sent[rid] = len(text)
                    yield new if replica is not None else tagged(rid, new)
            time.sleep(_FOLLOW_PERIOD_S)

    def _guarded(self, fn: Any) -> Any:
        try:
            return fn()
        except PortaCloudError:
            raise
        except Exception as exc:
            mapped = map_service_error(exc)
            if mapped is None:
                raise
            raise mapped from exc

    # -- plumbing ----------------------------------------------------------------------------

    def map_error(self, exc: Exception) -> PortaCloudError | None:
        return map_service_error(exc)

    def native(self) -> object | None:
        return self._client

    def close(self) -> None:
        """Nothing to release: the client holds no connection between requests."""


def _reason(message: str) -> str | None:
    """Serve's message, cut to the part that says why: from the replica's own error on."""
    start = message.rfind(_COMMAND_EXITED)
    text = message[start:] if start >= 0 else message
    return text[-_REASON_CHARS:].strip() or None


def _when(seconds: object) -> datetime | None:
    if not isinstance(seconds, int | float) or seconds <= 0:
        return None
    return datetime.fromtimestamp(float(seconds), tz=UTC)


class RayServicesOptions(RayOptions):
    """The options of ``ray://`` services: those of ``ray://`` queues, and the Serve proxy's.

    Attributes:
        serve_port: The port of the Serve proxy (default 8000); used when this client starts
            Serve on the cluster, and in endpoint URLs until Serve reports its own.
        serve_host: The address the Serve proxy binds when this client starts Serve (default
            127.0.0.1 for a loopback dashboard, else 0.0.0.0).
    """

    serve_port: int = Field(default=_DEFAULT_SERVE_PORT, ge=1, le=65535)
    serve_host: str | None = None


def open_ray_services(
    url: SplitResult, options: Mapping[str, Any], *, retry: RetryPolicy | None = None
) -> RayServiceDriver:
    """Connect to the dashboard ``url`` names (see :meth:`RayJobsProvider.open_services`)."""
    opts = parse_options(RayServicesOptions, "ray", options)
    host, address = dashboard_address(url, tls=opts.tls)
    loopback = url.hostname in ("127.0.0.1", "localhost", "::1")
    serve_host = opts.serve_host or ("127.0.0.1" if loopback else "0.0.0.0")  # noqa: S104
    timeout = opts.request_timeout

    def connect() -> RayServiceDriver:
        client = bounded_client(address, timeout=timeout)
        client.get_version()  # a dashboard that does not answer fails the open, not later
        return RayServiceDriver(
            client,
            address=address,
            endpoint_host=host,
            serve_host=serve_host,
            serve_port=opts.serve_port,
            request_timeout=timeout,
            retry=retry,
        )

    return guarded_call(
        connect,
        map_error=map_service_error,
        provider="ray",
        operation="open_services",
        resource=address,
    )
