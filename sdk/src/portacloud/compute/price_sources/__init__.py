"""Readers of the providers' public price sources, for ``portacloud catalog update``.

Each module turns one documented API's responses into :class:`PricePoint` values: the AWS
Price List bulk files (:mod:`.aws`), the Azure Retail Prices API (:mod:`.azure`) and the
GCP Cloud Billing Catalog API (:mod:`.gcp`). They never fetch: a :data:`Fetch` does.
"""
