"""Where portacloud keeps local state on this machine."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["HOME_ENV", "portacloud_home"]

HOME_ENV = "PORTACLOUD_HOME"


def portacloud_home() -> Path:
    """Where portacloud keeps local state: ``$PORTACLOUD_HOME`` or the user data dir.

    The path is absolute: it is handed to processes that run in other directories (job
    supervisors, instance sandboxes) and turned into ``file://`` URLs, which cannot be relative.
    """
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser().absolute()
    from platformdirs import user_data_dir

    return Path(user_data_dir("portacloud"))
