"""The process behind a ``local://`` instance: ``python -m portacloud.compute.sandbox DIR``.

It does nothing but exist: its process group is the instance. SIGSTOP/SIGCONT on the group
stop and start it; SIGTERM ends it. Programs a pipeline starts "on" the instance run in its
working directory and group.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from portacloud.private_files import open_private


def main(argv: list[str]) -> None:
    """Write a ready marker into the sandbox directory, then sleep until terminated."""
    directory = Path(argv[0])
    with open_private(directory / "ready", "wb") as marker:
        marker.write(b"ok\n")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        signal.pause()


if __name__ == "__main__":
    main(sys.argv[1:])
