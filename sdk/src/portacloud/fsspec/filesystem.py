"""The ``portacloud`` (alias ``pc``) fsspec filesystem: fsspec's API over a portable Bucket.

Paths are keys relative to one storage URL, with leading and trailing ``/`` dropped.
Directories are inferred from keys (``a/b/c`` makes ``a`` and ``a/b`` directories): object
stores have no empty directories, so ``mkdir`` and ``makedirs`` write nothing.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any, ClassVar

from fsspec.callbacks import DEFAULT_CALLBACK, Callback
from fsspec.dircache import DirCache
from fsspec.spec import AbstractFileSystem, _Cached, make_instance
from fsspec.utils import stringify_path, tokenize

from portacloud.errors import NotFoundError
from portacloud.fsspec.errors import directory_error, translated
from portacloud.fsspec.files import DEFAULT_CACHE_TYPE, PortaCloudFile
from portacloud.fsspec.listing import dir_entry, file_entry, group_by_dir, list_dir, list_tree
from portacloud.handle import picklable_options

if TYPE_CHECKING:
    from portacloud.storage.bucket import Bucket

__all__ = ["PortaCloudFileSystem"]

#: Options fsspec's own machinery takes; every other unknown option goes to the provider.
_FSSPEC_OPTIONS = frozenset(
    {"use_listings_cache", "listings_expiry_time", "max_paths", "asynchronous", "loop"}
)
DIRCACHE_OPTIONS = frozenset({"use_listings_cache", "listings_expiry_time", "max_paths"})


class _ResolvingCache(_Cached):  # type: ignore[misc]  # fsspec is untyped
    """fsspec's instance cache, keyed by the storage URL a profile resolves to.

    Resolving before fsspec tokenises the options means ``portacloud://`` under two profiles
    gives two filesystems, and a pickled filesystem names the storage, not the profile.
    """

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:  # noqa: N805  # a metaclass
        if args:
            if "storage" in kwargs or len(args) > 1:
                raise TypeError("PortaCloudFileSystem takes one storage URL")
            kwargs["storage"] = args[0]
        return super().__call__(**_resolve_storage(kwargs))


def _resolve_storage(kwargs: dict[str, Any]) -> dict[str, Any]:
    given = [name for name in ("storage", "profile", "bucket") if kwargs.get(name) is not None]
    if len(given) > 1:
        raise ValueError(f"pass one of storage, profile or bucket, not {' and '.join(given)}")
    profile = kwargs.pop("profile", None)
    if "bucket" in kwargs:
        # A live Bucket is its own identity: two with the same URL may have other options.
        kwargs["skip_instance_cache"] = True
        return kwargs
    if kwargs.get("storage") is None:
        from portacloud.profiles import load_profile

        resolved = load_profile(profile)
        if resolved.storage is None:
            raise ValueError(f"profile {resolved.name!r} has no storage URL")
        kwargs["storage"] = resolved.storage
        if resolved.regions is not None:
            kwargs["region_profile"] = resolved.name
    return kwargs


# fsspec keeps one instance per thread for sync filesystems, and each has its own listings
# cache: a write through one would leave the others' listings stale (Hugging Face datasets
# resolves files from a thread pool). Instances over the same storage share one cache, which
# goes when the last of them does.
_DIRCACHES: weakref.WeakValueDictionary[str, DirCache] = weakref.WeakValueDictionary()
_DIRCACHES_LOCK = threading.Lock()


def _shared_dircache(
    storage: str | None, provider: Mapping[str, Any], fsspec_options: Mapping[str, Any]
) -> DirCache:
    cache_options = {k: v for k, v in fsspec_options.items() if k in DIRCACHE_OPTIONS}
    key = tokenize(storage, sorted(provider.items()), sorted(cache_options.items()))
    with _DIRCACHES_LOCK:
        cache = _DIRCACHES.get(key)
        if cache is None:
            cache = _DIRCACHES[key] = DirCache(**cache_options)
        return cache


class PortaCloudFileSystem(AbstractFileSystem, metaclass=_ResolvingCache):  # type: ignore[misc]
    """fsspec over any portacloud storage URL (``s3://``, ``gs://``, ``az://``, ``file://``...).

    Args:
        storage: The storage URL whose keys are this filesystem's paths. Default: the storage
            of ``profile``, or of the active profile (``$PORTACLOUD_PROFILE``, else
            ``default``), so ``portacloud://key`` follows whichever cloud the profile names.
        profile: A profile name, instead of ``storage``.
        bucket: An open :class:`~portacloud.Bucket` to wrap, instead of either.
        block_size: Bytes per read-cache block and per streamed write part.
        max_concurrency: Threads for ``cat_ranges``.
        region_profile: The profile whose region policy binds the bucket; set when the
            storage comes from a profile that has one.
        **options: ``use_listings_cache``, ``listings_expiry_time``, ``max_paths`` (fsspec's
            listings cache); any other option goes to the provider, as in ``open_bucket``.
    """

    protocol: ClassVar[tuple[str, ...]] = ("portacloud", "pc")
    root_marker = ""
    blocksize = 5 * 2**20

    def __init__(
        self,
        storage: str | None = None,
        *,
        bucket: Bucket | None = None,
        block_size: int | None = None,
        max_concurrency: int = 16,
        **options: Any,
    ) -> None:
        fsspec_options = {k: v for k, v in options.items() if k in _FSSPEC_OPTIONS}
        super().__init__(**fsspec_options)
        self._region_profile: str | None = options.pop("region_profile", None)
        self._bucket = bucket
        self._storage = storage if bucket is None else bucket.url
        self._provider_options = {k: v for k, v in options.items() if k not in _FSSPEC_OPTIONS}
        if bucket is None:
            self.dircache = _shared_dircache(storage, self._provider_options, fsspec_options)
        if block_size is not None:
            self.blocksize = block_size
        self.max_concurrency = max(1, max_concurrency)

    # ------------------------------------------------------------------ identity

    @property
    def bucket(self) -> Bucket:
        """The portable bucket behind this filesystem, opened on first use."""
        if self._bucket is None:
            from portacloud.openers import open_bucket

            assert self._storage is not None  # the metaclass resolved it
            self._bucket = open_bucket(
                self._storage, profile=self._region_profile, **self._provider_options
            )
        return self._bucket

    @property
    def storage(self) -> str:
        """The storage URL this filesystem's paths are relative to."""
        assert self._storage is not None
        return self._storage

    @property
    def fsid(self) -> str:
        """A persistent id: the storage URL."""
        return f"portacloud:{self.storage}"

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        # By URL and plain options, never credentials or a live client (the bucket, if one
        # was wrapped, pickles itself the same way).
        options = {k: v for k, v in self.storage_options.items() if k != "bucket"}
        kept = picklable_options(options)
        if "bucket" in self.storage_options:
            kept["bucket"] = self.storage_options["bucket"]
        return make_instance, (type(self), self.storage_args, kept)

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        text: str = stringify_path(path)
        for protocol in cls.protocol:
            for sep in ("://", "::"):
                if text.startswith(protocol + sep):
                    text = text[len(protocol) + len(sep) :]
        return text.strip("/")

    def key(self, path: str) -> str:
        """The bucket key of ``path`` (the root is not an object: IsADirectoryError)."""
        key: str = self._strip_protocol(path)
        if not key:
            raise directory_error(IsADirectoryError, "/", None)
        return key

    # ------------------------------------------------------------------ listings

    def invalidate_cache(self, path: str | None = None) -> None:
        """Forget cached listings of ``path`` and every directory above it (all if None)."""
        if path is None:
            self.dircache.clear()
        else:
            # A new object can create inferred directories all the way up to the root.
            current: str = self._strip_protocol(path)
            while True:
                self.dircache.pop(current, None)
                if not current:
                    break
                current = self._parent(current)
        super().invalidate_cache(path)

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        """List one directory level (one delimiter listing, cached)."""
        path = self._strip_protocol(path)
        # The dircache entry of this very path only: fsspec's _ls_from_cache would answer a
        # directory with its own entry from the parent's listing.
        entries = None if kwargs.get("refresh") else self.dircache.get(path)
        if entries is None:
            with translated(path):
                entries = list_dir(self.bucket, path)
            if entries or not path:
                self.dircache[path] = entries
            else:
                entries = [self.info(path)]  # a file lists as itself; missing raises
        return entries if detail else [e["name"] for e in entries]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        """Describe ``path`` from one HEAD: size, ETag, LastModified, ContentType, crc32c."""
        path = self._strip_protocol(path)
        if not path:
            return dir_entry("")
        if not kwargs.get("refresh"):
            cached = self._info_from_cache(path)
            if cached is not None:
                return cached
        try:
            with translated(path):
                return file_entry(path, self.bucket.head(path))
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            if self._has_children(path):
                return dir_entry(path)
            raise FileNotFoundError(exc.errno, f"{path!r} not found", path) from exc.__cause__

    def _info_from_cache(self, path: str) -> dict[str, Any] | None:
        if path in self.dircache:  # only non-empty directories are cached under their name
            return dir_entry(path)
        siblings = self.dircache.get(self._parent(path))
        if siblings is None:
            return None
        for entry in siblings:
            if entry["name"] == path:
                return dict(entry)
        raise FileNotFoundError(2, f"{path!r} not found (cached listing)", path)

    def _has_children(self, path: str) -> bool:
        with translated(path):
            return next(iter(self.bucket.list(path + "/", page_size=1)), None) is not None

    def find(
        self,
        path: str,
        maxdepth: int | None = None,
        withdirs: bool = False,
        detail: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Every file below ``path`` from one flat listing (dirs inferred with ``withdirs``)."""
        if maxdepth is not None:
            return super().find(path, maxdepth=maxdepth, withdirs=withdirs, detail=detail)
        path = self._strip_protocol(path)
        with translated(path):
            tree = list_tree(self.bucket, path, withdirs=True)
        if tree:
            # The flat listing was complete: every directory under path is known, so later
            # info/ls/open calls (dask and pyarrow make one per file) need no request.
            for directory, entries in group_by_dir(path, tree).items():
                self.dircache[directory] = entries
        out = tree if withdirs else {k: v for k, v in tree.items() if v["type"] == "file"}
        if not out and path:
            with suppress(FileNotFoundError):
                entry = self.info(path)
                if entry["type"] == "file":
                    out[path] = entry
        names = sorted(out)
        return {n: out[n] for n in names} if detail else names

    def du(
        self,
        path: str,
        total: bool = True,
        maxdepth: int | None = None,
        withdirs: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Bytes under ``path`` from the listing's sizes (no HEAD per object)."""
        found = self.find(path, maxdepth=maxdepth, withdirs=withdirs, detail=True)
        sizes = {name: entry["size"] for name, entry in found.items()}
        return sum(sizes.values()) if total else sizes

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        """Nothing to do: directories exist while objects are under them."""

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        """Nothing to do: directories exist while objects are under them."""

    def rmdir(self, path: str) -> None:
        """Nothing to do: a directory goes when its last object does."""

    # ------------------------------------------------------------------ reads

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        """Bytes ``[start, end)`` of an object in one (ranged) GET; negative counts from the end."""
        key = self.key(path)
        rng = None if start is None and end is None else (start, end)
        try:
            with translated(key):
                return self.bucket.get(key, range=rng)
        except FileNotFoundError as exc:
            if self._has_children(key):
                raise directory_error(IsADirectoryError, key, exc.__cause__) from exc.__cause__
            raise

    def cat_ranges(
        self,
        paths: list[str],
        starts: int | list[int | None] | None,
        ends: int | list[int | None] | None,
        max_gap: int | None = None,
        on_error: str = "return",
        **kwargs: Any,
    ) -> list[bytes | Exception]:
        """Several ranged reads at once, ``max_concurrency`` in flight."""
        if not isinstance(paths, list):
            raise TypeError("paths must be a list")
        count = len(paths)
        starts_ = starts if isinstance(starts, list) else [starts] * count
        ends_ = ends if isinstance(ends, list) else [ends] * count
        if len(starts_) != count or len(ends_) != count:
            raise ValueError("paths, starts and ends must have the same length")

        def one(i: int) -> bytes | Exception:
            try:
                return self.cat_file(paths[i], starts_[i], ends_[i])
            except Exception as exc:
                if on_error == "return":
                    return exc
                raise

        if count <= 1:
            return [one(i) for i in range(count)]
        with ThreadPoolExecutor(min(self.max_concurrency, count)) as pool:
            return list(pool.map(one, range(count)))

    def cat(
        self, path: str | list[str], recursive: bool = False, on_error: str = "raise", **kwargs: Any
    ) -> bytes | dict[str, bytes | Exception]:
        """Whole objects, several at once (``max_concurrency`` in flight)."""
        paths = self.expand_path(path, recursive=recursive)
        if (
            len(paths) == 1
            and not isinstance(path, list)
            and paths[0] == self._strip_protocol(path)
        ):
            return self.cat_file(paths[0])
        out: dict[str, bytes | Exception] = {}
        for name, data in zip(paths, self.cat_ranges(paths, None, None), strict=True):
            if isinstance(data, Exception):
                if on_error == "raise":
                    raise data
                if on_error == "omit":
                    continue
            out[name] = data
        return out

    def get_file(
        self,
        rpath: str,
        lpath: str | os.PathLike[str] | IO[bytes] | None = None,
        callback: Callback = DEFAULT_CALLBACK,
        outfile: IO[bytes] | None = None,
        **kwargs: Any,
    ) -> None:
        """Stream one object to a local file, ``blocksize`` bytes at a time."""
        key = self.key(rpath)
        if outfile is None and lpath is not None and hasattr(lpath, "write"):
            outfile = lpath  # type: ignore[assignment]  # a file-like given as lpath
        try:
            reader = self.bucket.open(key, "rb")
        except NotFoundError as exc:
            if outfile is None and self._has_children(key):
                os.makedirs(os.fspath(lpath), exist_ok=True)  # type: ignore[arg-type]
                return
            raise FileNotFoundError(2, f"{key!r} not found", key) from exc
        with reader, translated(key):
            described: Any = getattr(reader.raw, "info", None)
            callback.set_size(getattr(described, "size", None))
            if outfile is not None:
                self._copy_out(reader, outfile, callback)
                return
            target = os.fspath(lpath)  # type: ignore[arg-type]
            os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
            with open(target, "wb") as local:
                self._copy_out(reader, local, callback)

    def _copy_out(self, reader: IO[bytes], out: IO[bytes], callback: Callback) -> None:
        while chunk := reader.read(self.blocksize):
            out.write(chunk)
            callback.relative_update(len(chunk))

    # ------------------------------------------------------------------ writes

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        """Write an object in one call; ``mode="create"`` is an atomic create-only write."""
        key = self.key(path)
        with self._writing(key, mode):
            self.bucket.put(key, value, if_none_match=_exclusive(mode), **_write_kwargs(kwargs))
        self.invalidate_cache(key)

    @contextmanager
    def _writing(self, key: str, mode: str) -> Iterator[None]:
        """Translate write errors; a refused plain write is a file/directory clash."""
        try:
            with translated(key):
                yield
        except FileExistsError as exc:
            if mode == "create":
                raise
            # Only create-only writes are conditional, so this is a backend where keys are
            # paths (file://): the key is a directory, or one of its parents is a file.
            kind = IsADirectoryError if self._has_children(key) else NotADirectoryError
            raise directory_error(kind, key, exc.__cause__) from exc.__cause__

    def put_file(
        self,
        lpath: str | os.PathLike[str],
        rpath: str,
        callback: Callback = DEFAULT_CALLBACK,
        mode: str = "overwrite",
        **kwargs: Any,
    ) -> None:
        """Stream a local file into an object with bounded memory."""
        if os.path.isdir(lpath):
            return  # object stores have no empty directories; files under it come separately
        key = self.key(rpath)
        with open(lpath, "rb") as local, self._writing(key, mode):
            callback.set_size(os.fstat(local.fileno()).st_size)
            self.bucket.put(
                key,
                _progress(local, callback, self.blocksize),
                if_none_match=_exclusive(mode),
                **_write_kwargs(kwargs),
            )
        self.invalidate_cache(key)

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        """Copy one object, server-side where the backend can."""
        src, dst = self.key(path1), self.key(path2)
        with translated(src):
            if self.bucket.capabilities.server_side_copy:
                self.bucket.copy(src, dst)
            else:
                with self.bucket.open(src, "rb") as reader:
                    self.bucket.put(dst, reader)
        self.invalidate_cache(dst)

    def rm_file(self, path: str) -> None:
        """Delete one object; a missing one is not an error."""
        key = self.key(path)
        with translated(key):
            self.bucket.delete(key)
        self.invalidate_cache(key)

    def _rm(self, path: str) -> None:
        self.rm_file(path)

    def rm(
        self, path: str | list[str], recursive: bool = False, maxdepth: int | None = None
    ) -> None:
        """Delete objects (globs and ``recursive`` expanded), in batches through delete_many."""
        paths = self.expand_path(path, recursive=recursive, maxdepth=maxdepth)
        listed = set(paths)
        # expand_path names inferred directories too; only objects exist to be deleted.
        dirs = {p.rsplit("/", 1)[0] for p in listed if "/" in p}
        keys = [p for p in paths if p and p not in dirs]
        with translated(str(path)):
            self.bucket.delete_many(keys)
        for p in paths:
            self.invalidate_cache(p)

    def touch(self, path: str, truncate: bool = True, **kwargs: Any) -> None:
        """Write an empty object (objects have no timestamp to update in place)."""
        if truncate or not self.exists(path):
            self.pipe_file(path, b"", **kwargs)

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PortaCloudFile:
        if mode not in ("rb", "wb", "xb"):
            raise NotImplementedError(f"mode {mode!r}: objects are read, written or created")
        key = self.key(path)
        size = None
        if mode == "rb":
            entry = self.info(key)
            if entry["type"] == "directory":
                raise directory_error(IsADirectoryError, key, None)
            size = entry["size"]
        elif mode == "xb" and not self.bucket.capabilities.write_with_if_none_match:
            raise NotImplementedError(
                f"mode 'xb' needs create-only writes, and capability write_with_if_none_match "
                f"is false on {self.bucket.provider}"
            )
        elif mode == "xb" and self.exists(key):
            # Checked up front so the caller learns before writing; the final write is
            # conditional too, so a writer racing in between still loses.
            raise FileExistsError(17, f"{key!r} exists", key)
        kwargs.setdefault("cache_type", DEFAULT_CACHE_TYPE)
        return PortaCloudFile(
            self,
            key,
            mode,
            block_size=block_size or self.blocksize,
            autocommit=autocommit,
            cache_options=cache_options,
            size=size,
            **kwargs,
        )

    # ------------------------------------------------------------------ metadata

    def modified(self, path: str) -> datetime:
        """When the object was last written."""
        stamp = self.info(path).get("LastModified")
        if stamp is None:
            raise NotImplementedError(f"{path!r} has no modification time")
        return stamp  # type: ignore[no-any-return]

    def checksum(self, path: str) -> int:
        """The object's portable CRC32C as an int (the same bytes give the same value on every
        backend, unlike ETags); fsspec's default token of ``info`` where there is none."""
        crc = self.info(path).get("crc32c")
        return int(crc, 16) if crc else int(super().checksum(path))

    def ukey(self, path: str) -> str:
        """The object's ETag: it changes whenever the content does."""
        return str(self.info(path)["ETag"])

    def sign(self, path: str, expiration: int = 100, **kwargs: Any) -> str:
        """A signed GET URL valid for ``expiration`` seconds."""
        key = self.key(path)
        with translated(key):
            return self.bucket.signed_url(key, expires=int(expiration))


def _exclusive(mode: str) -> str | None:
    if mode not in ("overwrite", "create"):
        raise ValueError(f"mode must be 'overwrite' or 'create', not {mode!r}")
    return "*" if mode == "create" else None


def _write_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: kwargs[k] for k in ("content_type", "metadata") if k in kwargs}


def _progress(source: IO[bytes], callback: Callback, chunk: int) -> Iterator[bytes]:
    while data := source.read(chunk):
        callback.relative_update(len(data))
        yield data
