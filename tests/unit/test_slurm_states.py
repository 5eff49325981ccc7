"""The slurm:// provider's mapping code, without Slurm: states and exit codes, the error table,
the parsers of Slurm's text output, and the batch script (run by plain bash)."""

from __future__ import annotations

import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

import portacloud.errors as pe
from portacloud import JobReason, JobSpec, JobState

pytest.importorskip("portacloud_slurm")

from portacloud_slurm.commands import (
    parse_config,
    parse_gpus,
    parse_nodes,
    parse_records,
    parse_sacct,
    parse_task_ids,
    parse_time,
    parse_time_limit,
)
from portacloud_slurm.errors import SlurmClientMissingError, SlurmCommandError, map_slurm_error
from portacloud_slurm.script import batch_script, read_report
from portacloud_slurm.states import (
    SLURM_STATES,
    AttemptReport,
    is_hopeless,
    parse_exit_code,
    slurm_state,
    task_outcome,
)

S, R = JobState, JobReason

# ---------------------------------------------------------------------- the state table

# Written out independently of the module's table (research/compute-anchors.md section 2a).
EXPECTED_STATES = {
    "PENDING": (S.PENDING, None),
    "REQUEUED": (S.PENDING, None),
    "REQUEUE_HOLD": (S.PENDING, None),
    "SUSPENDED": (S.PENDING, None),
    "CONFIGURING": (S.STARTING, None),
    "RUNNING": (S.RUNNING, None),
    "COMPLETING": (S.RUNNING, None),
    "STAGE_OUT": (S.RUNNING, None),
    "COMPLETED": (S.SUCCEEDED, None),
    "FAILED": (S.FAILED, R.USER_ERROR),
    "CANCELLED": (S.CANCELLED, R.USER_CANCELLED),
    "TIMEOUT": (S.FAILED, R.TIMEOUT),
    "DEADLINE": (S.FAILED, R.TIMEOUT),
    "OUT_OF_MEMORY": (S.FAILED, R.OOM),
    "NODE_FAIL": (S.FAILED, R.NODE_FAILURE),
    "BOOT_FAIL": (S.FAILED, R.NODE_FAILURE),
    "PREEMPTED": (S.FAILED, R.PREEMPTED),
}


@pytest.mark.parametrize(("native", "expected"), EXPECTED_STATES.items())
def test_state_table(native: str, expected: tuple[JobState, JobReason | None]) -> None:
    assert SLURM_STATES[native] == expected


@pytest.mark.parametrize(
    ("raw", "base"),
    [("CANCELLED by 0", "CANCELLED"), ("completing+", "COMPLETING"), (" RUNNING ", "RUNNING")],
)
def test_state_spellings_are_reduced_to_the_base_state(raw: str, base: str) -> None:
    assert slurm_state(raw) == base


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("7:0", (7, None)),
        ("0:0", (0, None)),
        ("0:15", (None, 15)),
        ("1:9", (None, 9)),
        ("255:0", (255, None)),
        ("", (None, None)),
        (None, (None, None)),
        ("n/a", (None, None)),
    ],
)
def test_exit_codes(raw: str | None, expected: tuple[int | None, int | None]) -> None:
    assert parse_exit_code(raw) == expected


@pytest.mark.parametrize(
    ("reason", "hopeless"),
    [
        ("PartitionConfig", True),
        ("PartitionTimeLimit", True),
        ("BadConstraints", True),
        ("QOSMaxGRESPerJob", True),
        ("Resources", False),
        ("Priority", False),
        ("ReqNodeNotAvail, UnavailableNodes:n1", False),
        ("QOSMaxJobsPerUserLimit", False),  # waits for the user's other jobs to end
        (None, False),
    ],
)
def test_hopeless_pending_reasons(reason: str | None, hopeless: bool) -> None:
    assert is_hopeless(reason) is hopeless


def report(**fields: object) -> AttemptReport:
    values: dict[str, object] = {"attempt": 1, "phase": "exited", "exit_code": 0}
    values.update(fields)
    return AttemptReport(**values)  # type: ignore[arg-type]


def test_pending_job_waits_with_slurms_reason() -> None:
    out = task_outcome("PENDING", reason="Resources")
    assert (out.state, out.reason, out.attempt, out.message) == (S.PENDING, None, 0, "Resources")


