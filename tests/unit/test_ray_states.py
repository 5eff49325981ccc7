"""The ray:// provider's mapping code, no cluster: the state table, the error table, and the
runner's reports read back into portable statuses.

The runner (``python -m portacloud_ray.runner``) is run here for real, as Ray would run it, and
its output is fed to the same translation ``status()`` uses, with ``JobDetails`` built by hand
the way Ray's Jobs API returns them.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import portacloud.errors as pe
from portacloud import JobReason, JobState

pytest.importorskip("portacloud_ray")
pytest.importorskip("ray.job_submission")

import requests
from ray.dashboard.modules.dashboard_sdk import SubmissionClient
from ray.dashboard.modules.job.common import JobErrorType
from ray.exceptions import AuthenticationError
from ray.job_submission import JobDetails, JobStatus, JobType
from ray.util.state.exception import ServerUnavailable

from portacloud_ray.errors import map_ray_error
from portacloud_ray.logs import parse_log
from portacloud_ray.runner import CONFIG_ENV, MARKER_PREFIX
from portacloud_ray.states import (
    RAY_ERROR_EVIDENCE,
    STATE_TABLE,
    Evidence,
    RayStatus,
    evidence_for_attempt,
    evidence_for_ray_failure,
    map_state,
)
from portacloud_ray.status import (
    META_NAME,
    META_NONCE,
    META_OUTPUT_URI,
    META_RETRIES,
    META_TASKS,
    CancelRecord,
    parse_job_log,
    status_from_ray,
)

NONCE = "0123456789abcdef"
JOB_ID = "unit-0000000001"
ENTRYPOINT = "python -m portacloud_ray.runner -- /bin/bash -c true"

# -- the state table -------------------------------------------------------------------------

P, S, R, X = JobState.PENDING, JobState.STARTING, JobState.RUNNING, JobState.CANCELLING
C, F, OK = JobState.CANCELLED, JobState.FAILED, JobState.SUCCEEDED


@pytest.mark.parametrize(
    ("ray", "evidence", "expected"),
    [
        ("PENDING", Evidence.NONE, (P, None)),
        ("PENDING", Evidence.CANCELLED_BEFORE_START, (C, JobReason.USER_CANCELLED)),
        ("RUNNING", Evidence.NONE, (S, None)),
        ("RUNNING", Evidence.RUNNER_BEGAN, (R, None)),
        ("RUNNING", Evidence.CANCEL_REQUESTED, (X, None)),
        ("RUNNING", Evidence.CANCELLED_BEFORE_START, (C, JobReason.USER_CANCELLED)),
        ("STOPPED", Evidence.NONE, (C, JobReason.USER_CANCELLED)),
        ("SUCCEEDED", Evidence.NONE, (OK, None)),
        ("SUCCEEDED", Evidence.CANCEL_REQUESTED, (OK, None)),
        ("FAILED", Evidence.EXITED, (F, JobReason.USER_ERROR)),
        ("FAILED", Evidence.SIGNALLED, (F, JobReason.USER_ERROR)),
        ("FAILED", Evidence.KILLED, (F, JobReason.OOM)),
        ("FAILED", Evidence.TIMED_OUT, (F, JobReason.TIMEOUT)),
        ("FAILED", Evidence.STOPPED, (C, JobReason.USER_CANCELLED)),
        ("FAILED", Evidence.START_TIMEOUT, (F, JobReason.NO_CAPACITY)),
        ("FAILED", Evidence.UNSCHEDULABLE, (F, JobReason.NO_CAPACITY)),
        ("FAILED", Evidence.DRIVER_DIED, (F, JobReason.NODE_FAILURE)),
        ("FAILED", Evidence.SETUP_FAILED, (F, JobReason.INFRA_ERROR)),
        ("FAILED", Evidence.RUNNER_LOST, (F, JobReason.INFRA_ERROR)),
        ("FAILED", Evidence.CANCELLED_BEFORE_START, (C, JobReason.USER_CANCELLED)),
    ],
)
def test_state_table(
    ray: str, evidence: Evidence, expected: tuple[JobState, JobReason | None]
) -> None:
    assert map_state(ray, evidence) == expected


def test_pairs_the_table_lacks_are_unknown_not_guessed() -> None:
    assert map_state("FAILED", Evidence.NONE) == (JobState.UNKNOWN, None)
    assert map_state("SUCCEEDED", Evidence.TIMED_OUT) == (JobState.UNKNOWN, None)
    assert map_state("ARCHIVED", Evidence.NONE) == (JobState.UNKNOWN, None)


def test_reasons_come_with_ended_states_only() -> None:
    for (ray, evidence), (state, reason) in STATE_TABLE.items():
        if state in (JobState.FAILED, JobState.CANCELLED):
            assert reason is not None, (ray, evidence)
        else:
            assert reason is None, (ray, evidence)
        if state.terminal:
            # Ray may still move a job we call ended; only our own records justify that.
            assert ray.terminal or evidence in (
                Evidence.CANCEL_REQUESTED,
                Evidence.CANCELLED_BEFORE_START,
            ), (ray, evidence)


def test_every_ray_error_type_but_the_entrypoints_exit_has_evidence() -> None:
    for error_type in JobErrorType:
        if error_type is JobErrorType.JOB_ENTRYPOINT_COMMAND_ERROR:
            assert error_type.value not in RAY_ERROR_EVIDENCE
            assert evidence_for_ray_failure(error_type.value, "exit code 3") is None
        else:
            evidence = evidence_for_ray_failure(error_type.value, None)
            assert evidence is not None, error_type
            assert map_state(RayStatus.FAILED, evidence)[0] is JobState.FAILED


def test_start_timeout_is_recognised_from_the_message_of_older_rays() -> None:
    message = (
        "Job supervisor actor failed to start within 900.0 seconds. This timeout can be "
        "configured by setting the environment variable RAY_JOB_START_TIMEOUT_SECONDS."
    )
    assert evidence_for_ray_failure(None, message) is Evidence.START_TIMEOUT
    assert map_state("FAILED", Evidence.START_TIMEOUT) == (F, JobReason.NO_CAPACITY)


@pytest.mark.parametrize(
    ("outcome", "code", "sig", "evidence"),
    [
        ("exited", 3, None, Evidence.EXITED),
        ("timeout", 143, None, Evidence.TIMED_OUT),
        ("signalled", 137, signal.SIGKILL, Evidence.KILLED),
        ("signalled", 139, signal.SIGSEGV, Evidence.SIGNALLED),
        ("cancelled", 143, None, Evidence.STOPPED),
        ("exited", 0, None, Evidence.RUNNER_LOST),  # a success is not a failure to explain
    ],
)
def test_attempt_outcomes(outcome: str, code: int, sig: int | None, evidence: Evidence) -> None:
    assert evidence_for_attempt(outcome, code, sig) is evidence


# -- the runner, read back -------------------------------------------------------------------


def run_runner(
    command: str,
    *,
    tasks: int = 1,
    retries: int = 0,
    timeout: float | None = None,
    gpus: int = 0,
    env: dict[str, str] | None = None,
    workdir: str | None = None,
) -> tuple[str, int]:
    """Run the runner as Ray's job supervisor would; return its log and exit code."""
    config = {
        "job_id": JOB_ID,
        "nonce": NONCE,
        "tasks": tasks,
        "retries": retries,
        "timeout": timeout,
        "gpus": gpus,
        "workdir": workdir,
    }
    done = subprocess.run(
        [sys.executable, "-m", "portacloud_ray.runner", "--", "/bin/bash", "-c", command],
        env={**os.environ, **(env or {}), CONFIG_ENV: json.dumps(config)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=120,
        check=False,
    )
    return done.stdout.decode(), done.returncode


def details(
    status: str,
    *,
    tasks: int = 1,
    retries: int = 0,
    error_type: str | None = None,
    message: str | None = None,
    driver_exit_code: int | None = None,
    ours: bool = True,
) -> JobDetails:
    """JobDetails as Ray's get_job_info returns them."""
    metadata = {
        META_NAME: "unit",
        META_OUTPUT_URI: "file:///tmp/out/",
        META_RETRIES: str(retries),
        META_TASKS: str(tasks),
        META_NONCE: NONCE,
    }
    now = int(time.time() * 1000)
    return JobDetails(
        type=JobType.SUBMISSION,
        submission_id=JOB_ID,
        status=JobStatus(status),
        entrypoint=ENTRYPOINT,
        message=message,
        error_type=error_type,
        start_time=now - 5000,
        end_time=now if JobStatus(status).is_terminal() else None,
        metadata=metadata if ours else {},
        driver_exit_code=driver_exit_code,
    )


def ray_log(runner_output: str) -> str:
    """The runner's output inside a Ray job log, with Ray's own lines around it."""
    return (
        "2026-11-27 09:01:36,575\tINFO job_manager.py:581 -- Runtime env is setting up.\n"
        + runner_output
        + f"Running entrypoint for job {JOB_ID}: {ENTRYPOINT}\n"
    )


def output(raw: str, *, tasks: int = 1) -> str:
    """The user's output of a finished job's log, as ``logs()`` returns it."""
    return parse_job_log(details("SUCCEEDED", tasks=tasks), raw).output


def test_success_keeps_output_exact_and_counts_one_attempt() -> None:
    out, code = run_runner("echo out; echo err >&2; printf 'no newline'")
    assert code == 0
    raw = ray_log(out)
    status = status_from_ray(details("SUCCEEDED"), raw, cancel=None)
    assert (status.state, status.reason, status.exit_code, status.attempt) == (OK, None, 0, 1)
    assert status.name == "unit"
    assert status.output_uri == "file:///tmp/out/"
    assert status.started_at is not None
    assert status.ended_at is not None
    assert MARKER_PREFIX in raw
    assert output(raw) == "out\nerr\nno newline"


def test_non_zero_exit_is_user_error_with_its_code() -> None:
    out, code = run_runner("exit 7")
    assert code == 7
    status = status_from_ray(details("FAILED"), ray_log(out), cancel=None)
    assert (status.state, status.reason, status.exit_code, status.attempt) == (
        F,
        JobReason.USER_ERROR,
        7,
        1,
    )
    assert status.message is not None
    assert "code 7" in status.message


def test_retries_rerun_failed_attempts_and_count_them() -> None:
    out, code = run_runner('echo "attempt $PORTACLOUD_ATTEMPT"; exit 3', retries=2)
    assert code == 3
    raw = ray_log(out)
    status = status_from_ray(details("FAILED", retries=2), raw, cancel=None)
    assert (status.state, status.exit_code, status.attempt) == (F, 3, 3)
    assert output(raw) == "attempt 1\nattempt 2\nattempt 3\n"


def test_a_retry_that_succeeds_succeeds() -> None:
    out, code = run_runner('[ "$PORTACLOUD_ATTEMPT" = 2 ] || exit 4', retries=3)
    assert code == 0
    status = status_from_ray(details("SUCCEEDED", retries=3), ray_log(out), cancel=None)
    assert (status.state, status.attempt, status.exit_code) == (OK, 2, 0)


def test_timeout_kills_the_whole_group_and_reports_timeout(tmp_path: Path) -> None:
    marker = tmp_path / "survivor"
    command = f"(sleep 3; touch {shlex.quote(str(marker))}) & sleep 60"
    started = time.monotonic()
    out, code = run_runner(command, timeout=0.5)
    assert time.monotonic() - started < 20
    assert code != 0
    status = status_from_ray(details("FAILED"), ray_log(out), cancel=None)
    assert (status.state, status.reason) == (F, JobReason.TIMEOUT)
    time.sleep(3.5)
    assert not marker.exists(), "a process of the timed-out attempt outlived it"


def test_sigkill_nobody_sent_is_out_of_memory() -> None:
    out, _ = run_runner("kill -KILL $$")
    status = status_from_ray(details("FAILED"), ray_log(out), cancel=None)
    assert (status.state, status.reason, status.exit_code) == (F, JobReason.OOM, 137)


def test_array_runs_every_task_and_fails_with_the_first_failure() -> None:
    out, code = run_runner(
        'echo "index=$PORTACLOUD_TASK_INDEX"; [ "$PORTACLOUD_TASK_INDEX" != 1 ] || exit 5',
        tasks=3,
    )
    assert code == 5
    raw = ray_log(out)
    status = status_from_ray(details("FAILED", tasks=3), raw, cancel=None)
    assert (status.state, status.reason, status.exit_code) == (F, JobReason.USER_ERROR, 5)
    assert [(t.index, t.state, t.exit_code) for t in status.tasks] == [
        (0, OK, 0),
        (1, F, 5),
        (2, OK, 0),
    ]
    assert output(raw, tasks=3) == ("[task 0] index=0\n[task 1] index=1\n[task 2] index=2\n")


def test_gpu_visibility() -> None:
    out, _ = run_runner('echo "cvd=[$CUDA_VISIBLE_DEVICES]"', env={"CUDA_VISIBLE_DEVICES": "0,1"})
    assert "cvd=[]" in parse_log(out, nonce=NONCE).output  # asked for none, sees none
    out, _ = run_runner(
        'echo "cvd=[$CUDA_VISIBLE_DEVICES]"', gpus=2, env={"CUDA_VISIBLE_DEVICES": "3,5"}
    )
    assert "cvd=[3,5]" in parse_log(out, nonce=NONCE).output  # exactly what Ray assigned


def test_markers_of_another_job_are_output_and_the_runners_settings_are_hidden() -> None:
    foreign = MARKER_PREFIX + 'ffffffffffffffff] {"event":"done","failed":false}'
    out, code = run_runner(
        f'echo "[${{{CONFIG_ENV}:-unset}}]"; echo {shlex.quote(foreign)}; exit 2'
    )
    assert code == 2
    raw = ray_log(out)
    text = output(raw)
    assert "[unset]" in text
    assert foreign in text
    status = status_from_ray(details("FAILED"), raw, cancel=None)
    assert (status.state, status.exit_code) == (F, 2)


def test_default_workdir_is_a_fresh_scratch_dir_removed_afterwards() -> None:
    out, _ = run_runner("pwd; touch here")
    scratch = parse_log(out, nonce=NONCE).output.strip()
    assert f"portacloud-{JOB_ID}-0-" in scratch
    assert not Path(scratch).exists()


def test_a_stop_from_ray_kills_the_attempt_and_starts_nothing_new(tmp_path: Path) -> None:
    log = tmp_path / "log"
    config = {"job_id": JOB_ID, "nonce": NONCE, "tasks": 2, "retries": 3, "gpus": 0}
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "portacloud_ray.runner", "--", "/bin/bash", "-c", "sleep 60"],
            env={**os.environ, CONFIG_ENV: json.dumps(config)},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while '"event":"start"' not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 128 + signal.SIGTERM
    finally:
        proc.kill()
    raw = ray_log(log.read_text())
    events = [e["event"] for e in parse_log(raw, nonce=NONCE).events]
    assert events == ["begin", "start", "end", "stopped"]
    for ray in ("STOPPED", "FAILED"):  # Ray may record either for a job it stopped
        status = status_from_ray(details(ray, tasks=2, retries=3), raw, cancel=None)
        assert (status.state, status.reason) == (C, JobReason.USER_CANCELLED), ray
        assert [t.state for t in status.tasks] == [C, C]


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def test_an_attempt_does_not_outlive_a_runner_killed_outright(tmp_path: Path) -> None:
    # Ray SIGKILLs the runner's group when the job's supervisor dies; the attempt's own group
    # must not be left running.
    pidfile = tmp_path / "pid"
    config = {"job_id": JOB_ID, "nonce": NONCE, "tasks": 1, "retries": 0, "gpus": 0}
    command = f"sleep 60 & echo $! > {shlex.quote(str(pidfile))}; wait"
    proc = subprocess.Popen(
        [sys.executable, "-m", "portacloud_ray.runner", "--", "/bin/bash", "-c", command],
        env={**os.environ, CONFIG_ENV: json.dumps(config)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not (pidfile.exists() and pidfile.read_text().strip()):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        sleeper = int(pidfile.read_text())
        assert alive(sleeper)
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 10
    try:
        while alive(sleeper):
            assert time.monotonic() < deadline, "the attempt outlived its runner"
            time.sleep(0.1)
    finally:
        if alive(sleeper):
            os.kill(sleeper, signal.SIGKILL)


# -- what Ray alone knows --------------------------------------------------------------------


def test_a_job_ray_never_placed_is_no_capacity() -> None:
    message = "Job supervisor actor failed to start within 30.0 seconds. ..."
    job = details(
        "FAILED", error_type=JobErrorType.JOB_SUPERVISOR_ACTOR_START_TIMEOUT.value, message=message
    )
    status = status_from_ray(job, "", cancel=None)
    assert (status.state, status.reason, status.message) == (F, JobReason.NO_CAPACITY, message)
    assert status.attempt == 0


def test_cancel_before_ray_placed_the_job_is_cancelled_at_once() -> None:
    record = CancelRecord(before_start=True, at=time.time())
    for ray in ("PENDING", "RUNNING", "STOPPED", "FAILED"):
        status = status_from_ray(details(ray), "", cancel=record)
        assert (status.state, status.reason) == (C, JobReason.USER_CANCELLED), ray
        assert status.ended_at is not None


def test_cancel_of_a_running_job_is_cancelling_until_ray_stops_it() -> None:
    record = CancelRecord(before_start=False, at=time.time())
    out, _ = run_runner("true")
    assert status_from_ray(details("RUNNING"), ray_log(out), cancel=record).state is X
    assert status_from_ray(details("STOPPED"), ray_log(out), cancel=record).state is C
    # It ended by itself before the stop reached it.
    assert status_from_ray(details("SUCCEEDED"), ray_log(out), cancel=record).state is OK


def test_running_before_the_runner_reports_is_starting() -> None:
    preamble = "2026-11-27 09:01:36,575\tINFO job_manager.py:581 -- Runtime env is setting up.\n"
    assert status_from_ray(details("RUNNING"), preamble, cancel=None).state is S
    out, _ = run_runner("true")
    begun = preamble + out.split("\n", 1)[0] + "\n"  # just the runner's first marker
    assert status_from_ray(details("RUNNING"), begun, cancel=None).state is R


def test_a_runner_that_never_reports_is_an_infrastructure_error() -> None:
    raw = ray_log("/bin/sh: 1: python: not found\n")
    job = details(
        "FAILED",
        error_type=JobErrorType.JOB_ENTRYPOINT_COMMAND_ERROR.value,
        driver_exit_code=127,
    )
    status = status_from_ray(job, raw, cancel=None)
    assert (status.state, status.reason) == (F, JobReason.INFRA_ERROR)
    assert parse_log(raw, nonce=NONCE).output == raw  # the whole log explains it


def test_a_job_portacloud_did_not_submit_maps_its_own_exit() -> None:
    job = details(
        "FAILED",
        error_type=JobErrorType.JOB_ENTRYPOINT_COMMAND_ERROR.value,
        driver_exit_code=3,
        ours=False,
    )
    status = status_from_ray(job, "", cancel=None)
    assert (status.state, status.reason, status.exit_code, status.name) == (
        F,
        JobReason.USER_ERROR,
        3,
        JOB_ID,
    )


def test_rays_entrypoint_line_is_dropped_even_inside_a_users_line() -> None:
    out, _ = run_runner("printf 'abc'; sleep 0.1; echo def")
    cut = out.index("abc") + len("abc")
    line = f"Running entrypoint for job {JOB_ID}: {ENTRYPOINT}"
    raw = out[:cut] + line + "\n" + out[cut:]
    assert parse_log(raw, nonce=NONCE, drop=[line]).output == "abcdef\n"


def test_the_stable_part_of_a_growing_log_never_changes() -> None:
    out, _ = run_runner("echo one; printf two; exit 1", retries=1)
    final = parse_log(out, nonce=NONCE).output
    assert final == "one\ntwoone\ntwo"
    for cut in range(len(out) + 1):
        assert final.startswith(parse_log(out[:cut], nonce=NONCE).text), cut


# -- the error table -------------------------------------------------------------------------


def dashboard_error(status: int, body: str) -> RuntimeError:
    """The RuntimeError Ray's client raises for a failed request (built by Ray's own code)."""
    response = requests.Response()
    response.status_code = status
    response._content = body.encode()
    try:
        SubmissionClient._raise_error(None, response)  # type: ignore[arg-type]
    except RuntimeError as exc:
        return exc
    raise AssertionError("Ray's client did not raise")


TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/ray/dashboard/modules/job/job_head.py", line 419, in submit_job\n'
    "    resp = await job_agent_client.submit_job_internal(submit_request)\n"
    "{last}\n"
)


@pytest.mark.parametrize(
    ("exc", "code", "retryable"),
    [
        (dashboard_error(404, "Job nope-1 does not exist"), pe.ErrorCode.NOT_FOUND, False),
        (
            dashboard_error(
                500,
                TRACEBACK.format(
                    last="ValueError: Job with submission_id dup-1 already exists. "
                    "Please use a different submission_id."
                ),
            ),
            pe.ErrorCode.ALREADY_EXISTS,
            False,
        ),
        (
            dashboard_error(
                500,
                TRACEBACK.format(
                    last="RuntimeError: Attempted to delete job 'x', but it is in a "
                    "non-terminal state PENDING."
                ),
            ),
            pe.ErrorCode.FAILED_PRECONDITION,
            False,
        ),
        (
            dashboard_error(500, TRACEBACK.format(last="KeyError: 'x'")),
            pe.ErrorCode.INTERNAL,
            False,
        ),
        (dashboard_error(400, "bad request"), pe.ErrorCode.INVALID_ARGUMENT, False),
        (dashboard_error(401, "who are you"), pe.ErrorCode.UNAUTHENTICATED, False),
        (dashboard_error(403, "no"), pe.ErrorCode.PERMISSION_DENIED, False),
        (dashboard_error(429, "slow down"), pe.ErrorCode.RESOURCE_EXHAUSTED, True),
        (dashboard_error(503, "busy"), pe.ErrorCode.UNAVAILABLE, True),
        (dashboard_error(599, "odd"), pe.ErrorCode.UNAVAILABLE, True),
        (requests.exceptions.ConnectionError("refused"), pe.ErrorCode.UNAVAILABLE, True),
        (requests.exceptions.ConnectTimeout("slow"), pe.ErrorCode.UNAVAILABLE, True),
        (requests.exceptions.ReadTimeout("slow"), pe.ErrorCode.DEADLINE_EXCEEDED, True),
        (requests.exceptions.SSLError("bad cert"), pe.ErrorCode.UNAVAILABLE, False),
        (
            ConnectionError("Failed to connect to Ray at address: http://x:1."),
            pe.ErrorCode.UNAVAILABLE,
            True,
        ),
        (AuthenticationError("token mismatch"), pe.ErrorCode.UNAUTHENTICATED, False),
        (ServerUnavailable("dashboard down"), pe.ErrorCode.UNAVAILABLE, True),
    ],
)
def test_error_table(exc: BaseException, code: pe.ErrorCode, retryable: bool) -> None:
    mapped = map_ray_error(exc)
    assert mapped is not None
    assert mapped.code is code
    assert mapped.retryable is retryable
    assert "Traceback" not in mapped.message
    assert len(mapped.message) < 600


def test_a_servers_traceback_is_summed_up_by_its_last_line() -> None:
    exc = dashboard_error(
        500, TRACEBACK.format(last="ValueError: Job with submission_id d already exists.")
    )
    mapped = map_ray_error(exc)
    assert mapped is not None
    assert mapped.message == (
        "Ray dashboard answered HTTP 500: ValueError: Job with submission_id d already exists."
    )


@pytest.mark.parametrize(
    "exc", [ValueError("ours"), KeyError("k"), RuntimeError("something else"), OSError(5, "io")]
)
def test_what_is_not_a_ray_failure_is_left_alone(exc: BaseException) -> None:
    assert map_ray_error(exc) is None


def test_portacloud_errors_pass_through() -> None:
    err = pe.ResourceExhaustedError("too big", retryable=False)
    assert map_ray_error(err) is err
