"""``gs://bucket/prefix``: Google Cloud Storage, through google-cloud-storage.

The Google SDK is imported only inside :meth:`GCSProvider.open_bucket`, so installing this
package costs ``import portacloud`` nothing. Every SDK call is made with ``retry=None``: the
portable :class:`~portacloud.Bucket` owns retries of replayable calls, and this driver retries
only the upload chunks it holds in memory (docs/decisions/0001-retries.md).

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
- **Writes.** Up to one chunk is buffered; an object that fits (and is at most 8 MiB, the SDK's
  multipart limit) is one multipart request at commit. Larger or longer streams open a
  resumable session on the first full chunk and PUT each chunk (``chunk_size``, a multiple of
  256 KiB, 8 MiB by default) as it fills; the last chunk is held back so that the request that
  finishes the object is sent by ``commit``. ``abort`` DELETEs the session, leaving nothing.
- **Reads** pin the generation that ``stat`` saw, so the bytes always belong to the metadata
  returned with them, and stream the raw stored bytes (no decompressive transcoding) in 1 MiB
  chunks.
- **Listing** pages by ``startOffset`` with page tokens of its own that name the last entry
  returned, and cuts each page after its last object: a server that reports common prefixes
  beyond the objects of a page (fake-gcs-server does) can then neither repeat nor skip entries.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar
from urllib.parse import SplitResult, quote

from portacloud.checksums import crc32c_from_base64, crc32c_to_base64
from portacloud.errors import (
    ChecksumMismatchError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    PortaCloudError,
    UnavailableError,
    UnsupportedError,
)
from portacloud.logging_redaction import install_redaction
from portacloud.providers.options import reject_unknown_options
from portacloud.retry import RetryPolicy, call_conditional_with_retry, call_with_retry
from portacloud.storage.capabilities import StorageCapabilities
from portacloud.storage.driver import ListOptions, WriteOptions
from portacloud.storage.models import ListPage, ObjectInfo, PrefixInfo
from portacloud_gcp.profiles import Profile, profile_for

__all__ = ["GCSDriver", "GCSProvider", "provider"]

_T = TypeVar("_T")

_SCHEME = "gs"
_OPTIONS = ("project", "endpoint_url", "chunk_size", "credentials")
_CHUNK_MULTIPLE = 256 * 1024  # GCS accepts non-final resumable chunks only in these units
_DEFAULT_CHUNK = 8 * 1024 * 1024
_SINGLE_SHOT_MAX = 8 * 1024 * 1024  # above this the SDK itself switches to resumable uploads
_READ_CHUNK = 1024 * 1024
_TIMEOUT = 60.0
_DELETE_WORKERS = 8
_STAT_TRIES = 3
_RESERVED_METADATA_PREFIX = "portacloud-"
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")
_RANGE_HEADER = re.compile(r"bytes=0-(\d+)")
_NO_RETRY = RetryPolicy(attempts=1)
_REFUSED = (429, 503)  # answers that say the request was not applied
_PAGE_KEY, _PAGE_PREFIX = "k:", "p:"
#: Connections kept open for reuse (requests keeps 10): callers with more threads than that,
#: such as a migration's 16, would otherwise open and drop one for most requests.
_POOL_CONNECTIONS = 64


def _successor(prefix: str) -> str:
    """The least string greater than every string that starts with ``prefix``."""
    while prefix:
        last = ord(prefix[-1]) + 1
        if 0xD800 <= last <= 0xDFFF:
            last = 0xE000  # surrogates are no characters: UTF-8 order skips them
        if last <= 0x10FFFF:
            return prefix[:-1] + chr(last)
        prefix = prefix[:-1]
    return ""  # no string is greater: the caller lists nothing more


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _generation_condition(options: WriteOptions) -> int | None:
    """The ``ifGenerationMatch`` a write's options ask for, if any."""
    if options.if_none_match:
        return 0
    if options.if_match is None:
        return None
    etag = options.if_match
    if not etag.isdigit() or etag.startswith("0"):
        raise FailedPreconditionError(
            f"etag {etag!r} is not a GCS generation, so it matches no object here"
        )
    return int(etag)


