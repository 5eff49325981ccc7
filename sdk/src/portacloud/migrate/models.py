"""The values a migration plans, reports and verifies, as frozen pydantic models."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Action",
    "ActionTotals",
    "CostEstimate",
    "KeyRange",
    "MigrationEvent",
    "MigrationPlan",
    "MigrationResult",
    "Mismatch",
    "ObjectFailure",
    "ObjectState",
    "Phase",
    "PriceRow",
    "VerifyResult",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Action(StrEnum):
    """What the plan does with one key."""

    COPY = "copy"
    """The key is absent at the destination: copy it (create-only)."""
    OVERWRITE = "overwrite"
    """The key differs at the destination: replace it (only the version seen at plan time)."""
    SKIP = "skip"
    """The destination already holds the same bytes (same size and CRC32C)."""
    DELETE = "delete"
    """The key exists only at the destination and ``delete`` was asked for."""


class ObjectState(StrEnum):
    """Where one key stands in the journal."""

    PENDING = "pending"
    """Planned, not written yet."""
    COPIED = "copied"
    """Written to the destination, not verified yet."""
    VERIFIED = "verified"
    """The destination's CRC32C and size match the source version pinned by the plan."""
    DELETED = "deleted"
    """An extra destination object that the migration deleted."""
    GONE = "gone"
    """The source object was deleted while the migration ran; nothing more to do."""
    FAILED = "failed"
    """The last attempt failed; the error is recorded and a rerun tries again."""


class Phase(StrEnum):
    """The phases of a migration, in order."""

    PLAN = "plan"
    COPY = "copy"
    VERIFY = "verify"
    DELETE = "delete"
    RECEIPT = "receipt"


class ActionTotals(BaseModel):
    """How many objects and bytes one action covers.

    Attributes:
        objects: Number of keys.
        bytes: Their total size in bytes.
    """

    model_config = _FROZEN

    objects: int = Field(default=0, ge=0)
    bytes: int = Field(default=0, ge=0)


class PriceRow(BaseModel):
    """List prices of one provider, as shipped in ``prices.json``.

    Attributes:
        provider: The provider name buckets report (``"s3"``, ``"gs"``, ``"az"``...).
        service: What the prices are for (service, storage class, region).
        egress_usd_per_gib: Internet egress out of the provider, first paid tier.
        get_usd_per_1000: Object reads (GET; S3 "GET", GCS "Class B").
        put_usd_per_1000: Object writes, copies and multipart parts (S3 "PUT, COPY, POST").
        list_usd_per_1000: Listing pages.
        delete_usd_per_1000: Deletes (free on the big three).
        as_of: The date these figures were read from ``source``.
        source: Where they come from.
    """

    model_config = _FROZEN

    provider: str
    service: str
    egress_usd_per_gib: float = Field(ge=0)
    get_usd_per_1000: float = Field(ge=0)
    put_usd_per_1000: float = Field(ge=0)
    list_usd_per_1000: float = Field(ge=0)
    delete_usd_per_1000: float = Field(ge=0)
    as_of: str
    source: str


class CostEstimate(BaseModel):
    """What a migration is expected to cost at list prices.

    Attributes:
        currency: Always ``"USD"``.
        egress_bytes: Bytes that leave the source provider's network.
        egress_usd: Their price, or ``None`` when the source provider has no price row.
        source_requests: Estimated reads and listing pages at the source.
        destination_requests: Estimated writes (parts included), listings and deletes at the
            destination.
        request_usd: Price of those requests, or ``None`` when a provider has no price row.
        total_usd: ``egress_usd + request_usd``, or ``None`` if either is unknown.
        prices: The price rows used, each with its date and source.
        notes: Assumptions behind the figures.
    """

    model_config = _FROZEN

    currency: str = "USD"
    egress_bytes: int = Field(ge=0)
    egress_usd: float | None
    source_requests: int = Field(ge=0)
    destination_requests: int = Field(ge=0)
    request_usd: float | None
    total_usd: float | None
    prices: tuple[PriceRow, ...] = ()
    notes: tuple[str, ...] = ()


class MigrationPlan(BaseModel):
    """What a migration will do, decided from listings of both sides.

    Attributes:
        src: The source URL.
        dst: The destination URL.
        copies: Keys absent at the destination.
        overwrites: Keys whose destination object differs.
        skips: Keys whose destination object is identical (or verified by an earlier run).
        deletes: Destination-only keys that will be deleted (``delete=True``).
        extras: Destination-only keys that are kept (``delete=False``).
        max_delete: The deletion limit in force.
        delete_refused: ``deletes.objects`` exceeds ``max_delete`` and ``force`` was not given;
            a real run refuses to start.
        server_side_copy: Copies run inside the storage service (one bucket on both sides, or
            two buckets of one store and one set of credentials).
        conditional_writes: Writes are guarded by ``if_none_match`` / ``if_match`` on the
            destination (False when the backend cannot, and a head check stands in).
        cost: The estimated egress and request cost.
        dst_region: The destination's region as its provider reports it, ``None`` where the
            backend cannot tell.
        warnings: Things the user should know before running the plan.
    """

    model_config = _FROZEN

    src: str
    dst: str
    copies: ActionTotals = Field(default_factory=ActionTotals)
    overwrites: ActionTotals = Field(default_factory=ActionTotals)
    skips: ActionTotals = Field(default_factory=ActionTotals)
    deletes: ActionTotals = Field(default_factory=ActionTotals)
    extras: ActionTotals = Field(default_factory=ActionTotals)
    max_delete: int = Field(ge=0)
    delete_refused: bool = False
    server_side_copy: bool = False
    conditional_writes: bool = True
    cost: CostEstimate
    dst_region: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def transfer(self) -> ActionTotals:
        """Objects and bytes to be written: copies plus overwrites."""
        return ActionTotals(
            objects=self.copies.objects + self.overwrites.objects,
            bytes=self.copies.bytes + self.overwrites.bytes,
        )