def test_hopeless_pending_job_fails_with_no_capacity() -> None:
    out = task_outcome("PENDING", reason="PartitionConfig")
    assert (out.state, out.reason) == (S.FAILED, R.NO_CAPACITY)
    assert out.message is not None
    assert "PartitionConfig" in out.message


def test_running_script_before_the_command_starts_is_starting() -> None:
    assert task_outcome("RUNNING").state is S.STARTING
    running = task_outcome("RUNNING", report=report(phase="running", exit_code=None, attempt=2))
    assert (running.state, running.attempt) == (S.RUNNING, 2)


def test_a_job_portacloud_did_not_submit_counts_slurms_restarts() -> None:
    out = task_outcome("RUNNING", restarts=1, ours=False)
    assert (out.state, out.attempt) == (S.RUNNING, 2)


def test_completed() -> None:
    out = task_outcome("COMPLETED", exit_code="0:0", report=report())
    assert (out.state, out.reason, out.exit_code, out.attempt) == (S.SUCCEEDED, None, 0, 1)


def test_failed_exit_code_without_a_report_comes_from_slurm() -> None:
    out = task_outcome("FAILED", exit_code="7:0", ours=False)
    assert (out.state, out.reason, out.exit_code) == (S.FAILED, R.USER_ERROR, 7)


def test_failed_by_signal() -> None:
    out = task_outcome("FAILED", exit_code="0:6", ours=False)
    assert (out.state, out.reason, out.exit_code) == (S.FAILED, R.USER_ERROR, 134)
    killed = task_outcome("FAILED", exit_code="0:9", ours=False)
    assert (killed.reason, killed.exit_code) == (R.OOM, 137)


def test_the_batch_scripts_report_decides_exit_code_timeout_and_attempt() -> None:
    timed_out = task_outcome(
        "FAILED", exit_code="143:0", report=report(exit_code=143, timed_out=True, attempt=3)
    )
    assert (timed_out.state, timed_out.reason, timed_out.attempt) == (S.FAILED, R.TIMEOUT, 3)
    user = task_outcome("FAILED", exit_code="3:0", report=report(exit_code=3, attempt=3))
    assert (user.reason, user.exit_code, user.attempt) == (R.USER_ERROR, 3, 3)
    oom = task_outcome("FAILED", exit_code="137:0", report=report(exit_code=137))
    assert oom.reason is R.OOM


def test_cancelled_before_starting_has_no_exit_code() -> None:
    out = task_outcome("CANCELLED", exit_code="0:0")
    assert (out.state, out.reason, out.exit_code, out.attempt) == (
        S.CANCELLED,
        R.USER_CANCELLED,
        None,
        0,
    )


def test_cancelled_while_running_keeps_the_signal() -> None:
    running = report(phase="running", exit_code=None)
    out = task_outcome("CANCELLED", exit_code="0:15", report=running)
    assert (out.state, out.reason, out.exit_code, out.attempt) == (
        S.CANCELLED,
        R.USER_CANCELLED,
        143,
        1,
    )


def test_cancel_wins_over_a_report_written_while_dying() -> None:
    out = task_outcome("CANCELLED", exit_code="0:15", report=report(exit_code=143))
    assert out.state is S.CANCELLED


@pytest.mark.parametrize(
    ("native", "reason"),
    [
        ("TIMEOUT", R.TIMEOUT),
        ("OUT_OF_MEMORY", R.OOM),
        ("NODE_FAIL", R.NODE_FAILURE),
        ("PREEMPTED", R.PREEMPTED),
        ("DEADLINE", R.TIMEOUT),
    ],
)
def test_slurm_level_failures_keep_their_reason(native: str, reason: JobReason) -> None:
    running = report(phase="running", exit_code=None)
    out = task_outcome(native, exit_code="0:15", report=running)
    assert (out.state, out.reason) == (S.FAILED, reason)


def test_forgotten_job_is_told_by_its_report() -> None:
    assert task_outcome(None, report=report(exit_code=0)).state is S.SUCCEEDED
    failed = task_outcome(None, report=report(exit_code=4))
    assert (failed.state, failed.exit_code) == (S.FAILED, 4)
    lost = task_outcome(None, report=report(phase="running", exit_code=None))
    assert lost.state is S.UNKNOWN
    assert task_outcome(None).state is S.UNKNOWN


