"""A small, deterministic training job: the workload that moves between job backends unchanged.

It reads a CSV dataset from portable storage (``DATASET_URI``, a bucket URL, key
``train.csv``), fits a ridge regression with numpy, and writes ``model.json`` and
``metrics.json`` to the job's ``PORTACLOUD_OUTPUT_URI``. Run anywhere portacloud runs jobs:

    portacloud jobs submit train.yaml --on local://   # or ray://host:8265, slurm://partition

The same inputs give byte-identical artifacts on every backend of one machine image, which
``tests/integration/test_portability.py`` checks on local, Ray and Slurm.
"""

from __future__ import annotations

import csv
import io
import json
import os

import numpy as np

import portacloud

RIDGE = 1e-3


def load(uri: str) -> tuple[np.ndarray, np.ndarray]:
    """Read ``train.csv`` (features..., label) from the bucket at ``uri``."""
    text = portacloud.open_bucket(uri).get("train.csv").decode()
    rows = list(csv.reader(io.StringIO(text)))[1:]
    data = np.array([[float(v) for v in row] for row in rows], dtype=np.float64)
    return data[:, :-1], data[:, -1]


def fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Closed-form ridge regression with an intercept column."""
    design = np.hstack([x, np.ones((x.shape[0], 1))])
    gram = design.T @ design + RIDGE * np.eye(design.shape[1])
    return np.linalg.solve(gram, design.T @ y)


def main() -> None:
    """Fit the model and write its artifacts to the job's output URI."""
    x, y = load(os.environ["DATASET_URI"])
    weights = fit(x, y)
    predictions = np.hstack([x, np.ones((x.shape[0], 1))]) @ weights
    mse = float(np.mean((predictions - y) ** 2))
    out = portacloud.open_bucket(os.environ["PORTACLOUD_OUTPUT_URI"])
    # repr() of Python floats round-trips exactly, so equal models give equal bytes.
    model = {"weights": [repr(float(w)) for w in weights], "ridge": RIDGE}
    metrics = {"rows": int(x.shape[0]), "features": int(x.shape[1]), "mse": repr(mse)}
    out.put(
        "model.json", json.dumps(model, sort_keys=True).encode(), content_type="application/json"
    )
    out.put(
        "metrics.json",
        json.dumps(metrics, sort_keys=True).encode(),
        content_type="application/json",
    )
    print(f"trained on {metrics['rows']} rows: mse={mse:.6g}")


if __name__ == "__main__":
    main()
