"""Region policies: where a profile's data and machines may be.

A profile's ``regions`` (glob patterns over the provider's own region names) bind every handle
opened under it. The region checked is the one the provider reports (S3 ``GetBucketLocation``,
a GCS bucket's location, the region an EC2 API answers for), never one read from the URL; a
backend that cannot tell its region is allowed or refused by the profile's ``unknown_region``.
Writes (and instances and jobs) outside the policy are refused before any byte is written or
anything is started; reads are refused too when ``residency = "strict"``. Deletes never are:
removing data from the wrong place is what a policy asks for.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from portacloud.errors import PermissionDeniedError

__all__ = ["STORAGE_ACCESS", "Access", "RegionCache", "RegionPolicy"]

#: What is checked: putting data somewhere, reading it, or starting something that runs.
Access = Literal["write", "read", "run"]

#: The bucket operations a policy checks, and as what; deletes and erasure never are.
STORAGE_ACCESS: dict[str, Access] = {
    **dict.fromkeys(("put", "copy"), "write"),
    **dict.fromkeys(("get", "head", "list"), "read"),
}


class RegionPolicy(BaseModel):
    """The regions a profile allows, and how strictly.

    Attributes:
        profile: The profile the policy comes from, named in every refusal.
        regions: Glob patterns (``eu-*``, ``europe-west4``) over the provider's region names,
            matched without regard to case.
        strict: Reads outside the policy are refused too (``residency = "strict"``).
        unknown_region: What to do where a backend cannot tell its region: ``"deny"`` (the
            default) or ``"allow"``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    profile: str
    regions: tuple[str, ...]
    strict: bool = False
    unknown_region: Literal["deny", "allow"] = "deny"

    @field_validator("regions")
    @classmethod
    def _some_patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or not all(isinstance(p, str) and p.strip() for p in value):
            raise ValueError("regions must list at least one non-empty pattern")
        return value

    def allows(self, region: str) -> bool:
        """Whether ``region`` matches one of the patterns."""
        name = region.lower()
        return any(fnmatch.fnmatchcase(name, pattern.lower()) for pattern in self.regions)

    def applies_to(self, access: Access) -> bool:
        """Whether an access of this kind is checked at all (reads only when strict)."""
        return access != "read" or self.strict

    def check(
        self,
        *,
        access: Access,
        resource: str,
        region: str | None,
        provider: str | None = None,
        operation: str | None = None,
    ) -> None:
        """Refuse ``access`` to ``resource`` in ``region`` unless the policy allows it.

        Args:
            access: ``"write"``, ``"read"`` or ``"run"``.
            resource: What is accessed, as the user named it (a URL, an instance spec).
            region: The region the provider reported, or ``None`` where it cannot tell.
            provider: The backend's short name, for the error.
            operation: The portable operation, for the error.

        Raises:
            PermissionDeniedError: naming the resource, its region and the policy.
        """
        if not self.applies_to(access):
            return
        if region is None:
            if self.unknown_region == "allow":
                return
            where = "a backend that does not report its region"
            hint = '; set unknown_region = "allow" in the profile to accept such backends'
        elif self.allows(region):
            return
        else:
            where, hint = f"region {region}", ""
        verb = {"write": "writing to", "read": "reading from", "run": "starting"}[access]
        raise PermissionDeniedError(
            f"{verb} {resource} refused: it is in {where}, outside the region policy of "
            f"profile {self.profile!r} ({', '.join(self.regions)}){hint}",
            provider=provider,
            operation=operation,
            resource=resource,
        )


class RegionCache:
    """A policy and the region of one bucket (or compute target), asked for once.

    Shared by a handle and the children it makes, so a bucket's region is asked for once for
    the life of the handle.
    """

    def __init__(self, policy: RegionPolicy | None) -> None:
        self.policy = policy
        self._known = False
        self._region: str | None = None

    def region(self, ask: Callable[[], str | None]) -> str | None:
        """The region, from ``ask`` the first time."""
        if not self._known:
            self._region = ask()
            self._known = True
        return self._region

    def __getstate__(self) -> dict[str, object]:
        # A copy in another process asks again: the answer may be stale by then.
        return {"policy": self.policy, "_known": False, "_region": None}
