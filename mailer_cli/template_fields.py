"""DreamFactory's email template record, the fields the CLI names one by one: `mailer
templates` sets each from the option of the same name, and `mailer import` tells a template
record by them. One list, so that the two cannot drift apart."""

# Text fields, as DreamFactory's record spells them (the options: --subject, --body-text, ...).
TEXT_FIELDS = (
    "description",
    "subject",
    "body_text",
    "body_html",
    "from_name",
    "from_email",
    "reply_to_name",
    "reply_to_email",
)
RECIPIENT_FIELDS = ("to", "cc", "bcc")
