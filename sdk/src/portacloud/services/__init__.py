"""Portable services: long-running HTTP replicas behind one endpoint."""
