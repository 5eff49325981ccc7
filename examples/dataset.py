"""Write the deterministic dataset ``examples/train.py`` learns from."""

from __future__ import annotations

import random

import portacloud


def write_dataset(bucket: portacloud.Bucket, *, rows: int = 2_000, seed: int = 7) -> None:
    """Put ``train.csv`` (4 features and a noisy linear label) into ``bucket``."""
    rng = random.Random(seed)
    true_weights = [0.5, -1.25, 2.0, 0.75]
    lines = ["f0,f1,f2,f3,label"]
    for _ in range(rows):
        features = [rng.uniform(-1, 1) for _ in true_weights]
        label = sum(w * f for w, f in zip(true_weights, features, strict=True)) + 0.3
        label += rng.gauss(0, 0.05)
        lines.append(",".join(repr(v) for v in [*features, label]))
    bucket.put("train.csv", ("\n".join(lines) + "\n").encode(), content_type="text/csv")
