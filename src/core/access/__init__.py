"""Who may do what: API keys, roles, the send policy, rate limits, and the audit trail."""
