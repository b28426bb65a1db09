"""The suppression list: addresses a send no longer delivers to (they bounced for good,
complained, or an admin put them there)."""
