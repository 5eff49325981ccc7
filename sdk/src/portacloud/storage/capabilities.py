"""What a storage backend can do, as data (OpenDAL-style capability names)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["StorageCapabilities"]


class StorageCapabilities(BaseModel):
    """The features of one storage backend, one flag per optional behaviour.

    The conformance suite skips a test whose capability is ``False`` and names the capability in
    the skip reason; the portable :class:`~portacloud.Bucket` raises
    :class:`~portacloud.errors.UnsupportedError` before calling a driver that lacks one.

    Attributes:
        write_with_if_none_match: Create-only writes (``if_none_match="*"``), atomic.
        write_with_if_match: Compare-and-swap writes (``if_match=etag``), atomic.
        write_with_content_type: The content type given at write time is kept.
        write_with_user_metadata: User metadata given at write time is kept.
        server_side_copy: Copy within the bucket without moving bytes through the client.
        copy_with_if_none_match: Create-only copies.
        list_with_delimiter: Common-prefix listing.
        list_prefixes_exact: A delimiter listing names a common prefix only while objects exist
            under it (SeaweedFS keeps reporting the directories of deleted objects).
        list_sorted: Listings come in UTF-8 byte order across pages, so ``start_after`` and
            page tokens mean "after this key" (SeaweedFS lists in file-tree order).
        presign_read: Signed GET URLs.
        presign_write: Signed PUT URLs.
        key_max_bytes: Longest key, in UTF-8 bytes.
        key_max_segment_bytes: Longest ``/``-separated key segment, where the backend is a
            file system with a name limit; ``None`` when segments are unbounded.
        key_empty_segments: Keys with ``//``, a leading ``/`` or a trailing ``/`` are stored as
            given (SeaweedFS and file systems collapse or refuse them).
        key_dot_segments: Keys with ``.`` or ``..`` segments are stored as given.
        key_file_and_prefix: ``a/b`` and ``a/b/c`` can both be objects.
        key_backslash: Keys with ``\\`` are stored as given (Azure turns it into ``/``).
        key_control_chars: Keys with control characters (tab, CR, LF...) are stored as given
            (GCS refuses CR and LF).
        cross_process_atomic: Conditional writes stay atomic between processes, not just threads.
        bounded_memory_streaming: Streamed reads and writes hold a bounded amount in memory
            whatever the object size (false only for backends that are memory).
        signed_url_checks_expiry: The server refuses an expired or tampered signed URL.
        etag_is_md5: An etag of 32 hex digits is the MD5 of the object's bytes, computed by
            the service (S3 objects written in one request; multipart etags end in ``-N``).
            Encrypted objects may have other etags of that shape, so a match vouches for bytes
            read and a mismatch proves nothing. ``False`` (the default) never trusts an etag.
        versions: The driver lists every version the backend stores (noncurrent versions,
            delete markers, generations) and deletes each for good, so ``Bucket.erase`` and
            its verification see them; ``False`` where the backend keeps one version per key.
        list_uploads: Unfinished multipart uploads can be listed and aborted, so
            ``Bucket.erase`` removes them and its verification sees them.
        location: The provider reports the region a bucket lives in (S3
            ``GetBucketLocation``, a GCS bucket's location), so region policies can check it;
            ``False`` where it cannot tell (``file://``, emulators that ignore locations).
        retry_after: A throttled answer's ``Retry-After`` sets the wait before the retry;
            ``False`` where the data path cannot see response headers (``engine=obstore``),
            whose retries wait the retry policy's backoff instead.
        native_async: :class:`~portacloud.AsyncBucket` calls are native coroutines; ``False``
            (every backend today) means they run the blocking driver on the async bucket's
            bounded thread pool.
        notes: Where the backend departs from the real cloud it stands in for.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    write_with_if_none_match: bool = True
    write_with_if_match: bool = True
    write_with_content_type: bool = True
    write_with_user_metadata: bool = True
    server_side_copy: bool = True
    copy_with_if_none_match: bool = True
    list_with_delimiter: bool = True
    list_prefixes_exact: bool = True
    list_sorted: bool = True
    presign_read: bool = False
    presign_write: bool = False
    key_max_bytes: int = 1024
    key_max_segment_bytes: int | None = None
    key_empty_segments: bool = True
    key_dot_segments: bool = True
    key_file_and_prefix: bool = True
    key_backslash: bool = True
    key_control_chars: bool = True
    cross_process_atomic: bool = True
    bounded_memory_streaming: bool = True
    signed_url_checks_expiry: bool = True
    etag_is_md5: bool = False
    versions: bool = False
    list_uploads: bool = False
    location: bool = False
    retry_after: bool = True
    native_async: bool = False
    notes: tuple[str, ...] = ()
