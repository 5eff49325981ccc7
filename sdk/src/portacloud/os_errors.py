"""The one errno table: local file system errors as portacloud errors.

Shared by the ``file://`` provider and the CLI's own reads and writes of local paths, so the
same failure reads the same whichever of them met it.
"""

from __future__ import annotations

import errno

from portacloud.errors import (
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    PortaCloudError,
    ResourceExhaustedError,
    UnavailableError,
)

__all__ = ["ERRNO_TABLE"]

ERRNO_TABLE: dict[int, type[PortaCloudError]] = {
    errno.ENOENT: NotFoundError,
    errno.ENOTDIR: InvalidArgumentError,
    errno.EISDIR: InvalidArgumentError,
    errno.ELOOP: InvalidArgumentError,
    errno.ENAMETOOLONG: InvalidArgumentError,
    errno.EACCES: PermissionDeniedError,
    errno.EPERM: PermissionDeniedError,
    errno.EROFS: PermissionDeniedError,
    errno.ETXTBSY: PermissionDeniedError,
    errno.ENOSPC: ResourceExhaustedError,
    errno.EDQUOT: ResourceExhaustedError,
    errno.EFBIG: ResourceExhaustedError,
    errno.EMFILE: ResourceExhaustedError,
    errno.EIO: UnavailableError,
}
