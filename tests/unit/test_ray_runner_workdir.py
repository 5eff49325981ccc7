"""The Ray runner's shipped workdir and per-task logs, no cluster (see test_ray_states)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("portacloud_ray")
pytest.importorskip("ray.job_submission")

from test_ray_states import JOB_ID, NONCE, run_runner

from portacloud_ray.logs import parse_log


def test_each_task_runs_in_its_own_copy_of_the_shipped_workdir(tmp_path: Path) -> None:
    workdir = tmp_path / "unpacked"  # where Ray unpacked the job's working_dir
    workdir.mkdir()
    (workdir / "data.txt").write_text("21\n")
    # mkdir fails when the directory exists: a shared directory fails the second task
    out, code = run_runner("cat data.txt && mkdir claimed && pwd", tasks=2, workdir=str(workdir))
    assert code == 0, out
    first, copy0, second, copy1 = parse_log(out, nonce=NONCE).output.split()
    assert (first, second) == ("21", "21")
    copies = [copy0, copy1]
    assert copy0 != copy1
    assert all(f"portacloud-{JOB_ID}-" in c and not Path(c).exists() for c in copies), copies
    assert sorted(p.name for p in workdir.iterdir()) == ["data.txt"]  # Ray's copy untouched


def test_one_task_of_an_array_log_reads_alone() -> None:
    out, code = run_runner('echo "x $PORTACLOUD_TASK_INDEX"; printf "end"', tasks=3)
    assert code == 0, out
    assert parse_log(out, nonce=NONCE, task=1).output == "x 1\nend"
    merged = parse_log(out, nonce=NONCE, prefix_tasks=True).output
    assert "[task 1] x 1\n[task 1] end" in merged
