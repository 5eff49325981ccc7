"""The pytest plugin (entry point ``pytest11``) that runs the conformance suite on a target.

``pytest --pyargs portacloud_conformance.storage --portacloud-storage URL`` runs every storage test
against the bucket at ``URL``, each test inside its own random prefix that is emptied after it.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import uuid
import warnings
from collections.abc import Iterator
from typing import cast
from urllib.parse import urlsplit, urlunsplit

import pytest

import portacloud
from portacloud_conformance.report import Report, Result, SuiteKind, normalise_test_id
from portacloud_conformance.support import cleanup_prefix

STORAGE_OPTION = "--portacloud-storage"
JOBS_OPTION = "--portacloud-jobs"
COMPUTE_OPTION = "--portacloud-compute"
SERVICES_OPTION = "--portacloud-services"
TIMEOUT_OPTION = "--portacloud-test-timeout"
FACE_OPTION = "--portacloud-face"
#: Generous for the slowest test on a real cloud (a job or an instance that takes minutes to
#: start), short enough that a server that stops answering, or a listing that never ends,
#: fails one test instead of hanging the run.
DEFAULT_TEST_TIMEOUT = 600.0
_SUITES = {
    "portacloud_conformance.storage": STORAGE_OPTION,
    "portacloud_conformance.jobs": JOBS_OPTION,
    "portacloud_conformance.compute": COMPUTE_OPTION,
    "portacloud_conformance.services": SERVICES_OPTION,
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("portacloud", "portacloud conformance")
    group.addoption(
        STORAGE_OPTION,
        metavar="URL",
        default=None,
        help="storage URL to run the portacloud storage conformance suite against",
    )
    group.addoption(
        JOBS_OPTION,
        metavar="URL",
        default=None,
        help="job queue URL to run the portacloud jobs conformance suite against",
    )
    group.addoption(
        COMPUTE_OPTION,
        metavar="URL",
        default=None,
        help="compute URL to run the portacloud compute conformance suite against",
    )
    group.addoption(
        SERVICES_OPTION,
        metavar="URL",
        default=None,
        help="service backend URL to run the portacloud services conformance suite against",
    )
    group.addoption(
        FACE_OPTION,
        choices=("sync", "async"),
        default="sync",
        help="the storage face under test: Bucket (sync) or AsyncBucket (async), one suite",
    )
    group.addoption(
        "--portacloud-jobs-python",
        metavar="PATH",
        default=None,
        help="python with portacloud installed on the job nodes (default: this interpreter)",
    )
    group.addoption(
        TIMEOUT_OPTION,
        metavar="SECONDS",
        type=float,
        default=DEFAULT_TEST_TIMEOUT,
        help="time limit of each conformance test; a test still running then fails with that "
        f"reason (default {DEFAULT_TEST_TIMEOUT:g}; 0 for none)",
    )
    group.addoption(
        "--portacloud-report",
        metavar="FILE",
        default=None,
        help="write a JSON report of every test's outcome and skip/failure reason to FILE",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _check_targets(config, items)
    if config.getoption(TIMEOUT_OPTION) and config.pluginmanager.hasplugin("timeout"):
        # The suite's own limit applies to each phase; pytest-timeout's one timer per test
        # would let a teardown that hangs too (cleanup on a dead server) stop the run.
        for item in items:
            if _in_suite(item):
                item.add_marker(pytest.mark.timeout(0))


def _in_suite(item: pytest.Item) -> bool:
    module = getattr(getattr(item, "module", None), "__name__", "")
    return module.startswith(tuple(_SUITES))


class ConformanceTimeoutError(BaseException):
    """A conformance test phase ran past ``--portacloud-test-timeout``.

    A BaseException, like KeyboardInterrupt: the code under test must not catch it and turn it
    into one of its own errors (the portable layer maps every Exception it meets).
    """


@contextlib.contextmanager
def _time_limit(item: pytest.Item) -> Iterator[None]:
    limit = float(item.config.getoption(TIMEOUT_OPTION) or 0)
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not limit or not usable or not _in_suite(item):
        yield
        return

    def expired(signum: int, frame: object) -> None:
        raise ConformanceTimeoutError(_timeout_reason(limit))

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    with _time_limit(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with _time_limit(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    with _time_limit(item):
        return (yield)


def _check_targets(config: pytest.Config, items: list[pytest.Item]) -> None:
    for package, option in _SUITES.items():
        collected = any(
            getattr(getattr(i, "module", None), "__name__", "").startswith(package) for i in items
        )
        if collected and not config.getoption(option):
            raise pytest.UsageError(
                f"the {package.rsplit('.', 1)[1]} suite needs a target: {option} URL "
                "(for example memory://conformance, file:///tmp/conformance or local://)"
            )


@pytest.fixture(scope="session")
def storage_url(pytestconfig: pytest.Config) -> str:
    """The storage URL under test."""
    url = pytestconfig.getoption(STORAGE_OPTION)
    assert isinstance(url, str)
    return url


@pytest.fixture(scope="session")
def root_bucket(pytestconfig: pytest.Config, storage_url: str) -> Iterator[portacloud.Bucket]:
    """The bucket under test, opened once per session: a :class:`~portacloud.Bucket`, or with
    ``--portacloud-face async`` an :class:`~portacloud.AsyncBucket` behind a blocking face."""
    if pytestconfig.getoption(FACE_OPTION) == "async":
        yield from _async_face(storage_url)
        return
    bucket = portacloud.open_bucket(storage_url)
    yield bucket
    bucket.close()


def _async_face(storage_url: str) -> Iterator[portacloud.Bucket]:
    from portacloud_conformance.async_face import EventLoopThread, SyncFace

    loop = EventLoopThread()
    face = SyncFace(portacloud.open_async_bucket(storage_url), loop)
    try:
        yield cast("portacloud.Bucket", face)  # the suite's tests call Bucket's methods
    finally:
        face.close()
        loop.close()


@pytest.fixture
def bucket(root_bucket: portacloud.Bucket) -> Iterator[portacloud.Bucket]:
    """A fresh, empty prefix of the bucket under test, emptied again after the test."""
    child = root_bucket.child(f"conformance-{uuid.uuid4().hex[:12]}/")
    yield child
    leftovers = cleanup_prefix(child)
    if leftovers:
        warnings.warn(
            f"conformance cleanup could not delete {leftovers} object(s) under {child.url}",
            stacklevel=1,
        )


@pytest.fixture(scope="session")
def jobs_url(pytestconfig: pytest.Config) -> str:
    """The job queue URL under test."""
    url = pytestconfig.getoption(JOBS_OPTION)
    assert isinstance(url, str)
    return url


def suite_queue_url(url: str) -> str:
    """The URL the jobs suite runs on: ``url``, except that the unnamed local queue becomes
    the ``conformance`` one, so a run never fills the user's default queue with test jobs."""
    parts = urlsplit(url)
    if parts.scheme == "local" and not parts.netloc:
        return urlunsplit(parts._replace(netloc="conformance"))
    return url