def test_unknown_slurm_state() -> None:
    out = task_outcome("SOMETHING_NEW")
    assert out.state is S.UNKNOWN
    assert out.message is not None
    assert "SOMETHING_NEW" in out.message


# ---------------------------------------------------------------------- the error table


def command_error(stderr: str, command: str = "sbatch", code: int = 1) -> SlurmCommandError:
    return SlurmCommandError([f"/usr/bin/{command}", "--parsable"], code, stderr)


@pytest.mark.parametrize(
    ("stderr", "error", "retryable"),
    [
        (
            "sbatch: error: Batch job submission failed: "
            "Requested node configuration is not available",
            pe.InvalidArgumentError,
            False,
        ),
        (
            "sbatch: error: Memory specification can not be satisfied\nsbatch: error: "
            "Batch job submission failed: Requested node configuration is not available",
            pe.InvalidArgumentError,
            False,
        ),
        (
            "sbatch: error: invalid partition specified: nope\n"
            "sbatch: error: Batch job submission failed: Invalid partition name specified",
            pe.NotFoundError,
            False,
        ),
        ("Partition nope not found", pe.NotFoundError, False),
        ("slurm_load_jobs error: Invalid job id specified", pe.NotFoundError, False),
        ("scancel: error: Invalid job id abc", pe.NotFoundError, False),
        (
            "slurm_load_jobs error: Unable to contact slurm controller (connect failure)",
            pe.UnavailableError,
            True,
        ),
        ("sbatch: error: Batch job submission failed: Socket timed out", pe.UnavailableError, True),
        (
            "sbatch: error: Batch job submission failed: Access/permission denied",
            pe.PermissionDeniedError,
            False,
        ),
        (
            "sbatch: error: Batch job submission failed: Invalid account or "
            "account/partition combination specified",
            pe.PermissionDeniedError,
            False,
        ),
        (
            "sbatch: error: Batch job submission failed: Job violates accounting/QOS policy "
            "(job submit limit, user's size and/or time limits)",
            pe.ResourceExhaustedError,
            True,
        ),
        (
            "sbatch: error: Batch job submission failed: Invalid job array specification",
            pe.InvalidArgumentError,
            False,
        ),
        (
            "sbatch: error: Munge encode failed: Failed to access munge socket",
            pe.UnauthenticatedError,
            False,
        ),
        (
            "sbatch: fatal: Could not establish a configuration source",
            pe.UnavailableError,
            False,
        ),
        (
            "scancel: error: Kill job error on job id 5: Job/step already completing or completed",
            pe.FailedPreconditionError,
            False,
        ),
        ("Slurm accounting storage is disabled", pe.UnsupportedError, False),
        ("something nobody has seen before", pe.UnknownError, False),
    ],
)
def test_error_table(stderr: str, error: type[pe.PortaCloudError], retryable: bool) -> None:
    mapped = map_slurm_error(command_error(stderr))
    assert type(mapped) is error
    assert mapped.retryable is retryable


def test_error_messages_keep_slurms_words_without_prefixes() -> None:
    mapped = map_slurm_error(
        command_error(
            "sbatch: error: Batch job submission failed: Requested node configuration is not "
            "available"
        )
    )
    assert mapped is not None
    assert mapped.message.startswith("sbatch: Requested node configuration is not available")


def test_missing_client_says_what_to_install() -> None:
    mapped = map_slurm_error(SlurmClientMissingError(["sbatch", "--parsable"]))
    assert isinstance(mapped, pe.UnsupportedError)
    assert "sbatch" in mapped.message
    assert "apt-get install slurm-client" in mapped.message


def test_a_hung_command_is_unavailable() -> None:
    mapped = map_slurm_error(subprocess.TimeoutExpired(["/usr/bin/squeue", "-h"], 60))
    assert isinstance(mapped, pe.UnavailableError)
    assert mapped.retryable
    assert "squeue" in mapped.message


def test_permission_error_on_the_state_dir() -> None:
    mapped = map_slurm_error(PermissionError(13, "Permission denied", "/shared/slurm"))
    assert isinstance(mapped, pe.PermissionDeniedError)
    assert "/shared/slurm" in mapped.message


def test_exceptions_that_are_not_slurms_are_left_alone() -> None:
    assert map_slurm_error(ValueError("x")) is None


# ---------------------------------------------------------------------- the parsers

