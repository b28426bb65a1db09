"""The local stack's mail viewer at `/_local/mail` on the API port: the captured mail folder
(`local_stack.mail_capture`, SMTP and SES mail alike) as a web page and a small JSON API.

- `mailbox`: the folder's messages, by id (the file stem), newest first; delete and clear;
- `message_view`: one message taken apart for the page (headers, text, HTML, envelope, Bcc,
  attachments), everything from the mail treated as attacker data;
- `viewer_guard`: who may ask (a loopback Host, no other site's page, and for a DELETE a
  header only this page sends);
- `routes`: the URLs, each answered as bytes and headers, so tests need no server;
- `static/`: one HTML page, its script and its style, served from here: no build, no CDN.
"""

from local_stack.mail_viewer.routes import VIEWER_PATH, MailViewer, is_viewer_path

__all__ = ["VIEWER_PATH", "MailViewer", "is_viewer_path"]
