"""``portacloud compute`` end to end on local:// sandboxes, leak hunting across profiles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import portacloud
from portacloud import InstanceState
from portacloud.compute.driver import LaunchRequest
from portacloud.compute.leaks import list_profiles, scan_profiles
from portacloud.errors import InvalidArgumentError
from portacloud.providers.local_compute import LocalComputeDriver

# Runs the real `portacloud` entry point; registers the group if main.py does not yet.
_RUNNER = (
    "import sys\n"
    "from portacloud.cli.main import cli, main\n"
    "from portacloud.cli.compute_commands import compute\n"
    "if 'compute' not in cli.commands:\n"
    "    cli.add_command(compute)\n"
    "sys.argv[0] = 'portacloud'\n"
    "main()\n"
)


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    # rich draws tables COLUMNS wide when not on a terminal: wide enough for whole cells
    env = {**os.environ, "COLUMNS": "300"}
    return subprocess.run(
        [sys.executable, "-c", _RUNNER, "compute", *args],
        capture_output=True,
        text=True,
        check=check,
        env=env,
    )


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def created() -> Iterator[list[tuple[str, str]]]:
    """(url, id) of every instance a test made; terminated afterwards, whatever happened."""
    made: list[tuple[str, str]] = []
    yield made
    for url, instance_id in made:
        with portacloud.open_compute(url) as handle:
            handle.terminate(instance_id)


def test_create_ls_stop_start_terminate(created: list[tuple[str, str]]) -> None:
    url = f"local://cli-{uuid.uuid4().hex[:8]}"
    done = run("create", "web", "--on", url, "--instance-type", "local", "--tag", "team=ml")
    instance_id = done.stdout.strip()
    created.append((url, instance_id))
    assert instance_id.startswith("i-")
    assert "web:" in done.stderr

    listed = json_lines(run("ls", "--on", url, "--managed", "--json").stdout)
    assert [i["id"] for i in listed] == [instance_id]
    assert listed[0]["name"] == "web"
    assert listed[0]["tags"]["team"] == "ml"
    assert listed[0]["tags"]["portacloud:managed"] == "true"
    table = run("ls", "--on", url).stdout
    assert "web" in table
    assert "id" in table

    assert run("wait", instance_id, "running", "--on", url, "--timeout", "30").stdout.split() == [
        instance_id,
        "RUNNING",
    ]
    assert run("stop", instance_id, "--on", url).stdout.split() == [instance_id, "STOPPED"]
    with portacloud.open_compute(url) as handle:
        assert handle.get(instance_id).state is InstanceState.STOPPED
    assert run("start", instance_id, "--on", url).stdout.split()[1] in ("PENDING", "RUNNING")
    run("wait", instance_id, "RUNNING", "--on", url, "--timeout", "30")
    assert run("terminate", instance_id, "--on", url).stdout.split() == [instance_id, "TERMINATED"]
    assert run("terminate", instance_id, "--on", url).stdout.split() == [instance_id, "TERMINATED"]
    with portacloud.open_compute(url) as handle:
        assert handle.get(instance_id).state is InstanceState.TERMINATED


def test_create_by_resources(created: list[tuple[str, str]]) -> None:
    pytest.importorskip("portacloud.compute.catalog", reason="the GPU catalog has not landed")
    url = f"local://cli-{uuid.uuid4().hex[:8]}"
    with portacloud.open_compute(url) as handle:
        cheapest = handle.offers(portacloud.Resources(cpus=1, memory_gb=1))[0]
    done = run("create", "sized", "--on", url, "--cpus", "1", "--memory", "1")
    instance_id = done.stdout.strip()
    created.append((url, instance_id))
    with portacloud.open_compute(url) as handle:
        assert handle.get(instance_id).instance_type == cheapest.instance_type


@pytest.fixture
def two_profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "portacloud.toml"
    config.write_text(
        '[profiles.a]\ncompute = "local://a"\n\n'
        '[profiles.b]\ncompute = "local://b"\n\n'
        '[profiles.storage-only]\nstorage = "memory://x"\n'
    )
    monkeypatch.setenv("PORTACLOUD_CONFIG", str(config))
    return config


def test_leak_hunting_walks_every_profile(
    two_profiles: Path, created: list[tuple[str, str]]
) -> None:
    in_a = run("create", "left-in-a", "--on", "local://a", "--instance-type", "local")
    in_b = run("create", "left-in-b", "--on", "local://b", "--instance-type", "local")
    a_id, b_id = in_a.stdout.strip(), in_b.stdout.strip()
    created.extend([("local://a", a_id), ("local://b", b_id)])
    # made behind portacloud's back: no managed tags, so not a portacloud leak
    unmanaged = LocalComputeDriver("a").create(
        LaunchRequest(name="hand-made", instance_type="local", image="ubuntu-22.04")
    )
    created.append(("local://a", unmanaged.id))

    done = run("ls", "--managed", "--all-profiles", "--json")
    found = {i["id"]: i for i in json_lines(done.stdout)}
    assert set(found) == {a_id, b_id}
    assert found[a_id]["profiles"] == ["a"]
    assert found[a_id]["target"] == "local://a"
    assert found[b_id]["profiles"] == ["b"]
    assert found[b_id]["name"] == "left-in-b"
    # A profile that names no compute target has the embedded default's, local://, which
    # is hunted like any other (there is no leak there in this test).
    assert portacloud.load_profile("storage-only").compute == "local://"
    assert "storage-only" not in done.stderr

    everything = {i["id"] for i in json_lines(run("ls", "--all-profiles", "--json").stdout)}
    assert everything == {a_id, b_id, unmanaged.id}

    table = run("ls", "--managed", "--all-profiles").stdout
    assert "left-in-a" in table
    assert "left-in-b" in table
    assert "hand-made" not in table


def test_leak_hunting_goes_on_past_a_broken_profile(
    two_profiles: Path, created: list[tuple[str, str]]
) -> None:
    with two_profiles.open("a") as f:
        f.write('\n[profiles.broken]\ncompute = "nosuchcloud://x"\n')
    in_b = run("create", "survivor", "--on", "local://b", "--instance-type", "local")
    created.append(("local://b", in_b.stdout.strip()))
    done = run("ls", "--managed", "--all-profiles", "--json", check=False)
    assert done.returncode == 1
    assert [i["id"] for i in json_lines(done.stdout)] == [in_b.stdout.strip()]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "broken" in errors[0]
    assert "nosuchcloud" in errors[0]


def test_list_profiles_reads_the_same_file_as_load_profile(two_profiles: Path) -> None:
    assert list_profiles() == ["default", "a", "b", "storage-only"]
    scans, without = scan_profiles(["a", "b", "storage-only"])
    # storage-only names no compute target, so it has the embedded default's
    assert [(s.url, s.profiles) for s in scans] == [
        ("local://a", ("a",)),
        ("local://b", ("b",)),
        ("local://", ("storage-only",)),
    ]
    assert without == []
    two_profiles.write_text("[profiles.default]\ncompute = 'local://d'\n[profiles.z]\n")
    assert list_profiles() == ["default", "z"]
    two_profiles.write_text("not = [valid")
    with pytest.raises(InvalidArgumentError):
        list_profiles()


def test_list_profiles_without_a_config_file_is_the_default_one() -> None:
    # tests/conftest.py points PORTACLOUD_CONFIG at a file that does not exist
    assert list_profiles() == ["default"]


def test_profiles_sharing_a_target_are_scanned_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "portacloud.toml"
    config.write_text(
        '[profiles.x]\ncompute = "local://same"\n[profiles.y]\ncompute = "local://same"\n'
    )
    monkeypatch.setenv("PORTACLOUD_CONFIG", str(config))
    scans, _ = scan_profiles(["x", "y"])
    assert [(s.url, s.profiles) for s in scans] == [("local://same", ("x", "y"))]


@pytest.mark.parametrize(
    ("args", "code", "start"),
    [
        (("stop", "i-0000000000000000f", "--on", "local://cli"), 1, "error: [NOT_FOUND]"),
        (("terminate", "i-0000000000000000f", "--on", "local://cli"), 1, "error: [NOT_FOUND]"),
        (("create", "x", "--on", "local://cli"), 1, "error: [INVALID_ARGUMENT]"),
        (
            ("create", "no spaces", "--on", "local://cli", "--instance-type", "local"),
            1,
            "error: [INVALID_ARGUMENT]",
        ),
        (
            ("create", "x", "--on", "local://cli", "--instance-type", "local", "--spot"),
            1,
            "error: [UNSUPPORTED]",
        ),
        (("wait", "i-0000000000000000f", "SLEEPING", "--on", "local://cli"), 1, "error: "),
        (("create", "x", "--on", "nosuchcloud://x", "--instance-type", "t"), 1, "error: "),
    ],
)
def test_errors_are_one_line(args: tuple[str, ...], code: int, start: str) -> None:
    done = run(*args, check=False)
    assert done.returncode == code
    assert done.stderr.startswith(start)
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("create", "x", "--on", "local://cli", "--instance-type", "local", "--tag", "novalue"),
        ("create", "x", "--instance-type", "local"),
        ("ls", "--all-profiles", "--on", "local://cli"),
    ],
)
def test_usage_errors_exit_2_and_create_nothing(args: tuple[str, ...]) -> None:
    done = run(*args, check=False)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert json_lines(run("ls", "--on", "local://cli", "--json").stdout) == []


def _piped(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a script sees it: stdout a pipe, COLUMNS unset or narrow."""
    env = {**os.environ, "COLUMNS": "80"}
    return subprocess.run(
        [sys.executable, "-m", "portacloud.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


@pytest.mark.parametrize("timeout", ["-1", "0", "nan"])
def test_wait_refuses_a_nonsense_timeout(timeout: str) -> None:
    done = _piped("compute", "wait", "i-0123456789abcdef0", "running", "--on", "local://t")
    assert done.returncode == 1  # the default timeout is fine; the id is not
    done = _piped(
        "compute", "wait", "i-0123456789abcdef0", "running", "--on", "local://t",
        f"--timeout={timeout}",
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith("error: [INVALID_ARGUMENT]")
    assert "timeout" in done.stderr
    assert len(done.stderr.splitlines()) == 1


def test_create_refuses_an_unknown_gpu_with_a_hint() -> None:
    done = _piped("compute", "create", "g", "--on", "local://t", "--gpus", "A100x8")
    assert done.returncode == 1
    assert done.stderr.startswith("error: [INVALID_ARGUMENT] unknown GPU 'A100x8'")
    assert "did you mean A100:8" in done.stderr


def test_ls_table_prints_whole_values_when_piped(created: list[tuple[str, str]]) -> None:
    url = f"local://piped-{uuid.uuid4().hex[:8]}"
    name = "a-name-long-enough-to-push-the-table-past-eighty-columns"
    done = _piped("compute", "create", name, "--on", url, "--instance-type", "local")
    assert done.returncode == 0, done.stderr
    instance_id = done.stdout.strip()
    created.append((url, instance_id))
    table = _piped("compute", "ls", "--on", url).stdout
    assert instance_id in table
    assert name in table
    assert "\u2026" not in table


def test_offers_table_prints_whole_instance_types_when_piped() -> None:
    done = _piped("offers", "--cloud", "gcp", "--limit", "5")
    assert done.returncode == 0, done.stderr
    assert "\u2026" not in done.stdout
    assert "e2-highcpu-2" in done.stdout
