"""What drivers on obstore (Rust ``object_store``) share, whatever the cloud.

obstore is imported by :func:`obstore_type_rules` only, on first use: a provider imports this
module freely and obstore only when a URL asks for its engine. Nothing here is re-exported from
:mod:`portacloud.providerkit`, so importing the kit never imports it either.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from portacloud import errors as pe
from portacloud.providerkit.errors import ErrorRule, ErrorTable, call_mapped, call_owned
from portacloud.providerkit.obstore_fork import (
    hold_across_fork,
    note_obstore_runtime,
    obstore_forked,
    sdk_after_fork,
)
from portacloud.providerkit.streams import CHUNK_SIZE, BytesStream, ChunkStream
from portacloud.retry import RetryPolicy
from portacloud.storage.capabilities import StorageCapabilities
from portacloud.storage.driver import (
    BucketDriver,
    DriverWriter,
    ListOptions,
    SupportsCopyFrom,
    WriteOptions,
)
from portacloud.storage.models import ListPage, ObjectInfo

__all__ = [
    "CLIENT_OPTIONS",
    "ObstoreDriverBase",
    "SinglePutWriter",
    "answered_etag",
    "is_obstore_error",
    "obstore_error",
    "obstore_status",
    "obstore_summary",
    "obstore_type_rules",
    "put_etag",
    "put_mode",
    "range_options",
    "range_refused",
    "representable",
]

_STATUS = re.compile(r"status code: (\d{3})")
_T = TypeVar("_T")

# The service's error code in the XML body obstore quotes (S3's and Azure's alike).
_CODE = re.compile(r"<Code>([A-Za-z0-9.]+)</Code>")

#: obstore ``client_options`` for long transfers: obstore's default overall timeout (30 s) would
#: cut them short; a stalled connection is caught by the read timeout instead, as the SDKs' is.
CLIENT_OPTIONS: dict[str, Any] = {
    "timeout": timedelta(hours=24),
    "read_timeout": timedelta(seconds=60),
    "connect_timeout": timedelta(seconds=60),
    "user_agent": "portacloud",
}


def representable(key: str) -> bool:
    """Whether ``object_store`` keeps ``key`` exactly as given (its ``Path::parse`` rules)."""
    if not key or key.startswith("/") or key.endswith("/"):
        return False
    if any(ch < " " or ch == "\x7f" for ch in key):
        return False
    return all(part not in ("", ".", "..") for part in key.split("/"))


@functools.cache
def obstore_type_rules() -> Sequence[tuple[type[BaseException], ErrorRule]]:
    """``ErrorTable.by_type`` rows for obstore's exception types (imports obstore)."""
    # obstore ships stubs only for its public modules; its exceptions are Any at this boundary.
    exc: Any = importlib.import_module("obstore.exceptions")
    return (
        (FileNotFoundError, ErrorRule(pe.NotFoundError)),
        (exc.AlreadyExistsError, ErrorRule(pe.FailedPreconditionError)),
        (exc.PreconditionError, ErrorRule(pe.FailedPreconditionError)),
        (exc.NotModifiedError, ErrorRule(pe.FailedPreconditionError)),
        (exc.PermissionDeniedError, ErrorRule(pe.PermissionDeniedError)),
        (exc.UnauthenticatedError, ErrorRule(pe.UnauthenticatedError)),
        (exc.NotSupportedError, ErrorRule(pe.UnsupportedError)),
        (exc.InvalidPathError, ErrorRule(pe.InvalidArgumentError)),
        (exc.UnknownConfigurationKeyError, ErrorRule(pe.InvalidArgumentError)),
        (exc.JoinError, ErrorRule(pe.InternalError)),
        (TimeoutError, ErrorRule(pe.DeadlineExceededError)),
    )


def is_obstore_error(exc: BaseException) -> bool:
    """Whether obstore raised ``exc`` (its own types, or the builtins it uses)."""
    base: Any = importlib.import_module("obstore.exceptions").BaseError
    return isinstance(exc, base | FileNotFoundError)


