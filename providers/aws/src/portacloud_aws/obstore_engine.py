"""``s3://bucket`` (``engine=obstore``, the default): the data path on obstore, same semantics.

The driver wraps the SDK driver (:class:`~portacloud_aws.s3_driver.S3Driver`, boto3) and sends
the calls that dominate small-object work through obstore: reads (whole, ranged, suffix and
streamed), heads, single-request writes (create-only and compare-and-swap included), deletes,
listings and signed GETs; for ``AsyncBucket`` all but the signed GETs are also coroutines on
obstore's async API (``capabilities.native_async``). The rest stays on boto3, where obstore
cannot keep the SDK driver's semantics:

- keys ``object_store`` would rewrite or refuse (a leading or trailing ``/``, empty, ``.`` or
  ``..`` segments, control characters);
- writes that outgrow one part: the SDK writer's multipart upload, whose full-object CRC32C is
  stored where the SDK driver stores it (obstore cannot send a CRC32C with the completion);
- metadata whose names obstore reads as attributes (``content-type``, ``cache-control``...);
- delimiter listings (obstore returns every page at once), listings on servers whose keys are
  not paths (obstore lists ``dir/`` as ``dir``), prefixes that do not end a segment, and pages
  holding keys obstore cannot parse;
- copies (pinned to the source's etag), batch deletes, signed PUTs (their content type is
  signed), garbage collection, the vendor detection at open, and ``as_native`` (the boto3
  client).

The CRC32C goes where the SDK driver puts it (user metadata ``portacloud-crc32c``; a native
full-object CRC32C for multipart writes on AWS and SeaweedFS), so each engine reads the other's
objects. Where the SDK engine sends a checksum with every upload (AWS, SeaweedFS, moto), a PUT
through obstore carries ``x-amz-checksum-sha256`` (obstore offers no CRC32C there), so the
server refuses a body damaged on the way instead of storing it. obstore's own retries are off
(``max_retries=0``): the portable ``Bucket`` and this driver own retries, under the caller's
policy. Credentials come from the boto3 session the SDK driver was built from, so profiles,
SSO, assume-role and the emulators' variables work alike.
"""

from __future__ import annotations

import importlib
import itertools
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any, TypeVar

from portacloud.checksums import CRC32C_METADATA_KEY
from portacloud.errors import PortaCloudError
from portacloud.providerkit.obstore import (
    CLIENT_OPTIONS,
    ObstoreDriverBase,
    representable,
)
from portacloud.providerkit.obstore_fork import sdk_after_fork
from portacloud.storage.driver import (
    DriverWriter,
    ListOptions,
    PendingUpload,
    ReadStream,
    StoredVersion,
    WriteOptions,
)
from portacloud.storage.models import ListPage, ObjectInfo, object_infos
from portacloud_aws.boto import is_aws_endpoint
from portacloud_aws.obstore_errors import map_obstore_error
from portacloud_aws.s3_driver import S3Driver
from portacloud_aws.s3_responses import quote_etag
from portacloud_aws.vendors import VendorProfile

__all__ = ["ObstoreDriver", "obstore_store", "representable"]

_T = TypeVar("_T")
# Attributes obstore sends and reads as headers rather than as x-amz-meta-*; on writes it matches
# them case-insensitively, so metadata of these names goes through boto3.
_ATTRIBUTES = {
    "content-type": "Content-Type",
    "content-disposition": "Content-Disposition",
    "content-encoding": "Content-Encoding",
    "content-language": "Content-Language",
    "cache-control": "Cache-Control",
    "storage-class": "Storage-Class",
}
_HEADERS = frozenset(_ATTRIBUTES.values())


