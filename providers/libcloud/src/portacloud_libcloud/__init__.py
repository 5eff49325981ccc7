"""portacloud-libcloud: storage and compute through apache-libcloud (``libcloud+<driver>://``).

Nothing here imports libcloud: the registry loads :mod:`portacloud_libcloud.provider` when a
``libcloud+...`` URL is opened, and that imports libcloud on first use.
"""
