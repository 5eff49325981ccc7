"""Job conformance tests."""