class _MediaStream:
    """The body of one media download, as raw stored bytes in 1 MiB chunks."""

    def __init__(self, response: Any) -> None:
        self._response: Any = response

    def __iter__(self) -> Iterator[bytes]:
        response = self._response
        if response is None:
            return
        try:
            yield from response.raw.stream(_READ_CHUNK, decode_content=False)
        finally:
            self.close()

    def close(self) -> None:
        response, self._response = self._response, None
        if response is not None:
            response.close()


class _Empty:
    """A read that needs no request: the range starts at or after the end."""

    def __iter__(self) -> Iterator[bytes]:
        return iter(())

    def close(self) -> None:
        """Nothing was opened."""


class _GCSWriter:
    """One upload: a multipart request at commit, or a resumable session fed chunk by chunk."""

    def __init__(self, driver: GCSDriver, key: str, options: WriteOptions) -> None:
        self._driver = driver
        self._key = key
        self._options = options
        self._generation = _generation_condition(options)
        self._content_type = options.content_type or "application/octet-stream"
        # Bytes given up front are replayed whole by the portable layer; a stream is not, so
        # only then does the writer retry the chunks it still holds.
        self._retry = driver.chunk_retry if options.size_hint is None else _NO_RETRY
        self._buffer = bytearray()
        self._session: str | None = None
        self._offset = 0  # bytes the session holds
        self._finished = False

    # ------------------------------------------------------------------ DriverWriter

    def write(self, data: bytes) -> None:
        if self._finished:
            raise InvalidArgumentError("write after the object was committed or aborted")
        self._buffer += data
        chunk = self._driver.chunk_size
        # Strictly more than a chunk: the last bytes must stay for commit's final request.
        while len(self._buffer) > chunk:
            if self._session is None:
                self._session = self._start_session()
            self._send(bytes(self._buffer[:chunk]), total=None, crc32c=None)
            del self._buffer[:chunk]

    def commit(self, *, crc32c: str) -> ObjectInfo:
        if self._finished:
            raise InvalidArgumentError("commit after the object was committed or aborted")
        self._finished = True
        data, self._buffer = bytes(self._buffer), bytearray()
        try:
            if self._session is None and len(data) <= _SINGLE_SHOT_MAX:
                resource = self._single_shot(data, crc32c)
            else:
                if self._session is None:
                    self._session = self._start_session()
                resource = self._send(data, total=self._offset + len(data), crc32c=crc32c)
                if resource is None:
                    raise InternalError("the service did not finish the upload", resource=self._key)
                self._session = None  # finished: there is nothing left to abort
        except PortaCloudError as exc:
            raise _as_checksum_error(exc) from exc.__cause__
        return self._driver.verified(resource, crc32c)

    def abort(self) -> None:
        self._finished = True
        self._buffer = bytearray()
        session, self._session = self._session, None
        if session is None:
            return
        try:
            self._driver.http.delete(session, timeout=_TIMEOUT)
        except Exception as exc:
            # Abort runs while another error propagates; a session left behind expires on its
            # own (GCS drops it after a week) and never becomes an object.
            if self._driver.map_error(exc) is None:
                raise

    # ------------------------------------------------------------------ requests

    def _blob(self) -> Any:
        blob = self._driver.bucket.blob(self._key)
        blob.content_type = self._content_type
        if self._options.metadata:
            blob.metadata = dict(self._options.metadata)
        return blob

    def _single_shot(self, data: bytes, crc32c: str) -> Mapping[str, Any]:
        def once() -> Mapping[str, Any]:
            blob = self._blob()
            blob.crc32c = crc32c_to_base64(crc32c)  # GCS refuses the upload on a mismatch
            blob.upload_from_file(
                io.BytesIO(data),
                size=len(data),
                content_type=self._content_type,
                if_generation_match=self._generation,
                checksum=None,
                retry=None,
                timeout=_TIMEOUT,
            )
            resource: Mapping[str, Any] = blob._properties
            return resource

        return self._driver.call(self._retry, once, conditional=self._generation is not None)

    def _start_session(self) -> str:
        if self._generation is not None and not self._driver.profile.resumable_preconditions:
            raise UnsupportedError(
                f"{self._driver.profile.name} ignores conditions on resumable uploads, so a "
                f"conditional write larger than one chunk ({self._driver.chunk_size} bytes) "
                "cannot be atomic here",
                resource=self._key,
            )

        def once() -> str:
            url: str = self._blob().create_resumable_upload_session(
                content_type=self._content_type,
                if_generation_match=self._generation,
                checksum=None,
                retry=None,
                timeout=_TIMEOUT,
            )
            return url

        return self._driver.call(self._retry, once)

    def _send(self, payload: bytes, *, total: int | None, crc32c: str | None) -> Any:
        """PUT ``payload`` at the session's offset; the object resource once it is finished."""
        start, end = self._offset, self._offset + len(payload)
        first = True

        can_query = self._driver.profile.resumable_status_query

        def once() -> Any:
            nonlocal first
            if not first and can_query:
                # The last try failed somewhere: ask the session what it holds.
                held = self._query()
                if not isinstance(held, int):
                    return held
                self._offset = held
            first = False
            if not start <= self._offset <= end:
                raise UnavailableError(
                    f"the upload session holds {self._offset} bytes, outside the chunk "
                    f"[{start}, {end}) this writer still has",
                    resource=self._key,
                    retryable=False,
                )
            while True:
                before = self._offset
                if total is None and before >= end:
                    return None  # the session holds the whole chunk
                resource = self._put(payload[before - start :], before, total, crc32c)
                if resource is not None:
                    return resource
                if self._offset <= before:
                    raise UnavailableError(
                        "the upload session did not take the chunk", resource=self._key
                    )

        if can_query or self._options.size_hint is not None:
            # Bytes given whole are replayed by the portable Bucket with a new session.
            return self._driver.call(self._retry, once)
        # Without a status query nothing tells what a broken request left in the session, so
        # only a refusal (the request was not applied) is resent, from the same offset.
        return self._driver.call(self._retry, partial(self._driver.refusals_only, once))

    def _put(
        self, body: bytes, offset: int, total: int | None, crc32c: str | None
    ) -> Mapping[str, Any] | None:
        if body:
            size = "*" if total is None else str(total)
            content_range = f"bytes {offset}-{offset + len(body) - 1}/{size}"
        else:
            content_range = f"bytes */{total}"
        headers = {"Content-Range": content_range, "Content-Type": self._content_type}
        if total is not None and crc32c is not None:
            headers["X-Goog-Hash"] = f"crc32c={crc32c_to_base64(crc32c)}"
        response = self._driver.http.put(
            self._session, data=body, headers=headers, timeout=_TIMEOUT
        )
        if response.status_code == 308:
            self._offset = _held_bytes(response)
            return None
        if response.status_code in (200, 201):
            resource: Mapping[str, Any] = response.json()
            return resource
        raise _http_error(response)

    def _query(self) -> int | Mapping[str, Any]:
        """How many bytes the session holds, or the object resource if it is finished."""
        response = self._driver.http.put(
            self._session, data=b"", headers={"Content-Range": "bytes */*"}, timeout=_TIMEOUT
        )
        if response.status_code == 308:
            return _held_bytes(response)
        if response.status_code in (200, 201):
            resource: Mapping[str, Any] = response.json()
            return resource
        raise _http_error(response)


