"""Compute conformance tests."""
