"""What became of messages, as events: one model for every consumer (stats, webhooks)."""
