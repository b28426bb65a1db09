"""Composition: from a validated send request to the message's parts and header fields.

`compose` merges the layers (service, template, request) and fills in placeholders
(`rendering`, bounded by `placeholder_limits`); the caller's own header fields are checked by
`custom_headers` and `unsubscribe`, inline parts by `inline_parts`; `mime` builds the MIME
tree and `headers` writes the fields that carry the caller's text.
"""
