"""Profiles: named sets of targets in ``portacloud.toml``, and :func:`connect`.

A profile names where storage, compute and jobs live; moving a pipeline to another cloud
changes the profile, not the code. Profiles never hold secrets: credentials come from each
vendor's usual chain.

.. code-block:: toml

    [profiles.prod]
    storage = "s3://ml-data/prod"
    jobs = "ray://10.0.0.5:8265"
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from portacloud.costs.models import Budget, CostPolicy, Rates
from portacloud.errors import InvalidArgumentError, NotFoundError, UnsupportedError
from portacloud.home import HOME_ENV, portacloud_home
from portacloud.residency import RegionPolicy
from portacloud.retry import RetryPolicy
from portacloud.urls import parse_url

if TYPE_CHECKING:
    from portacloud.compute.compute import Compute
    from portacloud.jobs.queue import JobQueue
    from portacloud.services.services import Services
    from portacloud.storage.bucket import Bucket

__all__ = ["HOME_ENV", "Connection", "Profile", "connect", "load_profile", "portacloud_home"]

PROFILE_ENV = "PORTACLOUD_PROFILE"
CONFIG_ENV = "PORTACLOUD_CONFIG"
CONFIG_NAME = "portacloud.toml"
DEFAULT_PROFILE = "default"


class Profile(BaseModel):
    """Targets of one profile.

    Attributes:
        name: The profile's name.
        storage: A storage URL (``s3://bucket/prefix``), or ``None``.
        compute: A compute URL (``aws://us-east-1``), or ``None``.
        jobs: A job queue URL (``ray://host:8265``), or ``None``.
        services: A service backend URL (``ray://host:8265``, ``slurm://debug``), or ``None``.
        retry: The retry policy of every handle the profile opens (a TOML table
            ``[profiles.NAME.retry]`` with ``attempts``, ``initial_delay``, ``max_delay``),
            or ``None`` for the default policy.
        rates: USD per GPU-hour and CPU-hour of queues without a list price (``local://``,
            Ray, Slurm): ``[profiles.NAME.rates] gpu_hour_usd, cpu_hour_usd`` (default 0).
        budget: ``[profiles.NAME.budget] monthly_usd, per_run_usd``, or ``None`` for none.
        regions: Glob patterns over the providers' region names (``["eu-*",
            "europe-west4"]``) where the profile's data and machines may be; ``None`` for no
            region policy. See :mod:`portacloud.residency`.
        residency: ``"writes"`` (the default) checks writes, instances and jobs against
            ``regions``; ``"strict"`` checks reads too.
        unknown_region: Under a policy, what to do with a backend that cannot tell its
            region: ``"deny"`` (the default) or ``"allow"``.
        storage_engine: The data path of every bucket the profile opens on a provider with
            engines (``s3://``, ``az://``): ``"obstore"`` or ``"sdk"``; ``None`` for the
            provider's default. A URL's own ``engine`` option wins.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    storage: str | None = None
    compute: str | None = None
    jobs: str | None = None
    services: str | None = None
    retry: RetryPolicy | None = None
    rates: Rates = Rates()
    budget: Budget | None = None
    regions: tuple[str, ...] | None = None
    residency: Literal["writes", "strict"] = "writes"
    unknown_region: Literal["deny", "allow"] = "deny"
    storage_engine: Literal["obstore", "sdk"] | None = None

    @field_validator("storage", "compute", "jobs", "services")
    @classmethod
    def _no_secrets(cls, value: str | None) -> str | None:
        if value is not None:
            parse_url(value)  # refuses user:password@ and secret-looking query options
        return value

    @field_validator("regions")
    @classmethod
    def _some_patterns(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if (value is not None and not all(p.strip() for p in value)) or value == ():
            raise ValueError("regions must list at least one non-empty pattern")
        return value

    @model_validator(mode="after")
    def _policy_is_whole(self) -> Profile:
        if self.regions is None and (self.residency, self.unknown_region) != ("writes", "deny"):
            raise ValueError("residency and unknown_region need a regions list")
        return self

    @property
    def cost_policy(self) -> CostPolicy:
        """The profile's rates and budget, for the handles it opens."""
        return CostPolicy(profile=self.name, rates=self.rates, budget=self.budget)

    @property
    def region_policy(self) -> RegionPolicy | None:
        """The profile's :class:`~portacloud.residency.RegionPolicy`, or ``None``."""
        if self.regions is None:
            return None
        return RegionPolicy(
            profile=self.name,
            regions=self.regions,
            strict=self.residency == "strict",
            unknown_region=self.unknown_region,
        )


def _config_files() -> list[Path]:
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        return [Path(explicit).expanduser()]
    from platformdirs import user_config_dir

    return [Path.cwd() / CONFIG_NAME, Path(user_config_dir("portacloud")) / CONFIG_NAME]


def _default_profile(name: str = DEFAULT_PROFILE) -> Profile:
    """The embedded default: storage under :func:`portacloud_home`, local jobs and compute."""
    return Profile(
        name=name,
        storage=(portacloud_home() / "storage").as_uri(),
        jobs="local://",
        compute="local://",
        services="local://",
    )


_TARGETS = ("storage", "compute", "jobs", "services")


def _with_defaults(profile: Profile) -> Profile:
    """Fill the targets a profile leaves out from the embedded default of that kind.

    A profile that names only its storage still runs jobs and instances on this machine, as a
    profile-less program does; naming a target is how a profile moves it elsewhere.
    """
    missing = {k for k in _TARGETS if getattr(profile, k) is None}
    if not missing:
        return profile
    default = _default_profile(profile.name)
    return profile.model_copy(update={k: getattr(default, k) for k in missing})


def load_profile(name: str | None = None) -> Profile:
    """Find a profile by name (default: ``$PORTACLOUD_PROFILE``, else ``default``).

    The first of ``$PORTACLOUD_CONFIG``, ``./portacloud.toml`` and the user config dir's
    ``portacloud.toml`` that exists is read. Without any, ``default`` is local storage under
    :func:`portacloud_home`. A target the profile leaves out is the embedded default's:
    storage under :func:`portacloud_home`, ``local://`` jobs and ``local://`` compute.
    """
    wanted = name or os.environ.get(PROFILE_ENV) or DEFAULT_PROFILE
    for path in _config_files():
        if not path.is_file():
            continue
        profiles = _read_config(path).get("profiles", {})
        if wanted in profiles:
            try:
                return _with_defaults(Profile(name=wanted, **profiles[wanted]))
            except ValidationError as exc:
                raise InvalidArgumentError(
                    f"{path}: profile {wanted!r} is invalid: {_first_error(exc)}"
                ) from None
        if wanted != DEFAULT_PROFILE:
            known = ", ".join(sorted(profiles)) or "none"
            raise NotFoundError(f"{path} has no profile {wanted!r} (profiles: {known})")
        break
    if wanted == DEFAULT_PROFILE:
        return _default_profile()
    raise NotFoundError(f"no {CONFIG_NAME} found, so there is no profile {wanted!r}")


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return (
            f"unknown setting {where!r} "
            "(profiles hold storage, compute, jobs and services URLs, a retry table, regions, "
            "residency and unknown_region)"
        )
    return f"{where}: {err['msg']}"


class Connection:
    """The handles of one profile, opened on first use."""

    def __init__(self, profile: Profile) -> None:
        self.profile = _with_defaults(profile)
        self._storage: Bucket | None = None
        self._jobs: JobQueue | None = None
        self._compute: Compute | None = None
        self._services: Services | None = None

    def __repr__(self) -> str:
        return f"Connection(profile={self.profile.name!r})"

    def _url(self, kind: Literal["storage", "jobs", "compute", "services"]) -> str:
        url: str | None = getattr(self.profile, kind)
        if url is None:
            raise UnsupportedError(f"profile {self.profile.name!r} has no {kind} URL")
        return url

    @property
    def storage(self) -> Bucket:
        """The profile's bucket."""
        if self._storage is None:
            from portacloud.openers import open_bucket

            self._storage = open_bucket(self._url("storage"), profile=self.profile)
        return self._storage

    @property
    def jobs(self) -> JobQueue:
        """The profile's job queue; job outputs go under the profile's storage, in ``jobs/``."""
        if self._jobs is None:
            from portacloud.openers import open_jobs

            url = self._url("jobs")
            outputs = None
            if self.profile.storage is not None:
                base, mark, query = self.profile.storage.partition("?")
                outputs = base.rstrip("/") + "/jobs" + mark + query
            self._jobs = open_jobs(url, outputs=outputs, profile=self.profile).use_costs(
                self.profile.cost_policy
            )
        return self._jobs

    @property
    def compute(self) -> Compute:
        """The profile's compute handle."""
        if self._compute is None:
            from portacloud.openers import open_compute

            self._compute = open_compute(self._url("compute"), profile=self.profile).use_costs(
                self.profile.cost_policy
            )
        return self._compute

    @property
    def services(self) -> Services:
        """The profile's service backend (``local://`` unless the profile names one)."""
        if self._services is None:
            from portacloud.openers import open_services

            self._services = open_services(self._url("services"), profile=self.profile).use_costs(
                self.profile.cost_policy
            )
        return self._services

    def close(self) -> None:
        """Close whatever was opened (services keep running)."""
        for handle in (self._storage, self._jobs, self._compute, self._services):
            if handle is not None:
                handle.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def connect(profile: str | None = None) -> Connection:
    """Return the storage (and, as they land, compute and jobs) handles of a profile.

    Args:
        profile: A profile name; default ``$PORTACLOUD_PROFILE``, else ``default``.
    """
    return Connection(load_profile(profile))


def profile_names() -> list[str]:
    """The profiles of the first ``portacloud.toml`` found (as :func:`load_profile` reads),
    sorted; ``["default"]`` when there is none or it names no profile."""
    for path in _config_files():
        if path.is_file():
            return sorted(_read_config(path).get("profiles", {})) or [DEFAULT_PROFILE]
    return [DEFAULT_PROFILE]


def _read_config(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidArgumentError(f"{path}: not valid TOML: {exc}") from exc
