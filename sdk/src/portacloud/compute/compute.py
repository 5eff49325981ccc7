"""The portable :class:`Compute`: instances on any provider, with one set of states."""

from __future__ import annotations

import builtins
import getpass
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from portacloud.compute.driver import ComputeDriver, LaunchRequest, SupportsLocation
from portacloud.compute.models import (
    MANAGED_TAG,
    ComputeCapabilities,
    Instance,
    InstanceSpec,
    InstanceState,
    Offer,
)
from portacloud.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
)
from portacloud.handle import DriverHandle, check_timeout
from portacloud.residency import RegionCache, RegionPolicy
from portacloud.resources import Resources
from portacloud.retry import RetryPolicy
from portacloud.validation import validated
from portacloud.waiting import poll_until

if TYPE_CHECKING:
    from portacloud.costs.instance_costs import InstanceCosts
    from portacloud.costs.ledger import Ledger
    from portacloud.costs.models import CostPolicy

__all__ = ["Compute", "managed_tags", "parse_instance_spec"]


def parse_instance_spec(spec: InstanceSpec | Mapping[str, Any]) -> InstanceSpec:
    """Accept an :class:`InstanceSpec` or a mapping of its fields, validated."""
    return validated(InstanceSpec, spec, what="instance spec")


def managed_tags() -> dict[str, str]:
    """The tags that mark an instance as created by portacloud, and by whom, and when."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = "unknown"
    return {
        MANAGED_TAG: "true",
        "portacloud:creator": f"{user}@{socket.gethostname()}",
        "portacloud:created-at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


class Compute(DriverHandle[ComputeDriver]):
    """Instances on one provider and region. Open one with :func:`portacloud.open_compute`.

    Retries (docs/decisions/0007-jobs-and-compute-retries.md): reads (``get``, ``list``, image
    lookups, each poll of ``wait``) and ``terminate``, which is idempotent, are retried under
    the handle's :class:`~portacloud.retry.RetryPolicy`. ``create``, ``start`` and ``stop`` are
    not retried here: a launch whose answer was lost may have started an instance, so only a
    driver that can make the repeat harmless (EC2's ``ClientToken``) retries it.
    """

    def __init__(
        self,
        driver: ComputeDriver,
        *,
        url: str,
        options: Mapping[str, Any] | None = None,
        retry: RetryPolicy | None = None,
        residency: RegionPolicy | None = None,
    ) -> None:
        super().__init__(driver, url=url, options=options)
        self._retry = retry or RetryPolicy()
        self._regions = RegionCache(residency)
        self._costs: InstanceCosts | None = None

    def use_costs(self, policy: CostPolicy, *, ledger: Ledger | None = None) -> Compute:
        """Price, record and budget the instances of this handle under ``policy``.

        From then on ``create`` refuses an instance whose first hour does not fit the budget
        (RESOURCE_EXHAUSTED, before anything is created), the ledger records every start,
        stop and termination, and ``get``/``list`` price instances and stop a managed one
        that runs past the budget (docs/decisions/0010-budgets.md). Returns the handle.
        """
        from portacloud.costs.instance_costs import InstanceCosts

        catalog = self.capabilities.catalog
        self._costs = InstanceCosts(policy, target=self._url, catalog=catalog, ledger=ledger)
        return self

    def _priced(self, instance: Instance) -> Instance:
        if self._costs is None:
            return instance
        return self._costs.priced(instance, halt=self._halt)

    def _halt(self, instance_id: str) -> Instance:
        """Stop spending on an instance: stop it, or terminate it where it cannot stop."""
        if self.capabilities.stop:
            return self._guarded("stop", instance_id, lambda: self._driver.stop(instance_id))
        return self._retried("terminate", instance_id, lambda: self._driver.terminate(instance_id))

    def _reopen(self) -> ComputeDriver:
        from portacloud.registry import default_registry

        return default_registry().compute_driver(
            self._url, retry=self._retry, options=self._options
        )

    @property
    def region(self) -> str:
        """The region (or zone) instances are created in."""
        return self._driver.region

    def reported_region(self) -> str | None:
        """The region the provider says it creates instances in, asked for once per handle;
        ``None`` where it cannot tell (capability ``location`` is false)."""
        driver = self._driver
        if not self.capabilities.location or not isinstance(driver, SupportsLocation):
            return None
        located: SupportsLocation = driver
        return self._regions.region(
            lambda: self._retried("location", None, located.reported_region)
        )

    def _check_region(self, name: str) -> None:
        policy = self._regions.policy
        if policy is not None:
            policy.check(
                access="run",
                resource=f"instance {name!r} on {self.url}",
                region=self.reported_region(),
                provider=self.provider,
                operation="create",
            )

    @property
    def capabilities(self) -> ComputeCapabilities:
        """What the backend can do."""
        return self._driver.capabilities

    def offers(self, resources: Resources, *, spot: bool = False) -> list[Offer]:
        """Catalog instance types of this provider and region that satisfy ``resources``,
        cheapest first."""
        from portacloud.compute import catalog

        if self.capabilities.catalog is None:
            raise self._unsupported("offers", "choosing types from resources", "catalog")
        return catalog.offers(
            resources,
            providers=[self.capabilities.catalog],
            region=self.region,
            spot=spot,
            policy=self._regions.policy,
        )

    def create(self, spec: InstanceSpec | Mapping[str, Any]) -> Instance:
        """Create an instance.

        With ``resources`` the cheapest catalog type of this provider and region that fits is
        chosen; with ``instance_type`` that type is used as given. Every instance gets the
        ``portacloud:managed``, ``portacloud:creator`` and ``portacloud:created-at`` tags.

        Raises:
            InvalidArgumentError: a bad spec, an unknown GPU name (with the closest known one),
                or resources no type of this provider offers.
            UnsupportedError: spot or SSH keys where the backend has no such thing.
            ResourceExhaustedError: with a cost policy, one hour of the instance is over the
                budget; nothing was created.
            PermissionDeniedError: the handle's region is outside the region policy it was
                opened under; nothing is created.
        """
        parsed = parse_instance_spec(spec)
        self._check_supported(parsed)
        self._check_region(parsed.name)
        instance_type, gpu, gpu_count = self._choose_type(parsed)
        price = None
        if self._costs is not None:
            price = self._costs.admit(parsed.name, instance_type, self.region, spot=parsed.spot)
        image = self._retried(
            "create", parsed.name, lambda: self._driver.resolve_image(parsed.image)
        )
        request = LaunchRequest(
            name=parsed.name,
            instance_type=instance_type,
            image=image,
            tags={**parsed.tags, **managed_tags()},
            spot=parsed.spot,
            ssh_public_key=parsed.ssh_public_key,
            gpu=gpu,
            gpu_count=gpu_count,
        )
        created = self._guarded("create", parsed.name, lambda: self._driver.create(request))
        if self._costs is None:
            return created
        self._costs.started(created, price)
        return self._priced(created)

    def _check_supported(self, parsed: InstanceSpec) -> None:
        """Refuse a spec that is ambiguous or needs what the backend lacks."""
        caps = self.capabilities
        if (parsed.resources is None) == (parsed.instance_type is None):
            raise InvalidArgumentError(
                "give either resources or instance_type, not both or neither"
            )
        if parsed.spot and not caps.spot:
            raise self._unsupported("create", "spot capacity", "spot")
        if parsed.ssh_public_key and not caps.ssh_keys:
            raise self._unsupported("create", "SSH keys", "ssh_keys")
        if parsed.resources is not None and parsed.resources.gpu_count and not caps.gpus:
            raise self._unsupported("create", "GPUs", "gpus")

    def _choose_type(self, parsed: InstanceSpec) -> tuple[str, str | None, int]:
        """The instance type, GPU model and GPU count: as named, or the cheapest offer."""
        if parsed.resources is None:
            assert parsed.instance_type is not None
            return parsed.instance_type, None, 0
        choice = self.offers(parsed.resources, spot=parsed.spot)
        if not choice:
            from portacloud.compute.catalog import catalog_region, regions_for

            catalog = self.capabilities.catalog
            assert catalog is not None  # offers() refused otherwise
            known = regions_for(catalog)
            hint = (
                ""
                if catalog_region(catalog, self.region) in known
                else f"; the catalog has {catalog} prices for {', '.join(known)}"
            )
            raise InvalidArgumentError(
                f"no {catalog} instance type in {self.region} satisfies "
                f"{parsed.resources.model_dump(exclude_defaults=True)}{hint}"
            )
        return choice[0].instance_type, choice[0].gpu, choice[0].gpu_count

    def get(self, instance_id: str) -> Instance:
        """Describe an instance; NOT_FOUND for an unknown id."""
        self._check_id(instance_id)
        return self._priced(
            self._retried("get", instance_id, lambda: self._driver.get(instance_id))
        )

    def list(
        self, *, tags: Mapping[str, str] | None = None, managed: bool = False
    ) -> builtins.list[Instance]:
        """Instances carrying every tag in ``tags``; ``managed=True`` keeps portacloud's own."""
        wanted = dict(tags or {})
        if managed:
            wanted[MANAGED_TAG] = "true"
        found = self._retried("list", None, lambda: self._driver.list(wanted))
        return [self._priced(instance) for instance in found]

    def start(self, instance_id: str) -> Instance:
        """Start a stopped instance."""
        self._check_id(instance_id)
        if not self.capabilities.stop:
            raise self._unsupported("start", "start/stop", "stop")
        started = self._guarded("start", instance_id, lambda: self._driver.start(instance_id))
        if self._costs is not None:
            price = self._costs.price(started.instance_type, started.region, spot=started.spot)
            self._costs.started(started, price)
        return self._priced(started)

    def stop(self, instance_id: str) -> Instance:
        """Stop a running instance (it keeps its disk; see ``Instance.billing``)."""
        self._check_id(instance_id)
        if not self.capabilities.stop:
            raise self._unsupported("stop", "start/stop", "stop")
        stopped = self._guarded("stop", instance_id, lambda: self._driver.stop(instance_id))
        if self._costs is not None:
            self._costs.ended(instance_id, "stopped")
        return self._priced(stopped)

    def terminate(self, instance_id: str) -> Instance:
        """Terminate an instance; terminating it again is not an error."""
        self._check_id(instance_id)
        gone = self._retried("terminate", instance_id, lambda: self._driver.terminate(instance_id))
        if self._costs is not None:
            self._costs.ended(instance_id, "terminated")
        return self._priced(gone)

    def wait(self, instance_id: str, state: InstanceState | str, *, timeout: float) -> Instance:
        """Poll until the instance reaches ``state``.

        Raises:
            DeadlineExceededError: after ``timeout`` seconds.
            FailedPreconditionError: the instance went to ERROR or TERMINATED instead.
            InvalidArgumentError: an unknown state, or a zero, negative or NaN ``timeout``.
        """
        timeout = check_timeout(timeout, operation="wait")
        self._check_id(instance_id)
        try:
            target = InstanceState(state)
        except ValueError:
            raise InvalidArgumentError(f"unknown instance state {state!r}") from None
        dead_end = {InstanceState.ERROR, InstanceState.TERMINATED} - {target}

        def reached(current: Instance) -> bool:
            if current.state in dead_end:
                raise FailedPreconditionError(
                    f"is {current.state.value}, so it will never be {target.value}",
                    provider=self.provider,
                    operation="wait",
                    resource=instance_id,
                )
            return current.state is target

        return poll_until(
            lambda: self.get(instance_id),
            reached,
            timeout=timeout,
            max_delay=2.0,
            state=lambda current: current.state.value,
            provider=self.provider,
            resource=instance_id,
            goal=target.value,
        )

    @staticmethod
    def _check_id(instance_id: object) -> None:
        if not isinstance(instance_id, str) or not instance_id:
            raise InvalidArgumentError(
                f"an instance id must be a non-empty str, not {instance_id!r}"
            )
