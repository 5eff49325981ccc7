"""The options of ``az://`` URLs, parsed once into a frozen model."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

from portacloud.providerkit import ByteCount, EndpointURL, NonEmptyStr, ProviderOptions

__all__ = ["DEFAULT_BLOCK_SIZE", "DEFAULT_CONCURRENCY", "DEFAULT_ENGINE", "ENGINES", "AzureOptions"]

_MiB = 1024 * 1024
DEFAULT_BLOCK_SIZE = 8 * _MiB
DEFAULT_CONCURRENCY = 4
_MIN_BLOCK_SIZE = 64 * 1024
_MAX_BLOCK_SIZE = 4000 * _MiB  # the service's limit for one Put Block
_MAX_CONCURRENCY = 64
_ACCOUNT_NAME = re.compile(r"^[a-z0-9]{3,24}$")
#: The data paths of ``az://``: azure-storage-blob, or obstore (Rust ``object_store``) with the
#: SDK for the rest.
ENGINES = ("sdk", "obstore")
DEFAULT_ENGINE = "obstore"


def _account_name(value: str) -> str:
    if not _ACCOUNT_NAME.match(value):
        raise ValueError("must be a storage account name: 3-24 lower-case letters and digits")
    return value


def _whole_number(value: object) -> object:
    # A count, from a keyword (an int, not a bool or a float) or a URL query (digits).
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"must be a whole number, not {value!r}")
    return value


def _engine(value: str) -> str:
    if value not in ENGINES:
        raise ValueError(f"must be one of {', '.join(ENGINES)}, not {value!r}")
    return value


class AzureOptions(ProviderOptions):
    """Options of ``az://container[/prefix]`` (URL query or keyword arguments).

    Attributes:
        account: Storage account name; credentials then come from ``DefaultAzureCredential``.
            Without it, ``AZURE_STORAGE_CONNECTION_STRING`` names the account and its key.
        endpoint_url: Blob endpoint, e.g. ``http://127.0.0.1:10000/devstoreaccount1`` for
            Azurite, or a sovereign cloud's endpoint.
        api_version: Storage REST API version to send (Azurite may need an older one).
        block_size: Bytes per staged block (64 KiB to 4000 MiB, default 8 MiB).
        max_concurrency: Parallel block uploads per write (1 to 64, default 4).
        engine: ``obstore`` (the default: the data path on obstore, the SDK for control calls
            and what obstore cannot do the same way; see :mod:`.obstore_engine`) or ``sdk``
            (azure-storage-blob for everything).
        subscription_id: The subscription that holds the account. With it, the account's
            region is asked from Azure Resource Manager (capability ``location``), which
            region policies need; without it the region is unknown.
    """

    account: Annotated[NonEmptyStr, AfterValidator(_account_name)] | None = None
    endpoint_url: EndpointURL | None = None
    api_version: NonEmptyStr | None = None
    block_size: Annotated[ByteCount, Field(ge=_MIN_BLOCK_SIZE, le=_MAX_BLOCK_SIZE)] = (
        DEFAULT_BLOCK_SIZE
    )
    max_concurrency: Annotated[
        int, BeforeValidator(_whole_number), Field(ge=1, le=_MAX_CONCURRENCY)
    ] = DEFAULT_CONCURRENCY
    engine: Annotated[NonEmptyStr, AfterValidator(_engine)] = DEFAULT_ENGINE
    subscription_id: NonEmptyStr | None = None
