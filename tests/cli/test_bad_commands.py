"""A corpus of bad commands: each must fail with one clear line and never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import portacloud

#: {store}: a file:// bucket holding 'k.txt' and 'dir/x'; {tmp}: a scratch directory;
#: {file}: an existing local file.
CORPUS: list[list[str]] = [
    ["cp", "{store}/k.txt", "/no/such/dir/x"],
    ["cp", "{store}/k.txt", "{file}/x"],
    ["cp", "{store}/k.txt", "/proc/version"],
    ["cp", "{store}/k.txt", "/dev/full"],
    ["cp", "{store}/missing", "{tmp}/out"],
    ["cp", "{tmp}/absent", "{store}/x"],
    ["cp", "{tmp}", "{store}/x"],
    ["cp", "{file}", "{tmp}/copy"],
    ["cp", "-", "-"],
    ["cp", "-", "{store}/"],
    ["cp", "{file}", "file://host/x"],
    ["cp", "{file}", "memory://b/x"],
    ["cp", "{file}", "nosuchscheme://b/x"],
    ["cp", "{file}", "s3://user:pw@b/x"],
    ["cp", "{file}", "{store}/a/../b"],
    ["cp", "{file}", "{store}/.portacloud/x"],
    ["cp", "{file}", "{store}/k.txt/below"],
    ["cp", "-r", "{file}", "{store}/tree/"],
    ["cp", "{store}/*.nomatch", "{tmp}/"],
    ["cost", "report", "--by", "colour"],
    ["cost", "report", "--since", "yesterday"],
    ["cost", "estimate", "{tmp}/absent.yaml", "--on", "local://"],
    ["cost", "estimate", "{file}", "--on", "nosuchscheme://x"],
    ["cat", "{store}/missing"],
    ["cat", "{store}"],
    ["cat", "file:///etc/passwd\x01"],
    ["stat", "{store}/missing"],
    ["stat", "not-a-url"],
    ["ls", "relative/path"],
    ["ls", "file://"],
    ["ls", "s3://"],
    ["rm", "{store}/missing"],
    ["rm", "{store}/dir"],
    ["mv", "{file}", "{store}/x"],
    ["mv", "{store}/missing", "{store}/y"],
    ["du", "memory://x"],
    ["erase", "file:///", "--yes", "--whole-bucket"],
    ["erase", "s3://bucket", "--yes"],
    ["erase", "{store}/dir/*.txt", "--yes"],
    ["erase", "{store}/dir/../k.txt", "--yes"],
    ["erase", "memory://b/user-42"],
    ["erase", "not-a-url"],
    ["erase", "--all-profiles", "s3://b/user-42", "--yes"],
    ["erase", "--all-profiles", "/", "--yes"],
    ["erase", "--all-profiles", "user-42", "--receipt", "{tmp}/r.jsonl"],
    ["erase", "{store}/no-such-dir/user-42", "--dry-run"],
    ["erase", "{store}/dir", "--receipt", "{tmp}/no/such/r.jsonl", "--yes"],
    ["erase", "{store}/dir", "--receipt", "{file}/r.jsonl", "--yes"],
    ["erase", "{store}/dir", "--receipt", "{tmp}", "--yes"],
    ["sync", "{tmp}/no-such-dir", "{store}/s"],
    ["sync", "{store}", "{store}"],
    ["migrate", "{store}", "{store}/sub"],
    ["migrate", "{store}", "{tmp}/other", "--journal", "/no/such/dir/j.db"],
    ["verify", "{store}"],
    ["jobs", "submit", "{tmp}/no-such-spec.yaml"],
    ["jobs", "status", "no-such-job"],
    ["compute", "get", "no-such-instance", "--on", "local://"],
    ["offers", "--gpus", "banana:2"],
    ["serve", "deploy", "{tmp}/no-such-spec.yaml", "--on", "local://cli-bad"],
    ["serve", "deploy", "{file}", "--on", "local://cli-bad"],
    ["serve", "status", "no-such-service", "--on", "local://cli-bad"],
    ["serve", "delete", "no-such-service", "--on", "local://cli-bad"],
    ["serve", "scale", "no-such-service", "2", "--on", "local://cli-bad"],
    ["serve", "logs", "no-such-service", "--on", "nosuchscheme://x"],
    ["serve", "deploy", "{file}", "--on", "memory://b"],
    ["--profile", "nope", "ls", "{store}"],
]


@pytest.fixture
def places(tmp_path: Path) -> dict[str, str]:
    a_file = tmp_path / "a-file.txt"
    a_file.write_bytes(b"x")
    store = (tmp_path / "store").as_uri()
    portacloud("cp", str(a_file), f"{store}/k.txt")
    portacloud("cp", str(a_file), f"{store}/dir/x")
    return {"store": store, "tmp": str(tmp_path), "file": str(a_file)}


@pytest.mark.parametrize("command", CORPUS, ids=[" ".join(c) for c in CORPUS])
def test_bad_command_is_one_line_without_traceback(
    command: list[str], places: dict[str, str]
) -> None:
    args = [part.format(**places) for part in command]
    done = portacloud(*args, check=False)
    err = done.stderr.decode(errors="replace")
    assert done.returncode != 0, f"exit 0 for a bad command; stderr: {err}"
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    # click's own usage errors print a usage line and a hint above their error line.
    assert lines, err
    assert lines[-1].lower().startswith("error"), err
    assert sum(line.lower().startswith("error") for line in lines) == 1, err
