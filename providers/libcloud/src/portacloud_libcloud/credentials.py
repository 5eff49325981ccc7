"""Options and credentials: URL query and keyword options -> a libcloud driver's constructor.

URLs name resources; credentials never come from them (the registry refuses ``key``,
``secret``... in a query before this module sees it). They come, in this order, from:

1. the typed keyword options ``key``, ``secret`` and ``token`` of ``open_bucket`` /
   ``open_compute`` (``open_bucket(url, key=..., secret=...)``);
2. the vendor's usual environment: ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``
   (``AWS_SESSION_TOKEN``) for ``s3``, ``minio`` and ``ec2``; ``AZURE_STORAGE_CONNECTION_STRING``
   (or ``AZURE_STORAGE_ACCOUNT``/``AZURE_STORAGE_KEY``) for ``azure_blobs``;
   ``AZURE_TENANT_ID``/``AZURE_SUBSCRIPTION_ID``/``AZURE_CLIENT_ID``/``AZURE_CLIENT_SECRET`` for
   ``azure_arm``; ``GOOGLE_APPLICATION_CREDENTIALS`` (a service-account JSON file) for ``gce``;
   ``OS_USERNAME``/``OS_PASSWORD``/``OS_AUTH_URL``/``OS_PROJECT_NAME`` for ``openstack``;
3. for any other driver, ``PORTACLOUD_LIBCLOUD_<DRIVER>_KEY`` and ``..._SECRET``.

Endpoint options every driver understands: ``host``, ``port``, ``secure`` (``false`` for plain
HTTP); ``ex_*`` options and ``driver_options`` go to the constructor as they are
(:mod:`portacloud_libcloud.options`).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from portacloud.errors import InvalidArgumentError, UnauthenticatedError
from portacloud_libcloud.options import ComputeOptions, StorageOptions

__all__ = ["DriverArgs", "compute_args", "storage_args"]

_AWS_FAMILY = ("s3", "minio", "ec2")


@dataclass(slots=True)
class DriverArgs:
    """Positional and keyword arguments of a libcloud driver's constructor."""

    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value else None


def _generic_env(driver: str) -> tuple[str | None, str | None, str]:
    stem = "PORTACLOUD_LIBCLOUD_" + re.sub(r"[^A-Z0-9]", "_", driver.upper())
    return _env(stem + "_KEY"), _env(stem + "_SECRET"), f"{stem}_KEY and {stem}_SECRET"


def _need(value: str | None, what: str, scheme: str) -> str:
    if value is None:
        raise UnauthenticatedError(
            f"{scheme}:// found no credentials: set {what}, or pass them as typed keyword "
            "options (key=..., secret=...)"
        )
    return value


def _azure_connection_string() -> dict[str, str]:
    raw = _env("AZURE_STORAGE_CONNECTION_STRING")
    if raw is None:
        return {}
    parts: dict[str, str] = {}
    for item in raw.split(";"):
        name, sep, value = item.partition("=")
        if sep:
            parts[name.strip()] = value.strip()
    return parts


def storage_args(
    driver: str, options: StorageOptions, extra: dict[str, Any], *, scheme: str
) -> DriverArgs:
    """Constructor arguments of the storage driver ``driver`` from options and environment.

    ``extra`` holds the ``ex_*`` options and ``driver_options``, passed on as they are.
    """
    key, secret, token = options.key, options.secret, options.token
    kwargs = options.endpoint()
    if driver in _AWS_FAMILY:
        key = key or _env("AWS_ACCESS_KEY_ID")
        secret = secret or _env("AWS_SECRET_ACCESS_KEY")
        token = token or _env("AWS_SESSION_TOKEN")
        what = "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        if token:
            kwargs["token"] = token
    elif driver == "azure_blobs":
        conn = _azure_connection_string()
        key = key or conn.get("AccountName") or _env("AZURE_STORAGE_ACCOUNT")
        secret = secret or conn.get("AccountKey") or _env("AZURE_STORAGE_KEY")
        what = "AZURE_STORAGE_CONNECTION_STRING (or AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY)"
        endpoint = conn.get("BlobEndpoint")
        if endpoint and "host" not in kwargs:
            # Azurite and private endpoints: the connection string says where the service is.
            parsed = urlsplit(endpoint)
            if parsed.hostname:
                kwargs["host"] = parsed.hostname
                kwargs.setdefault("secure", parsed.scheme != "http")
                kwargs.setdefault("port", parsed.port or (80 if parsed.scheme == "http" else 443))
    else:
        env_key, env_secret, what = _generic_env(driver)
        key, secret = key or env_key, secret or env_secret
    args: tuple[Any, ...] = (_need(key, what, scheme),)
    if secret is not None:
        args += (secret,)
    return DriverArgs(args=args, kwargs=kwargs | extra)


