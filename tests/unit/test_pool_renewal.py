"""Forked children get fresh connection pools; the parent's are kept, unused, with its settings.

The end-to-end proof (forked readers on SeaweedFS, Azurite and fake-gcs-server) is
tests/integration/test_fork_pools.py; these check the renewals themselves, with real forks.
"""

from __future__ import annotations

import gc
import os
import pickle
import weakref
from collections.abc import Callable
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from portacloud.providerkit import fork_pools
from portacloud.providerkit.fork_pools import fresh_pools_in_children, renew_requests_pools
from portacloud_aws.boto import client_config, renew_botocore_pools
from portacloud_libcloud.per_thread import PerThread

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() here")


def _in_child(probe: Callable[[], object]) -> Any:
    """What ``probe`` returns in a forked child (pickled back through a pipe)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answer, then leave without running the parent's cleanup
        try:
            os.write(write_end, pickle.dumps(probe()))
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as answer:
        data = answer.read()
    os.waitpid(pid, 0)
    return pickle.loads(data)


def _session() -> tuple[requests.Session, HTTPAdapter]:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=7, pool_maxsize=64, max_retries=Retry(total=False))
    for scheme in ("http://", "https://"):
        session.mount(scheme, adapter)
    return session, adapter


def test_renewing_a_session_keeps_its_adapters_and_settings_with_new_pools() -> None:
    session, adapter = _session()
    before = adapter.poolmanager
    replaced = renew_requests_pools(session)
    assert replaced == [(before, {})]
    assert adapter.poolmanager is not before
    assert session.get_adapter("http://x") is adapter is session.get_adapter("https://x")
    assert adapter.poolmanager.connection_pool_kw["maxsize"] == 64
    assert adapter.max_retries.total is False
    assert len(before.pools) == 0  # the old manager was not cleared or closed: only dropped


def test_a_forked_child_renews_a_registered_session_the_parent_keeps_its_own() -> None:
    session, adapter = _session()
    fresh_pools_in_children(session)
    before = adapter.poolmanager
    assert _in_child(lambda: adapter.poolmanager is not before) is True
    assert adapter.poolmanager is before


def test_registering_keeps_no_owner_alive() -> None:
    session, _ = _session()
    fresh_pools_in_children(session)
    alive = weakref.ref(session)
    assert session in fork_pools._OWNERS
    del session
    gc.collect()
    assert alive() is None


def test_a_failing_renewal_does_not_stop_the_child() -> None:
    class Broken:
        pass

    def fail(owner: Broken) -> object:
        raise RuntimeError("no pools here")

    broken = Broken()
    session, adapter = _session()
    fresh_pools_in_children(broken, fail)
    fresh_pools_in_children(session)
    before = adapter.poolmanager
    assert _in_child(lambda: adapter.poolmanager is not before) is True
    del broken


def test_a_boto3_client_gets_fresh_pools_of_the_same_settings() -> None:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
        config=client_config(max_pool_connections=77, connect_timeout=3, read_timeout=4),
    )
    http = client._endpoint.http_session
    before = http._manager
    assert renew_botocore_pools(client) == (before, {})
    after = http._manager
    assert after is not before
    assert after.connection_pool_kw["maxsize"] == 77
    assert after.connection_pool_kw["timeout"] == before.connection_pool_kw["timeout"]
    assert after.pool_classes_by_scheme == before.pool_classes_by_scheme
    client.close()


def test_compute_clients_get_fresh_pools_in_a_forked_child(monkeypatch: pytest.MonkeyPatch) -> None:
    from portacloud.providerkit import RetryPolicy
    from portacloud_aws.compute import _open_driver
    from portacloud_aws.options import EC2Options

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    options = EC2Options(endpoint_url="http://127.0.0.1:9")
    driver = _open_driver("us-east-1", options, RetryPolicy())
    clients = {"ec2": driver.client, "ssm": driver._ssm_factory()}
    managers = {name: c._endpoint.http_session._manager for name, c in clients.items()}

    def renewed() -> dict[str, bool]:
        return {n: c._endpoint.http_session._manager is not managers[n] for n, c in clients.items()}

    assert _in_child(renewed) == {"ec2": True, "ssm": True}
    assert not any(renewed().values())  # the parent keeps its own


def test_a_forked_child_builds_its_own_libcloud_driver() -> None:
    built: list[object] = []

    def factory() -> object:
        built.append(object())
        return built[-1]

    drivers = PerThread("first", factory)
    assert drivers.get() == "first"
    assert _in_child(lambda: (drivers.get() != "first", drivers.get() is drivers.get())) == (
        True,
        True,
    )
    assert drivers.get() == "first"
    assert not built  # the parent built nothing
