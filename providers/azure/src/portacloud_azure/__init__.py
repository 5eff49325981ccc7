"""portacloud provider for Azure Blob Storage (``az://container/prefix``)."""
