"""Reliable delivery: message records, the queue, retries by class, scheduling."""
