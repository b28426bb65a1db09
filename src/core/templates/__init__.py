"""Stored email templates: DreamFactory's `/api/v2/system/email_template`."""
