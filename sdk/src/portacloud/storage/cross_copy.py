"""Server-side copies from one bucket to another of the same store and credentials.

:meth:`Bucket.copy <portacloud.storage.bucket.Bucket.copy>` copies inside one bucket; these
functions copy across two, where the destination's driver can reach the source's
(:class:`~portacloud.storage.driver.SupportsCopyFrom`: for S3, the same endpoint, region and
access key ID; for Azure, the same account URL and shared key; for GCS, the same endpoint,
project and principal). The bytes never pass through this process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portacloud.errors import InvalidArgumentError, UnsupportedError
from portacloud.storage.driver import SupportsCopyFrom

if TYPE_CHECKING:
    from portacloud.storage.bucket import Bucket
    from portacloud.storage.models import ObjectInfo

__all__ = ["can_copy_between", "copy_between"]


def _copier(target: Bucket) -> SupportsCopyFrom | None:
    driver = target._driver
    if not target.capabilities.server_side_copy or not isinstance(driver, SupportsCopyFrom):
        return None
    return driver


def can_copy_between(source: Bucket, target: Bucket) -> bool:
    """Whether :func:`copy_between` can copy from ``source`` to ``target`` server-side.

    Sends no request: it compares how the two buckets were opened (provider, endpoint,
    credentials).
    """
    copier = _copier(target)
    return copier is not None and copier.can_copy_from(source._driver)


def copy_between(
    source: Bucket,
    target: Bucket,
    src_key: str,
    dst_key: str,
    *,
    if_none_match: str | None = None,
) -> ObjectInfo:
    """Copy ``src_key`` of ``source`` to ``dst_key`` of ``target`` inside the storage service.

    Content type, metadata and the CRC32C travel with it, as with ``Bucket.copy``. The region
    policies of both buckets apply (read at the source, write at the destination).

    Args:
        source: The bucket to copy from.
        target: The bucket to copy into.
        src_key: The key in ``source``.
        dst_key: The key in ``target``.
        if_none_match: ``"*"``: create-only.

    Returns:
        The new object, its key relative to ``target``.

    Raises:
        UnsupportedError: ``target`` cannot reach ``source`` server-side (another provider,
            endpoint or set of credentials), or cannot copy create-only: stream instead.
        NotFoundError: ``src_key`` is missing.
        FailedPreconditionError: With ``if_none_match="*"``, ``dst_key`` exists.
    """
    src, dst = source._full(src_key), target._full(dst_key)
    if if_none_match is not None and if_none_match != "*":
        raise InvalidArgumentError(f"if_none_match must be '*', not {if_none_match!r}")
    copier = _copier(target)
    if copier is None or not copier.can_copy_from(source._driver):
        raise UnsupportedError(
            f"{target.url} cannot copy from {source.url} server-side (another provider, "
            "endpoint or set of credentials)",
            provider=target.provider,
            operation="copy",
        )
    if if_none_match and not target.capabilities.copy_with_if_none_match:
        raise target._unsupported("copy", "if_none_match", "copy_with_if_none_match")
    source.check_region("read", src_key, operation="copy")
    reached: SupportsCopyFrom = copier

    def copy() -> ObjectInfo:
        written = reached.copy_from(source._driver, src, dst, if_none_match=if_none_match == "*")
        if written is None:  # checked above; a driver that changed its mind is no copy
            raise UnsupportedError(f"{target.url} cannot reach {source.url}", operation="copy")
        return written

    return target._relative(target._call("copy", src_key, copy))
