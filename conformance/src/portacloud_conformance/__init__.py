"""portacloud conformance suite."""
