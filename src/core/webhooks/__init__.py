"""Webhooks: endpoints told of message events, each call signed, delivered through a queue."""
