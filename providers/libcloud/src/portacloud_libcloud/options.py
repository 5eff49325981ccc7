"""The options of ``libcloud+<driver>://`` URLs, parsed once into frozen models.

Three kinds of option reach a libcloud driver:

- typed options every driver understands (:class:`LibcloudOptions`: the endpoint and the
  credentials given as keywords), plus those of storage (:class:`StorageOptions`) or compute
  (:class:`ComputeOptions`);
- ``ex_*`` options, which go to the driver's constructor as they are (``true``/``false`` become
  booleans), for the many drivers with extension arguments;
- ``driver_options`` (keyword only), any other constructor argument, typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, PositiveInt

from portacloud.errors import InvalidArgumentError
from portacloud.providerkit import NonEmptyStr, ProviderOptions, parse_options

__all__ = [
    "ComputeOptions",
    "LibcloudOptions",
    "StorageOptions",
    "driver_name",
    "parse_libcloud_options",
]

_M = TypeVar("_M", bound="LibcloudOptions")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def driver_name(scheme: str) -> str:
    """The libcloud driver that a ``libcloud+<driver>`` scheme names, ``-`` read as ``_``."""
    family, plus, name = scheme.partition("+")
    if family != "libcloud" or not plus or not name:
        raise InvalidArgumentError(
            f"'{scheme}://' names no libcloud driver: use libcloud+<driver>://, for example "
            "libcloud+s3://bucket or libcloud+ec2://us-east-1"
        )
    return name.replace("-", "_")


def _host_name(value: str) -> str:
    if "/" in value or "@" in value:
        raise ValueError(f"is a host name or address, not a URL: {value!r}")
    return value


class LibcloudOptions(ProviderOptions):
    """What every ``libcloud+<driver>://`` URL accepts.

    Attributes:
        host: The service's host name or address (an emulator, a private endpoint).
        port: Its port.
        secure: ``False`` for plain HTTP.
        key: The access key, account or user (keyword only).
        secret: Its secret (keyword only).
        token: A session token (keyword only).
        driver_options: More constructor arguments of the libcloud driver (keyword only).
    """

    host: Annotated[NonEmptyStr, AfterValidator(_host_name)] | None = None
    port: PositiveInt | None = None
    secure: bool | None = None
    key: str | None = None
    secret: str | None = None
    token: str | None = None
    driver_options: Mapping[str, Any] | None = None

    def endpoint(self) -> dict[str, Any]:
        """The ``host``/``port``/``secure`` constructor arguments that were given."""
        given = {"host": self.host, "port": self.port, "secure": self.secure}
        return {name: value for name, value in given.items() if value is not None}


class StorageOptions(LibcloudOptions):
    """``libcloud+<driver>://container`` options.

    Attributes:
        region: The S3 region (default ``AWS_REGION``, ``AWS_DEFAULT_REGION``, ``us-east-1``).
        vendor: The S3-compatible server's profile (``aws``, ``seaweedfs``, ``generic``)
            instead of the one its ``Server`` header suggests.
        spool_dir: Where writes are spooled before their upload.
    """

    region: NonEmptyStr | None = None
    vendor: NonEmptyStr | None = None
    spool_dir: NonEmptyStr | None = None


class ComputeOptions(LibcloudOptions):
    """``libcloud+<driver>://region`` options.

    Attributes:
        project: The GCE project.
        resource_group: The Azure resource group instances are created in.
        network: The Azure virtual network.
        subnet: The Azure subnet (default ``default``).
        admin_user: The Azure VM's administrator name (default ``portacloud``).
    """

    project: NonEmptyStr | None = None
    resource_group: NonEmptyStr | None = None
    network: NonEmptyStr | None = None
    subnet: NonEmptyStr | None = None
    admin_user: NonEmptyStr | None = None

    def azure_settings(self) -> dict[str, str]:
        """The Azure settings that were given, by name."""
        given = {
            "resource_group": self.resource_group,
            "network": self.network,
            "subnet": self.subnet,
            "admin_user": self.admin_user,
        }
        return {name: value for name, value in given.items() if value is not None}


def parse_libcloud_options(
    model: type[_M], scheme: str, options: Mapping[str, Any]
) -> tuple[_M, dict[str, Any]]:
    """The typed options, and the ``ex_*`` ones (plus ``driver_options``) for the constructor."""
    typed = {k: v for k, v in options.items() if not k.startswith("ex_")}
    parsed = parse_options(model, scheme, typed)
    extra: dict[str, Any] = {}
    for name, value in options.items():
        if not name.startswith("ex_"):
            continue
        if isinstance(value, str) and value.strip().lower() in (*_TRUE, *_FALSE):
            extra[name] = value.strip().lower() in _TRUE
        else:
            extra[name] = value
    if parsed.driver_options is not None:
        if not all(isinstance(k, str) for k in parsed.driver_options):
            raise InvalidArgumentError(
                f"{scheme}:// option driver_options must be a mapping of argument names"
            )
        extra.update(parsed.driver_options)
    return parsed, extra
