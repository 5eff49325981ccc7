"""Storage conformance tests."""
