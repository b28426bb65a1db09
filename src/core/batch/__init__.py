"""Batch sends: many messages in one request, each with its own answer (`POST .../batch`)."""
