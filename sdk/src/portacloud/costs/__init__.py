"""What things cost: prices, the local ledger of what ran, budgets and their enforcement.

Every price portacloud shows comes from :mod:`portacloud.costs.pricing` (instances, jobs) or
:mod:`portacloud.costs.storage` (storage requests and egress, for ``migrate --dry-run``).
See docs/costs.md for how the numbers are estimated and where they can be wrong.
"""
