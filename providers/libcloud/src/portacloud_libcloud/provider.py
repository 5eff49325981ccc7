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
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import SplitResult, unquote

from portacloud.errors import InvalidArgumentError, NotFoundError
from portacloud.retry import RetryPolicy
from portacloud_libcloud.options import StorageOptions, driver_name, parse_libcloud_options

__all__ = ["LibcloudProvider", "driver_name", "provider"]


class LibcloudProvider:
    """Opens ``libcloud+<driver>://`` buckets and compute regions."""

    def open_bucket(
        self, url: SplitResult, options: Mapping[str, Any], *, retry: RetryPolicy | None = None
    ) -> tuple[Any, str]:
        """Return the bucket driver for ``libcloud+<driver>://container/prefix``.

        ``retry`` is the policy of the retries the driver owns (uploads of streamed writes).

        Raises:
            UnsupportedError: libcloud has no storage driver of that name.
            NotFoundError: the container does not exist.
            UnauthenticatedError: no credentials were found, or the service refused them.
        """
        from portacloud_libcloud.credentials import storage_args
        from portacloud_libcloud.drivers import driver_class, guarded
        from portacloud_libcloud.s3_compat import s3_compatible
        from portacloud_libcloud.storage import LibcloudBucketDriver

        scheme = url.scheme
        name = driver_name(scheme)
        parsed, extra = parse_libcloud_options(StorageOptions, scheme, options)
        container_name = unquote(url.netloc)
        if not container_name:
            raise InvalidArgumentError(
                f"{scheme}:// URLs name a container: {scheme}://CONTAINER[/prefix]"
            )
        cls = s3_compatible(driver_class("storage", name))
        args = storage_args(name, parsed, extra, scheme=scheme)
        if name == "s3":
            args.kwargs["region"] = _s3_region(parsed)
        elif parsed.vendor is not None:
            raise InvalidArgumentError(f"{scheme}:// takes no vendor option (only libcloud+s3)")

        def connect() -> tuple[Any, Any, Any]:
            native = cls(*args.args, **args.kwargs)
            container, profile = _container_and_profile(
                native,
                name,
                container_name,
                vendor=parsed.vendor,
                custom_host="host" in args.kwargs,
            )
            return native, container, profile

        native, container, profile = guarded("storage", name, connect)
        driver = LibcloudBucketDriver(
            native,
            container,
            provider=scheme,
            profile=profile,
            spool_dir=parsed.spool_dir,
            retry=retry,
            factory=lambda: cls(*args.args, **args.kwargs),
        )
        return driver, url.path.lstrip("/")

    def open_compute(
        self, url: SplitResult, options: Mapping[str, Any], *, retry: RetryPolicy | None = None
    ) -> Any:
        """Return the compute driver for ``libcloud+<driver>://region-or-zone``.

        ``retry`` is accepted for the provider contract; the compute driver retries nothing
        itself (every call is one libcloud call, retried by the portable layer if at all).
        """
        from portacloud_libcloud.compute import open_libcloud_compute

        return open_libcloud_compute(url, options)


def _s3_region(options: StorageOptions) -> str:
    return (
        options.region
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
