"""What Azure Blob Storage and Azurite can do, and how to tell them apart at open."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from portacloud.storage.capabilities import StorageCapabilities

__all__ = ["AZURE_CAPABILITIES", "AZURITE_CAPABILITIES", "capabilities_for"]

_COMMON_NOTES = (
    "metadata names are escaped into C# identifiers ('-' as '_h', '.' as '_d', '_' as '__'); "
    "the CRC32C is metadata 'portacloud_hcrc32c'",
    "listing order is the service's UTF-16 code-unit order, which differs from UTF-8 byte order "
    "only between characters above U+FFFF and characters U+E000..U+FFFF",
    "start_after is applied client-side: the keys before it are still listed and skipped",
    "a signed PUT URL needs the request header 'x-ms-blob-type: BlockBlob'; the signature "
    "cannot pin the uploader's Content-Type",
    "keys with '.' or '..' segments are refused: HTTP stacks resolve them in the URL path",
    "keys with a backslash are refused: the service turns '\\' into '/' in blob names",
    "erase lists blob versions, snapshots and blobs with only uncommitted blocks, and "
    "deletes them; staged blocks of a blob go with it (there are no uploads to list: "
    "list_uploads=False)",
    "soft delete, where the account has it on, keeps erased blobs restorable until its "
    "retention ends; no blob call removes them sooner",
)

# Keys with '.' or '..' segments, or with a backslash, are not stored as given (see the notes).
_KEYS_NOT_AS_GIVEN = {"key_dot_segments": False, "key_backslash": False}

#: Azure Blob Storage itself; signed URLs need a shared key or, with Entra ID credentials, a
#: user-delegation key (the role "Storage Blob Delegator").
AZURE_CAPABILITIES = StorageCapabilities(
    presign_read=True,
    presign_write=True,
    versions=True,
    notes=_COMMON_NOTES,
    **_KEYS_NOT_AS_GIVEN,
)

#: Azurite 3.x, the official emulator.
AZURITE_CAPABILITIES = AZURE_CAPABILITIES.model_copy(
    update={
        "notes": (
            *_COMMON_NOTES,
            "Azurite: accounts are path-style (http://HOST:PORT/ACCOUNT/CONTAINER/KEY)",
            "Azurite: keeps no blob versions, so each blob is listed once (without an ID)",
            "Azurite: Put Blob From URL is not implemented; copies use Copy Blob",
            "Azurite: no user-delegation SAS (it needs --oauth basic over HTTPS); signing needs "
            "the account key of the connection string",
            "Azurite: a listing that meets a key with a character XML 1.0 cannot carry (control "
            "characters, U+FFFE, U+FFFF) fails with HTTP 500",
            "Azurite: accepts metadata names Azure refuses; the escaping keeps both the same",
            "Azurite: a wrong account key is 403 AuthorizationFailure (PERMISSION_DENIED) where "
            "Azure answers AuthenticationFailed (UNAUTHENTICATED)",
        )
    }
)


def is_emulator(account_url: str, account_name: str | None) -> bool:
    """Path-style account URLs (and loopback hosts) are Azurite's shape, not Azure's."""
    parts = urlsplit(account_url)
    host = parts.hostname or ""
    first_segment = parts.path.strip("/").split("/", 1)[0]
    if account_name and first_segment == account_name:
        return True
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def capabilities_for(
    account_url: str, account_name: str | None, *, can_sign: bool
) -> StorageCapabilities:
    """Azure's or Azurite's capabilities, without signed URLs when the credential cannot sign."""
    caps = AZURITE_CAPABILITIES if is_emulator(account_url, account_name) else AZURE_CAPABILITIES
    if can_sign:
        return caps
    why = "signed URLs need an account key or Entra ID credentials"
    return caps.model_copy(
        update={"presign_read": False, "presign_write": False, "notes": (*caps.notes, why)}
    )