def obstore_store(sdk: S3Driver, session: Any, *, addressing: str) -> Any:
    """An obstore ``S3Store`` for the SDK driver's bucket, endpoint, region and credentials."""
    store_cls = importlib.import_module("obstore.store").S3Store
    provider_cls = importlib.import_module("obstore.auth.boto3").Boto3CredentialProvider
    endpoint = str(sdk.client.meta.endpoint_url)
    config: dict[str, Any] = {
        "region": sdk.client.meta.region_name or sdk.profile.default_region,
        # create-only and compare-and-swap writes send If-None-Match / If-Match.
        "conditional_put": "etag",
        "virtual_hosted_style_request": addressing == "virtual"
        or (addressing == "auto" and is_aws_endpoint(endpoint)),
    }
    if not is_aws_endpoint(endpoint):
        config["endpoint"] = endpoint
    if sdk.profile.checksum_calculation == "when_supported":
        # The server checks an x-amz-checksum-sha256 of every PUT body (object_store offers no
        # CRC32C), so bytes damaged on the way are refused, not stored.
        config["checksum_algorithm"] = "sha256"
    try:
        credentials = provider_cls(session)
    except ValueError:
        # No credentials in the chain: send unsigned requests, as boto3 would fail to sign.
        credentials, config["skip_signature"] = None, True
    return store_cls(
        sdk.bucket,
        client_options={**CLIENT_OPTIONS, "allow_http": endpoint.startswith("http://")},
        # One retry owner: the portable Bucket (and this driver, for streamed writes).
        retry_config={"max_retries": 0},
        credential_provider=credentials,
        **config,
    )


