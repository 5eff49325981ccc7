"""Slurm job backend for portacloud: ``slurm://partition`` URLs.

Importing this package runs nothing: the Slurm client commands are only called once a queue
is opened (``portacloud.open_jobs("slurm://debug")``).
"""
