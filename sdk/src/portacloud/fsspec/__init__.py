"""portacloud as an fsspec filesystem: ``portacloud://`` (alias ``pc://``) URLs.

``pd.read_parquet("portacloud://runs/42/x.parquet")`` reads from the active profile's storage,
whichever cloud it names. Importing this module imports fsspec; ``import portacloud`` does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from portacloud.fsspec.filesystem import PortaCloudFileSystem

if TYPE_CHECKING:
    from portacloud.storage.bucket import Bucket

__all__ = ["PortaCloudFileSystem", "filesystem"]


def filesystem(
    target: Bucket | str | None = None, *, profile: str | None = None, **options: Any
) -> PortaCloudFileSystem:
    """Return the fsspec filesystem of an open bucket, a storage URL or a profile.

    Args:
        target: An open :class:`~portacloud.Bucket`, a storage URL, or ``None`` for the
            storage of ``profile`` (default: the active profile).
        profile: A profile name, when ``target`` is ``None``.
        **options: fsspec and provider options (see :class:`PortaCloudFileSystem`).
    """
    if target is None:
        return PortaCloudFileSystem(profile=profile, **options)
    if isinstance(target, str):
        return PortaCloudFileSystem(storage=target, profile=profile, **options)
    return PortaCloudFileSystem(bucket=target, profile=profile, **options)