@pytest.fixture(scope="session")
def queue(jobs_url: str) -> Iterator[portacloud.JobQueue]:
    """The job queue under test, opened once per session; the jobs the session submitted are
    removed at its end where the backend can remove jobs."""
    with portacloud.open_jobs(suite_queue_url(jobs_url)) as q:
        before = {job.id for job in q.list()}
        yield q
        if q.capabilities.delete:
            _remove_new_jobs(q, before)


def _remove_new_jobs(queue: portacloud.JobQueue, before: set[str]) -> None:
    for job in queue.list():
        if job.id in before:
            continue
        if not job.state.terminal:
            queue.cancel(job.id)
            try:
                queue.wait(job.id, timeout=30)
            except portacloud.DeadlineExceededError:
                warnings.warn(f"conformance job {job.id} did not end; left in place", stacklevel=1)
                continue
        queue.delete(job.id)


@pytest.fixture(scope="session")
def compute_url(pytestconfig: pytest.Config) -> str:
    """The compute URL under test."""
    url = pytestconfig.getoption(COMPUTE_OPTION)
    assert isinstance(url, str)
    return url


@pytest.fixture(scope="session")
def compute(compute_url: str) -> Iterator[portacloud.Compute]:
    """The compute handle under test, opened once per session."""
    with portacloud.open_compute(compute_url) as c:
        yield c


@pytest.fixture(scope="session")
def services_url(pytestconfig: pytest.Config) -> str:
    """The service backend URL under test."""
    url = pytestconfig.getoption(SERVICES_OPTION)
    assert isinstance(url, str)
    return url


@pytest.fixture(scope="session")
def services(services_url: str) -> Iterator[portacloud.Services]:
    """The service backend under test, opened once per session (the unnamed local backend
    becomes ``local://conformance``); every service a test deploys is deleted by the test."""
    with portacloud.open_services(suite_queue_url(services_url)) as handle:
        yield handle


@pytest.fixture(scope="session")
def job_python(pytestconfig: pytest.Config) -> str:
    """The python interpreter jobs run portacloud with."""
    return str(pytestconfig.getoption("--portacloud-jobs-python") or sys.executable)


REPORT_OPTION = "--portacloud-report"


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption(REPORT_OPTION, default=None)
    if path:
        config.pluginmanager.register(_ReportWriter(path, config), "portacloud-report-writer")


class _ReportWriter:
    """Collects each test's outcome and reason and writes the JSON report at the end."""

    def __init__(self, path: str, config: pytest.Config) -> None:
        self._path = path
        self._config = config
        self._results: dict[str, Result] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        test = normalise_test_id(report.nodeid)
        if report.skipped:
            reason = _skip_reason(report)
            self._results[test] = Result(test=test, outcome="skipped", reason=reason)
        elif report.failed and getattr(self._results.get(test), "outcome", "") != "failed":
            # The first failure is the reason; a teardown that fails after it is its echo.
            crash = getattr(report.longrepr, "reprcrash", None)
            message = getattr(crash, "message", None) or str(report.longrepr).splitlines()[-1]
            where = "" if report.when == "call" else f"error in {report.when}: "
            self._results[test] = Result(test=test, outcome="failed", reason=where + message)
        elif report.when == "call" and test not in self._results:
            self._results[test] = Result(test=test, outcome="passed")

    def pytest_sessionfinish(self) -> None:
        kind: SuiteKind = "storage"
        target = ""
        for candidate, option in (
            ("storage", STORAGE_OPTION),
            ("jobs", JOBS_OPTION),
            ("compute", COMPUTE_OPTION),
            ("services", SERVICES_OPTION),
        ):
            value = self._config.getoption(option)
            if value:
                kind, target = candidate, str(value)  # type: ignore[assignment]
        report = Report.build(target=target, kind=kind, results=list(self._results.values()))
        with open(self._path, "w", encoding="utf-8") as f:
            f.write(report.model_dump_json(indent=2))


def _timeout_reason(limit: float) -> str:
    return (
        f"still running after the per-test time limit of {limit:g} s: the backend stopped "
        f"answering, or a wait or listing never ended (raise it with {TIMEOUT_OPTION})"
    )


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
    else:
        reason = str(longrepr)
    return reason.removeprefix("Skipped: ")
