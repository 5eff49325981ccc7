"""Every code block of README.md and docs/ runs as written (see doc_blocks for the markers).

Each group of blocks runs in a fresh directory with its own ``PORTACLOUD_HOME``, home and
config dirs, so a block can neither read nor change the state of whoever runs the tests.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from doc_blocks import REPO, Block, all_blocks, groups, markdown_files, parse
from doc_servers import block_env, create_buckets, end_sandboxes

_TIMEOUT = 540
_GROUPS = groups()


def _run(block: Block, work: Path, scripts: Path, env: dict[str, str]) -> None:
    if block.file is not None:
        (work / block.file).write_text(block.code)
        return
    script = scripts / f"block-{block.line}.{'py' if block.runner == 'python' else 'sh'}"
    script.write_text(block.script)
    # -e: a failing command fails the block, even when a later one succeeds
    argv = (
        [sys.executable, str(script)] if block.runner == "python" else ["bash", "-e", str(script)]
    )
    done = subprocess.run(
        [*argv, str(script)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(
            f"{block.id} exited {done.returncode}\n--- block\n{block.code}"
            f"--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}",
            pytrace=False,
        )


@pytest.mark.parametrize("group", list(_GROUPS), ids=list(_GROUPS))
def test_block_runs_as_written(group: str, tmp_path: Path) -> None:
    blocks = _GROUPS[group]
    skipped = [b for b in blocks if b.skip]
    if skipped:
        reason = "; ".join(f"{b.id}: {b.skip}" for b in skipped)
        print(f"skipped by its marker: {reason}")
        pytest.skip(reason)
    work, scripts = tmp_path / "work", tmp_path / "blocks"
    work.mkdir()
    scripts.mkdir()
    env = block_env(tmp_path, sorted({n for b in blocks for n in b.needs}))
    try:
        for block in blocks:
            create_buckets(block, env)
            _run(block, work, scripts, env)
    finally:
        end_sandboxes(Path(env["PORTACLOUD_HOME"]))


def test_python_blocks_pass_mypy_strict(tmp_path: Path) -> None:
    """Typed examples type-check: a user's mypy must accept what the README shows."""
    files = []
    for block in all_blocks():
        if block.skip is None and block.language in ("python", "py"):
            stem = Path(block.path).stem.replace("-", "_").lower()
            path = tmp_path / f"{stem}_{block.line}.py"
            path.write_text(block.code)
            files.append(str(path))
    assert files, "no python blocks found"
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"), *files],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_page_is_covered() -> None:
    """The harness sees README.md and docs/, and the README's examples are run, not skipped."""
    assert {p.name for p in markdown_files()} >= {"README.md", "writing-a-provider.md"}
    readme = parse(REPO / "README.md")
    run = [b for b in readme if b.runner is not None and not b.skip]
    assert {b.language for b in run} >= {"python", "bash"}
    assert len(run) >= 6


def test_markers_are_honoured(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- ci: skip: needs a GPU -->\n```bash\nexit 1\n```\n"
        "<!-- ci: group g; file x.py -->\n\n```python\nprint(1)\n```\n"
        "<!-- ci: group g; needs seaweedfs; buckets s3://b/p -->\n```console\n$ ls\n```\n"
        "```toml\n[a]\n```\n"
    )
    skip, written, console, toml = parse(page)
    assert (skip.skip, skip.runner) == ("needs a GPU", "bash")
    assert (written.file, written.runner, written.group) == ("x.py", None, console.group)
    assert (console.needs, console.buckets, console.script) == (["seaweedfs"], ["s3://b/p"], "ls\n")
    assert toml.runner is None


def test_a_skip_without_a_reason_is_refused(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("<!-- ci: skip -->\n```bash\ntrue\n```\n")
    with pytest.raises(ValueError, match="reason"):
        parse(page)
