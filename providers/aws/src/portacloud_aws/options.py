"""The options of ``s3://`` buckets and ``aws://`` compute handles, and S3's size limits.

Both come from a URL's query (text) or the caller's keywords (Python values) and are parsed
once, by :func:`portacloud.providerkit.parse_options`, into the frozen models below. Every
failure is one INVALID_ARGUMENT line naming the option and what it takes.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

from portacloud.providerkit import ByteCount, EndpointURL, NonEmptyStr, ProviderOptions
from portacloud_aws.vendors import VENDORS

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_ENGINE",
    "DEFAULT_PART_SIZE",
    "ENGINES",
    "MAX_CONCURRENCY",
    "MAX_PARTS",
    "MAX_PART_SIZE",
    "MAX_SINGLE_COPY",
    "MIN_PART_SIZE",
    "EC2Options",
    "S3Options",
]

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
#: Parts are this big unless ``part_size`` says otherwise.
DEFAULT_PART_SIZE = 8 * MiB
#: S3's limits on parts: every part but the last is at least 5 MiB, at most 5 GiB, 10,000 of them.
MIN_PART_SIZE = 5 * MiB
MAX_PART_SIZE = 5 * GiB
MAX_PARTS = 10_000
#: Parts of one write in flight at once, unless ``max_concurrency`` says otherwise.
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 64
#: The largest object one CopyObject can copy; bigger ones are copied part by part.
MAX_SINGLE_COPY = 5 * GiB

_ADDRESSING = ("path", "virtual", "auto")
#: The data paths of ``s3://``: boto3, or obstore (Rust ``object_store``) with boto3 for the rest.
ENGINES = ("sdk", "obstore")
DEFAULT_ENGINE = "obstore"


def _one_of(*allowed: str) -> AfterValidator:
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}, not {value!r}")
        return value

    return AfterValidator(check)


def _whole_number(value: object) -> object:
    # A bool is an int to Python, never a count to a caller.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise ValueError(f"must be an integer, not {value!r}")


def _part_size(value: int) -> int:
    if not MIN_PART_SIZE <= value <= MAX_PART_SIZE:
        raise ValueError(f"must be between 5 MiB and 5 GiB (S3's part limits), not {value}")
    return value


def _concurrency(value: int) -> int:
    if not 1 <= value <= MAX_CONCURRENCY:
        raise ValueError(f"must be 1..{MAX_CONCURRENCY}, not {value}")
    return value


def _group_ids(value: object) -> object:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ValueError("must be a comma-separated string or a list of ids")
    ids = tuple(i.strip() for i in items if i.strip())
    if not ids:
        raise ValueError(f"must name at least one security group, not {value!r}")
    return ids


class S3Options(ProviderOptions):
    """``s3://`` options (see the package README).

    Attributes:
        endpoint_url: An S3-compatible server (``http(s)://host:port``); default: AWS, or the
            AWS configuration's ``endpoint_url``.
        region: The signing region; default: the AWS configuration's.
        profile: A named AWS profile.
        addressing_style: ``path``, ``virtual`` or ``auto``; default: ``path`` for custom
            endpoints, ``auto`` for AWS.
        vendor: The vendor profile (``aws``, ``seaweedfs``, ``moto``...); default: detected
            from the server's ``Server`` header.
        part_size: Bytes per multipart part (5 MiB to 5 GiB), such as ``8MiB``.
        max_concurrency: Parts of one write uploaded at once (1 to 64).
        engine: ``obstore`` (the default: the data path on obstore, boto3 for control calls
            and what obstore cannot do the same way; see :mod:`.obstore_engine`) or ``sdk``
            (boto3 for everything).
    """

    endpoint_url: EndpointURL | None = None
    region: NonEmptyStr | None = None
    profile: NonEmptyStr | None = None
    addressing_style: Annotated[NonEmptyStr, _one_of(*_ADDRESSING)] | None = None
    vendor: Annotated[NonEmptyStr, _one_of(*VENDORS)] | None = None
    part_size: Annotated[ByteCount, AfterValidator(_part_size)] = DEFAULT_PART_SIZE
    max_concurrency: Annotated[
        int, BeforeValidator(_whole_number), AfterValidator(_concurrency)
    ] = DEFAULT_CONCURRENCY
    engine: Annotated[NonEmptyStr, _one_of(*ENGINES)] = DEFAULT_ENGINE


class EC2Options(ProviderOptions):
    """``aws://`` options.

    Attributes:
        endpoint_url: moto, LocalStack or a VPC endpoint; default: AWS.
        profile: A named AWS profile.
        subnet_id: The subnet new instances join (default: the default VPC's).
        security_group_ids: Security groups of new instances, as a list or comma-separated.
    """

    endpoint_url: EndpointURL | None = None
    profile: NonEmptyStr | None = None
    subnet_id: NonEmptyStr | None = None
    security_group_ids: Annotated[tuple[str, ...], BeforeValidator(_group_ids)] = Field(default=())
