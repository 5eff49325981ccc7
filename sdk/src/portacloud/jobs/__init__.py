"""Portable GPU and batch jobs: the JobQueue type, its driver Protocol and models."""
