"""Fenced code blocks of the repo's Markdown, and what their ``<!-- ci: ... -->`` markers ask.

A marker is an HTML comment on the line before a fence (blank lines between are allowed);
its directives are separated by ``;``:

- ``skip: REASON``: not run; the reason is required and printed by the test.
- ``needs NAME[, NAME...]``: the block talks to these servers of ``scripts/services.sh``
  (seaweedfs, moto, fake-gcs, azurite, ray, slurm, registry); the vendor SDKs are pointed at
  them, and ``registry`` sets ``TRAIN_IMAGE`` to the test Python image it holds.
- ``buckets URL [URL...]``: buckets (``s3://``, ``gs://``, ``az://``) to create on those
  servers first; a URL with a path also gets a few small objects under that path.
- ``group NAME``: blocks of one group run in order, in one directory.
- ``file NAME``: the block is not run but written to ``NAME`` (a script the next block runs).

``python`` blocks run with the repo's Python and are type-checked with ``mypy --strict``;
``bash``, ``sh`` and ``console`` blocks run with bash (``$ `` prompts stripped). Blocks in
other languages (toml, yaml, layouts) are not run unless a ``file`` marker names them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUN_LANGUAGES = {"python": "python", "py": "python", "bash": "bash", "sh": "bash"}
RUN_LANGUAGES["console"] = "bash"
SERVERS = {
    "seaweedfs": "PORTACLOUD_TEST_SEAWEEDFS_ENDPOINT",
    "moto": "PORTACLOUD_TEST_MOTO_ENDPOINT",
    "fake-gcs": "PORTACLOUD_TEST_GCS_ENDPOINT",
    "azurite": "PORTACLOUD_TEST_AZURITE_CONNECTION_STRING",
    "ray": "PORTACLOUD_TEST_RAY_ADDRESS",
    "slurm": "PORTACLOUD_TEST_SLURM_CONF",
    "registry": "PORTACLOUD_TEST_IMAGE_PYTHON",
}
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_MARKER = re.compile(r"^\s*<!--\s*ci:(?P<body>.*?)-->\s*$")


class MarkerError(ValueError):
    """A ``<!-- ci: ... -->`` marker the harness does not understand."""


@dataclass
class Block:
    """One fenced block and its marker.

    Attributes:
        path: The Markdown file, relative to the repo.
        line: The 1-based line of the opening fence.
        language: The info string's first word, lower-case ("" for none).
        code: The block's text.
        skip: The reason it is not run, if it is not.
        needs: Servers it talks to.
        buckets: Buckets to create before it runs.
        group: The group it runs in (its own id when it has none).
        file: Where to write it instead of running it.
    """

    path: str
    line: int
    language: str
    code: str
    skip: str | None = None
    needs: list[str] = field(default_factory=list)
    buckets: list[str] = field(default_factory=list)
    group: str = ""
    file: str | None = None

    @property
    def id(self) -> str:
        """``README.md:42``."""
        return f"{self.path}:{self.line}"

    @property
    def runner(self) -> str | None:
        """``python`` or ``bash`` for a block that is run, else ``None``."""
        if self.file is not None:
            return None
        return RUN_LANGUAGES.get(self.language)

    @property
    def script(self) -> str:
        """The code as it is run: ``console`` prompts stripped."""
        if self.language != "console":
            return self.code
        return "".join(
            line[2:] if line.startswith("$ ") else line
            for line in self.code.splitlines(keepends=True)
        )


def markdown_files() -> list[Path]:
    """README.md and every Markdown page under docs/."""
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def _apply(block: Block, body: str) -> None:
    for directive in filter(None, (d.strip() for d in body.split(";"))):
        word, _, rest = directive.partition(" ")
        if directive.startswith("skip"):
            reason = directive[len("skip") :].lstrip(": ").strip()
            if not reason:
                raise MarkerError(f"{block.id}: 'skip' needs a written reason")
            block.skip = reason
        elif word == "needs":
            block.needs += [n.strip() for n in rest.split(",") if n.strip()]
            unknown = set(block.needs) - set(SERVERS)
            if unknown:
                raise MarkerError(f"{block.id}: unknown servers {sorted(unknown)}")
        elif word == "buckets":
            block.buckets += rest.split()
        elif word == "group" and rest.strip():
            block.group = f"{block.path}#{rest.strip()}"
        elif word == "file" and rest.strip():
            block.file = rest.strip()
        else:
            raise MarkerError(f"{block.id}: unknown directive {directive!r}")


def parse(path: Path) -> list[Block]:
    """The fenced blocks of ``path`` with their markers applied."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    rel = path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else path.name
    blocks: list[Block] = []
    marker: str | None = None
    i = 0
    while i < len(lines):
        text = lines[i].rstrip("\n")
        opening = _FENCE.match(text)
        if opening is None:
            found = _MARKER.match(text)
            if found is not None:
                marker = found.group("body")
            elif text.strip():
                marker = None
            i += 1
            continue
        fence = opening.group("fence")
        end = i + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        info = opening.group("info").strip().split()
        block = Block(rel, i + 1, info[0].lower() if info else "", "".join(lines[i + 1 : end]))
        block.group = block.id
        if marker is not None:
            _apply(block, marker)
        blocks.append(block)
        marker = None
        i = end + 1
    return blocks


def all_blocks() -> list[Block]:
    """Every block of every page :func:`markdown_files` names."""
    return [b for path in markdown_files() for b in parse(path)]


def groups() -> dict[str, list[Block]]:
    """Blocks that are run or written, by group, in page order."""
    found: dict[str, list[Block]] = {}
    for block in all_blocks():
        if block.runner is not None or block.file is not None:
            found.setdefault(block.group, []).append(block)
    return found
