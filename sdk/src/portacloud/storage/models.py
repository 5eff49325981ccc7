"""Portable values that storage calls return."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

__all__ = ["ListPage", "ObjectInfo", "PrefixInfo", "object_infos"]


class ObjectInfo(BaseModel):
    """What is known of one stored object.

    Objects from :meth:`Bucket.list` may lack ``content_type``, ``metadata`` and
    ``checksums`` where the service's listing does not carry them (S3); ``head`` has them.

    Attributes:
        key: The key relative to the bucket (and the prefix the bucket was opened with).
        size: Length in bytes.
        etag: An opaque version tag that changes whenever the content changes (on S3 it is
            a hash of the bytes, so rewriting identical bytes keeps it); pass it to
            ``if_match``.
        last_modified: When the object was last written, in UTC.
        content_type: The MIME type recorded at write time, if any.
        metadata: User metadata (lower-case keys).
        checksums: Portable checksums of the bytes; ``{"crc32c": "<8 hex digits>"}`` for every
            object portacloud wrote.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    size: int = Field(ge=0)
    etag: str
    last_modified: datetime | None = None
    content_type: str | None = None
    metadata: Mapping[str, str] = Field(default_factory=dict)
    checksums: Mapping[str, str] = Field(default_factory=dict)

    @property
    def crc32c(self) -> str | None:
        """The portable CRC32C (8 lower-case hex digits), if the object carries one."""
        return self.checksums.get("crc32c")


_MANY_INFOS: TypeAdapter[tuple[ObjectInfo, ...]] = TypeAdapter(tuple[ObjectInfo, ...])


def object_infos(fields: Sequence[Mapping[str, Any]]) -> tuple[ObjectInfo, ...]:
    """Validate a listing page's worth of :class:`ObjectInfo` fields in one call.

    The same validation as building each ``ObjectInfo`` alone, in about half the time: one
    call into pydantic-core for the page instead of one per entry, which is most of a large
    listing's own cost.
    """
    return _MANY_INFOS.validate_python(fields)


class PrefixInfo(BaseModel):
    """A common prefix ("directory") in a delimiter listing.

    Attributes:
        key: The prefix, ending with the delimiter.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str


class ListPage(BaseModel):
    """One page of a listing, as drivers return it.

    Attributes:
        objects: Objects on this page, in key order.
        prefixes: Common prefixes on this page, when a delimiter was given.
        next_token: Where the next page starts, or ``None`` on the last page.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    objects: tuple[ObjectInfo, ...] = ()
    prefixes: tuple[PrefixInfo, ...] = ()
    next_token: str | None = None
