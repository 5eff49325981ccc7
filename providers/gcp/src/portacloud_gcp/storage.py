"""``gs://bucket/prefix``: Google Cloud Storage, through google-cloud-storage.

The Google SDK is imported only inside :meth:`GCSProvider.open_bucket`, so installing this
package costs ``import portacloud`` nothing. Every SDK call is made with ``retry=None``: the
portable :class:`~portacloud.Bucket` owns retries of replayable calls, and this driver retries
only the upload chunks it holds in memory, under the policy given to ``open_bucket``
(docs/decisions/0001-retries.md).

Choices worth knowing:

- **etag = generation.** GCS conditions are generations (``ifGenerationMatch``), so the
  portable etag is the object's generation number in decimal and ``if_match`` is parsed back
  from it; ``if_none_match="*"`` is ``ifGenerationMatch=0``. An etag that is not a generation
  (one from another provider) can match nothing and fails the condition.
- **CRC32C is native.** GCS computes a CRC32C of every object; it is the portable checksum, so
  no metadata key is stored and any object, written by any tool, has one. The portable layer's
  CRC is sent with the upload (``crc32c`` in the object resource, or ``X-Goog-Hash`` on the
  final chunk) for GCS to refuse a mismatch, and the CRC GCS reports is compared with it again
  at commit; an object that does not match is deleted (its generation only) and
  :class:`~portacloud.errors.ChecksumMismatchError` raised.
- **Writes** (:mod:`portacloud_gcp.writer`): up to one chunk is buffered; an object that fits
  (and is at most 8 MiB, the SDK's multipart limit) is one multipart request at commit, through
  the SDK's own upload. Larger or longer streams open a resumable session on the first full
  chunk and PUT each chunk (``chunk_size``, a multiple of 256 KiB, 8 MiB by default) as it
  fills; bytes given whole (already in memory) go in the SDK's 100 MiB chunks. The last chunk
  is held back so that the request that finishes the object is sent by ``commit``. ``abort``
  DELETEs the session, leaving nothing.
- **Reads** (:mod:`portacloud_gcp.reads`) are one media GET each, described by the answer's
  own headers (generation, CRC32C, size, content type, metadata): no metadata request first.
  A reopen is pinned to the generation the read opened, so the bytes always belong to the
  description returned with them. The raw stored bytes (no decompressive transcoding) stream
  in 1 MiB chunks.
- **Listing** (:mod:`portacloud_gcp.listing`) pages by ``startOffset`` with page tokens of its
  own that name the last entry returned, and cuts each page after its last object: a server
  that reports common prefixes beyond the objects of a page (fake-gcs-server does) can then
  neither repeat nor skip entries. Each page is one JSON GET asking only for the fields used.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast
from urllib.parse import SplitResult, quote

from portacloud.checksums import crc32c_from_base64
from portacloud.errors import (
    ChecksumMismatchError,
    InvalidArgumentError,
    PortaCloudError,
)
from portacloud.logging_redaction import install_redaction
from portacloud.providerkit import (
    ChunkStream,
    EmptyStream,
    RetryPolicy,
    call_conditional_with_retry,
    call_with_retry,
    parse_options,
)
from portacloud.storage.capabilities import StorageCapabilities
from portacloud.storage.driver import BucketDriver, ListOptions, StoredVersion, WriteOptions
from portacloud.storage.models import ListPage, ObjectInfo
from portacloud_gcp.client import TIMEOUT, can_sign, make_client, same_principal
from portacloud_gcp.listing import list_page
from portacloud_gcp.options import GCSOptions
from portacloud_gcp.profiles import Profile, profile_for
from portacloud_gcp.reads import read_object, read_version, user_metadata
from portacloud_gcp.writer import GCSWriter

__all__ = ["SCHEME", "GCSDriver", "GCSProvider", "provider"]

_T = TypeVar("_T")

SCHEME = "gs"
_DELETE_WORKERS = 8
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")
_REFUSED = (429, 503)  # answers that say the request was not applied


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


class GCSDriver:
    """One GCS bucket; see the module docstring for the protocol choices.

    Attributes:
        provider: ``"gs"``.
        capabilities: From the endpoint's :class:`~portacloud_gcp.profiles.Profile`.
        profile: The endpoint kind and its protocol facts.
        chunk_size: Bytes per resumable-upload chunk.
        chunk_retry: The policy for chunks of streamed writes.
    """

    provider = SCHEME

    def __init__(
        self,
        client: Any,
        bucket_name: str,
        *,
        profile: Profile,
        chunk_size: int,
        retry: RetryPolicy | None = None,
    ) -> None:
        from portacloud_gcp.errors import map_gcs_error

        self.client: Any = client
        self._map = map_gcs_error
        self.bucket: Any = client.bucket(bucket_name)
        self.bucket_name = bucket_name
        # The authorised requests session the SDK itself uses, for raw media and session calls.
        self.http: Any = client._http
        api_base = str(client._connection.API_BASE_URL).rstrip("/")
        bucket_path = f"b/{quote(bucket_name, safe='')}/o"
        self._media_base = f"{api_base}/download/storage/v1/{bucket_path}/"
        #: The objects collection, for listing.
        self.objects_url = f"{api_base}/storage/v1/{bucket_path}"
        self.profile = profile
        self.capabilities: StorageCapabilities = profile.capabilities
        self.chunk_size = chunk_size
        # Session creation is always safe to repeat (a session left behind never becomes an
        # object); chunks are retried as far as the profile allows (see GCSWriter._send), under
        # the caller's policy.
        self.chunk_retry = retry if retry is not None else RetryPolicy()

    # ------------------------------------------------------------------ helpers

    def call(self, policy: RetryPolicy, fn: Callable[[], _T], *, conditional: bool = False) -> _T:
        """Run ``fn`` under ``policy``, native failures mapped so that retryability is known.

        ``conditional`` marks a conditional write (see
        :func:`portacloud.retry.call_conditional_with_retry`).
        """

        def once() -> _T:
            try:
                return fn()
            except PortaCloudError:
                raise
            except Exception as exc:
                mapped = self._map(exc)
                if mapped is None:
                    raise
                raise mapped from exc

        if conditional:
            return call_conditional_with_retry(policy, once)
        return call_with_retry(policy, once)

    def refusals_only(self, fn: Callable[[], _T]) -> _T:
        """Run ``fn``; a failure stays retryable only if the service refused the request.

        A 429 or 503 answer means the request was not applied; a broken connection or a cut
        response leaves its effect unknown, which only a status query could settle.
        """
        try:
            return fn()
        except Exception as exc:
            status = getattr(exc, "code", None)
            mapped = exc if isinstance(exc, PortaCloudError) else self._map(exc)
            if mapped is None:
                raise
            if status not in _REFUSED:
                mapped.retryable = False
            if mapped is exc:
                raise
            raise mapped from exc

    def info(self, resource: Mapping[str, Any]) -> ObjectInfo:
        """The portable description of a JSON API object resource."""
        metadata = user_metadata((resource.get("metadata") or {}).items())
        crc = resource.get("crc32c")
        return ObjectInfo(
            key=str(resource["name"]),
            size=int(resource.get("size") or 0),
            etag=str(resource["generation"]),
            last_modified=_parse_time(resource.get("updated") or resource.get("timeCreated")),
            content_type=resource.get("contentType") or None,
            metadata=metadata,
            checksums={"crc32c": crc32c_from_base64(crc)} if isinstance(crc, str) and crc else {},
        )

    def verified(self, resource: Mapping[str, Any], crc32c: str) -> ObjectInfo:
        """Describe a just-written object, deleting it if its CRC32C is not ``crc32c``."""
        info = self.info(resource)
        if info.crc32c == crc32c:
            return info
        try:
            self.bucket.delete_blob(
                info.key, if_generation_match=int(info.etag), retry=None, timeout=TIMEOUT
            )
        except Exception as exc:
            if self._map(exc) is None:
                raise
        raise ChecksumMismatchError(
            f"the stored object has CRC32C {info.crc32c}, but {crc32c} was written; "
            "the bytes were corrupted in transit and the object was deleted",
            resource=info.key,
            retryable=True,  # the damaged generation is gone: writing again is safe
        )

    def media_url(self, key: str, generation: str | None) -> str:
        """The download URL of ``key`` (of one ``generation`` of it, if given)."""
        url = f"{self._media_base}{quote(key, safe='')}?alt=media"
        return url if generation is None else f"{url}&generation={generation}"

    def _resource(self, key: str) -> Mapping[str, Any]:
        blob = self.bucket.blob(key)
        blob.reload(retry=None, timeout=TIMEOUT)
        resource: Mapping[str, Any] = blob._properties
        return resource

    # ------------------------------------------------------------------ BucketDriver

    def stat(self, key: str) -> ObjectInfo:
        return self.info(self._resource(key))

    def read(
        self, key: str, *, start: int, end: int | None
    ) -> tuple[ObjectInfo, ChunkStream | EmptyStream]:
        """One media GET, described by its own headers (:mod:`portacloud_gcp.reads`)."""
        return read_object(self, key, start=start, end=end)

    def read_version(self, key: str, *, start: int, etag: str) -> ChunkStream:
        """Read on from ``start`` in the generation ``etag`` names (a reopen)."""
        return read_version(self, key, start=start, etag=etag)

    def open_writer(self, key: str, options: WriteOptions) -> GCSWriter:
        return GCSWriter(self, key, options)

    def delete(self, key: str, generation: int | None = None) -> None:
        """Delete the live object, or one ``generation`` of it for good; gone is no error."""
        from google.api_core import exceptions as api_exceptions

        try:
            self.bucket.delete_blob(key, generation=generation, retry=None, timeout=TIMEOUT)
        except api_exceptions.NotFound:
            return

    def delete_many(self, keys: Sequence[str]) -> None:
        """Delete concurrently: the JSON batch endpoint is not used (fake-gcs-server lacks it)."""
        self._each(self.delete, keys)

    def bucket_region(self) -> str:
        """The bucket's location (a region such as ``europe-west4``, or a multi-region such
        as ``eu``), lower-case."""
        found = self.client.get_bucket(self.bucket_name, retry=None, timeout=TIMEOUT)
        return str(found.location).lower()

    def list_versions(self, prefix: str) -> list[StoredVersion]:
        """Every generation, live and noncurrent, of the objects under ``prefix``."""
        blobs = self.client.list_blobs(
            self.bucket, prefix=prefix or None, versions=True, retry=None, timeout=TIMEOUT
        )
        infos = [self.info(blob._properties) for blob in blobs]
        return [
            StoredVersion(key=i.key, version=i.etag, size=i.size, crc32c=i.crc32c) for i in infos
        ]

    def delete_versions(self, versions: Sequence[StoredVersion]) -> None:
        """Delete each generation named (concurrently, as :meth:`delete_many`)."""

        def delete_one(version: StoredVersion) -> None:
            self.delete(version.key, None if version.version is None else int(version.version))

        self._each(delete_one, versions)

    @staticmethod
    def _each(fn: Callable[[_T], None], items: Sequence[_T]) -> None:
        if items:
            with ThreadPoolExecutor(min(_DELETE_WORKERS, len(items))) as pool:
                list(pool.map(fn, items))

    def list_page(self, options: ListOptions) -> ListPage:
        return list_page(self, options)

    def copy(self, src_key: str, dst_key: str, *, if_none_match: bool) -> ObjectInfo:
        return self._rewrite(self.bucket.blob(src_key), dst_key, if_none_match=if_none_match)

    def can_copy_from(self, source: BucketDriver) -> bool:
        """Whether ``source`` is a bucket of the same endpoint and project that this driver's
        credentials reach as the same principal (see
        :func:`~portacloud_gcp.client.same_principal`); sends no request."""
        return self._same_principal(source) is not None

    def copy_from(
        self, source: BucketDriver, src_key: str, dst_key: str, *, if_none_match: bool
    ) -> ObjectInfo | None:
        """Rewrite from another bucket, as :meth:`copy` does within one (the CRC32C, content
        type and metadata travel with it); ``None`` if ``source`` is out of reach."""
        origin = self._same_principal(source)
        if origin is None:
            return None
        return self._rewrite(origin.bucket.blob(src_key), dst_key, if_none_match=if_none_match)

    def _same_principal(self, source: object) -> GCSDriver | None:
        if isinstance(source, GCSDriver) and same_principal(source.client, self.client):
            return source
        return None

    def _rewrite(self, source: Any, dst_key: str, *, if_none_match: bool) -> ObjectInfo:
        target = self.bucket.blob(dst_key)
        token: str | None = None
        while True:  # large or cross-class copies take several rewrite calls
            token, _, _ = target.rewrite(
                source,
                token=token,
                if_generation_match=0 if if_none_match else None,
                retry=None,
                timeout=TIMEOUT,
            )
            if token is None:
                break
        return self.info(target._properties)

    def signed_url(
        self, key: str, *, method: str, expires: timedelta, content_type: str | None
    ) -> str:
        url: str = self.bucket.blob(key).generate_signed_url(
            version="v4",
            expiration=expires,
            method=method,
            content_type=content_type if method == "PUT" else None,
        )
        return url

    def map_error(self, exc: Exception) -> PortaCloudError | None:
        return self._map(exc)

    def native(self) -> object | None:
        return cast(object, self.client)

    def close(self) -> None:
        """Close the client's HTTP session (and with it the pooled connections)."""
        self.client.close()


