"""Attachments: one given in the send body, decoded and checked (`model`); DreamFactory's
attachments by reference, what `attachment` and `import_url` name (`references`), and
fetching the files they point at, safely (`fetch`)."""