def obstore_summary(exc: BaseException) -> str:
    """``exc``'s message without the multi-line ``Debug source:`` dump obstore appends."""
    return str(exc).split("\n\nDebug source:", 1)[0].strip()


def obstore_status(exc: BaseException) -> int | None:
    """The HTTP status an obstore failure names in its message, if any."""
    found = _STATUS.search(obstore_summary(exc)) if is_obstore_error(exc) else None
    return int(found.group(1)) if found else None


def obstore_error(exc: BaseException, table: ErrorTable, service: str) -> pe.PortaCloudError:
    """The portacloud error for an obstore failure, looked up in ``table``.

    The error code in the quoted body first, then obstore's exception type, then the status.
    A failure with neither never reached an answer (refused, reset, a body cut short):
    UNAVAILABLE, or DEADLINE_EXCEEDED for a timeout, both retryable.
    """
    text = obstore_summary(exc)
    found = _CODE.search(text)
    status = obstore_status(exc)
    rule = table.rule(code=found.group(1) if found else None, exc=exc, status=status)
    if rule is None:
        timeout = "timed out" in text.lower() or "timeout" in text.lower()
        rule = ErrorRule(pe.DeadlineExceededError if timeout else pe.UnavailableError, True)
    return rule.build(f"{service} (obstore): {text}")


def range_options(start: int, end: int | None) -> dict[str, Any]:
    """obstore's ``get`` options for bytes ``start`` to ``end`` (a negative start: a suffix)."""
    if start < 0:
        return {"range": {"suffix": -start}}
    if end is not None:
        return {"range": (start, end)}
    return {"range": {"offset": start}} if start > 0 else {}


def range_refused(exc: BaseException) -> bool:
    """Whether a ranged ``get`` failed for its range, where the SDK driver's answer is the rule.

    A 416 (a start past the end), obstore's own check finding a range other than the one asked
    (Azure: a start at the end), or a server answering a suffix of an empty object whole.
    """
    text = str(exc)
    return obstore_status(exc) == 416 or "Wanted range" in text or "non-partial" in text


def put_mode(options: WriteOptions, quote: Callable[[str], str]) -> Any:
    """obstore's ``put`` mode for ``options``: create-only, compare-and-swap or overwrite."""
    if options.if_none_match:
        return "create"
    if options.if_match is not None:
        return {"e_tag": quote(options.if_match)}
    return "overwrite"


def put_etag(
    obs: Any, store: Any, key: str, body: bytes, *, attributes: dict[str, str], mode: Any
) -> str:
    """One obstore PUT of ``body`` (never multipart); the etag the server answered.

    Raises:
        UnavailableError: the answer came without an ETag (its header block was cut short).
    """
    result = obs.put(store, key, body, attributes=attributes, mode=mode, use_multipart=False)
    return answered_etag(result)


def answered_etag(result: Mapping[str, Any]) -> str:
    """The etag of obstore's answer to a PUT.

    Raises:
        UnavailableError: the answer came without an ETag (its header block was cut short).
    """
    if not result.get("e_tag"):
        raise pe.UnavailableError("the answer to the write was cut short: it has no ETag")
    return str(result["e_tag"])


class SinglePutWriter:
    """One object being written: one obstore PUT, or the SDK's writer once it outgrows ``limit``.

    Up to ``limit`` bytes are held; the next byte hands them to ``handoff()`` (the SDK driver's
    multipart or block writer), which keeps memory bounded from then on. ``put(body, crc32c)``
    sends the single request at commit.
    """

    def __init__(
        self,
        *,
        limit: int,
        handoff: Callable[[], DriverWriter],
        put: Callable[[bytes, str], ObjectInfo],
    ) -> None:
        """Hold up to ``limit`` bytes for ``put``, else hand them to ``handoff()``'s writer."""
        self._limit = limit
        self._handoff = handoff
        self._put = put
        self._buffer = bytearray()
        self._handed: DriverWriter | None = None
        self._finished = False

    def write(self, data: bytes) -> None:
        """Buffer ``data``; past the limit, hand everything to the SDK's writer."""
        if self._finished:
            raise pe.InvalidArgumentError("write after the object was committed or aborted")
        if self._handed is None and len(self._buffer) + len(data) > self._limit:
            self._handed = self._handoff()
            buffered, self._buffer = bytes(self._buffer), bytearray()
            self._handed.write(buffered)
        if self._handed is not None:
            self._handed.write(data)
            return
        self._buffer += data

    def commit(self, *, crc32c: str) -> ObjectInfo:
        """Send the one PUT (or commit the SDK's writer) and describe the object."""
        if self._finished:
            raise pe.InvalidArgumentError("commit after the object was committed or aborted")
        self._finished = True
        if self._handed is not None:
            return self._handed.commit(crc32c=crc32c)
        body, self._buffer = bytes(self._buffer), bytearray()
        return self._put(body, crc32c)

    def abort(self) -> None:
        """Discard the write (and the SDK writer's, if it was handed one)."""
        self._finished = True
        self._buffer = bytearray()
        if self._handed is not None:
            self._handed.abort()


