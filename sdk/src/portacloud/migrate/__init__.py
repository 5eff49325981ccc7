"""``portacloud.migrate``: move every object from one backend to another without losing a byte.

.. code-block:: python

    import portacloud

    result = portacloud.migrate("s3://old-bucket/data", "gs://new-bucket/data", concurrency=32)
    assert result.ok, result.failures
    print(result.receipt, result.receipt_sha256)

The phases are plan (list both sides, decide copy / overwrite / skip / delete per key), copy
(concurrent, streaming, conditional writes), verify (the CRC32C of every object's bytes), and
receipt. A SQLite journal makes a rerun continue where a killed run stopped.

This package is callable: ``portacloud.migrate(src, dst)`` works whether the name resolves to
the function or to this module (importing a submodule such as ``portacloud.migrate.models``
binds the module to that name first).
"""

from __future__ import annotations

import sys
import types
from typing import Any

from portacloud.migrate import models
from portacloud.migrate.engine import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_DELETE,
    default_journal_path,
    migrate,
    verify,
)
from portacloud.migrate.models import *  # noqa: F403 - re-exported: models.__all__

__all__ = [  # noqa: PLE0604 - the models' names are listed once, in their module
    "DEFAULT_CONCURRENCY",
    "DEFAULT_MAX_DELETE",
    "default_journal_path",
    "migrate",
    "verify",
    *models.__all__,
]


class _CallableModule(types.ModuleType):
    """This module, callable as :func:`migrate` (see the module docstring)."""

    def __call__(self, *args: Any, **kwargs: Any) -> models.MigrationResult:
        return migrate(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