# Captured from Slurm 22.05.8 (`scontrol -o show job 2`, an array of 3 with one task pending).
SCONTROL_ARRAY = (
    "JobId=2 ArrayJobId=2 ArrayTaskId=2 JobName=t2 UserId=root(0) GroupId=root(0) "
    "MCS_label=N/A Priority=4294901758 Nice=0 Account=(null) QOS=(null) JobState=FAILED "
    "Reason=NonZeroExitCode Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 "
    "ExitCode=7:0 RunTime=00:00:00 TimeLimit=UNLIMITED TimeMin=N/A "
    "SubmitTime=2026-11-27T09:01:09 EligibleTime=2026-11-27T09:01:10 "
    "StartTime=2026-11-27T09:01:11 EndTime=2026-11-27T09:01:11 Deadline=N/A "
    "Partition=debug AllocNode:Sid=localhost:30836 ReqNodeList=(null) NodeList=vm "
    "Command=/tmp/my jobs/a.sh WorkDir=/tmp/my jobs StdErr=/tmp/my jobs/arr-2_2.log "
    "StdIn=/dev/null StdOut=/tmp/my jobs/arr-2_2.log Power= TresPerNode=gres:gpu:1\n"
    "JobId=5 ArrayJobId=2 ArrayTaskId=0-1 JobName=t2 UserId=root(0) JobState=PENDING "
    "Reason=ReqNodeNotAvail, UnavailableNodes:vm Restarts=1 ExitCode=0:0 "
    "SubmitTime=2026-11-27T09:01:09 StartTime=Unknown EndTime=Unknown Partition=debug\n"
)


def test_scontrol_records() -> None:
    done, pending = parse_records(SCONTROL_ARRAY)
    assert (done.job_id, done.group_id, done.task_ids) == ("2", "2", (2,))
    assert (done.state, done.reason, done.exit_code) == ("FAILED", "NonZeroExitCode", "7:0")
    assert done.workdir == "/tmp/my jobs"
    assert done.stdout == "/tmp/my jobs/arr-2_2.log"
    assert done.user_id == 0
    assert done.partition == "debug"
    assert done.started_at is not None
    assert done.started_at.tzinfo is UTC
    assert (pending.job_id, pending.group_id, pending.task_ids) == ("5", "2", (0, 1))
    assert pending.reason == "ReqNodeNotAvail, UnavailableNodes:vm"
    assert pending.restarts == 1
    assert pending.started_at is None


def test_scontrol_record_of_a_plain_job() -> None:
    (record,) = parse_records("JobId=41 JobName=x JobState=RUNNING Reason=None ExitCode=0:0")
    assert (record.group_id, record.array_job_id, record.task_ids) == ("41", None, None)
    assert record.reason is None


def test_no_jobs_message_has_no_records() -> None:
    assert parse_records("No jobs in the system\n") == []


@pytest.mark.parametrize(
    ("raw", "ids"),
    [
        ("3", (3,)),
        ("0-3", (0, 1, 2, 3)),
        ("1,4-8:2", (1, 4, 6, 8)),
        ("[0-9%2]", tuple(range(10))),
        ("(null)", None),
        ("x-y", None),
    ],
)
def test_array_task_ids(raw: str, ids: tuple[int, ...] | None) -> None:
    assert parse_task_ids(raw) == ids


@pytest.mark.parametrize(
    ("gres", "gpus"),
    [
        ("gpu:fake:2", {"fake": 2}),
        ("gpu:2", {None: 2}),
        ("gpu:a100:4(S:0-1),gpu:v100:2(S:1),mps:100", {"a100": 4, "v100": 2}),
        ("(null)", {}),
        ("gpu", {None: 1}),
    ],
)
def test_gres_gpus(gres: str, gpus: dict[str | None, int]) -> None:
    assert parse_gpus(gres) == gpus


def test_sinfo_nodes() -> None:
    (node,) = parse_nodes("vm|2|4000|gpu:fake:2\n")
    assert (node.name, node.cpus, node.memory_mb, node.gpu_count) == ("vm", 2, 4000, 2)


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("UNLIMITED", None),
        ("30", 1800.0),
        ("45:30", 2730.0),
        ("01:00:00", 3600.0),
        ("1-12:00:00", 129600.0),
        ("2-0", 172800.0),
    ],
)
def test_time_limits(raw: str, seconds: float | None) -> None:
    assert parse_time_limit(raw) == seconds


