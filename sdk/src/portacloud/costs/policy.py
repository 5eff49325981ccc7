"""The cost policy of a profile of ``portacloud.toml``."""

from __future__ import annotations

from portacloud.costs.models import CostPolicy

__all__ = ["profile_policy"]


def profile_policy(name: str | None = None, *, missing_ok: bool = False) -> CostPolicy:
    """The rates and budget of profile ``name`` (default: the current one).

    Args:
        name: A profile name; default ``$PORTACLOUD_PROFILE``, else ``default``.
        missing_ok: A profile that no longer exists gets no rates and no budget instead of
            NOT_FOUND (the ledger may name profiles removed since).
    """
    from portacloud.errors import NotFoundError
    from portacloud.profiles import load_profile

    try:
        found = load_profile(name)
    except NotFoundError:
        if not missing_ok or name is None:
            raise
        return CostPolicy(profile=name)
    return found.cost_policy
