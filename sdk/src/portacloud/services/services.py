"""The portable :class:`Services` handle: deploy, update, scale and watch services."""

from __future__ import annotations

import builtins
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, overload

from portacloud.errors import FailedPreconditionError, InvalidArgumentError
from portacloud.handle import DriverHandle, check_timeout
from portacloud.jobs.workdir import DEFAULT_WORKDIR_LIMIT_MB, absolute_workdir, scan_workdir
from portacloud.residency import RegionPolicy
from portacloud.retry import RetryPolicy
from portacloud.services.driver import ServiceDriver
from portacloud.services.models import (
    ServiceCapabilities,
    ServiceSpec,
    ServiceState,
    ServiceStatus,
)
from portacloud.validation import validated
from portacloud.waiting import poll_until

if TYPE_CHECKING:
    from portacloud.costs.ledger import Ledger
    from portacloud.costs.models import CostPolicy
    from portacloud.costs.pricing import Projection
    from portacloud.costs.service_costs import ServiceCosts

__all__ = ["Services", "parse_service_spec"]


def parse_service_spec(spec: ServiceSpec | Mapping[str, Any]) -> ServiceSpec:
    """Accept a :class:`ServiceSpec` or a mapping (from YAML or JSON) and validate it."""
    return validated(ServiceSpec, spec, what="service spec")