def test_sacct_records_with_and_without_slurmdbd() -> None:
    text = (
        "7|b.sh|CANCELLED by 0|0:0|2026-11-27T09:02:07|2026-11-27T09:02:09|/w|debug\n"
        "8_1|arr|COMPLETED|0:0|2026-11-27T09:02:07|2026-11-27T09:02:09|/w|debug\n"
        "8_[2-3]|arr|CANCELLED|0:0|Unknown|2026-11-27T09:02:09|/w|debug\n"
        "8.batch|batch|COMPLETED|0:0|2026-11-27T09:02:07|2026-11-27T09:02:09||\n"
    )
    plain, task, rest = parse_sacct(text)
    assert (plain.group_id, plain.task_ids, slurm_state(plain.state)) == ("7", None, "CANCELLED")
    assert (task.group_id, task.task_ids) == ("8", (1,))
    assert (rest.group_id, rest.task_ids, rest.started_at) == ("8", (2, 3), None)


def test_config_and_times() -> None:
    config = parse_config("ClusterName             = ci\nMinJobAge               = 3600 sec\n")
    assert config == {"ClusterName": "ci", "MinJobAge": "3600 sec"}
    local = datetime(2026, 11, 27, 9, 1, 9).astimezone(UTC)
    assert parse_time("2026-11-27T09:01:09") == local
    assert parse_time("Unknown") is None


# ---------------------------------------------------------------------- the batch script


def run_script(
    tmp_path: Path, spec: JobSpec, env: dict[str, str] | None = None
) -> tuple[int, str, AttemptReport | None]:
    """Run the batch script with plain bash, as Slurm would for a single-task job."""
    job_dir = tmp_path / "job"
    job_dir.mkdir(exist_ok=True)
    script = job_dir / "job.sh"
    script.write_text(batch_script(spec, env=env or {}, job_dir=job_dir, gpus=0))
    log = job_dir / "out.log"
    with open(log, "wb") as out:
        done = subprocess.run(
            ["/bin/bash", str(script)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "SLURM_JOB_ID": "42", "CUDA_VISIBLE_DEVICES": "0,1"},
            timeout=60,
            check=False,
        )
    return done.returncode, log.read_text(), read_report(job_dir, 0)


def test_script_exports_values_with_commas_quotes_and_newlines(tmp_path: Path) -> None:
    value = "a,b \"c\" 'd' $HOME `x` \\ \nline2"
    spec = JobSpec(
        name="env",
        command='printf "[%s] %s %s [%s]\\n" "$V" "$PORTACLOUD_JOB_ID" '
        '"$PORTACLOUD_TASK_INDEX" "$CUDA_VISIBLE_DEVICES"',
    )
    code, log, rep = run_script(tmp_path, spec, {"V": value})
    assert code == 0
    assert log == f"[{value}] 42 0 []\n"
    assert rep is not None
    assert (rep.phase, rep.exit_code, rep.attempt) == ("exited", 0, 1)


def test_script_runs_argv_without_a_shell(tmp_path: Path) -> None:
    code, log, _ = run_script(tmp_path, JobSpec(name="argv", command=("echo", "$X", "a b")))
    assert (code, log) == (0, "$X a b\n")


def test_script_retries_and_reports_the_attempts(tmp_path: Path) -> None:
    spec = JobSpec(name="r", command='echo "try $PORTACLOUD_ATTEMPT"; exit 3', retries=2)
    code, log, rep = run_script(tmp_path, spec)
    assert code == 3
    assert log.split() == ["try", "1", "try", "2", "try", "3"]
    assert rep is not None
    assert (rep.attempt, rep.exit_code, rep.timed_out) == (3, 3, False)


def test_script_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    spec = JobSpec(name="t", command="sleep 300 & echo $! > child.pid; sleep 300", timeout=1)
    started = time.monotonic()
    code, _, rep = run_script(tmp_path, spec)
    assert time.monotonic() - started < 10
    assert rep is not None
    assert rep.timed_out
    assert rep.exit_code == code != 0
    child = int((tmp_path / "job" / "work" / "task-0" / "child.pid").read_text())
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{child}").exists(), "the command's background child survived"
    assert task_outcome("FAILED", exit_code=f"{code}:0", report=rep).reason is R.TIMEOUT
