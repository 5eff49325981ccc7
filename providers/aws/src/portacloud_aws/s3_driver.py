"""The S3 bucket driver: reads, listings, deletes, signed URLs; writes and copies delegated."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from datetime import timedelta
from typing import Any, TypeVar

from portacloud.errors import PortaCloudError, UnavailableError
from portacloud.providerkit import (
    BodyStream,
    EmptyStream,
    RetryPolicy,
    call_mapped,
    call_owned,
)
from portacloud.storage.capabilities import StorageCapabilities
from portacloud.storage.driver import (
    BucketDriver,
    ListOptions,
    PendingUpload,
    StoredVersion,
    WriteOptions,
)
from portacloud.storage.models import ListPage, ObjectInfo, PrefixInfo
from portacloud_aws import s3_copy, uploads
from portacloud_aws.boto import client_account, http_status, utc
from portacloud_aws.options import DEFAULT_CONCURRENCY, DEFAULT_PART_SIZE
from portacloud_aws.s3_responses import (
    bucket_region,
    content_length,
    object_info,
    quote_etag,
    range_header,
    total_size,
)
from portacloud_aws.s3_writer import S3Writer
from portacloud_aws.vendors import VendorProfile

__all__ = ["S3Driver"]

_T = TypeVar("_T")


class S3Driver:
    """A bucket on S3 or an S3-compatible server.

    Attributes:
        provider: ``"s3"``.
        capabilities: The capabilities of the vendor profile in use.
        profile: The vendor profile (``aws``, ``seaweedfs``, ``moto``...).
        client: The boto3 S3 client.
        bucket: The bucket name.
        part_size: Bytes per multipart part (the first 1,000 parts).
        max_concurrency: Parts uploaded at once by one write.
    """

    provider = "s3"

    def __init__(
        self,
        client: Any,
        *,
        bucket: str,
        profile: VendorProfile,
        part_size: int = DEFAULT_PART_SIZE,
        max_concurrency: int = DEFAULT_CONCURRENCY,
        retry: RetryPolicy | None = None,
    ) -> None:
        """Wrap a boto3 S3 client.

        Args:
            client: The boto3 S3 client, with botocore's retries off.
            bucket: The bucket name.
            profile: What the server behind the client can do.
            part_size: Bytes per multipart part (the first 1,000 parts).
            max_concurrency: Parts uploaded at once by one write.
            retry: The policy of the retries this driver owns (the parts of streamed writes,
                aborts); :meth:`S3Provider.open_bucket` passes the caller's. Default: the
                portable one.
        """
        self.client: Any = client
        self.bucket = bucket
        self.profile = profile
        self.capabilities: StorageCapabilities = profile.capabilities
        self.part_size = part_size
        self.max_concurrency = max_concurrency
        self.retry = retry or RetryPolicy()

    def __repr__(self) -> str:
        return f"S3Driver(bucket={self.bucket!r}, vendor={self.profile.name!r})"

    # ----------------------------------------------------------------- plumbing

    def to_portable(self, exc: BaseException, what: str) -> PortaCloudError:
        """Map ``exc`` through the provider's table (or wrap it as UNAVAILABLE)."""
        return self.map_error(exc) or UnavailableError(f"{what}: {type(exc).__name__}")

    @staticmethod
    def _unmapped(exc: Exception) -> PortaCloudError:
        return UnavailableError(f"S3 request failed: {type(exc).__name__}")

    def run(self, fn: Callable[[], _T], *, retry: bool, conditional: bool = False) -> _T:
        """Call ``fn`` raising portacloud errors, retried under the policy when ``retry``.

        ``conditional`` marks a conditional write, whose retries must not turn its own lost
        answer into a failed condition (:func:`portacloud.retry.call_conditional_with_retry`).
        """

        def once() -> _T:
            return call_mapped(fn, self.map_error, self._unmapped)

        return call_owned(self.retry, once, retry=retry, conditional=conditional)

    def head_kwargs(self, key: str) -> dict[str, Any]:
        """HeadObject's (and GetObject's) arguments, asking for the native CRC32C if any."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if self.profile.native_crc32c:
            kwargs["ChecksumMode"] = "ENABLED"
        return kwargs

    def info(self, key: str, response: Mapping[str, Any], *, size: int | None = None) -> ObjectInfo:
        """Describe ``key`` from its HEAD or GET answer."""
        return object_info(key, response, native_crc32c=self.profile.native_crc32c, size=size)

    # ----------------------------------------------------------------- BucketDriver

    def stat(self, key: str) -> ObjectInfo:
        """HeadObject."""
        return self.info(key, self.client.head_object(**self.head_kwargs(key)))

    def read(
        self, key: str, *, start: int, end: int | None
    ) -> tuple[ObjectInfo, BodyStream | EmptyStream]:
        """GetObject with a Range; a range past the end (HTTP 416) reads as no bytes."""
        kwargs = self.head_kwargs(key)
        byte_range = range_header(start, end)
        if byte_range is not None:
            kwargs["Range"] = byte_range
        try:
            response = self.client.get_object(**kwargs)
        except Exception as exc:
            if http_status(exc) != 416:
                raise
            return self.stat(key), EmptyStream()
        try:
            size = content_length(response)
        except UnavailableError:
            response["Body"].close()
            raise
        if byte_range is not None:
            size = total_size(response.get("ContentRange"), size)
        # StreamingBody.read raises IncompleteReadError when the body ends early.
        return self.info(key, response, size=size), BodyStream(response["Body"])

    def open_writer(self, key: str, options: WriteOptions) -> S3Writer:
        """Begin a write; nothing is sent until a part fills or the write commits."""
        return S3Writer(self, key, options)

    def delete(self, key: str) -> None:
        """DeleteObject; S3 answers 204 for a missing key too."""
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def delete_many(self, keys: Sequence[str]) -> None:
        """DeleteObjects (up to 1,000 keys; the portable Bucket batches)."""
        if not keys:
            return
        response = self.client.delete_objects(
            Bucket=self.bucket,
            Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True},
        )
        uploads.check_deleted(response, len(keys))

    def list_versions(self, prefix: str) -> list[StoredVersion]:
        """ListObjectVersions: versions and delete markers under ``prefix``."""
        return uploads.list_versions(self.client, self.bucket, prefix)

    def delete_versions(self, versions: Sequence[StoredVersion]) -> None:
        """DeleteObjects with version IDs (up to 1,000): those versions go for good."""
        uploads.delete_versions(self.client, self.bucket, versions)

    def bucket_region(self) -> str:
        """GetBucketLocation, with S3's legacy answers spelled as region names."""
        return bucket_region(self.client, self.bucket)

    def list_uploads(self, prefix: str) -> list[PendingUpload]:
        """ListMultipartUploads under ``prefix``."""
        return uploads.list_uploads(self.client, self.bucket, prefix)

    def abort_upload(self, upload: PendingUpload) -> None:
        """AbortMultipartUpload; an upload already gone is no error."""
        with suppress(self.client.exceptions.NoSuchUpload):
            self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=upload.key, UploadId=upload.upload_id
            )

    def list_page(self, options: ListOptions) -> ListPage:
        """ListObjectsV2; its continuation token is the page token."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "MaxKeys": options.page_size}
        if options.prefix:
            kwargs["Prefix"] = options.prefix
        if options.delimiter:
            kwargs["Delimiter"] = options.delimiter
        if options.token:
            kwargs["ContinuationToken"] = options.token
        elif options.start_after:
            kwargs["StartAfter"] = options.start_after
        # botocore asks for EncodingType=url and decodes keys, so any character survives XML.
        response = self.client.list_objects_v2(**kwargs)
        objects = tuple(
            ObjectInfo(
                key=item["Key"],
                size=int(item.get("Size", 0)),
                etag=quote_etag(item.get("ETag")),
                last_modified=utc(item.get("LastModified")),
            )
            for item in response.get("Contents") or []
        )
        prefixes = tuple(
            PrefixInfo(key=item["Prefix"]) for item in response.get("CommonPrefixes") or []
        )
        token = response.get("NextContinuationToken") if response.get("IsTruncated") else None
        return ListPage(objects=objects, prefixes=prefixes, next_token=token or None)

    def copy(self, src_key: str, dst_key: str, *, if_none_match: bool) -> ObjectInfo:
        """CopyObject (UploadPartCopy above 5 GiB), pinned to the source's current etag."""
        return s3_copy.copy_object(self, src_key, dst_key, if_none_match=if_none_match)

    def can_copy_from(self, source: BucketDriver) -> bool:
        """Whether ``source`` is a bucket of the same store (endpoint and region) that this
        driver's credentials (the same access key ID) can read; sends no request."""
        return self._same_account(source) is not None

    def copy_from(
        self, source: BucketDriver, src_key: str, dst_key: str, *, if_none_match: bool
    ) -> ObjectInfo | None:
        """CopyObject from another bucket of the same account (UploadPartCopy above 5 GiB),
        pinned to the source's current etag; ``None`` if ``source`` is out of reach."""
        origin = self._same_account(source)
        if origin is None:
            return None
        return s3_copy.copy_object(
            self, src_key, dst_key, if_none_match=if_none_match, origin=origin
        )

    def _same_account(self, source: object) -> S3Driver | None:
        # The obstore engine keeps its boto3 driver in ``sdk``: copies go through that.
        origin = getattr(source, "sdk", source)
        if not isinstance(origin, S3Driver):
            return None
        if client_account(origin.client) != client_account(self.client):
            return None
        return origin

    def stamp_crc32c(
        self, key: str, etag: str, *, size: int, options: WriteOptions, crc32c: str
    ) -> str:
        """Add the CRC32C to a just-completed multipart object (see :mod:`.s3_copy`)."""
        return s3_copy.stamp_crc32c(self, key, etag, size=size, options=options, crc32c=crc32c)

    def signed_url(
        self, key: str, *, method: str, expires: timedelta, content_type: str | None
    ) -> str:
        """A SigV4 presigned GET or PUT (``ContentType`` is signed for PUT)."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if method == "PUT" and content_type:
            params["ContentType"] = content_type
        operation = "get_object" if method == "GET" else "put_object"
        url: str = self.client.generate_presigned_url(
            operation,
            Params=params,
            ExpiresIn=max(1, int(expires.total_seconds())),
            HttpMethod=method,
        )
        return url

    def map_error(self, exc: BaseException) -> PortaCloudError | None:
        """Translate a botocore/urllib3 exception through :mod:`portacloud_aws.errors`."""
        from portacloud_aws.errors import map_s3_error

        return map_s3_error(exc)

    def collect_garbage(self, *, older_than: timedelta) -> list[str]:
        """Abort the bucket's multipart uploads initiated more than ``older_than`` ago."""
        return uploads.abort_stale_uploads(
            self.client,
            self.bucket,
            older_than=older_than,
            not_found=self.client.exceptions.NoSuchUpload,
        )

    def native(self) -> object | None:
        """The boto3 S3 client."""
        client: object = self.client
        return client

    def close(self) -> None:
        """Close the client's connection pool."""
        self.client.close()
