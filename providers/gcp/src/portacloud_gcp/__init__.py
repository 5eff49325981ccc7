"""Google Cloud Storage for portacloud (``gs://bucket/prefix``).

Nothing here imports the Google SDK: :mod:`portacloud_gcp.storage` imports it only when a
``gs://`` URL is opened.
"""
