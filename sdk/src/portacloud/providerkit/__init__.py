"""The provider kit: what every portacloud provider is built from.

A provider fills in a small, typed form (see docs/writing-a-provider.md):

- an options model (:class:`ProviderOptions`), parsed once with :func:`parse_options`;
- one :class:`ErrorTable` of :class:`ErrorRule` rows, with :func:`retry_after` for throttling
  answers and :func:`scrub` for every message that leaves it;
- read streams (:class:`BodyStream`, :class:`ChunkStream`, :class:`BytesStream`,
  :class:`EmptyStream`) for what its SDK returns;
- the portable types its driver speaks (:class:`ObjectInfo`, :class:`ListPage`,
  :class:`WriteOptions`...), and :func:`page_from_sorted` for backends that keep a sorted index;
- an entry-point object satisfying :class:`StorageProvider`, :class:`JobsProvider` or
  :class:`ComputeProvider`.

Everything here is stable API for provider authors; nothing here imports a vendor SDK.
"""

from __future__ import annotations

from portacloud.providerkit.contracts import (
    ComputeProvider,
    JobsProvider,
    ObjectURLSplitter,
    StorageProvider,
)
from portacloud.providerkit.errors import (
    TRANSIENT_STATUSES,
    ErrorRule,
    ErrorTable,
    call_mapped,
    call_owned,
    status_rules,
)
from portacloud.providerkit.http import header, range_header, range_total, retry_after
from portacloud.providerkit.options import (
    ByteCount,
    EndpointURL,
    NonEmptyStr,
    ProviderOptions,
    merge_options,
    parse_options,
    reject_unknown_options,
)
from portacloud.providerkit.secrets import scrub
from portacloud.providerkit.streams import (
    CHUNK_SIZE,
    BodyStream,
    BytesStream,
    ChunkStream,
    EmptyStream,
)
from portacloud.retry import RetryPolicy, call_conditional_with_retry, call_with_retry
from portacloud.storage.capabilities import StorageCapabilities
from portacloud.storage.driver import ListOptions, WriteOptions
from portacloud.storage.listing import ListingGuard, lower_bound, page_from_sorted
from portacloud.storage.models import ListPage, ObjectInfo, PrefixInfo

__all__ = [
    "CHUNK_SIZE",
    "TRANSIENT_STATUSES",
    "BodyStream",
    "ByteCount",
    "BytesStream",
    "ChunkStream",
    "ComputeProvider",
    "EmptyStream",
    "EndpointURL",
    "ErrorRule",
    "ErrorTable",
    "JobsProvider",
    "ListOptions",
    "ListPage",
    "ListingGuard",
    "NonEmptyStr",
    "ObjectInfo",
    "ObjectURLSplitter",
    "PrefixInfo",
    "ProviderOptions",
    "RetryPolicy",
    "StorageCapabilities",
    "StorageProvider",
    "WriteOptions",
    "call_conditional_with_retry",
    "call_mapped",
    "call_owned",
    "call_with_retry",
    "header",
    "lower_bound",
    "merge_options",
    "page_from_sorted",
    "parse_options",
    "range_header",
    "range_total",
    "reject_unknown_options",
    "retry_after",
    "scrub",
    "status_rules",
]
