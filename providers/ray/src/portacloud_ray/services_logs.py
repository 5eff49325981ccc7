"""Replica logs of Serve-run services, read through the dashboard's log API.

Each replica writes its command's output to ``portacloud/services/NAME/REPLICA.log`` under its
node's Ray log directory (:mod:`portacloud_ray.services_replica`); the dashboard lists and
serves the files of every node (``/api/v0/logs``), so logs reach a client off the cluster the
same way on one machine and on many. Logs of replicas Serve has replaced stay readable.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from portacloud.errors import UnavailableError
from portacloud_ray.services_replica import LOG_SUBDIR

__all__ = ["LogFile", "list_log_files", "read_log_file", "tagged"]

#: ``(method, endpoint) -> requests.Response``: the dashboard client's bounded request.
Request = Callable[[str, str], Any]


@dataclass(frozen=True)
class LogFile:
    """One replica's log on one node."""

    node_id: str
    filename: str

    @property
    def replica(self) -> str:
        """The replica id the file is named after."""
        return self.filename.rsplit("/", 1)[-1].removesuffix(".log")


def _json(request: Request, endpoint: str) -> Any:
    answer = request("GET", endpoint)
    if answer.status_code != 200:
        raise RuntimeError(f"Request failed with status code {answer.status_code}: {answer.text}")
    data = answer.json()
    if data.get("result") is False:
        raise UnavailableError(f"Ray's log API failed: {data.get('msg') or 'no details'}")
    return data["data"]["result"]


def list_log_files(request: Request, name: str, *, timeout: int) -> list[LogFile]:
    """Every replica log of service ``name`` on every alive node, oldest replica first."""
    nodes = _json(request, f"/api/v0/nodes?detail=1&limit=10000&timeout={timeout}")
    found = []
    for node in nodes.get("result", []):
        if node.get("state") != "ALIVE":
            continue
        query = urllib.parse.urlencode(
            {"node_id": node["node_id"], "glob": f"{LOG_SUBDIR}/{name}/*.log", "timeout": timeout}
        )
        listed = _json(request, f"/api/v0/logs?{query}")
        for files in listed.values():
            found += [LogFile(node["node_id"], f) for f in files]
    return found


def read_log_file(request: Request, log: LogFile, *, timeout: int) -> str:
    """The whole of one replica's log."""
    query = urllib.parse.urlencode(
        {
            "node_id": log.node_id,
            "filename": log.filename,
            "lines": -1,
            "timeout": timeout,
            "media_type": "file",
        }
    )
    answer = request("GET", f"/api/v0/logs/file?{query}")
    if answer.status_code == 404:
        return ""
    if answer.status_code != 200:
        raise RuntimeError(f"Request failed with status code {answer.status_code}: {answer.text}")
    return str(answer.content.decode("utf-8", errors="replace"))


def tagged(replica: str, text: str) -> str:
    """``text`` with every line prefixed ``[REPLICA] ``."""
    return "".join(f"[{replica}] {line}" for line in text.splitlines(keepends=True))
