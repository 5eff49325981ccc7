"""``libcloud+<driver>://``: storage and compute through any apache-libcloud driver.

The registry sends every ``libcloud+<driver>`` scheme to this one entry point. The part after
``+`` is libcloud's own driver name (``libcloud.storage.types.Provider`` for storage,
``libcloud.compute.types.Provider`` for compute) with ``-`` for ``_``, because a URL scheme
cannot hold an underscore (RFC 3986):

- ``libcloud+s3://bucket/prefix?host=127.0.0.1&port=19020&secure=false``,
  ``libcloud+azure-blobs://container/prefix``, ``libcloud+google-storage://...``...
- ``libcloud+ec2://us-east-1``, ``libcloud+gce://us-central1-a?project=p``,
  ``libcloud+azure-arm://eastus?resource_group=rg``, ``libcloud+openstack://RegionOne``...

libcloud is imported when such a URL is opened, never when portacloud is. Options and
credentials: :mod:`portacloud_libcloud.credentials`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import SplitResult, unquote

from portacloud.errors import InvalidArgumentError, NotFoundError, PortaCloudError, UnsupportedError
from portacloud.providers.options import reject_unknown_options

__all__ = ["LibcloudProvider", "driver_name", "provider"]

_STORAGE_OPTIONS = ("region", "vendor", "spool_dir")


def driver_name(scheme: str) -> str:
    """The libcloud driver that a ``libcloud+<driver>`` scheme names, ``-`` read as ``_``."""
    family, plus, name = scheme.partition("+")
    if family != "libcloud" or not plus or not name:
        raise InvalidArgumentError(
            f"'{scheme}://' names no libcloud driver: use libcloud+<driver>://, for example "
            "libcloud+s3://bucket or libcloud+ec2://us-east-1"
        )
    return name.replace("-", "_")


def _known(options: Mapping[str, Any]) -> dict[str, Any]:
    # ex_* options go to the libcloud driver's constructor as they are.
    return {k: v for k, v in options.items() if not k.startswith("ex_")}


def _native_failure(exc: Exception, what: str) -> PortaCloudError:
    from portacloud_libcloud.errors import map_libcloud_error

    mapped = map_libcloud_error(exc)
    if mapped is not None:
        return mapped
    if isinstance(exc, TypeError | ValueError | KeyError | AttributeError):
        # libcloud validates constructor arguments with plain Python exceptions.
        return InvalidArgumentError(f"{what}: {type(exc).__name__}: {exc}")
    return UnsupportedError(f"{what}: {type(exc).__name__}: {exc}")


class LibcloudProvider:
    """Opens ``libcloud+<driver>://`` buckets and compute regions."""

    def open_bucket(self, url: SplitResult, options: Mapping[str, Any]) -> tuple[Any, str]:
        """Return the bucket driver for ``libcloud+<driver>://container/prefix``.

        Raises:
            UnsupportedError: libcloud has no storage driver of that name.
            NotFoundError: the container does not exist.
            UnauthenticatedError: no credentials were found, or the service refused them.
        """
        from portacloud_libcloud.credentials import COMMON_OPTIONS, option_str, storage_args
        from portacloud_libcloud.storage import LibcloudBucketDriver

        scheme = url.scheme
        name = driver_name(scheme)
        reject_unknown_options(
            scheme, _known(options), allowed=(*COMMON_OPTIONS, *_STORAGE_OPTIONS)
        )
        container_name = unquote(url.netloc)
        if not container_name:
            raise InvalidArgumentError(
                f"{scheme}:// URLs name a container: {scheme}://CONTAINER[/prefix]"
            )
        prefix = url.path.lstrip("/")
        providers: Any = importlib.import_module("libcloud.storage.providers")
        if name not in providers.DRIVERS:
            raise UnsupportedError(
                f"libcloud has no storage driver {name!r}; known: "
                + ", ".join(sorted(str(p) for p in providers.DRIVERS))
            )
        args = storage_args(name, options, scheme=scheme)
        vendor = option_str(options, "vendor", scheme=scheme)
        if name == "s3":
            args.kwargs["region"] = _s3_region(options, scheme)
        elif vendor is not None:
            raise InvalidArgumentError(f"{scheme}:// takes no vendor option (only libcloud+s3)")
        try:
            from portacloud_libcloud.s3_compat import s3_compatible

            cls = s3_compatible(providers.get_driver(name))
            native = cls(*args.args, **args.kwargs)
            container, profile = _container_and_profile(
                native, name, container_name, vendor=vendor, custom_host="host" in args.kwargs
            )
        except PortaCloudError:
            raise
        except Exception as exc:
            raise _native_failure(exc, f"libcloud driver {name!r}") from exc
        driver = LibcloudBucketDriver(
            native,
            container,
            provider=scheme,
            profile=profile,
            spool_dir=option_str(options, "spool_dir", scheme=scheme),
            factory=lambda: cls(*args.args, **args.kwargs),
        )
        return driver, prefix

    def open_compute(self, url: SplitResult, options: Mapping[str, Any]) -> Any:
        """Return the compute driver for ``libcloud+<driver>://region-or-zone``."""
        from portacloud_libcloud.compute import open_libcloud_compute

        return open_libcloud_compute(url, options)


def _s3_region(options: Mapping[str, Any], scheme: str) -> str:
    import os

    from portacloud_libcloud.credentials import option_str

    return (
        option_str(options, "region", scheme=scheme)
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or "us-east-1"
    )


def _container_and_profile(
    native: Any, name: str, container_name: str, *, vendor: str | None, custom_host: bool
) -> tuple[Any, Any]:
    """Check the container exists and pick the driver's profile (for S3: by vendor)."""
    from portacloud_libcloud.profiles import DEFAULT_PROFILE, PROFILES, S3_VENDORS, s3_vendor

    if name != "s3":
        return native.get_container(container_name), PROFILES.get(name, DEFAULT_PROFILE)
    # One HEAD both checks the bucket and tells who answers (SeaweedFS, AWS...): libcloud's
    # get_container does the same HEAD but keeps no headers.
    response = native.connection.request(f"/{container_name}", method="HEAD")
    if response.status == 404:
        raise NotFoundError(f"no bucket {container_name!r}", resource=container_name)
    if vendor is None:
        vendor = s3_vendor(response.headers.get("server"), custom_host=custom_host)
    elif vendor not in S3_VENDORS:
        raise InvalidArgumentError(
            f"libcloud+s3:// option vendor must be one of {', '.join(S3_VENDORS)}, not {vendor!r}"
        )
    base: Any = importlib.import_module("libcloud.storage.base")
    return base.Container(name=container_name, extra=None, driver=native), S3_VENDORS[vendor]


provider = LibcloudProvider()
