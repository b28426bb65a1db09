"""Email service definitions: the model, their DynamoDB repository, the MAIL_* fallback."""
