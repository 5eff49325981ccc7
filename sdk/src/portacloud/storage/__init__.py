"""Portable storage: the Bucket type, its driver Protocols and models."""
