"""The replica every services conformance test deploys: a tiny HTTP server on ``$PORT``.

Run as ``python -m portacloud_conformance.services.app``. It answers:

- ``GET /``: JSON ``{"replica", "version", "pid", "gpus"}`` (who served the request);
- ``GET /healthz``: 200 when ready, 503 while ``$APP_READY_AFTER`` seconds have not passed
  since start, while the file ``$APP_UNREADY_FILE`` exists, or while a file named after this
  replica (``$PORTACLOUD_REPLICA``) exists in the directory ``$APP_UNREADY_DIR``;
- ``GET /crash``: the process exits with code 3 (a crashed replica).

``APP_VERSION`` names the version it reports; ``APP_FAIL_AT_START=1`` makes it print
``boom: cannot start`` and exit 1 before listening (a replica that crashes at start-up).
It binds ``$APP_HOST`` (default 127.0.0.1).
"""

from __future__ import annotations

import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_STARTED = time.monotonic()


def _ready() -> bool:
    if time.monotonic() - _STARTED < float(os.environ.get("APP_READY_AFTER", "0")):
        return False
    marker = os.environ.get("APP_UNREADY_FILE")
    if marker and os.path.exists(marker):
        return False
    folder, replica = os.environ.get("APP_UNREADY_DIR"), os.environ.get("PORTACLOUD_REPLICA")
    return not (folder and replica and os.path.exists(os.path.join(folder, replica)))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/crash":
            os._exit(3)
        if self.path == "/healthz":
            ok = _ready()
            self._send(200 if ok else 503, {"ready": ok})
            return
        self._send(
            200,
            {
                "replica": os.environ.get("PORTACLOUD_REPLICA"),
                "version": os.environ.get("APP_VERSION", "1"),
                "pid": os.getpid(),
                "gpus": os.environ.get("CUDA_VISIBLE_DEVICES"),
                "path": self.path,
            },
        )

    def _send(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per request would drown the replica's log


def main() -> None:
    """Serve until killed."""
    if os.environ.get("APP_FAIL_AT_START") == "1":
        print("boom: cannot start", flush=True)
        sys.exit(1)
    port = int(os.environ["PORT"])
    server = ThreadingHTTPServer((os.environ.get("APP_HOST", "127.0.0.1"), port), _Handler)
    server.daemon_threads = True
    print(f"serving on port {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