class ObstoreDriver(ObstoreDriverBase[S3Driver]):
    """A bucket on S3 or an S3-compatible server, its data path on obstore's ``S3Store``.

    Attributes:
        provider: ``"s3"``.
        capabilities: The vendor profile's, as on the SDK engine.
    """

    provider = "s3"
    service = "S3"
    native_async = True

    def __init__(self, sdk: S3Driver, store: Any) -> None:
        """Serve ``sdk``'s bucket through ``store`` where the semantics allow."""
        super().__init__(sdk, store)
        # Where keys are file paths, obstore's parsed listing is the server's own.
        self._list_on_obstore = not sdk.capabilities.key_empty_segments
        self._listings = _Listings()

    @property
    def profile(self) -> VendorProfile:
        """The vendor profile (``aws``, ``seaweedfs``, ``moto``...), the SDK driver's."""
        return self.sdk.profile

    def __repr__(self) -> str:
        return f"ObstoreDriver(bucket={self.sdk.bucket!r}, vendor={self.sdk.profile.name!r})"

    # ----------------------------------------------------------------- plumbing

    def _info(self, key: str, meta: Mapping[str, Any], attributes: Mapping[str, Any]) -> ObjectInfo:
        metadata: dict[str, str] = {}
        content_type: str | None = None
        for name, value in attributes.items():
            # obstore names the headers it knows as spelled in _ATTRIBUTES; everything else is
            # x-amz-meta-*, lower-cased (so user metadata named content-type stays metadata).
            if name == "Content-Type":
                content_type = str(value) or None
            elif name not in _HEADERS:
                metadata[str(name).lower()] = str(value)
        crc = metadata.pop(CRC32C_METADATA_KEY, None)
        return ObjectInfo(
            key=key,
            size=int(meta["size"]),
            etag=quote_etag(meta.get("e_tag")),
            last_modified=meta.get("last_modified"),
            content_type=content_type,
            metadata=metadata,
            checksums={"crc32c": crc.strip().lower()} if crc else {},
        )

    def lacks_crc(self, info: ObjectInfo) -> bool:
        """Whether a multipart write of the SDK driver left a native CRC32C that only its HEAD
        shows (obstore cannot ask for the checksum)."""
        return info.crc32c is None and self.sdk.profile.native_crc32c

    def quote(self, etag: str) -> str:
        """``etag`` in double quotes, as S3 answers and ``If-Match`` wants it."""
        return quote_etag(etag)

    # ----------------------------------------------------------------- BucketDriver

    @sdk_after_fork
    def read(self, key: str, *, start: int, end: int | None) -> tuple[ObjectInfo, ReadStream]:
        """A GET, ranged or suffix; a range past the end reads as no bytes (as on the SDK)."""
        if not representable(key):
            return self.sdk.read(key, start=start, end=end)
        result = self.get_range(key, start, end)
        if result is None:
            return self.sdk.read(key, start=start, end=end)
        info = self._info(key, result.meta, result.attributes)
        if start == 0 and end is None:
            info = self.with_sdk_crc(info)
        return info, self.body(result)

    def single_request(self, key: str, options: WriteOptions) -> bool:
        """One PUT unless the key, metadata named like a header or more than a part forbid."""
        clash = any(name.lower() in _ATTRIBUTES for name in options.metadata)
        big = options.size_hint is not None and options.size_hint > self.sdk.part_size
        return not clash and not big and representable(key)

    @sdk_after_fork
    def open_writer(self, key: str, options: WriteOptions) -> DriverWriter:
        """Begin a write: one obstore PUT, or the SDK's multipart upload past one part."""
        if not self.single_request(key, options):
            return self.sdk.open_writer(key, options)
        return self.put_writer(key, options, limit=self.sdk.part_size)

    def put_attributes(self, options: WriteOptions, crc32c: str) -> dict[str, str]:
        """The user metadata and the CRC32C, sent as ``x-amz-meta-*``."""
        return {**options.metadata, CRC32C_METADATA_KEY: crc32c}

    def put_info(
        self, key: str, options: WriteOptions, size: int, crc32c: str, etag: str
    ) -> ObjectInfo:
        """What one PUT stored."""
        return ObjectInfo(
            key=key,
            size=size,
            etag=quote_etag(etag),
            content_type=options.content_type,
            metadata=dict(options.metadata),
            checksums={"crc32c": crc32c},
        )

    def delete_many(self, keys: Sequence[str]) -> None:
        """DeleteObjects through boto3 (one request for up to 1,000 keys)."""
        self.sdk.delete_many(keys)

    @sdk_after_fork
    def list_page(self, options: ListOptions) -> ListPage:
        """One page through obstore where its parsed keys are the server's, else boto3.

        A listing's pages come from one obstore stream (which follows the server's continuation
        tokens: SeaweedFS orders ``start-after`` differently), kept between pages under the
        page token. A token whose stream is gone (another process, a failed page) resumes
        through boto3 after the last key listed.
        """
        if not self._lists_natively(options):
            return self.sdk.list_page(options)
        stream = self._stream(options)
        try:
            batch: list[Any] = [] if stream is None else next(stream, [])
        except Exception as exc:
            # A key obstore cannot parse (a control character): boto3 lists it as it is.
            if type(exc).__name__ != "InvalidPathError":
                raise
            stream = None
        if stream is None:
            return self.sdk.list_page(self._listings.resume(options))
        return self._page(stream, batch, options)

    async def list_page_async(self, options: ListOptions) -> ListPage | None:
        """:meth:`list_page` on the stream's async iteration; ``None`` where it goes to boto3."""
        if not self.native_path() or not self._lists_natively(options):
            return None
        stream = self._stream(options)
        if stream is None:
            return None  # the blocking call resumes through boto3
        try:
            batch: list[Any] = await anext(stream, [])
        except Exception as exc:
            if type(exc).__name__ != "InvalidPathError":
                raise
            return None
        return self._page(stream, batch, options)

    def _lists_natively(self, options: ListOptions) -> bool:
        prefix = options.prefix
        return (
            self._list_on_obstore
            and options.delimiter is None
            and (not prefix or (prefix.endswith("/") and representable(prefix[:-1])))
        )

    def _stream(self, options: ListOptions) -> Any:
        """The page's obstore listing stream: kept under its token, else a new one."""
        if options.token:
            return self._listings.take(options.token)
        return self.obs.list(
            self.store,
            options.prefix[:-1] or None,
            offset=options.start_after,
            chunk_size=options.page_size,
        )

    def _page(self, stream: Any, batch: list[Any], options: ListOptions) -> ListPage:
        objects = object_infos(
            [
                {
                    "key": item["path"],
                    "size": item["size"],
                    "etag": quote_etag(item.get("e_tag")),
                    "last_modified": item.get("last_modified"),
                }
                for item in batch
            ]
        )
        token = None
        if len(objects) >= options.page_size:
            token = self._listings.keep(stream, objects[-1].key)
        return ListPage(objects=objects, next_token=token)

    def copy(self, src_key: str, dst_key: str, *, if_none_match: bool) -> ObjectInfo:
        """CopyObject through boto3, pinned to the source's etag (obstore cannot pin it)."""
        return self.sdk.copy(src_key, dst_key, if_none_match=if_none_match)

    @sdk_after_fork
    def signed_url(
        self, key: str, *, method: str, expires: timedelta, content_type: str | None
    ) -> str:
        """A SigV4 presigned GET from obstore; PUTs (whose content type is signed) from boto3."""
        if method != "GET" or not representable(key):
            return self.sdk.signed_url(
                key, method=method, expires=expires, content_type=content_type
            )
        seconds = timedelta(seconds=max(1, int(expires.total_seconds())))
        url: str = self.obs.sign(self.store, "GET", key, seconds)
        return url

    def map_error(self, exc: BaseException) -> PortaCloudError | None:
        """Translate an obstore or boto3 failure (see :mod:`.obstore_errors`)."""
        return map_obstore_error(exc)

    def list_versions(self, prefix: str) -> list[StoredVersion]:
        """Versions and delete markers under ``prefix``, for erase (boto3)."""
        return self.sdk.list_versions(prefix)

    def delete_versions(self, versions: Sequence[StoredVersion]) -> None:
        """Delete those versions for good, for erase (boto3)."""
        self.sdk.delete_versions(versions)

    def bucket_region(self) -> str:
        """GetBucketLocation, a control call, on the vendor SDK."""
        return self.sdk.bucket_region()

    def list_uploads(self, prefix: str) -> list[PendingUpload]:
        """Unfinished multipart uploads under ``prefix``, for erase (boto3)."""
        return self.sdk.list_uploads(prefix)

    def abort_upload(self, upload: PendingUpload) -> None:
        """Abort one unfinished multipart upload, for erase (boto3)."""
        self.sdk.abort_upload(upload)

    def collect_garbage(self, *, older_than: timedelta) -> list[str]:
        """Abort stale multipart uploads (boto3)."""
        return self.sdk.collect_garbage(older_than=older_than)

    def native(self) -> object | None:
        """The boto3 S3 client, as on the SDK engine (``store`` is the obstore one)."""
        return self.sdk.native()

    def close(self) -> None:
        """Close boto3's pool; obstore's closes when the store is dropped."""
        self.sdk.close()


class _Listings:
    """Listing streams kept between pages, under their page tokens (the most recent 64)."""

    _KEPT = 64

    def __init__(self) -> None:
        self._streams: OrderedDict[str, Iterator[list[Any]]] = OrderedDict()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def keep(self, stream: Iterator[list[Any]], last_key: str) -> str:
        """Keep ``stream`` for the next page; the token also names the last key listed."""
        with self._lock:
            token = f"{next(self._ids)}:{last_key}"
            self._streams[token] = stream
            while len(self._streams) > self._KEPT:
                self._streams.popitem(last=False)
        return token

    def take(self, token: str) -> Iterator[list[Any]] | None:
        """The stream kept under ``token`` (each token is good for one page), or ``None``."""
        with self._lock:
            return self._streams.pop(token, None)

    @staticmethod
    def resume(options: ListOptions) -> ListOptions:
        """The same page as a boto3 listing after the token's last key."""
        if not options.token:
            return options
        last_key = options.token.partition(":")[2]
        return replace(options, token=None, start_after=last_key)
