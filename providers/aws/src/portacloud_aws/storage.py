"""``s3://bucket/prefix``: Amazon S3 and S3-compatible servers through boto3.

boto3 is imported in :meth:`S3Provider.open_bucket`, never at import time. The client is built
with botocore's retries off (``total_max_attempts=1``): the portable ``Bucket`` owns retries of
replayable calls, and this driver retries only the multipart parts it holds in memory and the
bucket's vendor detection at open, both under the policy ``open_bucket`` was given (see
docs/decisions/0001-retries.md).

The driver is split by responsibility: :mod:`.options` (options and S3's limits),
:mod:`.s3_responses` (reading answers), :mod:`.s3_driver` (the bucket driver),
:mod:`.s3_writer` (single and multipart writes), :mod:`.s3_copy` (copies and the CRC32C stamp),
:mod:`.vendors` (what each S3 implementation can do) and this module (the entry point).

Where the portable CRC32C lives:

- single-part writes: user metadata ``portacloud-crc32c``; on servers with native CRC32C
  (AWS, SeaweedFS) the same value also goes in ``x-amz-checksum-crc32c``, so the server refuses
  bytes damaged in transit;
- multipart writes on servers with native CRC32C: ``CreateMultipartUpload`` asks for a
  ``FULL_OBJECT`` CRC32C, every part carries its own CRC32C and ``CompleteMultipartUpload`` the
  whole object's, which the server checks (``BadDigest`` otherwise) and returns on HEAD;
- multipart writes elsewhere (moto computes CRC32C wrongly without an optional package and
  checks nothing; MinIO's full-object checksums are unreliable): after completion, a
  metadata-only ``CopyObject`` of the object onto itself adds ``portacloud-crc32c``, guarded by
  ``x-amz-copy-source-if-match`` on the etag the completion returned, so it can never stamp our
  CRC onto a concurrent writer's bytes. Between the two requests the object is readable without
  a CRC32C (reads then skip verification).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult

from portacloud.errors import InvalidArgumentError, UnavailableError
from portacloud.logging_redaction import install_redaction
from portacloud.providerkit import RetryPolicy, call_with_retry, parse_options
from portacloud.providerkit.fork_pools import fresh_pools_in_children
from portacloud.providerkit.obstore_fork import obstore_forked
from portacloud_aws.boto import (
    client_config,
    http_status,
    is_aws_endpoint,
    renew_botocore_pools,
)
from portacloud_aws.options import ENGINES, S3Options
from portacloud_aws.s3_driver import S3Driver
from portacloud_aws.s3_responses import server_header
from portacloud_aws.vendors import VENDORS, detect_vendor

if TYPE_CHECKING:
    from portacloud_aws.obstore_engine import ObstoreDriver

__all__ = ["S3Driver", "S3Options", "S3Provider", "provider"]

_log = logging.getLogger("portacloud.s3")


class S3Provider:
    """Opens ``s3://bucket[/prefix]`` with the options of :class:`~.options.S3Options`.

    Attributes:
        engines: The values of the ``engine`` option (a profile's ``storage_engine`` too).
    """

    engines = ENGINES

    def open_bucket(
        self, url: SplitResult, options: Mapping[str, Any], *, retry: RetryPolicy | None = None
    ) -> tuple[S3Driver | ObstoreDriver, str]:
        """Build the boto3 client, pick the vendor profile and return the driver and prefix.

        Args:
            url: The split ``s3://`` URL; its netloc is the bucket, its path the key prefix.
            options: URL query and keyword options: ``endpoint_url``, ``region``, ``profile``,
                ``addressing_style`` (path|virtual|auto), ``vendor``
                (aws|seaweedfs|moto|minio|r2|ceph|generic), ``part_size`` and
                ``max_concurrency`` and ``engine`` (sdk|obstore).
            retry: The caller's policy, for the retries the driver owns (vendor detection
                here, the parts of streamed writes); default: the portable one.

        Raises:
            InvalidArgumentError: for a missing bucket name or a bad option.
        """
        from portacloud_aws.errors import map_s3_error, open_or_map

        # botocore logs headers, tokens and signatures at DEBUG: redact them first.
        install_redaction()
        settings = parse_options(S3Options, "s3", options)
        bucket = url.netloc
        if not bucket:
            raise InvalidArgumentError("s3:// URLs need a bucket name: s3://BUCKET[/prefix]")
        prefix = url.path.lstrip("/")
        policy = retry or RetryPolicy()
        driver = open_or_map(lambda: _open_driver(bucket, settings, policy), map_s3_error, "S3")
        return driver, prefix


def _build_client(
    session: Any,
    settings: S3Options,
    *,
    region: str | None,
    addressing_style: str,
    checksum_calculation: str,
) -> Any:
    config = client_config(
        region_name=region,
        # SigV4 everywhere: botocore would otherwise presign custom endpoints with SigV2.
        signature_version="s3v4",
        s3={"addressing_style": addressing_style},
        # Enough for a caller's threads (a migration runs 16) and every write's parts at once;
        # botocore drops, rather than reuses, a connection beyond the pool.
        max_pool_connections=max(64, 2 * settings.max_concurrency + 8),
        request_checksum_calculation=checksum_calculation,
        # The portable layer checks the CRC32C of every whole read already.
        response_checksum_validation="when_required",
    )
    client = session.client("s3", endpoint_url=settings.endpoint_url, config=config)
    # A forked child must not send requests into the parent's pooled connections.
    return fresh_pools_in_children(client, renew_botocore_pools)


def _vendor_and_addressing(
    session: Any, bucket: str, settings: S3Options, retry: RetryPolicy
) -> tuple[str, str, bool]:
    """The vendor's name, the addressing style and whether the endpoint is not AWS's."""

    def probe(addressing: str) -> Any:
        return _build_client(
            session,
            settings,
            region=session.region_name,
            addressing_style=addressing,
            checksum_calculation="when_required",
        )

    client = probe(settings.addressing_style or "auto")
    try:
        # The endpoint may come from the option, AWS_ENDPOINT_URL(_S3) or the config file.
        custom = not is_aws_endpoint(client.meta.endpoint_url)
        # Emulators and private servers rarely have wildcard DNS for virtual-hosted buckets.
        addressing = settings.addressing_style or ("path" if custom else "auto")
        vendor = settings.vendor or (None if custom else "aws")
        if vendor is None:
            if addressing != (settings.addressing_style or "auto"):
                client.close()
                client = probe(addressing)
            vendor = _detect(client, bucket, retry)
    finally:
        client.close()
    return vendor, addressing, custom


def _open_driver(bucket: str, settings: S3Options, retry: RetryPolicy) -> S3Driver | ObstoreDriver:
    boto3 = importlib.import_module("boto3")
    session = boto3.session.Session(profile_name=settings.profile, region_name=settings.region)
    vendor, addressing, custom = _vendor_and_addressing(session, bucket, settings, retry)
    profile = VENDORS[vendor]
    region: str | None = session.region_name
    client = _build_client(
        session,
        settings,
        region=region or (profile.default_region if custom else None),
        addressing_style=addressing,
        checksum_calculation=profile.checksum_calculation,
    )
    driver = S3Driver(
        client,
        bucket=bucket,
        profile=profile,
        part_size=settings.part_size,
        max_concurrency=settings.max_concurrency,
        retry=retry,
    )
    if settings.engine != "obstore" or obstore_forked():
        # A child forked after obstore ran in its parent would hang in obstore (see
        # portacloud.providerkit.obstore_fork): the SDK engine serves it.
        return driver
    # obstore is imported only here, when a URL asks for its engine.
    from portacloud_aws.obstore_engine import ObstoreDriver, obstore_store

    return ObstoreDriver(driver, obstore_store(driver, session, addressing=addressing))


def _detect(client: Any, bucket: str, retry: RetryPolicy) -> str:
    """Name the vendor from the ``Server`` header of a HEAD bucket answer, whatever its status."""
    from portacloud_aws.errors import map_s3_error

    client_error = importlib.import_module("botocore.exceptions").ClientError

    def once() -> Any:
        try:
            return client.head_bucket(Bucket=bucket)
        except client_error as exc:
            status = http_status(exc)
            if status is None or (status != 429 and status < 500):
                # 403 and 404 answers carry the header too.
                return exc.response
            # A throttle or a 5xx (perhaps from a proxy in front of the server) says nothing
            # about the vendor: retried below rather than taken for the generic profile.
            raise map_s3_error(exc) or UnavailableError("S3 HeadBucket failed") from exc
        except Exception as exc:
            # A server that does not answer at all is UNAVAILABLE, never the generic profile.
            mapped = map_s3_error(exc)
            if mapped is None:
                raise
            raise mapped from exc

    # Opening a bucket is its own call path; this is its one retry owner, under the caller's
    # policy.
    response = call_with_retry(retry, once)
    vendor = detect_vendor(server_header(response))
    _log.debug("s3 endpoint %s identified as %s", client.meta.endpoint_url, vendor)
    return vendor


provider = S3Provider()
