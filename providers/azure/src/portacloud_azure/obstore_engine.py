"""``az://container?engine=obstore``: the data path on obstore (Rust ``object_store``).

The driver wraps the SDK driver (:class:`~portacloud_azure.driver.AzureBlobDriver`) and sends
the calls that dominate small-object work through obstore's ``AzureStore``: reads (whole,
ranged, suffix and streamed) and heads, blocking and, for ``AsyncBucket``, as coroutines on
obstore's async API (``capabilities.native_async``; a suffix read there goes to the thread
pool). The rest stays on azure-storage-blob, where obstore cannot keep the SDK driver's
semantics:

- writes: obstore's Put Blob carries no Content-MD5 (nor CRC64), so the service could not
  refuse a body damaged on the way; the SDK's Put Blob and Put Block do;
- keys ``object_store`` would rewrite or refuse (a leading or trailing ``/``, empty, ``.`` or
  ``..`` segments, control characters);
- listings: obstore lists ``dir/`` as ``dir`` and ``/k`` as ``k`` without a word (Blob Storage
  keeps both as given), and its entries carry no metadata, where the SDK's carry the CRC32C;
- signed URLs: obstore's SAS starts at the signing second (a clock behind the service's refuses
  it) and Azurite refuses its signature for keys that need percent-encoding;
- deletes: obstore's goes through a Blob Batch request, which Azurite refuses under a SAS-only
  connection string; the SDK's Delete Blob removes the blob's snapshots with it;
- copies, batch deletes, blob versions (erase) and ``as_native`` (the SDK's container client).

Objects are stored exactly as the SDK engine stores them: the metadata names escaped the same
way, the CRC32C in ``portacloud_hcrc32c`` (:mod:`.metadata`), so each engine reads the other's
objects. obstore's own retries are off (``max_retries=0``): the portable ``Bucket`` and this
driver (for streamed writes) own retries, under the caller's policy. Credentials are the SDK
client's: the connection string's account key or SAS, or the ``DefaultAzureCredential`` of the
``account`` option through obstore's azure-identity provider.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from portacloud.errors import PortaCloudError, UnavailableError
from portacloud.providerkit import (
    BytesStream,
    ChunkStream,
    EmptyStream,
)
from portacloud.providerkit.obstore import (
    CLIENT_OPTIONS,
    ObstoreDriverBase,
    obstore_status,
    representable,
)
from portacloud.providerkit.obstore_fork import sdk_after_fork
from portacloud.storage.driver import (
    DriverWriter,
    ListOptions,
    StoredVersion,
    WriteOptions,
)
from portacloud.storage.models import ListPage, ObjectInfo
from portacloud_azure.driver import AzureBlobDriver
from portacloud_azure.objects import etag, object_info
from portacloud_azure.obstore_errors import map_obstore_error

__all__ = ["ObstoreDriver", "obstore_store"]

_T = TypeVar("_T")
ReadResult = tuple[ObjectInfo, BytesStream | ChunkStream | EmptyStream]


def _credentials(service: Any, query: str) -> dict[str, Any]:
    """obstore's credential settings for the SDK client's credential."""
    credential = service.credential
    key = getattr(credential, "account_key", None)
    if key:
        return {"account_key": key}
    # A SAS connection string puts the token in the account URL; AzureSasCredential (a SAS
    # connection string with endpoint_url) holds it as ``signature``.
    sas = query or getattr(credential, "signature", None)
    if sas:
        return {"sas_key": str(sas).lstrip("?")}
    if credential is not None and hasattr(credential, "get_token"):
        identity = importlib.import_module("obstore.auth.azure")
        return {"credential_provider": identity.AzureCredentialProvider(credential)}
    return {"skip_signature": True}


def obstore_store(service: Any, container: str) -> Any:
    """An obstore ``AzureStore`` for the SDK client's account, endpoint and credentials.

    The endpoint is the SDK's account URL (Azurite's path-style one included), so requests go
    where the SDK's go, through the same proxies.
    """
    store_cls = importlib.import_module("obstore.store").AzureStore
    parts = urlsplit(str(service.url))
    # object_store appends the container to the endpoint's path: a trailing '/' would make '//'.
    endpoint = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
    return store_cls(
        container,
        account_name=service.account_name,
        endpoint=endpoint,
        client_options={**CLIENT_OPTIONS, "allow_http": parts.scheme == "http"},
        # One retry owner: the portable Bucket (and this driver, for streamed writes).
        retry_config={"max_retries": 0},
        **_credentials(service, parts.query),
    )


class ObstoreDriver(ObstoreDriverBase[AzureBlobDriver]):
    """A container of a storage account, its data path on obstore's ``AzureStore``.

    Attributes:
        provider: ``"az"``.
        capabilities: The SDK driver's (Azure's or Azurite's).
    """

    provider = "az"
    service = "Azure"
    # Reads and heads are native async; writes, deletes and listings stay on the SDK.
    native_async = True
    # Blob Storage has no suffix range: :meth:`read` sizes the blob first.
    suffix_ranges = False
    # obstore 0.12 deletes through a Blob Batch request, which Azurite refuses (500) under a
    # SAS-only connection string (tests/faults/test_secrets.py); the SDK's Delete Blob takes
    # the blob's snapshots with it.
    obstore_deletes = False

    def __repr__(self) -> str:
        return f"ObstoreDriver({self.sdk!r})"

    def _info(self, key: str, meta: Mapping[str, Any], attributes: Mapping[str, Any]) -> ObjectInfo:
        if not meta.get("e_tag"):
            # The service always sends one: the header block was cut short.
            raise UnavailableError("the answer was cut short: it has no ETag", resource=key)
        raw: dict[str, str] = {}
        content_type: str | None = None
        for name, value in attributes.items():
            # obstore names the headers it knows with a '-' (Content-Type, Cache-Control...);
            # metadata names are C# identifiers (see .metadata), which never have one.
            if name == "Content-Type":
                content_type = str(value) or None
            elif "-" not in name:
                raw[str(name)] = str(value)
        return object_info(
            key,
            size=int(meta["size"]),
            etag=etag(meta["e_tag"]),
            last_modified=meta.get("last_modified"),
            content_type=content_type,
            raw_metadata=raw,
        )

    # ----------------------------------------------------------------- BucketDriver

    @sdk_after_fork
    def read(self, key: str, *, start: int, end: int | None) -> ReadResult:
        """A Get Blob, ranged or not; a start past the end reads as no bytes (as on the SDK)."""
        if not representable(key):
            return self.sdk.read(key, start=start, end=end)
        if start < 0:
            return self._read_tail(key, start)
        result = self.get_range(key, start, end)
        if result is None:
            return self.sdk.read(key, start=start, end=end)
        return self._info(key, result.meta, result.attributes), self.body(result)

    def _read_tail(self, key: str, start: int) -> ReadResult:
        # Blob Storage has no suffix range: size the blob, then read from the offset, pinned
        # to that version's etag.
        head = self.obs.get(self.store, key, options={"head": True})
        info = self._info(key, head.meta, head.attributes)
        begin = max(0, info.size + start)
        if begin >= info.size:
            return info, EmptyStream()
        options = {"range": {"offset": begin}, "if_match": info.etag}
        try:
            result = self.obs.get(self.store, key, options=options)
        except Exception as exc:
            if type(exc).__name__ == "PreconditionError" or obstore_status(exc) == 412:
                raise UnavailableError(
                    "the object was replaced while it was being read", retryable=True
                ) from exc
            raise
        return info, self.body(result)

    def single_request(self, key: str, options: WriteOptions) -> bool:
        """Never: every write goes to the SDK (see :meth:`open_writer`)."""
        return False

    def open_writer(self, key: str, options: WriteOptions) -> DriverWriter:
        """Begin a write on the SDK: its Put Blob carries a Content-MD5 the service checks.

        obstore's Put Blob sends no digest, so bytes damaged on the way would be stored (and
        caught only when read back); the SDK's single Put Blob or staged blocks are refused
        by the service instead (tests/faults/test_checksums.py).
        """
        return self.sdk.open_writer(key, options)

    def delete_many(self, keys: Sequence[str]) -> None:
        """Blob Batch deletes through the SDK."""
        self.sdk.delete_many(keys)

    def list_page(self, options: ListOptions) -> ListPage:
        """One page through the SDK: its keys are the service's, its entries carry metadata."""
        return self.sdk.list_page(options)

    def bucket_region(self) -> str:
        """The account's location, from the management API (the SDK engine's)."""
        return self.sdk.bucket_region()

    def list_versions(self, prefix: str) -> list[StoredVersion]:
        """Blobs, versions, snapshots and uncommitted blobs under ``prefix`` (the SDK's)."""
        return self.sdk.list_versions(prefix)

    def delete_versions(self, items: Sequence[StoredVersion]) -> None:
        """Delete the base blobs, then each version and snapshot named (the SDK's)."""
        self.sdk.delete_versions(items)

    def copy(self, src_key: str, dst_key: str, *, if_none_match: bool) -> ObjectInfo:
        """Copy Blob within the account, through the SDK (awaited until it ends)."""
        return self.sdk.copy(src_key, dst_key, if_none_match=if_none_match)

    def signed_url(
        self, key: str, *, method: str, expires: timedelta, content_type: str | None
    ) -> str:
        """A SAS URL from the SDK (see the module docstring for why not obstore's)."""
        return self.sdk.signed_url(key, method=method, expires=expires, content_type=content_type)

    def map_error(self, exc: BaseException) -> PortaCloudError | None:
        """Translate an obstore or SDK failure (see :mod:`.obstore_errors`)."""
        return map_obstore_error(exc)

    def native(self) -> object | None:
        """The SDK's ``ContainerClient``, as on the SDK engine (``store`` is obstore's)."""
        return self.sdk.native()

    def close(self) -> None:
        """Close the SDK's clients; obstore's pool closes when the store is dropped."""
        self.sdk.close()