def _http_error(response: Any) -> Exception:
    """The SDK's own exception for a failed raw request, so errors.py maps it like the rest."""
    from google.api_core import exceptions as api_exceptions

    error: Exception = api_exceptions.from_http_response(response)  # type: ignore[no-untyped-call]
    return error


def _held_bytes(response: Any) -> int:
    """Bytes a resumable session holds, from the ``Range`` header of a 308."""
    match = _RANGE_HEADER.fullmatch(str(response.headers.get("Range", "")).strip())
    return int(match.group(1)) + 1 if match else 0


def _as_checksum_error(exc: PortaCloudError) -> PortaCloudError:
    """GCS refuses an upload whose declared CRC32C differs with a 400 that names it."""
    if isinstance(exc, InvalidArgumentError) and "crc32c" in exc.message.lower():
        # Retryable like every checksum failure: bytes held in memory can be sent again.
        return ChecksumMismatchError(
            f"the service refused the upload: {exc.message}",
            resource=exc.resource,
            retryable=True,
        )
    return exc


class GCSDriver:
    """One GCS bucket; see the module docstring for the protocol choices.

    Attributes:
        provider: ``"gs"``.
        capabilities: From the endpoint's :class:`~portacloud_gcp.profiles.Profile`.
        profile: The endpoint kind and its protocol facts.
        chunk_size: Bytes per resumable-upload chunk.
        chunk_retry: The policy for chunks of streamed writes.
    """

    provider = _SCHEME

    def __init__(self, client: Any, bucket_name: str, *, profile: Profile, chunk_size: int) -> None:
        from portacloud_gcp.errors import map_gcs_error

        self._client = client
        self._map = map_gcs_error
        self.bucket: Any = client.bucket(bucket_name)
        self.bucket_name = bucket_name
        # The authorised requests session the SDK itself uses, for raw media and session calls.
        self.http: Any = client._http
        self._api_base = str(client._connection.API_BASE_URL).rstrip("/")
        self.profile = profile
        self.capabilities: StorageCapabilities = profile.capabilities
        self.chunk_size = chunk_size
        # Session creation is always safe to repeat (a session left behind never becomes an
        # object); chunks are retried as far as the profile allows (see _GCSWriter._send).
        self.chunk_retry = RetryPolicy()

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
        raw_metadata = resource.get("metadata") or {}
        metadata = {
            str(name).lower(): value
            for name, value in raw_metadata.items()
            if isinstance(value, str)
            and not str(name).lower().startswith(_RESERVED_METADATA_PREFIX)
        }
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
                info.key, if_generation_match=int(info.etag), retry=None, timeout=_TIMEOUT
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

    def _media_url(self, key: str, generation: str) -> str:
        return (
            f"{self._api_base}/download/storage/v1/b/{quote(self.bucket_name, safe='')}"
            f"/o/{quote(key, safe='')}?alt=media&generation={generation}"
        )

    def _resource(self, key: str) -> Mapping[str, Any]:
        blob = self.bucket.blob(key)
        blob.reload(retry=None, timeout=_TIMEOUT)
        resource: Mapping[str, Any] = blob._properties
        return resource

    # ------------------------------------------------------------------ BucketDriver

    def stat(self, key: str) -> ObjectInfo:
        return self.info(self._resource(key))

    def read(
        self, key: str, *, start: int, end: int | None
    ) -> tuple[ObjectInfo, _MediaStream | _Empty]:
        for _ in range(_STAT_TRIES):
            info = self.stat(key)
            size = info.size
            begin = max(0, size + start) if start < 0 else start
            stop = size if end is None else min(end, size)
            if begin >= stop:
                return info, _Empty()
            headers = {} if (begin, stop) == (0, size) else {"Range": f"bytes={begin}-{stop - 1}"}
            response = self.http.get(
                self._media_url(key, info.etag), headers=headers, stream=True, timeout=_TIMEOUT
            )
            if response.status_code in (200, 206):
                return info, _MediaStream(response)
            response.close()
            if response.status_code == 416:
                return info, _Empty()
            if response.status_code != 404:
                raise _http_error(response)
            # That generation was replaced between stat and read: describe the new one.
        raise UnavailableError("the object kept changing while being opened", resource=key)

    def open_writer(self, key: str, options: WriteOptions) -> _GCSWriter:
        return _GCSWriter(self, key, options)

    def delete(self, key: str) -> None:
        from google.api_core import exceptions as api_exceptions

        try:
            self.bucket.delete_blob(key, retry=None, timeout=_TIMEOUT)
        except api_exceptions.NotFound:
            return

    def delete_many(self, keys: Sequence[str]) -> None:
        """Delete concurrently: the JSON batch endpoint is not used (fake-gcs-server lacks it)."""
        if not keys:
            return
        with ThreadPoolExecutor(min(_DELETE_WORKERS, len(keys))) as pool:
            list(pool.map(self.delete, keys))

    def list_page(self, options: ListOptions) -> ListPage:
        bound, skip_prefix = _decode_token(options.token)
        if options.start_after is not None and (bound is None or options.start_after > bound):
            bound = options.start_after
        offset = bound
        if skip_prefix is not None:
            after_group = _successor(skip_prefix)
            if not after_group:
                return ListPage()
            offset = max(offset or "", after_group)
        gcs_token: str | None = None
        while True:
            iterator = self._client.list_blobs(
                self.bucket,
                prefix=options.prefix or None,
                delimiter=options.delimiter,
                start_offset=offset or None,
                page_size=min(options.page_size + 1, 1000),
                page_token=gcs_token,
                retry=None,
                timeout=_TIMEOUT,
            )
            page = next(iterator.pages, None)
            objects = [self.info(blob._properties) for blob in page or ()]
            prefixes = sorted(page.prefixes) if page is not None else []
            gcs_token = iterator.next_page_token
            entries = _page_entries(
                objects, prefixes, bound, skip_prefix, more=gcs_token is not None
            )
            if entries or gcs_token is None:
                break
        return _to_page(entries, options.page_size, more=gcs_token is not None)

    def copy(self, src_key: str, dst_key: str, *, if_none_match: bool) -> ObjectInfo:
        source = self.bucket.blob(src_key)
        target = self.bucket.blob(dst_key)
        token: str | None = None
        while True:  # large or cross-class copies take several rewrite calls
            token, _, _ = target.rewrite(
                source,
                token=token,
                if_generation_match=0 if if_none_match else None,
                retry=None,
                timeout=_TIMEOUT,
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
        client: object = self._client
        return client

    def close(self) -> None:
        self._client.close()


_Entry = ObjectInfo | PrefixInfo


def _decode_token(token: str | None) -> tuple[str | None, str | None]:
    """Split this driver's page token into (last key returned, last prefix returned)."""
    if token is None:
        return None, None
    if token.startswith(_PAGE_KEY):
        return token[len(_PAGE_KEY) :], None
    if token.startswith(_PAGE_PREFIX):
        return None, token[len(_PAGE_PREFIX) :]
    raise InvalidArgumentError(f"malformed page token {token!r}")


def _page_entries(
    objects: list[ObjectInfo],
    prefixes: list[str],
    bound: str | None,
    skip_prefix: str | None,
    *,
    more: bool,
) -> list[_Entry]:
    """The entries of one GCS page that are after the cursor and certainly complete.

    ``startOffset`` is inclusive, so the key equal to the cursor is dropped. While GCS has more
    pages, prefixes after the page's last object are dropped too: a server may report them
    although objects between are still to come, and the next page will bring them in order.
    """
    entries: list[_Entry] = [o for o in objects if bound is None or o.key > bound]
    entries += [
        PrefixInfo(key=p)
        for p in prefixes
        if (bound is None or p > bound or bound.startswith(p))
        and (skip_prefix is None or p > skip_prefix)
    ]
    entries.sort(key=lambda e: e.key)
    if more and objects:
        last = objects[-1].key
        entries = [e for e in entries if e.key <= last]
    return entries


def _to_page(entries: list[_Entry], page_size: int, *, more: bool) -> ListPage:
    shown = entries[:page_size]
    truncated = more or len(entries) > page_size
    token: str | None = None
    if truncated and shown:
        last = shown[-1]
        token = (_PAGE_PREFIX if isinstance(last, PrefixInfo) else _PAGE_KEY) + last.key
    return ListPage(
        objects=tuple(e for e in shown if isinstance(e, ObjectInfo)),
        prefixes=tuple(e for e in shown if isinstance(e, PrefixInfo)),
        next_token=token,
    )


def _str_option(options: Mapping[str, object], name: str) -> str | None:
    value = options.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidArgumentError(f"option {name} must be a non-empty str")
    return value


def _chunk_size(value: object) -> int:
    if value is None:
        return _DEFAULT_CHUNK
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise InvalidArgumentError(f"option chunk_size must be a positive int, not {value!r}")
    if value % _CHUNK_MULTIPLE:
        raise InvalidArgumentError(
            f"option chunk_size must be a multiple of {_CHUNK_MULTIPLE} (256 KiB), not {value}"
        )
    return value


class GCSProvider:
    """Opens ``gs://bucket[/prefix]``.

    Options (URL query or keyword arguments):
        project: The project to bill and report (object calls do not need it).
        endpoint_url: A JSON API endpoint such as an emulator's ``http://127.0.0.1:4443``. With
            it, or with ``STORAGE_EMULATOR_HOST`` set, the emulator profile applies and the
            client is anonymous unless ``credentials`` are given.
        chunk_size: Bytes per resumable-upload chunk, a multiple of 256 KiB (default 8 MiB).
        credentials: A ``google.auth.credentials.Credentials`` (keyword argument only; URLs
            never carry credentials). Default: Application Default Credentials.
    """

    def open_bucket(self, url: SplitResult, options: Mapping[str, object]) -> tuple[GCSDriver, str]:
        """Return the driver for the URL's bucket and the key prefix from its path."""
        # google-auth and urllib3 log tokens and session URLs at DEBUG: redact them first.
        install_redaction()
        reject_unknown_options(_SCHEME, options, allowed=_OPTIONS)
        name = url.netloc
        if not _BUCKET_NAME.fullmatch(name):
            raise InvalidArgumentError(
                f"gs:// URLs need a bucket name (3-222 lower-case letters, digits, '-', '_', "
                f"'.'): gs://BUCKET/prefix, not {name!r}"
            )
        project = _str_option(options, "project")
        endpoint = _str_option(options, "endpoint_url")
        if endpoint is not None and not endpoint.startswith(("http://", "https://")):
            raise InvalidArgumentError(f"endpoint_url must be an http(s) URL, not {endpoint!r}")
        chunk_size = _chunk_size(options.get("chunk_size"))
        emulator = endpoint is not None or bool(os.environ.get("STORAGE_EMULATOR_HOST"))
        client = _make_client(
            project=project,
            endpoint=endpoint,
            credentials=options.get("credentials"),
            emulator=emulator,
        )
        can_sign = _can_sign(client)
        driver = GCSDriver(
            client,
            name,
            profile=profile_for(emulator=emulator, can_sign=can_sign),
            chunk_size=chunk_size,
        )
        return driver, url.path.lstrip("/")


def _make_client(
    *, project: str | None, endpoint: str | None, credentials: object, emulator: bool
) -> Any:
    from google.auth.credentials import AnonymousCredentials, Credentials
    from google.cloud import storage  # type: ignore[import-untyped]

    from portacloud_gcp.errors import map_gcs_error

    if credentials is not None and not isinstance(credentials, Credentials):
        raise InvalidArgumentError(
            "option credentials must be a google.auth.credentials.Credentials, "
            f"not {type(credentials).__name__}"
        )
    if credentials is None and emulator:
        credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
    kwargs: dict[str, Any] = {"project": project, "credentials": credentials}
    if endpoint is not None:
        kwargs["client_options"] = {"api_endpoint": endpoint.rstrip("/")}
    try:
        client = storage.Client(**kwargs)
    except Exception as exc:
        mapped = map_gcs_error(exc)
        if mapped is None:
            raise
        raise mapped from exc
    # Every answer must say where it ends (see _require_framing).
    client._http.hooks["response"].append(_require_framing)
    _deepen_pool(client._http)
    # The SDK fetches bucket metadata for tracing in background threads, with its own retries;
    # those requests would escape the one retry owner (docs/decisions/0001-retries.md).
    if getattr(client, "_bucket_metadata_cache", None) is not None:
        client._bucket_metadata_cache = None
    return client


def _deepen_pool(session: Any) -> None:
    """Keep ``_POOL_CONNECTIONS`` connections for reuse where the session has plain adapters
    (an mTLS adapter mounted by google-auth is left as it is)."""
    from requests.adapters import HTTPAdapter

    for scheme in ("http://", "https://"):
        if type(session.get_adapter(scheme)) is HTTPAdapter:
            session.mount(
                scheme,
                HTTPAdapter(pool_connections=_POOL_CONNECTIONS, pool_maxsize=_POOL_CONNECTIONS),
            )


def _require_framing(response: Any, *args: Any, **kwargs: Any) -> Any:
    """Refuse an answer with neither Content-Length nor chunked encoding (a requests hook).

    GCS frames every answer with a body. One without framing is one whose connection closed
    inside the header block: it still parses, minus the headers that did not arrive, and its
    body reads as empty, which the SDK would take for an empty JSON answer or object.
    """
    import requests

    if response.request.method == "HEAD" or response.status_code in (204, 304):
        return response
    headers = response.headers
    if "Content-Length" in headers or "chunked" in headers.get("Transfer-Encoding", "").lower():
        return response
    response.close()
    raise requests.exceptions.ChunkedEncodingError(
        "the answer was cut short: it has no Content-Length"
    )


def _can_sign(client: Any) -> bool:
    from google.auth.credentials import Signing

    return isinstance(getattr(client, "_credentials", None), Signing)


provider = GCSProvider()
