"""Shared test helpers: API calls through the real handler, SMTP servers on loopback."""
