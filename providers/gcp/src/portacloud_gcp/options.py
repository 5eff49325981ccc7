"""The options of ``gs://`` URLs, parsed once into a frozen model."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, field_validator

from portacloud.providerkit import ByteCount, EndpointURL, NonEmptyStr, ProviderOptions

__all__ = ["CHUNK_MULTIPLE", "DEFAULT_CHUNK", "GCSOptions"]

CHUNK_MULTIPLE = 256 * 1024  # GCS accepts non-final resumable chunks only in these units
DEFAULT_CHUNK = 8 * 1024 * 1024
_WHAT = f"a positive multiple of {CHUNK_MULTIPLE} (256 KiB)"


def _chunk_multiple(value: int) -> int:
    if value <= 0 or value % CHUNK_MULTIPLE:
        raise ValueError(f"must be {_WHAT}, not {value}")
    return value


class GCSOptions(ProviderOptions):
    """What ``gs://`` accepts (URL query or keyword arguments).

    Attributes:
        project: The project to bill and report (object calls do not need it).
        endpoint_url: A JSON API endpoint such as an emulator's ``http://127.0.0.1:4443``.
        chunk_size: Bytes per resumable-upload chunk, a multiple of 256 KiB (default 8 MiB).
        credentials: A ``google.auth.credentials.Credentials`` (keyword argument only: URLs
            never carry credentials); checked when the client is built, so that parsing options
            imports no Google SDK.
    """

    project: NonEmptyStr | None = None
    endpoint_url: EndpointURL | None = None
    chunk_size: Annotated[ByteCount, AfterValidator(_chunk_multiple)] = DEFAULT_CHUNK
    credentials: object = None

    @field_validator("chunk_size", mode="before")
    @classmethod
    def _not_negative(cls, value: object) -> object:
        # A byte count cannot be negative; say what is wanted rather than "not a byte count".
        if isinstance(value, str) and value.strip().startswith("-"):
            raise ValueError(f"must be {_WHAT}, not {value!r}")
        return value
