"""Transports: each speaks one protocol and wraps its failures in `core.errors` types."""
