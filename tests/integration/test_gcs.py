"""The gs:// provider against a real fake-gcs-server (scripts/servers/fake-gcs.sh).

Buckets are created, and state is inspected, with google-cloud-storage directly, behind the
driver's back, so the tests do not trust the code under test to describe itself. The requests
the driver makes are seen through a spy on google.auth's AuthorizedSession, the SDK's transport.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from gcs_support import RequestSpy, fresh_bucket, gcs_endpoint, raw_client

import portacloud
from portacloud.checksums import crc32c_from_base64, crc32c_hex, crc32c_to_base64
from portacloud.retry import RetryPolicy
from portacloud.storage.driver import WriteOptions

pytestmark = pytest.mark.integration

KiB = 1024
MiB = 1024 * KiB
ONE_TRY = RetryPolicy(attempts=1)


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> str:
    # The endpoint_url option must be what selects the emulator, not a stray variable.
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    return gcs_endpoint()


@pytest.fixture
def bucket_name(endpoint: str) -> Iterator[str]:
    with fresh_bucket(endpoint) as name:
        yield name


@pytest.fixture
def bucket(endpoint: str, bucket_name: str) -> Iterator[portacloud.Bucket]:
    with portacloud.open_bucket(f"gs://{bucket_name}", endpoint_url=endpoint) as b:
        yield b


@pytest.fixture
def raw(endpoint: str, bucket_name: str) -> Iterator[Any]:
    """The bucket as google-cloud-storage sees it."""
    client = raw_client(endpoint)
    yield client.bucket(bucket_name)
    client.close()


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> RequestSpy:
    recorder = RequestSpy()
    recorder.install(monkeypatch)
    return recorder


def _payload(size: int) -> bytes:
    """Incompressible, reproducible bytes."""
    return random.Random(size).randbytes(size)


def _chunks(data: bytes, size: int = MiB) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def _raw_names(raw: Any) -> list[str]:
    return [b.name for b in raw.client.list_blobs(raw.name)]


# ------------------------------------------------------------------------ writes and reads


def test_round_trip_keeps_metadata_content_type_and_crc(
    bucket: portacloud.Bucket, raw: Any
) -> None:
    data = b"hello gcs\n" * 1000
    info = bucket.put(
        "dir/obj.txt", data, content_type="text/plain", metadata={"owner": "team-a", "v": "1"}
    )
    crc = crc32c_hex(data)
    assert info.crc32c == crc
    head = bucket.head("dir/obj.txt")
    assert (head.size, head.etag, head.content_type) == (len(data), info.etag, "text/plain")
    assert head.metadata == {"owner": "team-a", "v": "1"}
    assert head.checksums == {"crc32c": crc}
    assert bucket.get("dir/obj.txt") == data
    # What GCS holds: the metadata as given, no portacloud key, the CRC32C native, and the
    # portable etag is the generation.
    blob = raw.get_blob("dir/obj.txt")
    assert blob.metadata == {"owner": "team-a", "v": "1"}
    assert blob.content_type == "text/plain"
    assert crc32c_from_base64(blob.crc32c) == crc
    assert info.etag == str(blob.generation)
    listed = [o for o in bucket.list() if isinstance(o, portacloud.ObjectInfo)]
    assert [(o.key, o.crc32c, o.metadata["owner"]) for o in listed] == [
        ("dir/obj.txt", crc, "team-a")
    ]


def test_objects_written_by_other_tools_carry_their_native_crc(
    bucket: portacloud.Bucket, raw: Any
) -> None:
    raw.blob("foreign").upload_from_string(b"from the SDK", content_type="text/x-foreign")
    head = bucket.head("foreign")
    assert head.crc32c == crc32c_hex(b"from the SDK")
    assert head.content_type == "text/x-foreign"
    assert bucket.get("foreign") == b"from the SDK"


def test_ranged_suffix_and_past_end_reads(bucket: portacloud.Bucket) -> None:
    data = bytes(range(256)) * 40
    bucket.put("r", data)
    assert bucket.get("r", range=(10, 20)) == data[10:20]
    assert bucket.get("r", range=(-7, None)) == data[-7:]
    assert bucket.get("r", range=(-(len(data) + 50), None)) == data
    assert bucket.get("r", range=(len(data), None)) == b""
    assert bucket.get("r", range=(len(data) + 100, None)) == b""


def test_streamed_20_mib_write_goes_through_a_resumable_session(
    bucket: portacloud.Bucket, raw: Any, spy: RequestSpy
) -> None:
    data = _payload(20 * MiB)
    info = bucket.put(
        "big", _chunks(data), content_type="application/x-test", metadata={"run": "42"}
    )
    crc = crc32c_hex(data)
    assert (info.size, info.crc32c) == (len(data), crc)
    puts = spy.session_puts()
    # 8 MiB chunks: two full ones while streaming, the last 4 MiB finishing the object.
    assert [p.body_size for p in puts] == [8 * MiB, 8 * MiB, 4 * MiB]
    assert [p.headers["content-range"] for p in puts] == [
        f"bytes 0-{8 * MiB - 1}/*",
        f"bytes {8 * MiB}-{16 * MiB - 1}/*",
        f"bytes {16 * MiB}-{20 * MiB - 1}/{20 * MiB}",
    ]
    assert "x-goog-hash" not in puts[0].headers
    assert puts[-1].headers["x-goog-hash"] == f"crc32c={crc32c_to_base64(crc)}"
    blob = raw.get_blob("big")
    assert (blob.size, crc32c_from_base64(blob.crc32c)) == (len(data), crc)
    assert (blob.content_type, blob.metadata) == ("application/x-test", {"run": "42"})
    assert bucket.head("big").metadata == {"run": "42"}
    with bucket.open("big") as f:
        assert f.read() == data  # a whole streamed read also checks the CRC32C


def test_small_object_is_one_request(bucket: portacloud.Bucket, spy: RequestSpy) -> None:
    bucket.put("small", b"x" * 1000, if_none_match="*")
    uploads = [r for r in spy.requests if r.path.startswith("/upload/")]
    assert len(uploads) == 1
    assert "uploadType=multipart" in uploads[0].query
    assert "ifGenerationMatch=0" in uploads[0].query


def test_failed_streamed_write_leaves_no_object(
    bucket: portacloud.Bucket, raw: Any, spy: RequestSpy
) -> None:
    def body() -> Iterator[bytes]:
        yield b"x" * (17 * MiB)  # two chunks sent to the session before the failure
        raise RuntimeError("the producer died")

    with pytest.raises(RuntimeError, match="producer died"):
        bucket.put("half", body())
    assert len(spy.session_puts()) == 2
    assert len(spy.session_deletes()) == 1  # the session was cancelled
    with pytest.raises(portacloud.NotFoundError):
        bucket.head("half")
    assert _raw_names(raw) == []


def test_exception_inside_open_wb_leaves_no_object(
    bucket: portacloud.Bucket, raw: Any, spy: RequestSpy
) -> None:
    def crash_mid_write() -> None:
        with bucket.open("w", "wb") as out:
            out.write(b"y" * (9 * MiB))  # one chunk sent to the session
            raise RuntimeError("the producer crashed")

    with pytest.raises(RuntimeError, match="producer crashed"):
        crash_mid_write()
    assert len(spy.session_deletes()) == 1
    assert _raw_names(raw) == []


def test_checksum_mismatch_at_commit_deletes_the_object(
    endpoint: str, bucket_name: str, raw: Any
) -> None:
    from portacloud_gcp.storage import provider

    url = urlsplit(f"gs://{bucket_name}")
    driver, _ = provider.open_bucket(url, {"endpoint_url": endpoint, "chunk_size": 256 * KiB})
    try:
        for key, size in (("one-request", 1000), ("resumable", 600 * KiB)):
            writer = driver.open_writer(key, WriteOptions())
            writer.write(_payload(size))
            with pytest.raises(portacloud.ChecksumMismatchError, match="deleted"):
                writer.commit(crc32c="00000000")
            writer.abort()
            assert raw.get_blob(key) is None, key
    finally:
        driver.close()


def test_chunk_size_option_sets_the_resumable_chunks(
    endpoint: str, bucket_name: str, spy: RequestSpy
) -> None:
    data = _payload(700 * KiB)
    url = f"gs://{bucket_name}?chunk_size={256 * KiB}"
    with portacloud.open_bucket(url, endpoint_url=endpoint) as b:
        info = b.put("c", _chunks(data, 100 * KiB))
        assert info.crc32c == crc32c_hex(data)
        assert b.get("c") == data
    assert [p.body_size for p in spy.session_puts()] == [256 * KiB, 256 * KiB, 188 * KiB]


class _LossySession:
    """Forwards to the real session but loses chosen PUT responses, and answers status queries.

    fake-gcs-server finishes an upload when asked for its status, so this stands in for the
    status query of real GCS: it answers from the bytes it saw the server accept.
    """

    def __init__(self, real: Any, *, lose: set[int], reset: set[int]) -> None:
        self._real = real
        self._lose = lose  # chunk PUTs (1-based) whose response is lost after the server got it
        self._reset = reset  # chunk PUTs that fail before reaching the server
        self._count = 0
        self._finished: Any = None  # the response that finished the upload, once seen
        self.held = 0
        self.queries = 0

    def put(self, url: str, *, data: bytes, headers: dict[str, str], timeout: float) -> Any:
        import requests

        if headers["Content-Range"] == "bytes */*":
            self.queries += 1
            if self._finished is not None:
                return self._finished  # real GCS answers a finished session with the object
            response = requests.Response()
            response.status_code = 308
            if self.held:
                response.headers["Range"] = f"bytes=0-{self.held - 1}"
            return response
        self._count += 1
        if self._count in self._reset:
            raise requests.ConnectionError("connection reset by peer")
        response = self._real.put(url, data=data, headers=headers, timeout=timeout)
        if response.status_code in (200, 201, 308):
            self.held += len(data)
        if response.status_code in (200, 201):
            self._finished = response
        if self._count in self._lose:
            raise requests.ConnectionError("connection reset by peer")
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@pytest.mark.parametrize(
    ("lose", "reset"),
    [({2}, set()), (set(), {2}), ({3}, set())],
    ids=["response-lost", "request-reset", "final-response-lost"],
)
def test_streamed_chunks_resume_from_what_the_session_holds(
    endpoint: str, bucket_name: str, raw: Any, lose: set[int], reset: set[int]
) -> None:
    from portacloud_gcp.storage import provider

    driver, _ = provider.open_bucket(
        urlsplit(f"gs://{bucket_name}"), {"endpoint_url": endpoint, "chunk_size": 256 * KiB}
    )
    # Real GCS answers status queries; give the driver that protocol through the lossy proxy.
    driver.profile = dataclasses.replace(driver.profile, resumable_status_query=True)
    driver.chunk_retry = RetryPolicy(initial_delay=0)
    lossy = _LossySession(driver.http, lose=lose, reset=reset)
    driver.http = lossy
    data = _payload(600 * KiB)
    with portacloud.Bucket(driver, url=f"gs://{bucket_name}") as b:
        info = b.put("resumed", _chunks(data, 100 * KiB))
    assert lossy.queries == 1
    assert info.crc32c == crc32c_hex(data)
    assert raw.get_blob("resumed").download_as_bytes() == data


# ------------------------------------------------------------------------ conditions


def test_create_only_race_has_exactly_one_winner(bucket: portacloud.Bucket) -> None:
    barrier = threading.Barrier(8)
    outcomes: dict[int, str] = {}

    def racer(i: int) -> None:
        body = bytes([i]) * 1024
        barrier.wait()
        try:
            bucket.put("race", body, if_none_match="*")
            outcomes[i] = "won"
        except portacloud.FailedPreconditionError:
            outcomes[i] = "lost"
        except portacloud.PortaCloudError as exc:
            outcomes[i] = f"error {exc}"

    for _ in range(3):
        bucket.delete("race")
        outcomes.clear()
        threads = [threading.Thread(target=racer, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        winners = [i for i, outcome in outcomes.items() if outcome == "won"]
        assert len(winners) == 1, outcomes
        assert sorted(outcomes.values()) == ["lost"] * 7 + ["won"]
        assert bucket.get("race") == bytes([winners[0]]) * 1024


@pytest.mark.parametrize("condition", ["if_none_match", "if_match"])
def test_conditional_write_over_a_chunk_is_refused_on_the_emulator(
    bucket: portacloud.Bucket, raw: Any, condition: str
) -> None:
    # More than a chunk needs a resumable session, whose conditions fake-gcs-server ignores:
    # the driver refuses rather than writing unconditionally, as its notes declare.
    etag = bucket.put("cond", b"old").etag
    kwargs = {"if_none_match": "*"} if condition == "if_none_match" else {"if_match": etag}
    with pytest.raises(portacloud.UnsupportedError, match="resumable"):
        bucket.put("cond", _chunks(_payload(9 * MiB)), **kwargs)
    assert bucket.get("cond") == b"old"
    assert _raw_names(raw) == ["cond"]
    assert any("ignored by resumable uploads" in n for n in bucket.capabilities.notes)


def test_stale_if_match_is_failed_precondition(bucket: portacloud.Bucket, raw: Any) -> None:
    first = bucket.put("cas", b"v1")
    second = bucket.put("cas", b"v2", if_match=first.etag)
    assert second.etag == str(raw.get_blob("cas").generation) != first.etag
    with pytest.raises(portacloud.FailedPreconditionError) as caught:
        bucket.put("cas", b"v3", if_match=first.etag)
    assert caught.value.provider == "gs"
    assert caught.value.operation == "put"
    assert not caught.value.retryable
    assert bucket.get("cas") == b"v2"
    with pytest.raises(portacloud.FailedPreconditionError):
        bucket.put("cas", b"v4", if_match="not-a-generation")
    with pytest.raises(portacloud.FailedPreconditionError):
        bucket.put("never-written", b"v", if_match=second.etag)
    assert not bucket.exists("never-written")


def test_create_only_copy_is_declared_unsupported(bucket: portacloud.Bucket) -> None:
    assert bucket.capabilities.copy_with_if_none_match is False
    bucket.put("src", b"s", metadata={"k": "v"})
    with pytest.raises(portacloud.UnsupportedError, match="copy_with_if_none_match"):
        bucket.copy("src", "dst", if_none_match="*")
    copied = bucket.copy("src", "dst")
    assert (copied.crc32c, dict(copied.metadata)) == (crc32c_hex(b"s"), {"k": "v"})


# ------------------------------------------------------------------------ errors


def test_missing_key_is_not_found(bucket: portacloud.Bucket) -> None:
    for call in (
        lambda: bucket.head("nope"),
        lambda: bucket.get("nope"),
        lambda: bucket.get("nope", range=(-5, None)),
        lambda: bucket.open("nope"),
        lambda: bucket.copy("nope", "dst"),
    ):
        with pytest.raises(portacloud.NotFoundError) as caught:
            call()
        assert caught.value.resource == "nope"
        assert not caught.value.retryable
    bucket.delete("nope")  # deleting what is not there is not an error


def test_missing_bucket_is_not_found_and_no_google_exception_escapes(endpoint: str) -> None:
    from google.api_core.exceptions import GoogleAPIError

    b = portacloud.open_bucket("gs://pc-no-such-bucket", endpoint_url=endpoint, retry=ONE_TRY)
    calls = {
        "head": lambda: b.head("k"),
        "get": lambda: b.get("k"),
        "put": lambda: b.put("k", b"x"),
        "put-streamed": lambda: b.put("k", iter([b"x" * (9 * MiB)])),
        "list": lambda: list(b.list()),
        "copy": lambda: b.copy("k", "k2"),
    }
    for name, call in calls.items():
        with pytest.raises(portacloud.PortaCloudError) as caught:
            call()
        err = caught.value
        assert isinstance(err, portacloud.NotFoundError), (name, err)
        assert not isinstance(err, GoogleAPIError)
        assert isinstance(err.__cause__, GoogleAPIError), name
        assert err.as_native(GoogleAPIError) is err.__cause__
    b.close()


def test_unreachable_endpoint_is_unavailable_and_retryable() -> None:
    import requests

    from portacloud_gcp.errors import map_gcs_error

    b = portacloud.open_bucket("gs://bucket", endpoint_url="http://127.0.0.1:9", retry=ONE_TRY)
    for call in (lambda: b.head("k"), lambda: b.put("k", b"x"), lambda: list(b.list())):
        with pytest.raises(portacloud.UnavailableError) as caught:
            call()
        cause = caught.value.__cause__
        assert isinstance(cause, requests.ConnectionError)
        # Transient by nature, but this was the last try: the error says not to retry it.
        mapped = map_gcs_error(cause)
        assert mapped is not None
        assert mapped.retryable
        assert not caught.value.retryable
        assert "1 try" in caught.value.message
    b.close()


# ------------------------------------------------------------------------ opening


def test_emulator_profile_declares_its_departures(bucket: portacloud.Bucket) -> None:
    caps = bucket.capabilities
    assert (caps.presign_read, caps.presign_write, caps.signed_url_checks_expiry) == (
        False,
        False,
        False,
    )
    with pytest.raises(portacloud.UnsupportedError, match="presign_read"):
        bucket.signed_url("k")
    assert any("412" in note for note in caps.notes)


def test_storage_emulator_host_selects_the_emulator(
    endpoint: str, bucket_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", endpoint)
    with portacloud.open_bucket(f"gs://{bucket_name}/pre/fix/") as b:
        assert b.prefix == "pre/fix/"
        assert b.capabilities.presign_read is False
        b.put("k", b"v")
        assert b.get("k") == b"v"
        assert [o.key for o in b.list()] == ["k"]


@pytest.mark.parametrize(
    ("url", "options", "match"),
    [
        ("gs://", {}, "bucket name"),
        ("gs://Upper-Case", {}, "bucket name"),
        ("gs://b-ok", {"chunk_size": "1000"}, "256 KiB"),
        ("gs://b-ok", {"chunk_size": "-1"}, "positive"),
        ("gs://b-ok", {"endpoint_url": "127.0.0.1:19040"}, "http"),
        ("gs://b-ok", {"region": "eu"}, "unknown option"),
        ("gs://b-ok", {"credentials": "a-json-key"}, "Credentials"),
    ],
)
def test_bad_urls_and_options_are_invalid_argument(
    url: str, options: dict[str, object], match: str
) -> None:
    kwargs: dict[str, object] = {"endpoint_url": "http://127.0.0.1:9", **options}
    with pytest.raises(portacloud.InvalidArgumentError, match=match):
        portacloud.open_bucket(url, **kwargs)


def test_the_callers_retry_policy_reaches_the_chunk_retries(
    endpoint: str, bucket_name: str
) -> None:
    policy = RetryPolicy(attempts=2, initial_delay=0)
    with portacloud.open_bucket(f"gs://{bucket_name}", retry=policy, endpoint_url=endpoint) as b:
        assert b._driver.chunk_retry is policy
