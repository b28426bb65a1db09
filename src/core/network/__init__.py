"""What every outbound connection shares (SMTP sessions, attachment fetches, token requests):
the destination guard, TLS client contexts, connecting to checked addresses."""