class KeyRange(BaseModel):
    """The keys ``after < key <= upto`` (in UTF-8 byte order) that one shard of a migration owns.

    Attributes:
        after: Keys strictly after this one; ``None``: from the first key.
        upto: Keys up to and including this one; ``None``: to the last key.
    """

    model_config = _FROZEN

    after: str | None = None
    upto: str | None = None

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        return (self.after is None or key > self.after) and (self.upto is None or key <= self.upto)


class ObjectFailure(BaseModel):
    """One key the migration could not finish.

    Attributes:
        key: The key.
        phase: Where it failed.
        message: Why, in one line.
    """

    model_config = _FROZEN

    key: str
    phase: Phase
    message: str


class MigrationResult(BaseModel):
    """The outcome of :func:`portacloud.migrate.migrate`.

    Attributes:
        src: The source URL.
        dst: The destination URL.
        plan: The plan of this run.
        dry_run: Nothing was written: only the plan was made.
        copied: Objects written to the destination by this run (overwrites included).
        bytes_copied: Their bytes.
        skipped: Objects already identical at the destination.
        verified: Objects whose destination CRC32C matched the source at the end.
        deleted: Extra destination objects deleted.
        replanned: Keys planned again because the source (or destination) changed mid-run.
        gone: Keys deleted at the source while the migration ran.
        failures: Keys that did not finish; a rerun continues with them.
        warnings: Guarantees the run had to lower, for people to read.
        elapsed_s: Wall time of the run.
        journal: The journal file (``None`` for a dry run).
        receipt: The receipt file, written only when every object verified.
        receipt_sha256: SHA-256 of the receipt file.
    """

    model_config = _FROZEN

    src: str
    dst: str
    plan: MigrationPlan
    dry_run: bool = False
    copied: int = 0
    bytes_copied: int = 0
    skipped: int = 0
    verified: int = 0
    deleted: int = 0
    replanned: int = 0
    gone: int = 0
    failures: tuple[ObjectFailure, ...] = ()
    warnings: tuple[str, ...] = ()
    elapsed_s: float = 0.0
    journal: str | None = None
    receipt: str | None = None
    receipt_sha256: str | None = None

    @property
    def ok(self) -> bool:
        """True when the destination is complete and verified (or this was a dry run)."""
        return not self.failures


class Mismatch(BaseModel):
    """One difference found by verification.

    Attributes:
        key: The key.
        reason: ``missing`` (absent at the destination), ``size``, ``crc32c`` (the bytes
            differ), ``recorded-crc32c`` (the destination's bytes are right but the checksum it
            recorded is not), ``version`` (the destination holds another version than the
            receipt lists), or ``unreadable``.
        src_crc32c: The source's CRC32C, when known.
        dst_crc32c: The destination's CRC32C (of its bytes when they were read), when known.
        src_size: The source's size.
        dst_size: The destination's size, when it exists.
        message: One line for people.
    """

    model_config = _FROZEN

    key: str
    reason: str
    src_crc32c: str | None = None
    dst_crc32c: str | None = None
    src_size: int | None = None
    dst_size: int | None = None
    message: str


class VerifyResult(BaseModel):
    """The outcome of :func:`portacloud.migrate.verify`.

    Attributes:
        src: The source URL.
        dst: The destination URL.
        checked: Source keys compared.
        bytes_read: Bytes read to compute checksums.
        extra: Keys found only at the destination (not a failure).
        deep: Destination bytes were read and hashed rather than trusting recorded checksums.
        mismatches: Every difference found.
        receipt: The receipt checked against the destination, if one was given.
        receipt_sha256: Its SHA-256.
        elapsed_s: Wall time.
    """

    model_config = _FROZEN

    src: str
    dst: str
    checked: int = 0
    bytes_read: int = 0
    extra: int = 0
    deep: bool = True
    mismatches: tuple[Mismatch, ...] = ()
    receipt: str | None = None
    receipt_sha256: str | None = None
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no difference was found."""
        return not self.mismatches


class MigrationEvent(BaseModel):
    """A progress notification, passed to the ``on_event`` callback of a migration.

    Callbacks run on the engine's threads and must be quick; they may raise to stop the run.

    Attributes:
        kind: ``phase`` (a phase starts), ``object`` (one key finished a phase), ``bytes``
            (bytes of a large object moved), ``replanned``, ``failed``, ``warning``,
            ``journal`` or ``plan``.
        phase: The phase it belongs to.
        key: The key, for per-object events.
        action: The key's planned action.
        state: The key's new state.
        bytes: Bytes moved (``bytes`` events) or the objects' size (``object`` events).
        objects: Objects an ``object`` event stands for (verification confirms many at once).
        objects_total: For ``phase`` events: objects the phase covers.
        bytes_total: For ``phase`` events: bytes the phase covers.
        message: Details for people (the failure, the journal path...).
    """

    model_config = _FROZEN

    kind: str
    phase: Phase | None = None
    key: str | None = None
    action: Action | None = None
    state: ObjectState | None = None
    bytes: int = 0
    objects: int = 1
    objects_total: int | None = None
    bytes_total: int | None = None
    message: str | None = None
