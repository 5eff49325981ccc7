"""The ``portacloud`` command."""
