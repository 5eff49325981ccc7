"""Leak hunting: the instances portacloud created, on the compute target of every profile.

Every instance :meth:`portacloud.Compute.create` launches carries ``portacloud:managed=true``
(plus who created it and when), so whatever a crashed pipeline or a forgotten notebook left
running is one tag filter away, on each cloud a profile points at.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portacloud.compute.models import Instance
from portacloud.errors import InvalidArgumentError, PortaCloudError
from portacloud.profiles import DEFAULT_PROFILE, _config_files, load_profile

__all__ = ["TargetScan", "config_file", "list_profiles", "scan_profiles"]


def config_file() -> Path | None:
    """The ``portacloud.toml`` that :func:`portacloud.load_profile` reads, or ``None``.

    That is the first of ``$PORTACLOUD_CONFIG``, ``./portacloud.toml`` and the user config
    dir's ``portacloud.toml`` that exists.
    """
    # The same search as load_profile, so both always agree on which file is meant.
    return next((path for path in _config_files() if path.is_file()), None)


def list_profiles() -> list[str]:
    """The names :func:`portacloud.load_profile` accepts, in the file's order.

    ``default`` is always among them: without a profile of that name in the file,
    ``load_profile()`` returns the built-in local one.

    Raises:
        InvalidArgumentError: when the config file is not valid TOML or its ``profiles`` is
            not a table.
    """
    path = config_file()
    names: list[str] = []
    if path is not None:
        try:
            data: dict[str, Any] = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InvalidArgumentError(f"{path}: not valid TOML: {exc}") from exc
        profiles = data.get("profiles", {})
        if not isinstance(profiles, dict):
            raise InvalidArgumentError(f"{path}: 'profiles' must be a table of profiles")
        names = [str(name) for name in profiles]
    if DEFAULT_PROFILE not in names:
        names.insert(0, DEFAULT_PROFILE)
    return names


@dataclass(frozen=True, slots=True)
class TargetScan:
    """What one compute target holds.

    Attributes:
        url: The compute URL, or ``None`` when the profile itself could not be loaded.
        profiles: The profiles whose compute target it is (several may share one).
        instances: The instances found (empty when ``error`` is set).
        error: Why the target could not be listed, or ``None``.
    """

    url: str | None
    profiles: tuple[str, ...]
    instances: tuple[Instance, ...] = ()
    error: PortaCloudError | None = None


def scan_profiles(
    profiles: Iterable[str] | None = None, *, managed: bool = True
) -> tuple[list[TargetScan], list[str]]:
    """List the instances on the compute target of each profile, each target once.

    A target that fails (no credentials, not reachable, provider not installed) is reported in
    its :class:`TargetScan` and the others are still listed: a leak hunt should not stop at the
    first cloud it cannot reach.

    Args:
        profiles: Profile names (default: :func:`list_profiles`).
        managed: Keep only instances portacloud created.

    Returns:
        The scans, in profile order, and the names of profiles without a compute URL.
    """
    from portacloud.openers import open_compute

    targets: dict[str, list[str]] = {}
    without: list[str] = []
    scans = []
    for name in list_profiles() if profiles is None else profiles:
        try:
            url = load_profile(name).compute
        except PortaCloudError as exc:
            scans.append(TargetScan(None, (name,), error=exc))
            continue
        if url is None:
            without.append(name)
        else:
            targets.setdefault(url, []).append(name)
    for url, names in targets.items():
        try:
            with open_compute(url) as compute:
                found = tuple(compute.list(managed=managed))
        except PortaCloudError as exc:
            scans.append(TargetScan(url, tuple(names), error=exc))
        else:
            scans.append(TargetScan(url, tuple(names), instances=found))
    return scans, without
