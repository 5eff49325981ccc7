"""Runs on the Ray cluster: one Ray Serve replica is one process of the service's command.

This module is the ``import_path`` of every portacloud Serve application
(``portacloud_ray.services_replica:build``) and travels with the application as
``runtime_env.py_modules``, so it may import only what a Ray Serve installation has: the
standard library, Ray, Starlette and aiohttp (never ``portacloud`` itself).

Each replica starts the command as a subprocess in a session of its own, on a free port given
in ``$PORT``, and waits in its constructor until the readiness probe passes: Serve sends a
replica traffic only once its constructor has returned, so readiness gates traffic and a
rolling update stops old replicas only after new ones serve. A command that exits before it is
ready makes the constructor raise with the command's last log lines, which Serve reports as
the application's DEPLOY_FAILED message after its constructor retries. ``check_health`` probes
the command again, so a crashed or unready command makes Serve replace the replica. The
subprocess's output goes to a file under the node's Ray log directory
(``portacloud/services/APP/REPLICA.log``), which the driver reads through Ray's log API.

A small reaper process, in a session of its own too, kills the command's process group when
the replica's worker dies without running its destructor (a replica Ray killed outright).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path
from typing import Any

__all__ = ["DEPLOYMENT", "LOG_SUBDIR", "ServiceReplica", "build"]

#: The name of the one deployment of every portacloud application.
DEPLOYMENT = "replica"

#: Where, under each node's Ray log directory, replica logs are written.
LOG_SUBDIR = "portacloud/services"
_TAIL_LINES = 20
_STOP_GRACE_S = 5.0
#: Headers that describe one hop of a connection, not the message (RFC 9110, 7.6.1), and
#: Host and Content-Length, which the HTTP client and Starlette set for their own hop. The
#: portacloud router has a like set; this module runs where portacloud is not installed.
_HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
_REAPER = """
import os, signal, sys, time
parent, group = int(sys.argv[1]), int(sys.argv[2])
def alive(check, target):
    try:
        check(target, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
while alive(os.kill, parent) and alive(os.killpg, group):
    time.sleep(1)
if alive(os.killpg, group):
    os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + float(sys.argv[3])
    while time.monotonic() < deadline and alive(os.killpg, group):
        time.sleep(0.2)
    if alive(os.killpg, group):
        os.killpg(group, signal.SIGKILL)
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _log_root() -> Path:
    """The node's Ray log directory (a temporary directory off Ray)."""
    try:
        from ray._private import worker

        node: Any = getattr(worker, "_global_node", None)
        if node is not None:
            return Path(node.get_logs_dir_path())
    except (ImportError, AttributeError):
        pass
    import tempfile

    return Path(tempfile.gettempdir()) / "portacloud-ray-logs"


def _tail(path: Path, lines: int = _TAIL_LINES) -> str:
    try:
        with path.open(errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines)).rstrip()
    except OSError:
        return ""


def _replica_id() -> str:
    from ray import serve

    return str(serve.get_replica_context().replica_id.unique_id)


class ServiceReplica:
    """One replica: the service's command as a subprocess, and an HTTP proxy in front of it.

    Args:
        config: What the driver put in the application's ``args``: ``service``, ``argv``,
            ``env``, ``readiness`` (path, initial_delay, period, timeout) and ``version``.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        self._service = str(config["service"])
        self._readiness = dict(config["readiness"])
        self._replica = _replica_id()
        self._port = _free_port()
        log_dir = _log_root() / LOG_SUBDIR / self._service
        log_dir.mkdir(parents=True, exist_ok=True)
        self._log_path = log_dir / f"{self._replica}.log"
        env = {
            **os.environ,
            **{str(k): str(v) for k, v in dict(config["env"]).items()},
            "PORT": str(self._port),
            "PORTACLOUD_REPLICA": self._replica,
            "PORTACLOUD_SERVICE": self._service,
        }
        with self._log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [str(a) for a in config["argv"]],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        subprocess.Popen(
            [sys.executable, "-c", _REAPER, str(os.getpid()), str(self._proc.pid), "5"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._base = f"http://127.0.0.1:{self._port}"
        self._session: Any = None
        try:
            self._wait_ready()
        except BaseException:
            self._stop()
            raise

    # -- the command -------------------------------------------------------------------------

    def _exited(self) -> str | None:
        code = self._proc.poll()
        if code is None:
            return None
        tail = _tail(self._log_path)
        return (
            f"the command of service {self._service!r} exited with code {code} "
            f"(replica {self._replica}); its last log lines:\n{tail or '(no output)'}"
        )

    def _probe(self) -> bool:
        url = self._base + str(self._readiness["path"])
        try:
            with urllib.request.urlopen(url, timeout=float(self._readiness["timeout"])) as r:  # noqa: S310
                return 200 <= int(r.status) < 400
        except urllib.error.HTTPError as exc:
            return 300 <= exc.code < 400
        except (OSError, ValueError):
            return False

    def _wait_ready(self) -> None:
        """Block until the probe passes; raise if the command exits first."""
        time.sleep(float(self._readiness["initial_delay"]))
        period = float(self._readiness["period"])
        while True:
            failure = self._exited()
            if failure is not None:
                raise RuntimeError(failure)
            if self._probe():
                return
            time.sleep(min(period, 0.5))

    def _stop(self) -> None:
        """TERM the command's process group, KILL it after a grace period."""
        proc = getattr(self, "_proc", None)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=_STOP_GRACE_S)
        except ProcessLookupError:
            pass

    # -- Serve's hooks -----------------------------------------------------------------------

    async def check_health(self) -> None:
        """Raise when the command exited or its readiness probe fails (Serve replaces it)."""
        failure = self._exited()
        if failure is not None:
            raise RuntimeError(failure)
        import aiohttp

        session = self._client()
        url = self._base + str(self._readiness["path"])
        timeout = aiohttp.ClientTimeout(total=float(self._readiness["timeout"]))
        try:
            async with session.get(url, timeout=timeout, allow_redirects=False) as r:
                if not 200 <= r.status < 400:
                    raise RuntimeError(f"readiness probe {url} answered HTTP {r.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RuntimeError(f"readiness probe {url} failed: {exc!r}") from None

    def _client(self) -> Any:
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0), auto_decompress=False
            )
        return self._session

    async def __call__(self, request: Any) -> Any:
        """Forward one request to the command and its answer back."""
        from starlette.responses import Response

        scope = request.scope
        path = str(scope.get("path") or "/")
        root = str(scope.get("root_path") or "")
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        query = scope.get("query_string", b"").decode("latin-1")
        url = self._base + path + (f"?{query}" if query else "")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        body = await request.body()
        async with self._client().request(
            request.method, url, headers=headers, data=body or None, allow_redirects=False
        ) as answer:
            content = await answer.read()
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_HEADERS}
            return Response(content=content, status_code=answer.status, headers=kept)

    def __del__(self) -> None:
        self._stop()


def build(args: dict[str, Any]) -> Any:
    """The application builder Serve calls with the application's ``args``."""
    from ray import serve

    deployment: Any = serve.deployment(name=DEPLOYMENT)(ServiceReplica)
    return deployment.bind(args)
