"""Split a Ray job log into the user's output and the runner's markers.

A job log holds Ray's preamble (``Runtime env is setting up.``), the line where Ray names the
entrypoint it runs, then everything the runner wrote: the user's output, unchanged, between
marker lines (see :mod:`portacloud_ray.runner`). :func:`parse_log` gives the user's output
back without the rest, and the markers as events.

The user's text comes in two parts so that a follower can print it as it grows: ``text`` only
ever grows as the log grows (a partial last line and the newline that ends the last complete
line are held back, because a marker may still say that newline was the runner's), and ``tail``
is what a finished log adds to it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from portacloud_ray.runner import MARKER_PREFIX

__all__ = ["ParsedLog", "parse_log"]


@dataclass(frozen=True)
class ParsedLog:
    """A job log taken apart.

    Attributes:
        began: Whether the runner wrote its first marker (it started).
        text: The user's output so far, stable as the log grows.
        tail: What completes ``text`` once the log is final.
        preamble: Everything before the runner's first marker (Ray's own lines, or the whole
            log when the runner never started).
        events: The runner's markers, in order.
    """

    began: bool
    text: str
    tail: str
    preamble: str
    events: tuple[dict[str, Any], ...] = field(default=())

    @property
    def output(self) -> str:
        """The user's complete output, for a log that will not grow any more."""
        return self.text + self.tail if self.began else self.preamble


def _event(line: str, tag: str) -> dict[str, Any] | None:
    if not line.startswith(tag):
        return None
    try:
        event = json.loads(line[len(tag) :])
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


class _Builder:
    """Collects the user's lines: each line's newline is held back until the next line."""

    def __init__(self, *, prefix_tasks: bool, only: int | None = None) -> None:
        self.prefix_tasks = prefix_tasks and only is None
        self.only = only
        self.task: int | None = None
        self.newline_held = False
        self.parts: list[str] = []

    def line(self, text: str, *, terminated: bool = True) -> None:
        if self.only is not None and self.task != self.only:
            return
        if self.newline_held:
            self.parts.append("\n")
        if self.prefix_tasks and self.task is not None:
            self.parts.append(f"[task {self.task}] ")
        self.parts.append(text)
        self.newline_held = terminated

    def marker(self, event: dict[str, Any]) -> None:
        mine = self.only is None or self.task == self.only
        if event.get("nl") and not self.prefix_tasks and mine:
            # The runner ended the user's unterminated line to write this marker.
            self.newline_held = False
        if event.get("event") == "start" and isinstance(event.get("task"), int):
            self.task = event["task"]

    def take(self) -> str:
        text = "".join(self.parts)
        self.parts = []
        return text


def parse_log(
    raw: str,
    *,
    nonce: str,
    prefix_tasks: bool = False,
    drop: Iterable[str] = (),
    task: int | None = None,
) -> ParsedLog:
    """Take a Ray job log apart.

    Args:
        raw: The log as ``get_job_logs`` returns it.
        nonce: The job's marker nonce (from its metadata).
        prefix_tasks: Prefix each line of output with ``[task N] `` (array jobs).
        drop: Exact lines (without newline) Ray writes into the log that are not the user's;
            each is removed once, wherever it landed, even in the middle of a user's line.
        task: Keep only this task's output (unprefixed); the events are all kept.

    Returns:
        The user's output and the runner's events.
    """
    for line in drop:
        raw = raw.replace(line + "\n", "", 1)
    tag = f"{MARKER_PREFIX}{nonce}] "
    *lines, partial = raw.split("\n")
    preamble: list[str] = []
    events: list[dict[str, Any]] = []
    out = _Builder(prefix_tasks=prefix_tasks, only=task)
    for line in lines:
        event = _event(line, tag)
        if event is not None:
            out.marker(event)
            events.append(event)
        elif events:
            out.line(line)
        else:
            preamble.append(line + "\n")
    if not events:
        return ParsedLog(
            began=False, text="", tail="", preamble="".join(preamble) + partial, events=()
        )
    text = out.take()
    if partial and not partial.startswith(tag):
        out.line(partial, terminated=False)
    elif out.newline_held:
        out.parts.append("\n")
    return ParsedLog(
        began=True,
        text=text,
        tail=out.take(),
        preamble="".join(preamble),
        events=tuple(events),
    )
