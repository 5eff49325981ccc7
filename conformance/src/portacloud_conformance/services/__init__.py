"""The services conformance suite (``--portacloud-services URL``)."""
