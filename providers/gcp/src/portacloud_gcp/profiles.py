"""What a GCS endpoint can do: Google Cloud Storage itself, and fake-gcs-server.

The capabilities are data the portable layer and the conformance suite read; the
:class:`Profile` adds the few protocol facts the driver itself needs, so that a departure of the
emulator is declared here once instead of being tested for in the driver's code paths.
"""

from __future__ import annotations

from dataclasses import dataclass

from portacloud.storage.capabilities import StorageCapabilities

__all__ = ["Profile", "profile_for"]

_ETAG_NOTE = (
    "etag is the object's generation number (decimal): GCS conditions are generations, so "
    "if_match=etag becomes ifGenerationMatch"
)
_CRC_NOTE = "the portable CRC32C is GCS's native crc32c; no metadata key is added"
_UPLOADS_NOTE = (
    "resumable upload sessions cannot be listed (list_uploads=False): an unfinished one never "
    "becomes an object and expires after a week"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """One kind of GCS endpoint.

    Attributes:
        name: Short name for reports (``"gcs"``, ``"fake-gcs-server"``).
        capabilities: What the portable layer may ask for.
        resumable_preconditions: The server enforces ``ifGenerationMatch`` given when a
            resumable upload session is created. Where it does not, conditional writes that need
            a session (more than one chunk) are refused rather than silently unconditional.
        resumable_status_query: A ``Content-Range: bytes */*`` PUT asks a session how much it
            holds without finishing it, so a failed chunk can be resent from there. Where it
            finishes the upload instead, a chunk is resent only after the service refused it
            (429, 503), which leaves the session as it was.
    """

    name: str
    capabilities: StorageCapabilities
    resumable_preconditions: bool = True
    resumable_status_query: bool = True


def _gcs(*, can_sign: bool) -> Profile:
    notes = [_ETAG_NOTE, _CRC_NOTE, "object names cannot contain CR or LF (INVALID_ARGUMENT)"]
    if not can_sign:
        notes.append(
            "signed URLs need credentials that can sign (a service-account key); the active "
            "credentials cannot, so presign_read/presign_write are false"
        )
    return Profile(
        name="gcs",
        capabilities=StorageCapabilities(
            presign_read=can_sign,
            presign_write=can_sign,
            key_control_chars=False,  # GCS refuses CR and LF in object names
            versions=True,
            location=True,
            notes=(
                *notes,
                _UPLOADS_NOTE,
                "soft delete (on by default, 7 days) keeps erased objects restorable until the "
                "bucket's retention ends; no object call removes them sooner",
            ),
        ),
    )


_FAKE_GCS = Profile(
    name="fake-gcs-server",
    capabilities=StorageCapabilities(
        copy_with_if_none_match=False,
        presign_read=False,
        presign_write=False,
        signed_url_checks_expiry=False,
        versions=True,
        notes=(
            _ETAG_NOTE,
            _CRC_NOTE,
            _UPLOADS_NOTE,
            "emulator: a versioned bucket keeps no noncurrent generations (an overwritten or "
            "deleted object is gone at once), so only live generations are ever listed",
            "emulator: anonymous credentials, which cannot sign, and the server checks no "
            "signatures anyway, so signed URLs are unsupported",
            "emulator: ifGenerationMatch is ignored by rewrite/copy, so create-only copies are "
            "unsupported",
            "emulator: ifGenerationMatch is ignored by resumable uploads, so a conditional write "
            "larger than one chunk (chunk_size) raises UNSUPPORTED; smaller ones are one "
            "request and atomic",
            "emulator: a status query finishes a resumable upload, so a chunk is resent only "
            "after an answer that refused it (429, 503); a chunk whose connection broke fails "
            "the streamed write (no partial object becomes visible)",
            "emulator: the declared crc32c of an upload is not checked server-side (the driver "
            "still compares the stored CRC32C with the portable one)",
            "emulator: deleting a non-empty bucket gives 412, where GCS gives 409",
            "emulator: object names with CR/LF are accepted, which GCS refuses",
            "emulator: every bucket reports location US-CENTRAL1 whatever it was created "
            "with, so it cannot tell where a bucket is (location=False)",
        ),
    ),
    resumable_preconditions=False,
    resumable_status_query=False,
)


def profile_for(*, emulator: bool, can_sign: bool) -> Profile:
    """Return the profile of an endpoint.

    Args:
        emulator: The client talks to an emulator (an ``endpoint_url`` option or
            ``STORAGE_EMULATOR_HOST``); fake-gcs-server is the one the tests run.
        can_sign: The credentials can sign V4 URLs themselves.
    """
    return _FAKE_GCS if emulator else _gcs(can_sign=can_sign)
