"""Where a storage account lives, asked from Azure Resource Manager.

The Blob API does not say which region an account is in; the management API does, given the
subscription that holds the account (the ``subscription_id`` option). Credentials come from
``DefaultAzureCredential``, as for Entra ID access to blobs. ``azure-mgmt-storage`` is imported
only when a region is asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from portacloud.errors import NotFoundError

__all__ = ["AccountLocator"]


def _management_client(subscription_id: str) -> Any:
    identity = importlib.import_module("azure.identity")
    management = importlib.import_module("azure.mgmt.storage")
    credential = identity.DefaultAzureCredential()
    return management.StorageManagementClient(credential, subscription_id)


class AccountLocator:
    """Asks the management API for the location of one storage account."""

    def __init__(
        self,
        *,
        subscription_id: str,
        account: str,
        client_factory: Callable[[str], Any] | None = None,
    ) -> None:
        """Look ``account`` up in ``subscription_id``.

        Args:
            subscription_id: The subscription that holds the account.
            account: The storage account's name.
            client_factory: Builds a ``StorageManagementClient`` for a subscription
                (default: one with ``DefaultAzureCredential``).
        """
        self._subscription_id = subscription_id
        self._account = account
        self._factory = client_factory

    def __call__(self) -> str:
        """The account's location (``westeurope``), lower-case.

        Raises:
            NotFoundError: The subscription holds no account of that name.
        """
        client = (self._factory or _management_client)(self._subscription_id)
        try:
            for found in client.storage_accounts.list():
                if found.name == self._account:
                    return str(found.location).lower()
        finally:
            client.close()
        raise NotFoundError(
            f"storage account {self._account!r} is not in subscription "
            f"{self._subscription_id}, so its region cannot be asked for"
        )
