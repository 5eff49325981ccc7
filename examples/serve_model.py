"""Serve the model ``examples/train.py`` wrote: the service half of the demo's seed story.

Each replica loads ``model.json`` from portable storage (``MODEL_URI``, the training job's
``PORTACLOUD_OUTPUT_URI``) and answers on ``$PORT``:

- ``GET /healthz``: 200 once the model is loaded (the readiness probe);
- ``GET /predict?x=F0,F1,F2,F3``: ``{"prediction": ..., "replica": ...}``.

    portacloud serve deploy serve.yaml --on local://   # or ray://head:8265, slurm://partition
"""

from __future__ import annotations

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import portacloud

MODEL = json.loads(portacloud.open_bucket(os.environ["MODEL_URI"]).get("model.json"))
WEIGHTS = [float(w) for w in MODEL["weights"]]  # the features' weights, then the intercept


def predict(features: list[float]) -> float:
    """The ridge model's prediction for one row."""
    if len(features) != len(WEIGHTS) - 1:
        raise ValueError(f"expected {len(WEIGHTS) - 1} features, got {len(features)}")
    return sum(w * x for w, x in zip(WEIGHTS, features, strict=False)) + WEIGHTS[-1]


class Handler(BaseHTTPRequestHandler):
    """``/healthz`` and ``/predict``."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/healthz":
            self._send(200, {"ready": True})
            return
        if url.path != "/predict":
            self._send(404, {"error": f"no such path: {url.path}"})
            return
        try:
            raw = parse_qs(url.query).get("x", [""])[0]
            features = [float(v) for v in raw.split(",")]
            answer = {"prediction": predict(features)}
        except ValueError as exc:
            self._send(400, {"error": str(exc)})
            return
        self._send(200, answer | {"replica": os.environ.get("PORTACLOUD_REPLICA")})

    def _send(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass  # a line per request would drown the replica's log


if __name__ == "__main__":
    print(f"model loaded from {os.environ['MODEL_URI']}; serving on port {os.environ['PORT']}")
    ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
