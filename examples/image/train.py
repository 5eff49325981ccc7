"""The portability workload of the image form: standard library only, baked into an image.

``scripts/build_test_images.sh`` copies this file to ``/app/train.py`` in the test Python image,
so the job carries its whole environment: the same image gives the same bytes on every backend.
It draws a seeded synthetic dataset, fits a ridge regression by solving the normal equations,
and writes ``model.json`` and ``metrics.json`` to the directory of the job's
``PORTACLOUD_OUTPUT_URI`` (a ``file://`` URL: the container has no portacloud, and the job
backends bind-mount that directory into it).
"""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROWS, FEATURES, SEED, RIDGE = 2000, 4, 14, 1e-3


def dataset() -> tuple[list[list[float]], list[float]]:
    """Rows of features (with an intercept column) and noisy labels from a fixed seed."""
    rng = random.Random(SEED)
    true = [rng.uniform(-2, 2) for _ in range(FEATURES)]
    xs, ys = [], []
    for _ in range(ROWS):
        row = [rng.gauss(0, 1) for _ in range(FEATURES)]
        xs.append([*row, 1.0])
        ys.append(sum(w * v for w, v in zip(true, row, strict=True)) + 0.5 + rng.gauss(0, 0.1))
    return xs, ys


def solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (a is small and well conditioned)."""
    n = len(b)
    m = [[*row, rhs] for row, rhs in zip(a, b, strict=True)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(col + 1, n):
            f = m[r][col] / m[col][col]
            m[r] = [x - f * y for x, y in zip(m[r], m[col], strict=True)]
    out = [0.0] * n
    for r in reversed(range(n)):
        out[r] = (m[r][n] - sum(m[r][c] * out[c] for c in range(r + 1, n))) / m[r][r]
    return out


def main() -> None:
    """Fit the model and write its artifacts beside the job's output URI."""
    uri = urlsplit(os.environ["PORTACLOUD_OUTPUT_URI"])
    if uri.scheme != "file":
        sys.exit(f"this image writes to file:// outputs only, not {uri.scheme}://")
    out = Path(unquote(uri.path))
    out.mkdir(parents=True, exist_ok=True)
    xs, ys = dataset()
    k = FEATURES + 1
    gram = [
        [sum(x[i] * x[j] for x in xs) + (RIDGE if i == j else 0.0) for j in range(k)]
        for i in range(k)
    ]
    rhs = [sum(x[i] * y for x, y in zip(xs, ys, strict=True)) for i in range(k)]
    weights = solve(gram, rhs)
    mse = (
        sum(
            (sum(w * v for w, v in zip(weights, x, strict=True)) - y) ** 2
            for x, y in zip(xs, ys, strict=True)
        )
        / ROWS
    )
    # repr() of floats round-trips exactly, so equal models give equal bytes.
    model = {"weights": [repr(w) for w in weights], "ridge": RIDGE}
    metrics = {"rows": ROWS, "features": FEATURES, "mse": repr(mse)}
    (out / "model.json").write_text(json.dumps(model, sort_keys=True))
    (out / "metrics.json").write_text(json.dumps(metrics, sort_keys=True))
    print(f"trained on {ROWS} rows: mse={mse:.6g}")


if __name__ == "__main__":
    main()
