"""Embedded providers: memory:// and file://."""
