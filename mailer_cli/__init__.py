"""`mailer`: the operator's command line for the email API (keys, roles, services, a test send).

Not Lambda code: it talks to a deployed API, or the local stack, over HTTP like any client.
"""
