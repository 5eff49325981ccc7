"""Ray Jobs backend for portacloud: ``ray://host:dashboard_port`` job queues.

Importing this package does not import Ray; the Ray client is loaded when a queue is opened.
"""
