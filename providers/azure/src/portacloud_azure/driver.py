"""The ``az://`` bucket driver: one container of a storage account, via ``azure-storage-blob``."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from portacloud.errors import (
    DeadlineExceededError,
    FailedPreconditionError,
    PortaCloudError,
    UnavailableError,
    UnsupportedError,
)
from portacloud.providerkit import ChunkStream, EmptyStream
from portacloud.retry import RetryPolicy
from portacloud.storage.capabilities import StorageCapabilities
from portacloud.storage.driver import BucketDriver, ListOptions, StoredVersion, WriteOptions
from portacloud.storage.models import ListPage, ObjectInfo
from portacloud_azure import listing, objects, versions
from portacloud_azure.clients import DelegationKeys, same_principal
from portacloud_azure.errors import error_code, error_from_response, map_azure_error
from portacloud_azure.options import DEFAULT_BLOCK_SIZE, DEFAULT_CONCURRENCY
from portacloud_azure.reads import read_blob
from portacloud_azure.writer import BlockWriter

__all__ = ["AzureBlobDriver"]

_BATCH_DELETE_MAX = 256  # sub-requests per Blob Batch
_COPY_WAIT_MAX = timedelta(hours=1)


class AzureBlobDriver:
    """One container of a storage account, through ``azure-storage-blob``.

    Build it through ``portacloud.open_bucket("az://container/prefix")``; see
    :mod:`portacloud_azure.storage` for how each portable operation maps onto Blob Storage.

    Attributes:
        provider: ``"az"``.
        capabilities: Azure's or Azurite's, without signed URLs when the credential cannot
            sign.
        block_size: Bytes per staged block of a large write (and the largest single Put Blob).
        max_concurrency: Blocks of one write uploaded in parallel.
        retry: The policy of the driver's own retries (the blocks and commit of a stream).
    """

    provider = "az"
    content_settings = staticmethod(objects.content_settings)
    write_conditions = staticmethod(objects.write_conditions)
    object_info = staticmethod(objects.object_info)

    def __init__(
        self,
        *,
        service: Any,
        container: str,
        capabilities: StorageCapabilities,
        signing: str | None,
        block_size: int = DEFAULT_BLOCK_SIZE,
        max_concurrency: int = DEFAULT_CONCURRENCY,
        retry: RetryPolicy | None = None,
        locate: Callable[[], str] | None = None,
    ) -> None:
        """Wrap a ``BlobServiceClient``.

        Args:
            service: The ``BlobServiceClient`` (its SDK retries off).
            container: The container name.
            capabilities: What this account can do.
            signing: ``"key"`` (shared key), ``"delegation"`` (Entra ID) or ``None``.
            block_size: Bytes per staged block.
            max_concurrency: Parallel block uploads per write.
            retry: The policy of the driver's own retries (default: ``RetryPolicy()``).
            locate: Asks where the account lives (given a ``subscription_id``), or ``None``.
        """
        self._service = service
        self._locate = locate
        self._container_name = container
        self._container: Any = service.get_container_client(container)
        self.capabilities = capabilities
        self._signing = signing
        self._delegation = DelegationKeys(service) if signing == "delegation" else None
        self.block_size = block_size
        self.max_concurrency = max_concurrency
        self.retry = retry if retry is not None else RetryPolicy()

    def __repr__(self) -> str:
        return (
            f"AzureBlobDriver(account={self._service.account_name!r}, "
            f"container={self._container_name!r})"
        )

    def blob_client(self, key: str) -> Any:
        """The SDK client of one blob (backslash keys never get here: key_backslash is false)."""
        return self._container.get_blob_client(key)

    # ---------------------------------------------------------------- BucketDriver

    def stat(self, key: str) -> ObjectInfo:
        return objects.info_from_props(key, self.blob_client(key).get_blob_properties())

    def read(
        self, key: str, *, start: int, end: int | None
    ) -> tuple[ObjectInfo, ChunkStream | EmptyStream]:
        return read_blob(self.blob_client(key), key, start=start, end=end)

    def open_writer(self, key: str, options: WriteOptions) -> BlockWriter:
        return BlockWriter(
            self.blob_client(key),
            key,
            options,
            block_size=self.block_size,
            max_concurrency=self.max_concurrency,
            retry=self.retry,
        )

    def delete(self, key: str) -> None:
        try:
            self.blob_client(key).delete_blob(delete_snapshots="include")
        except Exception as exc:
            if error_code(exc) == "BlobNotFound":
                return
            raise

    def delete_many(self, keys: Sequence[str]) -> None:
        for i in range(0, len(keys), _BATCH_DELETE_MAX):
            batch = list(keys[i : i + _BATCH_DELETE_MAX])
            responses = self._container.delete_blobs(
                *batch, delete_snapshots="include", raise_on_any_failure=False
            )
            for key, response in zip(batch, responses, strict=False):
                status = int(response.status_code)
                code = response.headers.get("x-ms-error-code")
                if status < 300 or code == "BlobNotFound":
                    continue
                error = error_from_response(
                    status,
                    code,
                    message=getattr(response, "reason", "") or "",
                    headers=dict(response.headers),
                )
                error.resource = key
                raise error

    def list_page(self, options: ListOptions) -> ListPage:
        return listing.list_page(self._container, options)

    def bucket_region(self) -> str:
        """The account's location, from the management API (capability ``location``)."""
        if self._locate is None:
            raise UnsupportedError("the account's region needs the subscription_id option")
        return self._locate()

    def list_versions(self, prefix: str) -> list[StoredVersion]:
        """Blobs, versions, snapshots and uncommitted blobs under ``prefix`` (for erase)."""
        return versions.list_versions(self._container, prefix)

    def delete_versions(self, items: Sequence[StoredVersion]) -> None:
        """Delete the base blobs, then each version and snapshot named (for erase)."""
        versions.delete_versions(self._container, items)

    def copy(self, src_key: str, dst_key: str, *, if_none_match: bool) -> ObjectInfo:
        return self._copy_blob(self.blob_client(src_key), dst_key, if_none_match=if_none_match)

    # ---------------------------------------------------------------- SupportsCopyFrom

    def can_copy_from(self, source: BucketDriver) -> bool:
        """Whether ``source`` is a container of this account that this driver's credential
        can read (see :func:`~portacloud_azure.clients.same_principal`); sends no request."""
        return self._same_account(source) is not None

    def copy_from(
        self, source: BucketDriver, src_key: str, dst_key: str, *, if_none_match: bool
    ) -> ObjectInfo | None:
        """Copy Blob from another container of the account, awaited until it ends, as
        :meth:`copy`; ``None`` if ``source`` is out of reach."""
        origin = self._same_account(source)
        if origin is None:
            return None
        return self._copy_blob(origin.blob_client(src_key), dst_key, if_none_match=if_none_match)

    def _same_account(self, source: object) -> AzureBlobDriver | None:
        # The obstore engine keeps its SDK driver in ``sdk``: copies go through that.
        origin = getattr(source, "sdk", source)
        if not isinstance(origin, AzureBlobDriver):
            return None
        return origin if same_principal(origin._service, self._service) else None

    def _copy_blob(self, source: Any, dst_key: str, *, if_none_match: bool) -> ObjectInfo:
        from azure.core import MatchConditions

        target = self.blob_client(dst_key)
        conditions = {"match_condition": MatchConditions.IfMissing} if if_none_match else {}
        # Copy Blob within one account: the service reads the source with the caller's own
        # authorization, so the plain URL works for shared keys and Entra ID alike (a client
        # built on a SAS carries it in .url). No metadata is sent, so the source's metadata,
        # the CRC32C included, and its content settings are copied as they are.
        started = target.start_copy_from_url(source.url, **conditions)
        props = _await_copy(target, started, dst_key)
        return objects.info_from_props(dst_key, props)

    def map_error(self, exc: Exception) -> PortaCloudError | None:
        return map_azure_error(exc)

    def native(self) -> object | None:
        container: object = self._container  # a ContainerClient
        return container

    def close(self) -> None:
        self._container.close()
        self._service.close()
        if self._signing == "delegation":
            # The DefaultAzureCredential was made for this driver and holds its own sessions.
            with contextlib.suppress(Exception):
                self._service.credential.close()

    # ---------------------------------------------------------------- SupportsSignedURL

    def signed_url(
        self, key: str, *, method: str, expires: timedelta, content_type: str | None
    ) -> str:
        """Return a SAS URL for ``key``.

        A GET URL works with any HTTP client. A PUT URL creates or replaces a block blob, and
        Blob Storage requires the uploader to send the header ``x-ms-blob-type: BlockBlob``
        (the request's ``Content-Type`` becomes the blob's). A SAS cannot pin the uploader's
        Content-Type, so ``content_type`` is not part of the signature.

        With a shared key the SAS is a service SAS; with Entra ID credentials it is a
        user-delegation SAS, which needs the role "Storage Blob Delegator" on the account.
        """
        from azure.storage.blob import BlobSasPermissions, generate_blob_sas

        blob = self.blob_client(key)
        expiry = datetime.now(UTC) + expires
        permission = (
            BlobSasPermissions(read=True)
            if method == "GET"
            else BlobSasPermissions(create=True, write=True)
        )
        signer: dict[str, Any]
        if self._signing == "key":
            signer = {"account_key": self._service.credential.account_key}
        elif self._delegation is not None:
            signer = {"user_delegation_key": self._delegation.key_until(expiry)}
        else:  # the capabilities say so first; this guards direct driver use
            raise FailedPreconditionError(
                "this credential cannot sign URLs (a SAS-only connection string)", resource=key
            )
        sas = generate_blob_sas(
            account_name=self._service.account_name,
            container_name=self._container_name,
            blob_name=key,
            permission=permission,
            expiry=expiry,
            **signer,
        )
        return f"{blob.url}?{sas}"


def _await_copy(target: Any, started: Any, dst_key: str) -> Any:
    """Poll a started Copy Blob until it ends; the target's properties once it succeeded."""
    status = str(started.get("copy_status") or "pending")
    props = None
    deadline = time.monotonic() + _COPY_WAIT_MAX.total_seconds()
    delay = 0.05
    while status == "pending":
        if time.monotonic() > deadline:
            with contextlib.suppress(Exception):
                target.abort_copy(started.get("copy_id"))
            raise DeadlineExceededError(
                f"the server-side copy did not finish within {_COPY_WAIT_MAX}", resource=dst_key
            )
        time.sleep(delay)
        delay = min(delay * 2, 2.0)
        props = target.get_blob_properties()
        status = str(props.copy.status or "success")
    if status != "success":
        raise UnavailableError(f"the server-side copy ended {status}", resource=dst_key)
    return props if props is not None else target.get_blob_properties()
