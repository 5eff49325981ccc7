"""Kept for providers built before the kit: the checks now live in :mod:`portacloud.providerkit`."""

from __future__ import annotations

from portacloud.providerkit.options import reject_unknown_options

__all__ = ["reject_unknown_options"]
