"""Portable compute instances: the Compute type, its driver Protocol, models and the GPU catalog."""