class SDKDriver(Protocol):
    """What an obstore driver needs of the SDK driver it wraps."""

    capabilities: StorageCapabilities
    retry: RetryPolicy


_SDK = TypeVar("_SDK", bound=SDKDriver)


class ObstoreDriverBase(Generic[_SDK]):
    """A bucket driver whose data path is on obstore, the rest on the SDK driver it wraps.

    The data path is served twice over the same request building and error mapping: blocking
    (:class:`~portacloud.storage.driver.BucketDriver`) and, where a provider sets
    :attr:`native_async`, as the coroutines of
    :class:`~portacloud.storage.async_driver.AsyncDataPath` on obstore's async API.

    Attributes:
        capabilities: The SDK driver's (``native_async`` set as :attr:`native_async` says).
        sdk: The SDK driver the calls obstore cannot serve go to.
        store: The obstore store (``S3Store``, ``AzureStore``...).
        retry: The policy of the retries this driver owns (streamed writes).
        obs: The ``obstore`` module.
    """

    #: The service's name in messages.
    service = "the service"
    #: Whether the provider's hooks serve :class:`AsyncBucket` natively (capability
    #: ``native_async``).
    native_async: ClassVar[bool] = False
    #: Whether the service answers suffix ranges (``bytes=-N``) natively.
    suffix_ranges: ClassVar[bool] = True
    #: Whether deletes go through obstore (else through the SDK driver, blocking and async).
    obstore_deletes: ClassVar[bool] = True

    def __init__(self, sdk: _SDK, store: Any) -> None:
        """Serve ``sdk``'s bucket through ``store`` where the semantics allow (imports obstore)."""
        self.sdk = sdk
        self.store: Any = store
        # obstore's errors carry no response headers, so a server's Retry-After is not seen.
        update = {"retry_after": False}
        if self.native_async:
            update["native_async"] = True
        self.capabilities: StorageCapabilities = sdk.capabilities.model_copy(update=update)
        self.retry: RetryPolicy = sdk.retry
        self.obs: Any = importlib.import_module("obstore")
        note_obstore_runtime()
        hold_across_fork(self)

    def native_path(self) -> bool:
        """Whether the async data path may use obstore here (not in a forked child)."""
        return self.native_async and not obstore_forked()

    # ----------------------------------------------------------------- provider hooks

    def map_error(self, exc: BaseException) -> pe.PortaCloudError | None:
        """Translate a native failure; each provider's driver says how."""
        raise NotImplementedError

    def _info(self, key: str, meta: Mapping[str, Any], attributes: Mapping[str, Any]) -> ObjectInfo:
        """The object described by obstore's ``meta`` and ``attributes``; each provider says how."""
        raise NotImplementedError

    def quote(self, etag: str) -> str:
        """``etag`` as the provider's ``ObjectInfo`` and ``If-Match`` spell it."""
        raise NotImplementedError

    def single_request(self, key: str, options: WriteOptions) -> bool:
        """Whether a write of ``key`` (of ``options.size_hint`` bytes, where known) may go
        as one obstore PUT; each provider says when."""
        raise NotImplementedError

    def put_attributes(self, options: WriteOptions, crc32c: str) -> dict[str, str]:
        """The metadata of a single PUT, the CRC32C included, as the SDK engine stores it."""
        raise NotImplementedError

    def put_info(
        self, key: str, options: WriteOptions, size: int, crc32c: str, etag: str
    ) -> ObjectInfo:
        """What a single PUT of ``size`` bytes stored, from its answered ``etag``."""
        raise NotImplementedError

    def lacks_crc(self, info: ObjectInfo) -> bool:
        """Whether ``info`` lacks a CRC32C that only the SDK driver's HEAD can give."""
        return False

    # ----------------------------------------------------------------- blocking data path

    def run(self, fn: Callable[[], _T], *, retry: bool, conditional: bool = False) -> _T:
        """Call ``fn`` raising portacloud errors, retried under the policy when ``retry``.

        ``conditional`` marks a conditional write (see :func:`call_owned`).
        """

        def once() -> _T:
            return call_mapped(fn, self.map_error, self._unmapped)

        return call_owned(self.retry, once, retry=retry, conditional=conditional)

    @sdk_after_fork
    def stat(self, key: str) -> ObjectInfo:
        """A HEAD through obstore's ``get(head=True)``, which keeps the user metadata."""
        if not representable(key):
            sdk: Any = self.sdk
            found: ObjectInfo = sdk.stat(key)
            return found
        result = self.obs.get(self.store, key, options=_HEAD)
        return self.with_sdk_crc(self._info(key, result.meta, result.attributes))

    @sdk_after_fork
    def delete(self, key: str) -> None:
        """DELETE; a missing key is no error."""
        if not self.obstore_deletes or not representable(key):
            sdk: Any = self.sdk
            sdk.delete(key)
            return
        self.obs.delete(self.store, key)

    def can_copy_from(self, source: BucketDriver) -> bool:
        """Whether the SDK driver can copy from ``source`` server-side (copies across buckets
        go through it, as copies within one do)."""
        sdk: Any = self.sdk
        return isinstance(sdk, SupportsCopyFrom) and sdk.can_copy_from(source)

    def copy_from(
        self, source: BucketDriver, src_key: str, dst_key: str, *, if_none_match: bool
    ) -> ObjectInfo | None:
        """The SDK driver's server-side copy from another bucket; ``None`` where it has none."""
        sdk: Any = self.sdk
        if not isinstance(sdk, SupportsCopyFrom):
            return None
        copied: ObjectInfo | None = sdk.copy_from(
            source, src_key, dst_key, if_none_match=if_none_match
        )
        return copied

    def with_sdk_crc(self, info: ObjectInfo) -> ObjectInfo:
        """``info``, with the CRC32C of the SDK driver's HEAD where obstore cannot see it."""
        if not self.lacks_crc(info):
            return info
        sdk: Any = self.sdk
        return _same_version(info, sdk.stat(info.key))

    def get_range(self, key: str, start: int, end: int | None) -> Any:
        """obstore's ``get`` of bytes ``start`` to ``end`` (a negative start: a suffix).

        Returns ``None`` where the range is refused (see :func:`range_refused`): the SDK
        driver's answer is then the rule.
        """
        options = range_options(start, end)
        try:
            return self.obs.get(self.store, key, options=options)
        except Exception as exc:
            if options and range_refused(exc):
                return None
            raise

    @staticmethod
    def body(result: Any) -> BytesStream | ChunkStream:
        """The body of a ``get``: small ones in one call into Rust, others chunk by chunk."""
        first, last = result.range
        if last - first <= CHUNK_SIZE:
            return BytesStream(bytes(result.bytes()))
        return hold_across_fork(ChunkStream(result.stream(min_chunk_size=CHUNK_SIZE)))

    def put_writer(self, key: str, options: WriteOptions, *, limit: int) -> SinglePutWriter:
        """A writer holding up to ``limit`` bytes for :meth:`put_single`, else the SDK's."""
        sdk: Any = self.sdk
        return SinglePutWriter(
            limit=limit,
            handoff=lambda: sdk.open_writer(key, options),
            put=lambda body, crc32c: self.put_single(key, options, body, crc32c),
        )

    def put_single(self, key: str, options: WriteOptions, body: bytes, crc32c: str) -> ObjectInfo:
        """One PUT, the metadata (the CRC32C included) and the content type with it.

        Create-only and compare-and-swap as ``options`` ask. A stream (no ``size_hint``) cannot
        be replayed by the portable Bucket, so its PUT is retried here, under the policy.
        """
        attributes, mode = self._put_arguments(options, crc32c)

        def once() -> str:
            return put_etag(self.obs, self.store, key, body, attributes=attributes, mode=mode)

        etag = self.run(once, retry=options.size_hint is None, conditional=mode != "overwrite")
        return self.put_info(key, options, len(body), crc32c, etag)

    def _put_arguments(self, options: WriteOptions, crc32c: str) -> tuple[dict[str, str], Any]:
        attributes = self.put_attributes(options, crc32c)
        if options.content_type:
            attributes = {**attributes, "Content-Type": options.content_type}
        return attributes, put_mode(options, self.quote)

    # ----------------------------------------------------------------- native async data path

    async def stat_async(self, key: str) -> ObjectInfo | None:
        """:meth:`stat` on obstore's ``get_async(head=True)``; ``None`` for keys it would
        rewrite."""
        if not self.native_path() or not representable(key):
            return None
        result = await self.obs.get_async(self.store, key, options=_HEAD)
        return await self._with_sdk_crc_async(self._info(key, result.meta, result.attributes))

    async def read_async(
        self, key: str, *, start: int, end: int | None
    ) -> tuple[ObjectInfo, bytes] | None:
        """A ranged ``get_async`` read whole; ``None`` where :meth:`read` would go to the SDK."""
        if not self.native_path() or not representable(key):
            return None
        if start < 0 and not self.suffix_ranges:
            return None
        options = range_options(start, end)
        try:
            result = await self.obs.get_async(self.store, key, options=options)
        except Exception as exc:
            if options and range_refused(exc):
                return None
            raise
        data = bytes(await result.bytes_async())
        info = self._info(key, result.meta, result.attributes)
        if start == 0 and end is None:
            info = await self._with_sdk_crc_async(info)
        return info, data

    async def put_async(
        self, key: str, options: WriteOptions, body: bytes, crc32c: str
    ) -> ObjectInfo | None:
        """One try of :meth:`put_single` on ``put_async``; ``None`` where :meth:`open_writer`
        would use the SDK's writer."""
        if not self.native_path() or not self.single_request(key, options):
            return None
        attributes, mode = self._put_arguments(options, crc32c)
        result = await self.obs.put_async(
            self.store, key, body, attributes=attributes, mode=mode, use_multipart=False
        )
        return self.put_info(key, options, len(body), crc32c, answered_etag(result))

    async def delete_async(self, key: str) -> bool:
        """A ``delete_async``; a missing key is no error. ``False`` where :meth:`delete` would
        go to the SDK."""
        if not self.native_path() or not self.obstore_deletes or not representable(key):
            return False
        await self.obs.delete_async(self.store, key)
        return True

    async def list_page_async(self, options: ListOptions) -> ListPage | None:
        """One listing page on obstore's async API; ``None`` (the base's answer): the
        blocking :meth:`list_page` serves it."""
        return None

    async def _with_sdk_crc_async(self, info: ObjectInfo) -> ObjectInfo:
        if not self.lacks_crc(info):
            return info
        sdk: Any = self.sdk
        # A rare control call (multipart objects only) on the SDK: a thread, not the loop.
        return _same_version(info, await asyncio.to_thread(sdk.stat, info.key))

    def _unmapped(self, exc: Exception) -> pe.PortaCloudError:
        return pe.UnavailableError(f"{self.service} request failed: {type(exc).__name__}")


_HEAD = {"head": True}


def _same_version(info: ObjectInfo, head: ObjectInfo) -> ObjectInfo:
    """The SDK's ``head`` where it describes the version ``info`` does, else ``info``."""
    return head if head.etag == info.etag else info
