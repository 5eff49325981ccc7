"""The GPUs of this machine, read from NVML or nvidia-smi."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess

__all__ = ["detect_gpus", "gpu_name_matches"]

log = logging.getLogger(__name__)


def detect_gpus() -> list[tuple[int, str]]:
    """Return ``(index, name)`` for each NVIDIA GPU, or an empty list when there are none."""
    try:
        import pynvml  # nvidia-ml-py, where installed

        pynvml.nvmlInit()
        try:
            found = []
            for i in range(pynvml.nvmlDeviceGetCount()):
                name = pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(i))
                found.append((i, name.decode() if isinstance(name, bytes) else str(name)))
            return found
        finally:
            pynvml.nvmlShutdown()
    except Exception as exc:  # noqa: BLE001 - no NVML library or no driver: try the next source
        log.debug("NVML unavailable (%s); trying nvidia-smi", exc)
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        done = subprocess.run(
            [smi, "--query-gpu=index,name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in done.stdout.splitlines():
        index, _, name = line.partition(",")
        if index.strip().isdigit():
            found.append((int(index), name.strip()))
    return found


def gpu_name_matches(requested: str, actual: str) -> bool:
    """Whether a device called ``actual`` satisfies a request for model ``requested``.

    ``A100`` matches ``NVIDIA A100-SXM4-80GB``; ``A100-80GB`` needs both tokens.
    """
    tokens = [t for t in re.split(r"[^A-Za-z0-9]+", requested.upper()) if t]
    have = set(re.split(r"[^A-Za-z0-9]+", actual.upper()))
    return bool(tokens) and all(t in have for t in tokens)
