"""The az:// provider's options and retry policy, without a server."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

import portacloud
from portacloud.providerkit import parse_options
from portacloud.retry import RetryPolicy
from portacloud.storage.driver import WriteOptions

pytest.importorskip("azure.storage.blob")

from azure.core.exceptions import ServiceResponseError

from portacloud_azure.obstore_engine import ObstoreDriver
from portacloud_azure.options import DEFAULT_BLOCK_SIZE, AzureOptions
from portacloud_azure.storage import AzureBlobDriver, provider
from portacloud_azure.writer import BlockWriter

# A well-formed connection string for an account nothing listens for: opening makes no request.
CONN = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5;"
    "BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;"
)


def test_options_parse_query_text_and_keywords_alike() -> None:
    parsed = parse_options(
        AzureOptions, "az", {"block_size": "1MiB", "max_concurrency": "8", "account": " acct1 "}
    )
    assert (parsed.block_size, parsed.max_concurrency, parsed.account) == (1024 * 1024, 8, "acct1")
    assert parse_options(AzureOptions, "az", {}).block_size == DEFAULT_BLOCK_SIZE


@pytest.mark.parametrize(
    ("options", "names"),
    [
        ({"block_size": 10}, "block_size"),
        ({"block_size": 5000 * 1024 * 1024}, "block_size"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"max_concurrency": True}, "max_concurrency"),
        ({"max_concurrency": 2.5}, "max_concurrency"),
        ({"account": "Not_An_Account"}, "account"),
        ({"endpoint_url": "ftp://host"}, "endpoint_url"),
        ({"api_version": "  "}, "api_version"),
        ({"region": "x"}, "region"),
    ],
)
def test_bad_options_are_one_invalid_argument_naming_the_option(
    options: dict[str, Any], names: str
) -> None:
    with pytest.raises(portacloud.InvalidArgumentError, match=names):
        parse_options(AzureOptions, "az", options)


def test_the_openers_retry_policy_reaches_the_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", CONN)
    policy = RetryPolicy(attempts=2)
    opts = {"engine": "sdk"}
    driver, prefix = provider.open_bucket(urlsplit("az://data/runs/"), opts, retry=policy)
    assert isinstance(driver, AzureBlobDriver)
    assert (driver.retry, prefix) == (policy, "runs/")
    default, _ = provider.open_bucket(urlsplit("az://data"), opts)
    assert default.retry == RetryPolicy()
    # The default engine (obstore) wraps the SDK driver: both keep the caller's policy.
    fast, _ = provider.open_bucket(urlsplit("az://data"), {}, retry=policy)
    assert isinstance(fast, ObstoreDriver)
    assert (fast.retry, fast.sdk.retry) == (policy, policy)
    for opened in (driver, default, fast):
        opened.close()


class FlakyBlob:
    """A blob client whose stage_block always fails with a dropped connection."""

    def __init__(self) -> None:
        self.tries = 0

    def stage_block(self, *args: Any, **kwargs: Any) -> None:
        self.tries += 1
        raise ServiceResponseError("connection reset by peer")


@pytest.mark.parametrize("attempts", [1, 3])
def test_a_streams_blocks_get_the_policys_tries_and_a_final_error(attempts: int) -> None:
    blob = FlakyBlob()
    policy = RetryPolicy(attempts=attempts, initial_delay=0)
    writer = BlockWriter(
        blob, "k", WriteOptions(), block_size=64 * 1024, max_concurrency=1, retry=policy
    )
    writer.write(b"x" * 64 * 1024)
    with pytest.raises(portacloud.UnavailableError) as caught:
        writer.commit(crc32c="00000000")
    assert blob.tries == attempts
    assert not caught.value.retryable


def test_an_in_memory_puts_blocks_are_tried_once_and_left_to_the_bucket() -> None:
    blob = FlakyBlob()
    options = WriteOptions(size_hint=64 * 1024)
    writer = BlockWriter(
        blob, "k", options, block_size=64 * 1024, max_concurrency=1, retry=RetryPolicy()
    )
    writer.write(b"x" * 64 * 1024)
    with pytest.raises(portacloud.UnavailableError) as caught:
        writer.commit(crc32c="00000000")
    assert blob.tries == 1
    assert caught.value.retryable  # the Bucket, which replays the bytes, owns the retries
