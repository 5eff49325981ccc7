"""What a price source yields, and how its responses are fetched."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from portacloud.errors import InvalidArgumentError, NotFoundError, UnavailableError

__all__ = ["Fetch", "PricePoint", "Shape", "directory_fetch", "network_fetch", "read_json"]

#: ``fetch(name, url)``: the body of ``url``; ``name`` is the file a recorded copy has.
Fetch = Callable[[str, str], bytes]


class Shape(BaseModel):
    """What a source says about an instance type's size (AWS does; Azure and GCP do not)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vcpus: float
    memory_gb: float
    gpu_count: int = 0


class PricePoint(BaseModel):
    """One hourly Linux price of one instance type in one region.

    Attributes:
        provider: ``aws``, ``azure`` or ``gcp``.
        instance_type: The provider's type name.
        region: The region.
        price_per_hour: On-demand USD per hour, or ``None`` when the source has only spot.
        spot_price_per_hour: Spot USD per hour, when the source has it.
        shape: The type's size, when the source says it.
        source: The API and request it came from.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str
    instance_type: str
    region: str
    price_per_hour: float | None = None
    spot_price_per_hour: float | None = None
    shape: Shape | None = None
    source: str


def read_json(body: bytes, what: str) -> Any:
    """Parse a response, as INVALID_ARGUMENT naming it when it is not JSON."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgumentError(f"{what}: not a JSON price response: {exc}") from None


def directory_fetch(directory: Path) -> Fetch:
    """Read recorded responses from ``directory`` (``NAME`` per request) instead of the
    network: for tests, and for updating a machine that cannot reach the APIs."""

    def fetch(name: str, url: str) -> bytes:
        path = directory / name
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"no recorded response {name} in {directory}") from None

    return fetch


def network_fetch(*, timeout: float = 300.0) -> Fetch:
    """Fetch over HTTPS with the standard library."""
    import urllib.error
    import urllib.request

    def fetch(name: str, url: str) -> bytes:
        if not url.startswith("https://"):
            raise InvalidArgumentError(f"price sources are read over https only, not {url!r}")
        request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
                body: bytes = answer.read()
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise UnavailableError(f"cannot read {url.partition('?')[0]}: {exc}") from None
        return body

    return fetch
