"""``az://container/prefix``: Azure Blob Storage (or Azurite) as a portacloud bucket.

Credentials never come from the URL (see :mod:`portacloud_azure.clients`): the ``account``
option means ``DefaultAzureCredential``, otherwise ``AZURE_STORAGE_CONNECTION_STRING``.

How the portable semantics map onto Blob Storage, and where each part lives:

- Writes are block blobs (:mod:`portacloud_azure.writer`): one Put Blob, or blocks staged in
  parallel and one Put Block List that also sets the content type and the metadata, the CRC32C
  included. Staged blocks stay invisible until that commit, so an abort only has to stop.
- Create-only writes and copies send ``If-None-Match: *``; compare-and-swap sends ``If-Match``,
  on the Put Blob or the Put Block List, so both are atomic on the service.
- The portable CRC32C lives in metadata (see :mod:`portacloud_azure.metadata` for why names are
  escaped: Azure takes only C# identifiers) and is stripped from ``ObjectInfo.metadata``.
- Listing (:mod:`portacloud_azure.listing`) uses ``prefix``/``delimiter`` and the service's
  continuation marker as the page token; ``start_after`` is applied client-side.
- Copies are server-side Copy Blob operations within the account, awaited until they finish;
  across containers too (``copy_between``) where the same shared key reaches both.
- Retries: the SDK's own retry policy is off (``retry_total=0``); the portable ``Bucket`` owns
  replayable calls and the driver retries only the blocks (and the commit) of a streamed write,
  which it holds in memory, with the policy given to ``open_bucket``. Reads
  (:mod:`portacloud_azure.reads`) are one plain Get Blob streamed as it arrives, not the SDK's
  downloader, which would re-send a request whose body broke off up to three times on its own.
- ``engine=obstore`` (the default; :mod:`portacloud_azure.obstore_engine`) sends reads, heads,
  single-request writes and deletes through obstore (Rust ``object_store``) and the rest
  through the same SDK client, storing objects exactly as the SDK engine does. obstore is
  imported only then; ``engine=sdk`` keeps the SDK for everything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, unquote

from portacloud.errors import InvalidArgumentError
from portacloud.logging_redaction import install_redaction
from portacloud.providerkit import parse_options
from portacloud.providerkit.obstore_fork import obstore_forked
from portacloud.retry import RetryPolicy
from portacloud_azure.capabilities import capabilities_for
from portacloud_azure.clients import service_client
from portacloud_azure.driver import AzureBlobDriver
from portacloud_azure.location import AccountLocator
from portacloud_azure.options import ENGINES, AzureOptions

if TYPE_CHECKING:
    from portacloud_azure.obstore_engine import ObstoreDriver

__all__ = ["AzureBlobDriver", "AzureProvider", "provider"]

_CONTAINER_NAME = re.compile(r"^(?:\$root|\$web|\$logs|[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9])$")


class AzureProvider:
    """Opens ``az://container[/prefix]``.

    Its options (URL query or keyword arguments) are those of
    :class:`~portacloud_azure.options.AzureOptions`: ``account``, ``endpoint_url``,
    ``api_version``, ``block_size``, ``max_concurrency``, ``engine`` (obstore|sdk) and
    ``subscription_id`` (to ask the account's region).

    Attributes:
        engines: The values of the ``engine`` option (a profile's ``storage_engine`` too).
    """

    engines = ENGINES

    def open_bucket(
        self, url: SplitResult, options: Mapping[str, Any], *, retry: RetryPolicy | None = None
    ) -> tuple[AzureBlobDriver | ObstoreDriver, str]:
        """Return a driver for the URL's container and the key prefix from its path.

        Args:
            url: The ``az://`` URL, its query removed.
            options: The URL's query and the caller's keywords, merged.
            retry: The policy of the driver's own retries (default: ``RetryPolicy()``).
        """
        # azure.core and urllib3 log headers and SAS queries at DEBUG: redact them first.
        install_redaction()
        parsed = parse_options(AzureOptions, "az", options)
        container = url.netloc
        if not _CONTAINER_NAME.match(container):
            raise InvalidArgumentError(
                "az:// URLs name a container: az://CONTAINER/prefix, where CONTAINER is 3-63 "
                f"lower-case letters, digits and single hyphens (got {container!r})"
            )
        service, signing = service_client(parsed)
        caps = capabilities_for(
            str(service.url), service.account_name, can_sign=signing is not None
        )
        locate = None
        if parsed.subscription_id is not None:
            locate = AccountLocator(
                subscription_id=parsed.subscription_id, account=service.account_name
            )
            caps = caps.model_copy(update={"location": True})
        driver = AzureBlobDriver(
            service=service,
            container=container,
            capabilities=caps,
            signing=signing,
            block_size=parsed.block_size,
            max_concurrency=parsed.max_concurrency,
            retry=retry,
            locate=locate,
        )
        prefix = unquote(url.path.lstrip("/"))
        if parsed.engine != "obstore" or obstore_forked():
            # A child forked after obstore ran in its parent would hang in obstore (see
            # portacloud.providerkit.obstore_fork): the SDK engine serves it.
            return driver, prefix
        # obstore is imported only here, when a bucket uses its engine.
        from portacloud_azure.obstore_engine import ObstoreDriver, obstore_store

        return ObstoreDriver(driver, obstore_store(service, container)), prefix


provider = AzureProvider()