def _gce_args(
    key: str | None, secret: str | None, project: str | None, region: str, scheme: str
) -> DriverArgs:
    if key is None:
        path = _need(
            _env("GOOGLE_APPLICATION_CREDENTIALS"), "GOOGLE_APPLICATION_CREDENTIALS", scheme
        )
        try:
            with open(path, encoding="utf-8") as f:
                info = json.load(f)
        except (OSError, ValueError) as exc:
            raise UnauthenticatedError(
                f"GOOGLE_APPLICATION_CREDENTIALS does not name a readable JSON key file: {exc}"
            ) from None
        key, secret = str(info.get("client_email") or ""), path
        project = project or info.get("project_id")
    project = project or _env("GOOGLE_CLOUD_PROJECT")
    if not project:
        raise InvalidArgumentError(
            f"{scheme}:// needs a project: the option project=..., GOOGLE_CLOUD_PROJECT, or "
            "the project_id of the service-account key"
        )
    args: tuple[Any, ...] = (key,) if secret is None else (key, secret)
    return DriverArgs(args=args, kwargs={"project": project, "datacenter": region})


def _azure_arm_args(key: str | None, secret: str | None, region: str, scheme: str) -> DriverArgs:
    what = "AZURE_TENANT_ID, AZURE_SUBSCRIPTION_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET"
    tenant = _need(_env("AZURE_TENANT_ID"), what, scheme)
    subscription = _need(_env("AZURE_SUBSCRIPTION_ID"), what, scheme)
    client = _need(key or _env("AZURE_CLIENT_ID"), what, scheme)
    client_secret = _need(secret or _env("AZURE_CLIENT_SECRET"), what, scheme)
    return DriverArgs(args=(tenant, subscription, client, client_secret), kwargs={"region": region})


def _openstack_args(key: str | None, secret: str | None, region: str, scheme: str) -> DriverArgs:
    what = "OS_USERNAME, OS_PASSWORD and OS_AUTH_URL"
    kwargs: dict[str, Any] = {
        "ex_force_auth_url": _need(_env("OS_AUTH_URL"), what, scheme),
        "ex_force_auth_version": "3.x_password",
        "ex_force_service_region": region,
    }
    project = _env("OS_PROJECT_NAME") or _env("OS_TENANT_NAME")
    if project:
        kwargs["ex_tenant_name"] = project
    domain = _env("OS_USER_DOMAIN_NAME") or _env("OS_PROJECT_DOMAIN_NAME")
    if domain:
        kwargs["ex_domain_name"] = domain
    user = _need(key or _env("OS_USERNAME"), what, scheme)
    password = _need(secret or _env("OS_PASSWORD"), what, scheme)
    return DriverArgs(args=(user, password), kwargs=kwargs)


def compute_args(
    driver: str, region: str, options: ComputeOptions, extra: dict[str, Any], *, scheme: str
) -> DriverArgs:
    """Constructor arguments of the compute driver ``driver`` for ``region`` (or zone).

    ``extra`` holds the ``ex_*`` options and ``driver_options``, passed on as they are.
    """
    key, secret, token = options.key, options.secret, options.token
    if driver == "ec2":
        what = "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        key = _need(key or _env("AWS_ACCESS_KEY_ID"), what, scheme)
        secret = _need(secret or _env("AWS_SECRET_ACCESS_KEY"), what, scheme)
        result = DriverArgs(args=(key, secret), kwargs={"region": region})
        token = token or _env("AWS_SESSION_TOKEN")
        if token:
            result.kwargs["token"] = token
    elif driver == "gce":
        result = _gce_args(key, secret, options.project, region, scheme)
    elif driver == "azure_arm":
        result = _azure_arm_args(key, secret, region, scheme)
    elif driver == "openstack":
        result = _openstack_args(key, secret, region, scheme)
    else:
        env_key, env_secret, what = _generic_env(driver)
        key, secret = key or env_key, secret or env_secret
        args: tuple[Any, ...] = (_need(key, what, scheme),)
        result = DriverArgs(args=args if secret is None else (*args, secret))
    result.kwargs.update(options.endpoint())
    result.kwargs.update(extra)
    return result