class GCSProvider:
    """Opens ``gs://bucket[/prefix]``.

    Options (URL query or keyword arguments; :class:`~portacloud_gcp.options.GCSOptions`):
        project: The project to bill and report (object calls do not need it).
        endpoint_url: A JSON API endpoint such as an emulator's ``http://127.0.0.1:4443``. With
            it, or with ``STORAGE_EMULATOR_HOST`` set, the emulator profile applies and the
            client is anonymous unless ``credentials`` are given.
        chunk_size: Bytes per resumable-upload chunk, a multiple of 256 KiB (default 8 MiB).
        credentials: A ``google.auth.credentials.Credentials`` (keyword argument only; URLs
            never carry credentials). Default: Application Default Credentials.
    """

    def open_bucket(
        self, url: SplitResult, options: Mapping[str, object], *, retry: RetryPolicy | None = None
    ) -> tuple[GCSDriver, str]:
        """Return the driver for the URL's bucket and the key prefix from its path.

        ``retry`` is the policy of the retries the driver owns (chunks of streamed writes).
        """
        # google-auth and urllib3 log tokens and session URLs at DEBUG: redact them first.
        install_redaction()
        parsed = parse_options(GCSOptions, SCHEME, options)
        name = url.netloc
        if not _BUCKET_NAME.fullmatch(name):
            raise InvalidArgumentError(
                f"gs:// URLs need a bucket name (3-222 lower-case letters, digits, '-', '_', "
                f"'.'): gs://BUCKET/prefix, not {name!r}"
            )
        endpoint = parsed.endpoint_url
        emulator = endpoint is not None or bool(os.environ.get("STORAGE_EMULATOR_HOST"))
        client = make_client(
            project=parsed.project,
            endpoint=endpoint,
            credentials=parsed.credentials,
            emulator=emulator,
        )
        driver = GCSDriver(
            client,
            name,
            profile=profile_for(emulator=emulator, can_sign=can_sign(client)),
            chunk_size=parsed.chunk_size,
            retry=retry,
        )
        return driver, url.path.lstrip("/")


provider = GCSProvider()
