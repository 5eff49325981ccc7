"""Starting, watching and stopping a service's router process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from portacloud.private_files import open_private
from portacloud.services.processes import process_token, stop_group, token_alive
from portacloud.services.router import ROUTER_FILE

__all__ = ["RouterProcess"]

_QUICK_DEATH = 5.0


class RouterProcess:
    """The router of one service, restarted on the same port if it dies.

    Args:
        state: The service's state directory.
        host: The address the router binds.
        token: The token of a router a previous controller started, if any.
    """

    def __init__(self, state: Path, *, host: str, token: str | None) -> None:
        self._state = state
        self._host = host
        self.token = token
        self._proc: subprocess.Popen[bytes] | None = None
        self._started = float("-inf")

    def _port(self) -> int:
        try:
            return int(json.loads((self._state / ROUTER_FILE).read_text())["port"])
        except (OSError, ValueError, KeyError):
            return 0

    def alive(self) -> bool:
        """Whether the router runs."""
        if self._proc is not None:
            return self._proc.poll() is None
        return self.token is not None and token_alive(self.token)

    def ensure(self) -> bool:
        """Start the router unless it runs; return whether it was (re)started."""
        if self.alive():
            return False
        # The endpoint keeps its URL across a restart, unless that port cannot be had: a
        # router that died within seconds of its start gets any free port instead.
        port = self._port() if time.monotonic() - self._started > _QUICK_DEATH else 0
        self._started = time.monotonic()
        (self._state / ROUTER_FILE).unlink(missing_ok=True)
        argv = [sys.executable, "-m", "portacloud.services.router", "--state", str(self._state)]
        argv += ["--host", self._host, "--port", str(port)]
        with open_private(self._state / "logs" / "router.log", "ab") as log:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.token = process_token(self._proc.pid)
        return True

    def stop(self, *, grace: float) -> None:
        """Stop the router (TERM, then KILL after ``grace``)."""
        if self.token is not None:
            stop_group(self.token, grace=grace, proc=self._proc)
        self._proc = None