class Services(DriverHandle[ServiceDriver]):
    """A place to run services: ``local://``, ``ray://host:port``, ``slurm://partition``.

    Open one with :func:`portacloud.open_services`. Services outlive this handle and the
    process that deployed them; ``close()`` releases connections only.

    Retries: reads (``get``, ``list``, ``logs``, each poll of ``wait``) are retried under the
    handle's :class:`~portacloud.retry.RetryPolicy`; ``deploy``, ``update``, ``scale`` and
    ``delete`` never are, because a try whose answer was lost may have been applied.
    """

    def __init__(
        self,
        driver: ServiceDriver,
        *,
        url: str,
        options: Mapping[str, Any] | None = None,
        retry: RetryPolicy | None = None,
        residency: RegionPolicy | None = None,
    ) -> None:
        super().__init__(driver, url=url, options=options)
        self._retry = retry or RetryPolicy()
        self._residency = residency
        self._costs: ServiceCosts | None = None

    def use_costs(self, policy: CostPolicy, *, ledger: Ledger | None = None) -> Services:
        """Price, record and budget the services of this handle under ``policy``; returns it.

        From then on ``deploy``, ``update`` and ``scale`` refuse what the budget cannot take
        (RESOURCE_EXHAUSTED, before anything starts), the ledger records each service's price
        from deploy to delete, and every status read prices it and deletes a service that
        ran past the budget (reason BUDGET_EXCEEDED; docs/decisions/0010-budgets.md).
        """
        from portacloud.costs.service_costs import ServiceCosts

        self._costs = ServiceCosts(policy, target=self._url, ledger=ledger)
        return self

    def estimate(self, spec: ServiceSpec | Mapping[str, Any]) -> Projection:
        """What ``spec`` costs per hour at its largest size, with the rates of the handle's
        cost policy (none: zero); a service runs until deleted, so the projection is
        unbounded."""
        from portacloud.costs.models import CostPolicy
        from portacloud.costs.service_costs import ServiceCosts

        costs = self._costs or ServiceCosts(CostPolicy(profile="-"), target=self._url)
        return costs.estimate(parse_service_spec(spec))

    def _reopen(self) -> ServiceDriver:
        from portacloud.registry import default_registry

        return default_registry().services_driver(
            self._url, retry=self._retry, options=self._options
        )

    @property
    def capabilities(self) -> ServiceCapabilities:
        """What the backend can do."""
        return self._driver.capabilities

    def _checked(
        self,
        spec: ServiceSpec | Mapping[str, Any],
        operation: str,
        base_dir: str | os.PathLike[str] | None,
    ) -> ServiceSpec:
        """The spec, validated and checked against the backend before anything starts."""
        service = absolute_workdir(parse_service_spec(spec), base_dir)
        caps = self.capabilities
        wanted = (
            (service.resources.gpu_count > 0, "gpus", "requesting GPUs"),
            (service.resources.gpu_type is not None, "gpu_types", "requesting a GPU model"),
            (service.image is not None, "images", "container images"),
            (service.workdir is not None, "workdir", "shipping a workdir"),
            (service.autoscaled, "autoscaling", "an autoscaled replica range"),
        )
        for needed, capability, what in wanted:
            if needed and not getattr(caps, capability):
                raise self._unsupported(operation, what, capability)
        self._check_count(service.most_replicas, operation)
        if service.workdir is not None:
            scan_workdir(service.workdir, limit_mb=DEFAULT_WORKDIR_LIMIT_MB)
        self._check_region(service.name, operation)
        return service

    def _check_count(self, replicas: int, operation: str) -> None:
        bound = self.capabilities.max_replicas
        if bound is not None and replicas > bound:
            raise InvalidArgumentError(
                f"{replicas} replicas asked for; this backend runs at most {bound} per service",
                provider=self.provider,
                operation=operation,
            )

    def _check_region(self, name: str, operation: str) -> None:
        # No service backend here reports the region it runs in: unknown_region decides.
        if self._residency is not None:
            self._residency.check(
                access="run",
                resource=f"service {name!r} on {self.url}",
                region=None,
                provider=self.provider,
                operation=operation,
            )

    def deploy(
        self,
        spec: ServiceSpec | Mapping[str, Any],
        *,
        base_dir: str | os.PathLike[str] | None = None,
    ) -> ServiceStatus:
        """Start a service and return at once (see :meth:`wait` for READY).

        Args:
            spec: A :class:`ServiceSpec`, or a mapping with its fields (as loaded from YAML).
            base_dir: What a relative ``workdir`` is relative to (default: the current
                directory).

        Raises:
            InvalidArgumentError: the spec is invalid (each field named).
            UnsupportedError: the spec needs a capability the backend lacks (named).
            AlreadyExistsError: a service of that name exists; use :meth:`update`.
            PermissionDeniedError: the backend is outside the profile's region policy.
        """
        service = self._checked(spec, "deploy", base_dir)
        price = self._costs.admit(service) if self._costs is not None else None
        status = self._guarded("deploy", service.name, lambda: self._driver.deploy(service))
        if self._costs is not None and price is not None:
            self._costs.running(service.name, price)
        return status

    def update(
        self,
        spec: ServiceSpec | Mapping[str, Any],
        *,
        base_dir: str | os.PathLike[str] | None = None,
    ) -> ServiceStatus:
        """Roll the service named in ``spec`` onto it; returns once the rollout has begun.

        New replicas start, serve only once ready, and old ones stop after them, never
        leaving fewer than ``replicas - update.max_unavailable`` ready replicas.

        Raises:
            NotFoundError: no service has that name.
            UnsupportedError: the backend cannot roll (capability ``rolling_update``).
        """
        service = self._checked(spec, "update", base_dir)
        if not self.capabilities.rolling_update:
            raise self._unsupported("update", "rolling updates", "rolling_update")
        price = self._costs.admit(service) if self._costs is not None else None
        status = self._guarded("update", service.name, lambda: self._driver.update(service))
        if self._costs is not None and price is not None:
            self._costs.running(service.name, price)
        return status

    def scale(self, name: str, replicas: int) -> ServiceStatus:
        """Change a service's replica count (0 keeps it deployed with nothing running)."""
        _check_name(name)
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
            raise InvalidArgumentError(f"replicas must be an int >= 0, not {replicas!r}")
        self._check_count(replicas, "scale")
        costs, price = self._costs, None
        if costs is not None:
            spec = self.get(name).spec
            price = costs.admit(spec, replicas=replicas) if spec is not None else None
        status = self._guarded("scale", name, lambda: self._driver.scale(name, replicas))
        if costs is not None and price is not None:
            costs.running(name, price)
        return status

    def get(self, name: str) -> ServiceStatus:
        """A service's state, endpoint, version and replicas; NOT_FOUND if unknown."""
        _check_name(name)
        return self._priced(self._retried("get", name, lambda: self._driver.get(name)))

    def list(self) -> builtins.list[ServiceStatus]:
        """Every service the backend knows, by name."""
        return [self._priced(s) for s in self._retried("list", None, self._driver.list)]

    def _priced(self, status: ServiceStatus) -> ServiceStatus:
        if self._costs is None:
            return status
        return self._costs.priced(status, delete=self._delete)

    def delete(self, name: str) -> None:
        """Stop serving and stop every replica, freeing ports and GPUs; NOT_FOUND if unknown."""
        _check_name(name)
        self._delete(name)
        if self._costs is not None:
            self._costs.deleted(name)

    def _delete(self, name: str) -> None:
        self._guarded("delete", name, lambda: self._driver.delete(name))

    @overload
    def logs(
        self, name: str, *, replica: str | None = None, follow: Literal[False] = False
    ) -> str: ...

    @overload
    def logs(
        self, name: str, *, replica: str | None = None, follow: Literal[True]
    ) -> Iterator[str]: ...

    def logs(
        self, name: str, *, replica: str | None = None, follow: bool = False
    ) -> str | Iterator[str]:
        """The replicas' stdout and stderr, or one replica's; with ``follow`` an iterator of
        new text that ends when the service is deleted.

        Raises:
            UnsupportedError: one replica's log, or following, is not supported (named).
        """
        _check_name(name)
        if replica is not None and not self.capabilities.replica_logs:
            raise self._unsupported("logs", "reading one replica's log", "replica_logs")
        if not follow:
            return self._retried("logs", name, lambda: self._driver.logs(name, replica))
        if not self.capabilities.follow_logs:
            raise self._unsupported("logs", "following logs", "follow_logs")
        return self._follow(name, replica)

    def _follow(self, name: str, replica: str | None) -> Iterator[str]:
        chunks = self._guarded("logs", name, lambda: self._driver.follow_logs(name, replica))
        while True:
            chunk = self._guarded("logs", name, lambda: next(chunks, None))
            if chunk is None:
                return
            yield chunk

    def wait(
        self, name: str, state: ServiceState | str = ServiceState.READY, *, timeout: float
    ) -> ServiceStatus:
        """Poll until the service is in ``state`` (READY by default) with every replica.

        READY means every desired replica is ready and no update is rolling.

        Raises:
            DeadlineExceededError: ``timeout`` passed first (the last state is named).
            FailedPreconditionError: the service FAILED while another state was awaited
                (its reason is in the message).
        """
        timeout = check_timeout(timeout, operation="wait")
        _check_name(name)
        goal = _state(state)

        def reached(status: ServiceStatus) -> bool:
            if status.state is ServiceState.FAILED and goal is not ServiceState.FAILED:
                raise FailedPreconditionError(
                    f"service {name!r} FAILED: {status.reason or 'no reason given'}",
                    provider=self.provider,
                    resource=name,
                )
            if goal is ServiceState.READY:
                return status.state is goal and status.ready_replicas >= status.desired_replicas
            return status.state is goal

        return poll_until(
            lambda: self.get(name),
            reached,
            timeout=timeout,
            max_delay=0.5,
            state=lambda status: status.state.value,
            provider=self.provider,
            resource=name,
            goal=goal.value,
        )


def _state(state: ServiceState | str) -> ServiceState:
    try:
        return ServiceState(state.upper() if isinstance(state, str) else state)
    except ValueError:
        raise InvalidArgumentError(
            f"unknown state {state!r}; one of {', '.join(s.value for s in ServiceState)}"
        ) from None


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not name:
        raise InvalidArgumentError(f"a service name must be a non-empty str, not {name!r}")
